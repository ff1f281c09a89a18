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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from common.text_format import SUMMARY_CLOSE_ID, SUMMARY_OPEN_ID
from story_memory.summarize import update_parsed
from story_memory.summary import Summary

MAX_PENDING_CHARS = 2000  # an unfinished "sentence" longer than this is summarised as it is
_SENTENCE_END = re.compile(r"[.!?][\"”’')\]]*(?=\s)|\n")


@dataclass(frozen=True)
class Schedule:
    block_size: int
    budget: int           # summary budget in tokens
    update_every: int     # tokens folded per update

    @property
    def min_window(self) -> int:
        """The fewest story tokens a full-size summary leaves in the block."""
        return self.block_size - (self.budget + 2)


def make_schedule(block_size: int, budget: int, update_every: int = 0) -> Schedule:
    """A checked Schedule; update_every 0 = half of the smallest window. ValueError when the summary leaves too
    little of the block."""
    window = block_size - (budget + 2)
    if budget < 1 or window < 8:
        raise ValueError(f"a summary budget of {budget} tokens leaves {window} tokens of a {block_size}-token "
                         f"block for the story (at least 8 needed): lower the budget or raise block_size")
    every = update_every or max(1, window // 2)
    if not 1 <= every <= window:
        raise ValueError(f"update_every must be between 1 and {window} (the smallest window), got {update_every}")
    return Schedule(block_size, budget, every)


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
    """The summary of one story as its text leaves the window, chunk by chunk."""

    def __init__(self, budget: int, count: Callable[[str], int] = len):
        self.budget, self.count = budget, count
        self.summary = ""
        self._parsed = Summary()  # = Summary.parse(self.summary), kept to save parsing it at every fold
        self.pending = ""
        self.topic = ""
        self.updates = 0

    def fold(self, evicted: str) -> str:
        """Fold the text that just left the window into the summary; returns the new summary."""
        complete, self.pending = _split_complete(self.pending + evicted)
        if complete.strip():
            self._parsed, self.summary, self.topic = update_parsed(self._parsed, complete, self.budget, self.count,
                                                                   self.topic)
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
        self.memory = RollingMemory(schedule.budget, lambda t: len(encode(t)))
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
        (position, summary, evicted text)."""
        changed = False
        every = self.schedule.update_every
        while not self.fits(n_tokens):
            start, end = self.covered, self.covered + every
            evicted = text_of(start, end)
            if self.writer is not None:
                summary, self.prefix = self.writer(self.prefix, evicted)
                self.covered = end
            else:
                summary = self.memory.fold(evicted)
                self.covered = end
                self.prefix = [self.open_id, *self.encode(summary), self.close_id] if summary else []
            changed = True
            if log is not None:
                log.append({"covered": end, "summary": summary, "evicted": evicted})
        return changed


def summary_encoder(tok) -> Callable[[str], list[int]]:
    """encode(text) -> the ids of a summary under tokenizer `tok` (characters it lacks are dropped)."""
    def encode(text: str) -> list[int]:
        return [int(i) for i in tok.encode(text, errors="ignore")]
    return encode


def rolling_story(tok, schedule: Schedule) -> RollingStory:
    """A RollingStory whose summaries are encoded by tokenizer `tok` (any model.tokenizer.Tokenizer)."""
    return RollingStory(schedule, summary_encoder(tok), SUMMARY_OPEN_ID, SUMMARY_CLOSE_ID)
