"""The rolling schedule: when text leaves the window, what the model then sees, and the prefix it reads.

A story of n tokens is seen by a model with a block of `block_size` tokens as

    <|summary|> summary of tokens [0, covered) <|/summary|>  tokens [covered, n)

The prefix (P tokens: the summary, at most `budget` tokens, and its two tags; nothing before the first fold) and
the window [covered, n) together never exceed the block. When the next token would not fit, the oldest
`update_every` tokens of the window are folded into the summary (`covered` grows by that much, again while the
new prefix and the window still do not fit) and the prefix is re-encoded. Everything here is a pure function of
the story's tokens, so the summary in force at any token is the same whoever computes it: the memory step after
prepare (training examples, one per fold), generation, and the continuity benchmark all run `RollingStory`.

Folding works on whole sentences: the text of an update is joined to the unfinished sentence left from the one
before (`pending`), and only complete sentences are summarised; the rest waits for the next update.

With `focus: window` (story_memory/focus.py) the summary is kept at a few times the budget and each fold shows the
model the part of it about the characters the window names. The window a fold sees is the text left in it when
the fold became necessary: story tokens [covered, n) where n is the first length that did not fit, so one
`catch_up` over a whole document makes the same folds as generation calling it token by token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from common.text_format import SUMMARY_CLOSE_ID, SUMMARY_OPEN_ID
from story_memory.focus import FOCUS_MODES, KEPT_FACTOR, focused
from story_memory.summarize import update_parsed
from story_memory.summary import Summary

MAX_PENDING_CHARS = 2000  # an unfinished "sentence" longer than this is summarised as it is
MAX_CACHED_COUNTS = 4096  # token counts of summary entries a story's memory remembers
_SENTENCE_END = re.compile(r"[.!?][\"”’')\]]*(?=\s)|\n")


@dataclass(frozen=True)
class Schedule:
    block_size: int
    budget: int           # summary budget in tokens
    update_every: int     # tokens folded per update
    focus: str            # "window": show the window's characters first (focus.py); "none": the summary as kept

    @property
    def min_window(self) -> int:
        """The fewest story tokens a full-size summary leaves in the block."""
        return self.block_size - (self.budget + 2)


def make_schedule(block_size: int, budget: int, update_every: int = 0, focus: str = "window") -> Schedule:
    """A checked Schedule; update_every 0 = half of the smallest window. ValueError when the summary leaves too
    little of the block. A checkpoint whose settings name no focus was trained before it existed: "none"."""
    if focus not in FOCUS_MODES:
        raise ValueError(f"focus must be one of {', '.join(FOCUS_MODES)}, got {focus!r}")
    window = block_size - (budget + 2)
    if budget < 1 or window < 8:
        raise ValueError(f"a summary budget of {budget} tokens leaves {window} tokens of a {block_size}-token "
                         f"block for the story (at least 8 needed): lower the budget or raise block_size")
    every = update_every or max(1, window // 2)
    if not 1 <= every <= window:
        raise ValueError(f"update_every must be between 1 and {window} (the smallest window), got {update_every}")
    return Schedule(block_size, budget, every, focus)


def _split_complete(text: str) -> tuple[str, str]:
    """(the complete sentences of text, the unfinished rest)."""
    last = None
    for last in _SENTENCE_END.finditer(text):
        pass
    if last is None:
        return ("", text) if len(text) <= MAX_PENDING_CHARS else (text, "")
    cut = last.end()
    rest = text[cut:]
    if len(rest) > MAX_PENDING_CHARS:
        return text, ""
    return text[:cut], rest


class RollingMemory:
    """The summary of one story as its text leaves the window, chunk by chunk. `kept` is the summary itself
    (within `budget`, or KEPT_FACTOR times it with `focus`); `summary` is what the model is shown: `kept`, or with
    `focus` its selection for the window's text given to `fold`."""

    def __init__(self, budget: int, count: Callable[[str], int] = len, focus: bool = False):
        self.budget, self.count, self.focus = budget, count, focus
        self.summary = ""
        self.kept = ""
        self._parsed = Summary()  # = Summary.parse(self.kept), kept to save parsing it at every fold
        self.pending = ""
        self.topic = ""
        self.updates = 0
        self._counts: dict[str, int] = {}  # the focused view counts the same entries fold after fold

    def _count_cached(self, text: str) -> int:
        if (n := self._counts.get(text)) is None:
            if len(self._counts) >= MAX_CACHED_COUNTS:
                self._counts.clear()
            n = self._counts[text] = self.count(text)
        return n

    def fold(self, evicted: str, window_text: str = "") -> str:
        """Fold the text that just left the window into the summary; returns the summary now shown."""
        complete, self.pending = _split_complete(self.pending + evicted)
        if complete.strip():
            limit = self.budget * KEPT_FACTOR if self.focus else self.budget
            self._parsed, self.kept, self.topic = update_parsed(self._parsed, complete, limit, self.count,
                                                                self.topic)
        self.summary = focused(self._parsed, window_text, self.budget, self._count_cached) if self.focus else self.kept
        self.updates += 1
        return self.summary


