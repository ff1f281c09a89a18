"""Summaries of chat sessions: what the user said about themselves, kept word for word.

Extractive and deterministic on purpose: a summary is rebuilt whenever a message under it is forgotten, so it
must be a pure function of the messages left; and the user's own sentences ("my cat is called Tilly") are what a
later question needs, so they are kept verbatim rather than paraphrased. When they exceed the budget, the most
recent ones win (a later statement corrects an earlier one).
"""

from __future__ import annotations

import re

from assistant.store import Message

DEFAULT_BUDGET_CHARS = 400
FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|my|me|mine|we|we're|our|us)\b", re.IGNORECASE)
SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def user_statements(messages: list[Message]) -> list[str]:
    """The user's first-person sentences that are not questions, in order, each once."""
    out: list[str] = []
    for m in messages:
        if m.role != "user":
            continue
        for s in SENTENCE.findall(m.content):
            s = " ".join(s.split())
            if s and not s.endswith("?") and FIRST_PERSON.search(s) and s not in out:
                out.append(s)
    return out


def summarize_session(messages: list[Message], budget: int = DEFAULT_BUDGET_CHARS) -> str:
    """'The user said: <sentence> <sentence> ...' within `budget` characters (the latest sentences kept), or
    'No personal facts.' when the user stated none."""
    kept: list[str] = []
    used = len("The user said:")
    for s in reversed(user_statements(messages)):
        if used + 1 + len(s) > budget:
            break
        kept.append(s)
        used += 1 + len(s)
    if not kept:
        return "No personal facts."
    return "The user said: " + " ".join(reversed(kept))
