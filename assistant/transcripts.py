"""Chat transcripts as plain text files, the form chat corpora take in the dataset (raw/ and cleaned/):

    # session 0 (day 0)
    user: My cat is called Tom.
    assistant: Tom is a lovely name.

    # session 1 (day 4)
    user: What is my cat called?
    assistant: Your cat is called Tom.

A `# session` line starts a session (its day is optional); `user:` / `assistant:` lines start a turn; any other
non-empty line continues the turn before it; other `#` lines (a title) and text before the first turn are
ignored. demo/dialogues.py writes this form (`conversation_text`), and so can anyone with their own chat logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SESSION_LINE = re.compile(r"#\s*session\b[^(\n]*(?:\(\s*day\s+(\d+)\s*\))?", re.IGNORECASE)
TURN_LINE = re.compile(r"(user|assistant)\s*:\s?(.*)", re.IGNORECASE)


@dataclass(frozen=True)
class TranscriptTurn:
    role: str
    content: str


@dataclass
class TranscriptSession:
    day: int
    turns: list[TranscriptTurn] = field(default_factory=list)


def parse_transcript(text: str) -> list[TranscriptSession]:
    """The sessions of a transcript, each with its turns (empty sessions dropped)."""
    sessions: list[TranscriptSession] = []
    role, lines = None, []

    def flush() -> None:
        nonlocal role, lines
        content = " ".join(" ".join(lines).split())
        if role and content:
            if not sessions:
                sessions.append(TranscriptSession(0))
            sessions[-1].turns.append(TranscriptTurn(role, content))
        role, lines = None, []

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        m = SESSION_LINE.fullmatch(line)
        if m:
            flush()
            day = int(m.group(1)) if m.group(1) else (sessions[-1].day if sessions else 0)
            sessions.append(TranscriptSession(day))
            continue
        if line.startswith("#"):
            continue
        t = TURN_LINE.fullmatch(line)
        if t:
            flush()
            role, lines = t.group(1).lower(), [t.group(2)]
        elif role:
            lines.append(line)
    flush()
    return [s for s in sessions if s.turns]
