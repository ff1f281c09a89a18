"""Training examples for a chat model that uses its memory: each conversation is replayed, turn by turn, through
a real memory store and the same prompt builder live chat uses (chat/assistant.py: prompt_from_memory), so the
model is trained on exactly the shape it will read: memory block, recent turns, the new message, then the
reply it should write, then <|endoftext|>.

Deterministic: the store lives in memory, message times come from the conversation's days, and retrieval
breaks ties by id; the same conversation and settings give the same examples byte for byte.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from chat.assistant import close_session, prompt_from_memory
from chat.prompt import PromptBudget, plain_text
from chat.retrieval import RetrievalConfig
from chat.store import MemoryStore
from common.text_format import EOT

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
                    reply = fit_reply(plain_text(t.content), count, budget.reply_tokens - count(EOT))
                    out.append(prompt + reply + EOT)
                    store.add_message(sid, "assistant", t.content)
                    pending_user = None
            close_session(store, sid)
    return out


def fit_reply(reply: str, count: Callable[[str], int], limit: int) -> str:
    """`reply`, or its longest prefix of whole words within `limit` tokens."""
    if count(reply) <= limit:
        return reply
    words = reply.split()
    while words and count(" ".join(words)) > limit:
        words.pop()
    return " ".join(words)
