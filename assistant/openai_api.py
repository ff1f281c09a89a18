"""The OpenAI chat API as llama.cpp's server and Ollama speak it: request checking and response shapes.

Pure functions, no I/O: `parse_chat_request` turns a decoded JSON body into a `ChatRequest` or raises `ApiError`
(HTTP status + an OpenAI-style error body); `completion`, `chunk` and `models_list` build what the server sends.
Everything a client could get wrong is checked here, before the server opens a store or takes the model lock,
so a bad request never leaves anything behind.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from assistant.store import MAX_CONTENT_CHARS

OWNER = "miniature-memory"
DEFAULT_USER = "default"
USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")  # a file name, never a path (no leading dot either)
MAX_MESSAGES = 2_000      # per request: every earlier message the server has not seen is stored (one commit each)
IGNORED_ROLES = ("system", "developer")  # instructions for the model: accepted, not stored, not prompted
SEED_RANGE = (-2 ** 63, 2 ** 64)         # what torch.Generator.manual_seed accepts


class ApiError(Exception):
    """A request the server refuses: HTTP `status` and the fields of an OpenAI error body."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self) -> dict:
        return error_body(self.message, self.kind, self.param, self.code)


def error_body(message: str, kind: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    """{"error": {message, type, param, code}}: the shape OpenAI clients parse into their exceptions."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def bad(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param, code)


def check_user(value: Any, param: str = "user") -> str:
    """The user name that picks the memory file `<db_dir>/<user>.db`; ApiError(400) unless it is 1-64 characters
    of A-Z a-z 0-9 _ . - not starting with a dot."""
    if value is None:
        return DEFAULT_USER
    if not isinstance(value, str) or not USER_NAME.fullmatch(value):
        raise bad("user must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.' or '-' (not starting with '.')",
                  param, "invalid_user")
    return value


def loads_json(raw: bytes) -> Any:
    """Parse a request body; ApiError(400) for anything that is not strict JSON (NaN and Infinity included)."""
    def no_constants(name: str):
        raise ValueError(f"{name} is not JSON")
    try:
        return json.loads(raw, parse_constant=no_constants)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise bad(f"the request body is not valid JSON ({str(e)[:120]})", code="invalid_json") from None


@dataclass(frozen=True)
class ChatRequest:
    user: str
    turns: list[tuple[str, str]]   # the conversation's user/assistant messages, oldest first; the last is the user's
    stream: bool = False
    include_usage: bool = False    # stream_options.include_usage: a last chunk with the usage
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None


def message_text(content: Any, param: str) -> str:
    """The text of a message's content: a string, or a list of {"type": "text", "text": ...} parts (joined by
    newlines). Anything else, or no text at all, is an ApiError(400)."""
    if isinstance(content, list):
        texts = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise bad("only text content parts are supported ({\"type\": \"text\", \"text\": ...})",
                          f"{param}[{i}]")
            texts.append(part["text"])
        content = "\n".join(texts)
    if not isinstance(content, str) or not content.strip():
        raise bad("a message needs some text", param)
    if len(content) > MAX_CONTENT_CHARS:
        raise bad(f"a message is at most {MAX_CONTENT_CHARS:,} characters (got {len(content):,})", param,
                  "message_too_long")
    return content


def parse_turns(messages: Any) -> list[tuple[str, str]]:
    """(role, text) of the user and assistant messages; the last message must be the user's."""
    if not isinstance(messages, list) or not messages:
        raise bad("messages must be a non-empty list", "messages")
    if len(messages) > MAX_MESSAGES:
        raise bad(f"at most {MAX_MESSAGES:,} messages per request (got {len(messages):,})", "messages")
    turns = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise bad("each message must be an object with role and content", f"messages[{i}]")
        role = m.get("role")
        if role in IGNORED_ROLES:
            continue
        if role not in ("user", "assistant"):
            raise bad(f"unknown role {str(role)[:40]!r} (use system, user or assistant)", f"messages[{i}].role")
        turns.append((role, message_text(m.get("content"), f"messages[{i}].content")))
    if not turns or turns[-1][0] != "user" or messages[-1].get("role") != "user":
        raise bad("the last message must be the user's", "messages")
    return turns


def number(data: dict, key: str, low: float, high: float, low_open: bool = False, whole: bool = False):
    """data[key] when it is a number in range (None when absent or null); ApiError(400) otherwise."""
    value = data.get(key)
    if value is None:
        return None
    kind = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or (isinstance(value, float) and math.isnan(value)):
        raise bad(f"{key} must be {'a whole number' if whole else 'a number'}", key)
    if value < low or (low_open and value == low) or value > high:
        raise bad(f"{key} must be {'>' if low_open else '>='} {low} and <= {high} (got {value})", key)
    return value


def parse_chat_request(data: Any, model_name: str) -> ChatRequest:
    """Check a decoded /v1/chat/completions body; ApiError(400) for anything a client got wrong. Fields the
    server does not use (frequency_penalty, tools, ...) are ignored, as llama.cpp and Ollama do."""
    if not isinstance(data, dict):
        raise bad("the request body must be a JSON object")
    model = data.get("model")
    if model is not None and model != model_name:
        raise bad(f"model {str(model)[:80]!r} does not exist here; this server has {model_name!r}", "model",
                  "model_not_found")
    user = check_user(data.get("user"))
    turns = parse_turns(data.get("messages"))
    stream = data.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad("stream must be true or false", "stream")
    options = data.get("stream_options") or {}
    if not isinstance(options, dict) or not isinstance(options.get("include_usage", False), bool):
        raise bad("stream_options must be an object like {\"include_usage\": true}", "stream_options")
    if data.get("n") not in (None, 1):
        raise bad("n must be 1: one reply per request", "n")
    limit = number(data, "max_completion_tokens", 1, math.inf, whole=True)
    if limit is None:  # the older name; the newer one wins when both are given
        limit = number(data, "max_tokens", 1, math.inf, whole=True)
    return ChatRequest(user=user, turns=turns, stream=bool(stream), include_usage=options.get("include_usage", False),
                       max_tokens=limit, temperature=number(data, "temperature", 0, 2),
                       top_p=number(data, "top_p", 0, 1, low_open=True),
                       seed=number(data, "seed", SEED_RANGE[0], SEED_RANGE[1] - 1, whole=True))


# ------------------------------------------------------------------------------------------- response shapes
def completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def completion(cid: str, model: str, content: str, finish_reason: str, prompt_tokens: int,
               completion_tokens: int) -> dict:
    """A whole (non-streamed) chat completion."""
    return {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "logprobs": None, "finish_reason": finish_reason}],
            "usage": usage(prompt_tokens, completion_tokens)}


def chunk(cid: str, model: str, delta: dict, finish_reason: str | None = None, created: int | None = None) -> dict:
    """One streamed piece: a delta of the assistant message ({"role"}, {"content"} or {} with the finish)."""
    return {"id": cid, "object": "chat.completion.chunk", "created": created or int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}


def usage_chunk(cid: str, model: str, prompt_tokens: int, completion_tokens: int) -> dict:
    """The extra last chunk `stream_options.include_usage` asks for: no choices, the usage."""
    return {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [], "usage": usage(prompt_tokens, completion_tokens)}


def sse(data: dict | str) -> bytes:
    """One server-sent event: `data: <json>` and a blank line."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode("utf-8")


def models_list(model: str, created: int) -> dict:
    return {"object": "list", "data": [{"id": model, "object": "model", "created": created, "owned_by": OWNER}]}
