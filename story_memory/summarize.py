"""The rolling, hierarchical summary: fold newly evicted text into the previous summary, then compress to budget.

`update(previous, text, budget, count)` is a pure function of the previous summary's text and the new text:
1. merge: characters the summary knows keep their place and facts; new facts are appended to their character (a
   fact that extends one already there replaces it: "pigeon" -> "pigeon Radish"; one already contained is
   skipped); new characters are appended at the end; the place becomes the text's last place, if it has one;
2. compress while `count(rendered) > budget` (a summary of summaries), in this order:
   a. drop the place;
   b. drop characters that have no facts, newest first (minor names go before anyone with a fact);
   c. drop the newest single-word lowercase fact ("hat", "idea": the least telling kind) of the character
      holding the most facts (ties: the newer character), then the newest fact of any kind the same way, while
      some character holds two or more (a character's first fact stays);
   d. drop whole characters, newest first, keeping the first;
   e. cut the text to the budget (only a single enormous name or fact gets here).
Early characters and their first facts (usually their introduction) are the last to go: a stream of new minor
names cannot push them out ("summary drift", measured by `bench/memory.py` and `generate --memory-log`).
"""

from __future__ import annotations

from typing import Callable

from story_memory.extract import find
from story_memory.summary import Entry, Summary, clean_piece

DEFAULT_BUDGET_TOKENS = 40       # in the model's own tokens (BPE)
CHARS_PER_BPE_TOKEN = 4          # the char tokenizer's equivalent budget: 40 BPE tokens ~ 160 characters


def _merge_fact(facts: list[str], fact: str) -> None:
    low = fact.lower()
    for i, old in enumerate(facts):
        o = old.lower()
        if low == o or f" {low} " in f" {o} ":
            return
        if f" {o} " in f" {low} ":
            facts[i] = fact
            return
    facts.append(fact)


def merge(summary: Summary, text: str, last_topic: str = "") -> str:
    """Fold the findings of `text` into `summary` (in place); returns the topic `text` ends on."""
    found = find(text, summary.names(), last_topic)
    for name in found.names:
        entry = summary.entry(name)
        if entry is None:
            entry = Entry(clean_piece(name))
            if not entry.name:
                continue
            summary.entries.append(entry)
        for fact in found.facts[name]:
            fact = clean_piece(fact)
            if fact:
                _merge_fact(entry.facts, fact)
    if found.place:
        summary.place = clean_piece(found.place)
    return found.topic


def is_plain(fact: str) -> bool:
    """A single lowercase word ("hat", "idea"): the least telling kind of fact, dropped first."""
    return " " not in fact and not fact[:1].isupper()


def compress(summary: Summary, budget: int, count: Callable[[str], int] = len) -> str:
    """Shrink `summary` (in place) until its rendering fits `budget` by `count`; returns the rendering."""
    def over() -> bool:
        return count(summary.render()) > budget

    if over():
        summary.place = ""
    while over():
        bare = [i for i, e in enumerate(summary.entries) if not e.facts and i > 0]
        if not bare:
            break
        del summary.entries[bare[-1]]
    for plain_only in (True, False):
        while over():
            most = max((len(e.facts), i) for i, e in enumerate(summary.entries)) if summary.entries else (0, -1)
            if most[0] < 2:
                break
            facts = summary.entries[most[1]].facts
            drop = [k for k, f in enumerate(facts) if k > 0 and (not plain_only or is_plain(f))]
            if not drop:
                if plain_only and any(len(e.facts) > 1 and any(is_plain(f) for f in e.facts[1:])
                                      for e in summary.entries):
                    facts = next(e.facts for e in reversed(summary.entries)
                                 if len(e.facts) > 1 and any(is_plain(f) for f in e.facts[1:]))
                    drop = [k for k, f in enumerate(facts) if k > 0 and is_plain(f)]
                else:
                    break
            facts.pop(drop[-1])
    while over() and len(summary.entries) > 1:
        summary.entries.pop()
    text = summary.render()
    while text and count(text) > budget:
        text = text[: max(0, min(len(text) - 1, budget if count is len else len(text) - 1))].rstrip()
    return text


def update(previous: str, text: str, budget: int, count: Callable[[str], int] = len,
           last_topic: str = "") -> tuple[str, str]:
    """(the new summary of `previous` plus `text`, within `budget`; the topic `text` ends on)."""
    summary = Summary.parse(previous)
    topic = merge(summary, text, last_topic)
    return compress(summary, budget, count), topic


def update_parsed(summary: Summary, text: str, budget: int, count: Callable[[str], int] = len,
                  last_topic: str = "") -> tuple[Summary, str, str]:
    """`update` on an already parsed summary (changed in place; saves parsing the text every time): (the
    summary, its text, the topic). The summary equals Summary.parse(text), as `update` would see it next."""
    topic = merge(summary, text, last_topic)
    rendered = compress(summary, budget, count)
    if rendered != summary.render():  # cut by the last-resort rule: the text is what counts
        summary = Summary.parse(rendered)
    return summary, rendered, topic
