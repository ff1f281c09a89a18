"""The summary format: who the story is about, what the text attaches to each of them, and where the story is.

    Dalia: Wickhaven; pigeon Radish; colour lilac; tin spinning top. Imogen: Sorrelcross. At: clock tower.

One entry per character, in order of first appearance: the name, then `: ` and its facts separated by `; `, then
`.`; an entry without facts is just `Name.`. The last entry `At: <place>.` (optional) is where the story is now.
Entries are separated by one space. Names and facts never contain `.`, `:` or `;` (removed when extracted), so
parsing a rendered summary gives back the same summary: the rolling update can be a function of the previous
summary *text* and the evicted text, with no hidden state (DATA_FORMAT.md, "Rolling summaries").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PLACE_KEY = "At"
_FORBIDDEN = re.compile(r"[.:;\n\r\t]+")


def clean_piece(text: str) -> str:
    """A name or fact with the format's separators removed and spaces collapsed."""
    return " ".join(_FORBIDDEN.sub(" ", text).split())


@dataclass
class Entry:
    name: str
    facts: list[str] = field(default_factory=list)

    def render(self) -> str:
        return f"{self.name}: {'; '.join(self.facts)}." if self.facts else f"{self.name}."


@dataclass
class Summary:
    entries: list[Entry] = field(default_factory=list)
    place: str = ""

    def render(self) -> str:
        parts = [e.render() for e in self.entries]
        if self.place:
            parts.append(f"{PLACE_KEY}: {self.place}.")
        return " ".join(parts)

    def entry(self, name: str) -> Entry | None:
        for e in self.entries:
            if e.name == name:
                return e
        return None

    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    @classmethod
    def parse(cls, text: str) -> "Summary":
        """The summary a `render()` wrote (anything unreadable in a hand-edited one is skipped)."""
        out = cls()
        # an entry ends at '.' followed by a space or the end; names and facts contain no '.'
        for chunk in re.split(r"\.(?:\s+|$)", text.strip()):
            chunk = chunk.strip()
            if not chunk:
                continue
            name, sep, rest = chunk.partition(":")
            name = clean_piece(name)
            if not name:
                continue
            facts = [clean_piece(f) for f in rest.split(";")] if sep else []
            facts = [f for f in facts if f]
            if name == PLACE_KEY and sep:
                out.place = facts[-1] if facts else ""
            elif out.entry(name) is None:
                out.entries.append(Entry(name, facts))
        return out
