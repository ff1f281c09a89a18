"""The text writer of the demo story generator (scripts/demo_corpus.py): fills templates, tracks fact offsets.

`StoryWriter` appends sentences, paragraphs and scene breaks to a story, drawing every random choice from the
story's own `random.Random`. A context value that is a tuple `(value, character index, attribute)` is a fact:
its offset range in the final text is recorded in `mentions`. Every edit the writer makes keeps offsets valid:
capitalising a sentence start and `a` -> `an` happen before the fact's start is taken.
"""

import random
import re
from functools import lru_cache

from demo import templates as T
from demo.vocab import POOLS

# Raw scene-break lines, drawn per break: mostly `* * *`, sometimes other markers clean normalises to `* * *`.
SCENE_BREAKS = ("* * *",) * 5 + ("***", "***", "###", "~~~")
_SLOT = re.compile(r"\{(\w+)\}")


@lru_cache(maxsize=None)
def _parse(template: str) -> tuple[str, ...]:
    """Literal and slot pieces alternating: (literal, slot, literal, ...)."""
    return tuple(_SLOT.split(template))


class StoryWriter:
    """Appends rendered sentences, paragraphs and scene breaks, tracking where every fact value lands."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.parts: list[str] = []
        self.pos = 0
        self.scene = 0
        self.scenes: list[list[int]] = []
        self.breaks: list[str] = []
        self.mentions: list[tuple[int, str, int, int, int]] = []  # (char, attr, start, end, scene)
        self._cap = False
        self._para_text = False
        self._used: set[str] = set()  # templates already used in this story (membership only: deterministic)

    def _emit(self, s: str) -> int:
        """Append `s` (capitalised at a sentence start, `a` -> `an` before a vowel); its start offset."""
        if not s:
            return self.pos
        if self._cap:
            i = 1 if s[0] in "“\"" else 0
            if i < len(s):
                s = s[:i] + s[i].upper() + s[i + 1:]
                self._cap = False
        elif s[0] in "aeiouAEIOU" and self.parts:
            last = self.parts[-1]
            if last[-2:] in ("a ", "A ") and (len(last) == 2 or last[-3] in " “\""):
                self.parts[-1] = last[:-1] + "n "
                self.pos += 1
        self.parts.append(s)
        self.pos += len(s)
        return self.pos - len(s)

    def render(self, template: str, ctx: tuple[dict, ...]) -> None:
        """Fill a template's slots from the context dicts (first hit wins), then the word pools."""
        for i, piece in enumerate(_parse(template)):
            if i % 2 == 0:
                self._emit(piece)
                continue
            value = next((d[piece] for d in ctx if piece in d), None)
            if value is None:
                pool = POOLS.get(piece) or T.LINES[piece]  # KeyError here = a template names an unknown slot
                value = self.pick(pool)
            if isinstance(value, tuple):  # a fact: (value, character index, attribute)
                text, char, attr = value
                if self._cap and not text[0].isupper():
                    raise ValueError(f"template starts with a lowercase fact: {template!r}")
                start = self._emit(text)
                self.mentions.append((char, attr, start, start + len(text), self.scene))
            elif "{" in value:
                self.render(value, ctx)
            else:
                self._emit(value)

    def sentence(self, templates: tuple[str, ...], ctx: tuple[dict, ...]) -> None:
        if self._para_text:
            self._emit(" ")
        self._cap = True
        self.render(self.pick(templates), ctx)
        self._para_text = True

    def pick(self, templates: tuple[str, ...]) -> str:
        """An entry not yet used in this story when one turns up within a few draws (so sentences rarely repeat)."""
        for _ in range(6):
            template = self.rng.choice(templates)
            if template not in self._used:
                break
        self._used.add(template)
        return template

    def paragraph(self) -> None:
        if self.pos:
            self._emit("\n\n")
        if len(self.scenes) <= self.scene:
            self.scenes.append([self.pos, self.pos])
        self._para_text = False

    def scene_break(self) -> None:
        self.scenes[-1][1] = self.pos
        marker = self.rng.choice(SCENE_BREAKS)
        self.breaks.append(marker)
        self._emit("\n\n" + marker)
        self.scene += 1