class RollingStory:
    """Where one story stands: the summary of tokens [0, covered) and its encoded prefix.

    `encode(text) -> list[int]` gives the summary's token ids (unknown characters dropped); `open_id`/`close_id`
    are the summary tags. `text_of(a, b)` gives the text of the story's tokens [a, b) when a fold needs it."""

    def __init__(self, schedule: Schedule, encode: Callable[[str], list[int]], open_id: int, close_id: int):
        self.schedule = schedule
        self.encode = encode
        self.open_id, self.close_id = open_id, close_id
        self.memory = RollingMemory(schedule.budget, lambda t: len(encode(t)), schedule.focus == "window")
        self.covered = 0
        self.prefix: list[int] = []
        # writer(prefix ids, evicted text) -> (summary text, new prefix ids): folds with a model instead of the
        # extractive summarizer (generation/summary_writer.py); None = the summarizer
        self.writer: Callable[[list[int], str], tuple[str, list[int]]] | None = None

    def fits(self, n_tokens: int) -> bool:
        """Whether the prefix and the window [covered, n_tokens) fit the block."""
        return len(self.prefix) + n_tokens - self.covered <= self.schedule.block_size

    def catch_up(self, n_tokens: int, text_of: Callable[[int, int], str], log: list | None = None) -> bool:
        """Fold until the story's first n_tokens fit; True when the prefix changed. `log` gets one dict per fold
        (position, summary shown, evicted text, and with focus the summary kept)."""
        changed = False
        every = self.schedule.update_every
        focus = self.writer is None and self.memory.focus
        while not self.fits(n_tokens):
            start, end = self.covered, self.covered + every
            evicted = text_of(start, end)
            if self.writer is not None:
                summary, self.prefix = self.writer(self.prefix, evicted)
                self.covered = end
            else:
                overflow = self.covered + self.schedule.block_size - len(self.prefix) + 1  # first length not fitting
                window = text_of(end, min(n_tokens, overflow)) if focus else ""
                summary = self.memory.fold(evicted, window)
                self.covered = end
                self.prefix = [self.open_id, *self.encode(summary), self.close_id] if summary else []
            changed = True
            if log is not None:
                log.append({"covered": end, "summary": summary, "evicted": evicted,
                            **({"kept": self.memory.kept} if focus else {})})
        return changed


def summary_encoder(tok) -> Callable[[str], list[int]]:
    """encode(text) -> the ids of a summary under tokenizer `tok` (characters it lacks are dropped)."""
    def encode(text: str) -> list[int]:
        return [int(i) for i in tok.encode(text, errors="ignore")]
    return encode


def rolling_story(tok, schedule: Schedule) -> RollingStory:
    """A RollingStory whose summaries are encoded by tokenizer `tok` (any model.tokenizer.Tokenizer)."""
    return RollingStory(schedule, summary_encoder(tok), SUMMARY_OPEN_ID, SUMMARY_CLOSE_ID)
