"""Story-quality metrics over plain texts: repetition (distinct-n, repeated 4-grams), degeneration loops and
sentence length. Pure functions of strings, no I/O and no torch, so they score generated samples and held-out
real text alike (`scripts/evaluate.py` compares the two).

Definitions (every n-gram metric is over WORDS: runs of Unicode letters/digits, inner `'`, `’` or `-` kept, so
"don't" and "well-known" are one word each; case-folded; punctuation and whitespace are not words):
- distinct-n = unique word n-grams / all word n-grams of the text (Li et al. 2016). 1.0 = no n-gram repeats;
  None when the text has fewer than n words.
- repeated_4gram_fraction = 1 - unique 4-grams / all 4-grams: the share of 4-gram occurrences that repeat an
  earlier one in the same text (Welleck et al. 2019's seq-rep-4). None below 4 words.
- longest cycle: the longest stretch of the CHARACTER sequence that is one unit repeated back to back at least
  twice (a tandem repeat: "abcabcab" is unit "abc", period 3, 2 full repeats, 8 characters); among equally long
  stretches the shortest period wins, so the unit is primitive. Periods up to `max_period`.
- tail cycle: the same, restricted to stretches that reach the end of the text. `tail_loops` is True when the
  tail cycle has >= `min_repeats` full repeats AND covers >= `min_loop_chars` characters: the sample ended stuck
  in a loop ("ha ha ha" or "..." are too short to count). Exact repeats only: a loop that varies a name each
  round is not caught.
- avg_sentence_words = words / sentences, where sentences end at `.`, `!`, `?` or `…` runs (closing quotes and
  brackets may follow) or at a blank line, and a sentence counts only when it holds a word. None without words.

The cycle functions accept a str (characters) or any sequence of ints (token ids).
`aggregate(texts)` averages the per-text values (None values left out) and adds the tail-loop rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

WORD_RE = re.compile(r"\w+(?:['’\-]\w+)*")
# A sentence ends after terminal punctuation (plus closing quotes/brackets) followed by whitespace or the end,
# or at a paragraph break (a blank line). Abbreviations ("Mr. Fox") end a sentence too: a small, known bias.
_CLOSE = r"[\"'”’»)\]]"  # closing quotes/brackets that stay with the sentence they end (fixed-width lookbehinds)
SENTENCE_END_RE = re.compile(rf"(?<=[.!?…])\s+|(?<=[.!?…]{_CLOSE})\s+|(?<=[.!?…]{_CLOSE}{_CLOSE})\s+|\n\s*\n")
DEFAULT_MAX_PERIOD = 512  # longest loop unit looked for (characters or tokens)
DEFAULT_MIN_REPEATS = 3   # a tail loop repeats its unit at least this many times...
DEFAULT_MIN_LOOP_CHARS = 24  # ...and covers at least this many characters/tokens
NGRAM_NS = (1, 2, 3)
PER_TEXT_KEYS = ("chars", "words", "sentences", "distinct_1", "distinct_2", "distinct_3",
                 "repeated_4gram_fraction", "avg_sentence_words", "longest_cycle_len", "longest_cycle_period",
                 "longest_cycle_repeats", "tail_cycle_len", "tail_cycle_period", "tail_cycle_repeats")


@dataclass(frozen=True)
class Cycle:
    """A stretch [start, start + length) of a sequence that repeats a unit of `period` items back to back."""

    start: int = 0
    length: int = 0   # items covered, a trailing partial unit included
    period: int = 0   # items per unit (0 = no repeat found)

    @property
    def repeats(self) -> int:
        """Full repeats of the unit inside the stretch (0 when there is none)."""
        return self.length // self.period if self.period else 0


def words(text: str) -> list[str]:
    """Case-folded words of `text` (see the module docstring for what counts as a word)."""
    return [w.casefold() for w in WORD_RE.findall(text)]


def ngrams(items: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """All n-grams of `items` in order (empty when there are fewer than n items)."""
    return [tuple(items[i:i + n]) for i in range(len(items) - n + 1)]


def distinct_n(items: Sequence[str], n: int) -> float | None:
    """Unique n-grams / all n-grams; None when there is no n-gram."""
    grams = ngrams(items, n)
    return len(set(grams)) / len(grams) if grams else None


def repeated_ngram_fraction(items: Sequence[str], n: int = 4) -> float | None:
    """Share of n-gram occurrences that repeat an earlier one (1 - distinct-n); None when there is no n-gram."""
    d = distinct_n(items, n)
    return None if d is None else 1.0 - d


def sentences(text: str) -> list[str]:
    """The sentences of `text` that hold at least one word (split as the module docstring says)."""
    return [s for s in SENTENCE_END_RE.split(text) if WORD_RE.search(s)]


def avg_sentence_words(text: str) -> float | None:
    """Mean words per sentence; None when the text holds no word."""
    sents = sentences(text)
    return sum(len(WORD_RE.findall(s)) for s in sents) / len(sents) if sents else None


def _as_array(seq: str | Sequence[int] | np.ndarray) -> np.ndarray:
    if isinstance(seq, str):
        return np.frombuffer(seq.encode("utf-32-le"), dtype=np.uint32) if seq else np.zeros(0, np.uint32)
    return np.asarray(seq, dtype=np.int64).reshape(-1)


def _match_runs(a: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Runs of positions i where a[i] == a[i + p]: (run starts, run lengths)."""
    eq = np.concatenate(([False], a[p:] == a[:-p], [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(eq))  # alternating run starts and run ends
    return edges[0::2], edges[1::2] - edges[0::2]


def longest_cycle(seq: str | Sequence[int] | np.ndarray, max_period: int = DEFAULT_MAX_PERIOD) -> Cycle:
    """The longest stretch that repeats one unit at least twice back to back; Cycle() when there is none."""
    a = _as_array(seq)
    best = Cycle()
    for p in range(1, min(max_period, len(a) // 2) + 1):
        starts, runs = _match_runs(a, p)
        if not len(runs):
            continue
        k = int(np.argmax(runs))  # first of the longest runs: ties keep the earliest stretch
        run = int(runs[k])
        # a run of r matches at period p means r + p items with period p; two full units need r >= p
        if run >= p and run + p > best.length:
            best = Cycle(int(starts[k]), run + p, p)
    return best


def tail_cycle(seq: str | Sequence[int] | np.ndarray, max_period: int = DEFAULT_MAX_PERIOD) -> Cycle:
    """The longest stretch reaching the end of `seq` that repeats one unit at least twice; Cycle() if none."""
    a = _as_array(seq)
    n = len(a)
    best = Cycle()
    for p in range(1, min(max_period, n // 2) + 1):
        mismatch = np.flatnonzero(a[p:] != a[:-p])
        run = (n - p) - (int(mismatch[-1]) + 1) if len(mismatch) else n - p  # matches at the very end
        if run >= p and run + p > best.length:
            best = Cycle(n - run - p, run + p, p)
    return best


def is_tail_loop(cycle: Cycle, min_repeats: int = DEFAULT_MIN_REPEATS,
                 min_loop_chars: int = DEFAULT_MIN_LOOP_CHARS) -> bool:
    """Whether a tail cycle is a degeneration loop (enough repeats over enough characters)."""
    return cycle.repeats >= min_repeats and cycle.length >= min_loop_chars


def text_metrics(text: str, max_period: int = DEFAULT_MAX_PERIOD, min_repeats: int = DEFAULT_MIN_REPEATS,
                 min_loop_chars: int = DEFAULT_MIN_LOOP_CHARS) -> dict:
    """Every metric of one text (keys PER_TEXT_KEYS plus `tail_loops` and `longest_cycle_unit`)."""
    ws = words(text)
    longest, tail = longest_cycle(text, max_period), tail_cycle(text, max_period)
    out = {"chars": len(text), "words": len(ws), "sentences": len(sentences(text))}
    for n in NGRAM_NS:
        out[f"distinct_{n}"] = distinct_n(ws, n)
    out["repeated_4gram_fraction"] = repeated_ngram_fraction(ws, 4)
    out["avg_sentence_words"] = avg_sentence_words(text)
    out.update(longest_cycle_len=longest.length, longest_cycle_period=longest.period,
               longest_cycle_repeats=longest.repeats,
               longest_cycle_unit=text[longest.start:longest.start + min(longest.period, 80)],
               tail_cycle_len=tail.length, tail_cycle_period=tail.period, tail_cycle_repeats=tail.repeats,
               tail_loops=is_tail_loop(tail, min_repeats, min_loop_chars))
    return out


def aggregate(per_text: Iterable[dict]) -> dict:
    """Means over texts of every numeric metric (None values left out; None when no text has one), plus
    `texts`, `tail_loops` (how many texts end in a loop), `tail_loop_rate` and `max_longest_cycle_len`."""
    rows = list(per_text)
    out: dict = {"texts": len(rows)}
    for key in PER_TEXT_KEYS:
        values = [r[key] for r in rows if r.get(key) is not None]
        out[key] = sum(values) / len(values) if values else None
    out["tail_loops"] = sum(1 for r in rows if r.get("tail_loops"))
    out["tail_loop_rate"] = out["tail_loops"] / len(rows) if rows else None
    out["max_longest_cycle_len"] = max((r["longest_cycle_len"] for r in rows), default=None)
    return out


def corpus_metrics(texts: Iterable[str], **kwargs) -> tuple[list[dict], dict]:
    """(per-text metrics, their aggregate) of several texts; kwargs go to `text_metrics`."""
    per_text = [text_metrics(t, **kwargs) for t in texts]
    return per_text, aggregate(per_text)
