"""What of the memory the model is shown: the characters the window is about first, within the budget.

With focus on, the rolling summary (summarize.py) is kept at `KEPT_FACTOR` times the budget and the prefix the
model reads is a selection of it, made again at each fold from the text then in the window:

1. the characters the window names, the most recently named first, each with as many of its facts as fit
   (in the order they were learnt, single lowercase words such as "hat" after the others, as compression drops
   them first; a fact that does not fit is skipped for the next one);
2. then the names of every other character, in order of first appearance, while they fit;
3. then those characters' facts, in the same order (telling ones first), while they fit;
4. then the story's place, if it fits.

Why: a story's current scene is about one or two of its characters, and what the text is about to need is
what the memory holds about them. A summary cut to the budget by age alone (the same summary for every scene)
held the asked fact for 0.35 of the demo probes at 40 BPE tokens; selected for the window, 0.69 (ROADMAP.md
section 8; bench/memory.py prints both for characters). Step 2 keeps the others' names ahead of facts, so a
name the story returns to after a long gap is still there (name probes on real books). The selection is a pure
function of the kept summary and the window's text, so training examples, generation and the benchmark see the
same prefix at the same fold.
"""

from __future__ import annotations

from typing import Callable

from story_memory.summarize import compress, is_plain
from story_memory.summary import Entry, Summary

KEPT_FACTOR = 4  # the kept summary's budget, in multiples of the shown one
FOCUS_MODES = ("window", "none")


def _last_whole(text: str, name: str) -> int:
    """Where `name` last occurs in `text` as a whole word (not inside a longer word), or -1."""
    end = len(text)
    while (i := text.rfind(name, 0, end)) >= 0:
        j = i + len(name)
        if (i == 0 or not text[i - 1].isalnum()) and (j == len(text) or not text[j].isalnum()):
            return i
        end = i + len(name) - 1
    return -1


def named_in(text: str, names: list[str]) -> list[str]:
    """The names that occur in `text` as whole words, the most recently occurring first."""
    last = {n: i for n in names if n and (i := _last_whole(text, n)) >= 0}
    return sorted(last, key=lambda n: -last[n])


class _Fill:
    """A summary built up item by item, each kept only if the whole still fits the budget. The rendering's count
    is the sum of its entries' counts (each with the space before it): exact for the char and byte tokenizers and
    for a BPE whose pre-tokenizer splits before a space, as ours does; `focused` checks the total once more."""

    def __init__(self, budget: int, count: Callable[[str], int]):
        self.budget, self.count = budget, count
        self.out = Summary()
        self.costs: list[int] = []   # per entry of out
        self.total = 0

    def _cost(self, i: int) -> int:
        text = self.out.entries[i].render()
        return self.count(text if i == 0 else " " + text)

    def add_name(self, name: str) -> int | None:
        """The new entry's index, or None when even the bare name does not fit."""
        if self.total >= self.budget:
            return None
        i = len(self.costs)
        self.out.entries.append(Entry(name))
        cost = self._cost(i)
        if self.total + cost > self.budget:
            self.out.entries.pop()
            return None
        self.costs.append(cost)
        self.total += cost
        return i

    def add_fact(self, i: int, fact: str) -> None:
        entry = self.out.entries[i]
        entry.facts.append(fact)
        cost = self._cost(i)
        if self.total - self.costs[i] + cost > self.budget:
            entry.facts.pop()
            return
        self.total += cost - self.costs[i]
        self.costs[i] = cost

    def add_place(self, place: str) -> None:
        sep = " " if self.out.entries else ""  # as _cost: a space only after something
        if place and self.total + self.count(f"{sep}At: {place}.") <= self.budget:
            self.out.place = place


def _telling_first(facts: list[str]) -> list[str]:
    return [f for f in facts if not is_plain(f)] + [f for f in facts if is_plain(f)]


def focused(kept: Summary, window_text: str, budget: int, count: Callable[[str], int] = len) -> str:
    """The rendering of `kept` the model is shown while `window_text` is in its window (module docstring)."""
    in_window = named_in(window_text, kept.names())
    first = [kept.entry(n) for n in in_window]
    others = [e for e in kept.entries if e.name not in in_window]
    fill = _Fill(budget, count)
    for e in first:
        i = fill.add_name(e.name)
        for fact in _telling_first(e.facts) if i is not None else []:
            fill.add_fact(i, fact)
    placed = [(e, fill.add_name(e.name)) for e in others]
    for e, i in placed:
        for fact in _telling_first(e.facts) if i is not None else []:
            fill.add_fact(i, fact)
    fill.add_place(kept.place)
    # the entries' counts add up for our tokenizers; a tokenizer where they do not gets the documented cut
    return compress(fill.out, budget, count)
