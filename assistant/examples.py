"""Training examples for a chat model that uses its memory: each conversation is replayed, turn by turn, through
a real memory store and the same prompt builder live chat uses (assistant/orchestrator.py: prompt_from_memory), so the
model is trained on exactly the shape it will read: memory block, recent turns, the new message, then the
reply it should write (prepare ends each example with <|endoftext|>, for which one token of the block is kept).

Deterministic: the store lives in memory, message times come from the conversation's days, and retrieval
breaks ties by id; the same conversation and settings give the same examples byte for byte.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from assistant.orchestrator import close_session, prompt_from_memory
from assistant.prompt import PromptBudget, plain_text
from assistant.retrieval import RetrievalConfig
from assistant.store import MemoryStore
from assistant.transcripts import parse_transcript

EXAMPLES_VERSION = 3  # part of prepare's fingerprint in chat format: a change here (or in what retrieval
                      # brings: 3 = summaries yield to their messages, links kept by share) rebuilds the examples
# Text the prompt builder adds around messages (memory line roles, the summarizer's wording): a tokenizer that
# grows with the data (char) learns these characters before it counts tokens.
FIXED_TEXT = "user: assistant: summary: The user said: No personal facts.\n"

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


class ReplayClock:
    """created_at strings: the session's day, then one second per message, so time order is replay order."""

    def __init__(self):
        self.day, self.tick = 0, 0

    def __call__(self) -> str:
        self.tick += 1
        return (EPOCH + timedelta(days=self.day, seconds=self.tick)).isoformat()


def replay_examples(sessions: Iterable, count: Callable[[str], int], budget: PromptBudget,
                    retrieval: RetrievalConfig = RetrievalConfig()) -> list[str]:
    """One example text per assistant turn of the conversation's sessions (objects with `.day` and `.turns`,
    each turn with `.role` and `.content`, user first). A reply longer than budget.reply_tokens is cut at a word
    boundary so that the whole example fits the block."""
    clock = ReplayClock()
    out: list[str] = []
    with MemoryStore(":memory:", clock=clock) as store:
        for n, session in enumerate(sessions):
            clock.day = int(getattr(session, "day", n))
            sid = store.new_session(f"s{n}")
            pending_user: tuple[int, str] | None = None
            for t in session.turns:
                if t.role == "user":
                    pending_user = (store.add_message(sid, "user", t.content), t.content)
                elif t.role == "assistant" and pending_user is not None:
                    uid, text = pending_user
                    prompt = prompt_from_memory(store, sid, text, count, budget, retrieval, new_id=uid)
                    reply = fit_reply(plain_text(t.content), count, budget.reply_tokens - 1)  # 1: the end marker
                    out.append(prompt + reply)
                    store.add_message(sid, "assistant", t.content)
                    pending_user = None
            close_session(store, sid)
    return out


def transcript_examples(text: str, count: Callable[[str], int], budget: PromptBudget,
                        retrieval: RetrievalConfig = RetrievalConfig()) -> list[str]:
    """The examples of one transcript file's text (assistant/transcripts.py format)."""
    return replay_examples(parse_transcript(text), count, budget, retrieval)


def fit_reply(reply: str, count: Callable[[str], int], limit: int) -> str:
    """`reply`, or its longest prefix of whole words within `limit` tokens."""
    if count(reply) <= limit:
        return reply
    words = reply.split()
    while words and count(" ".join(words)) > limit:
        words.pop()
    return " ".join(words)
