"""The chat format: what the model reads before it writes a reply, built the same way for training examples and
for live chat, so both see one shape.

    <|memory|>user: My cat is called Tom.
    user: Actually she is called Tilly.
    summary: The user said: I live in Ashford.<|/memory|><|user|>Good morning!<|assistant|>Good morning to
    you.<|user|>What is my cat called?<|assistant|>

then the reply, ended by <|endoftext|> (or by <|user|>, which a model may write to hand the turn back).
The memory block holds the retrieved memories (assistant/retrieval.py), oldest first, one per line with its role; the
recent turns of the session follow as role-tagged turns, newest kept when space runs out, then the new message.
Message text never contains a special string: `plain_text` removes them, so a user cannot forge a turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from assistant.retrieval import Retrieved
from common.text_format import ASSISTANT, MEMORY_CLOSE, MEMORY_OPEN, SPECIAL_TOKENS, USER

ROLE_TAG = {"user": USER, "assistant": ASSISTANT}


@dataclass(frozen=True)
class PromptBudget:
    """Token budgets: the prompt is cut so that prompt + reply fits the model's block."""

    block_size: int = 256
    reply_tokens: int = 48    # room kept for the reply
    memory_tokens: int = 96   # the memory block at most (whole memories only)


def plain_text(text: str) -> str:
    """`text` with every special string removed and runs of whitespace collapsed to single spaces."""
    for s in sorted(SPECIAL_TOKENS, key=len, reverse=True):
        text = text.replace(s, " ")
    return " ".join(text.split())


def memory_block(lines: list[str]) -> str:
    return f"{MEMORY_OPEN}{chr(10).join(lines)}{MEMORY_CLOSE}"


def turn(role: str, text: str) -> str:
    return f"{ROLE_TAG[role]}{plain_text(text)}"


def build_prompt(retrieved: Retrieved, new_message: str, count: Callable[[str], int],
                 budget: PromptBudget = PromptBudget()) -> str:
    """The prompt text for a reply to `new_message`. `count(text)` is the length in the model's tokens.
    Memories are taken best first while they fit `memory_tokens` and then put back in time order; recent
    turns are taken newest first while the whole prompt leaves `reply_tokens` of the block free. A new
    message longer than that keeps its end (the part nearest the reply)."""
    limit = max(8, budget.block_size - budget.reply_tokens)
    ask = turn("user", new_message) + ASSISTANT
    if count(ask) > limit:
        words = plain_text(new_message).split()
        while words and count(turn("user", " ".join(words)) + ASSISTANT) > limit:
            words = words[max(1, len(words) // 10):]
        ask = turn("user", " ".join(words)) + ASSISTANT
    ranked = sorted(retrieved.memories, key=lambda m: -m.score)
    chosen, used = [], count(memory_block([]))
    for m in ranked:
        line = f"{m.role}: {plain_text(m.text)}"
        cost = count(line + "\n")
        if used + cost <= budget.memory_tokens:
            chosen.append((m, line))
            used += cost
    chosen.sort(key=lambda x: (x[0].created_at, x[0].kind, x[0].id))
    head = memory_block([line for _, line in chosen]) if chosen else ""
    room = limit - count(head) - count(ask)
    recent: list[str] = []
    for m in reversed(retrieved.recent):
        if m.role not in ROLE_TAG:
            continue
        t = turn(m.role, m.content)
        if count(t) > room:
            break
        recent.insert(0, t)
        room -= count(t)
    return head + "".join(recent) + ask
