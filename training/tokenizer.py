"""Character-level tokenizer with a fixed block of special tokens and ids that never move.

Ids 0..15 are special strings, each encoded as ONE id wherever it appears in a text:

    0 `<|endoftext|>`  end of a document (prepare puts it after every document)
    1 `* * *`          scene break (the cleaner normalises every scene-break line to exactly this)
    2 `<|summary|>`    3 `<|/summary|>`    4 `<SCENE>`    5 `<POV>`    6 `<TONE>`   control tags
    7..15 `<|reserved_7|>` ... `<|reserved_15|>`: placeholders, so later control tags need no renumbering

Characters start at id 16, in the order they were first added. `add_chars` only ever appends, so a tokenizer
saved with a dataset (meta.json) or a checkpoint keeps every old id when new data brings new characters.

Encoding splits the text on the special strings (longest match first, left to right), then maps every other
character through a numpy lookup table indexed by Unicode code point (UTF-32), so it runs at tens of MB/s.
Unknown characters: `errors="strict"` (default) raises `UnknownCharError` naming them; `errors="ignore"`
drops them (for user prompts at generation time). Special strings never contain a line break, so text may be
encoded in pieces cut after any '\\n' with the same result as encoding it whole.
"""

from __future__ import annotations

import re
from typing import Iterable

import numpy as np

TOKENIZER_TYPE = "char"
TOKENIZER_VERSION = 1
NUM_SPECIAL = 16  # ids reserved for special strings; characters start here
EOT = "<|endoftext|>"
SCENE_BREAK = "* * *"
SPECIAL_TOKENS: tuple[str, ...] = (
    EOT, SCENE_BREAK, "<|summary|>", "<|/summary|>", "<SCENE>", "<POV>", "<TONE>",
    *(f"<|reserved_{i}|>" for i in range(7, NUM_SPECIAL)),
)
EOT_ID = 0
SCENE_BREAK_ID = 1


class UnknownCharError(ValueError):
    """A text holds characters that are not in the vocabulary (and errors='strict')."""


def _codepoints(text: str) -> np.ndarray:
    """Unicode code points of `text` as uint32, one per Python character (shape: [len(text)])."""
    try:
        return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    except UnicodeEncodeError as e:  # lone surrogates cannot be stored as UTF-8 either
        raise UnknownCharError(f"text holds an unencodable character at position {e.start} "
                               f"({text[e.start]!r})") from None


def _check_specials(specials: Iterable[str]) -> tuple[str, ...]:
    specials = tuple(specials)
    if len(specials) != NUM_SPECIAL or len(set(specials)) != NUM_SPECIAL:
        raise ValueError(f"a char tokenizer needs exactly {NUM_SPECIAL} distinct special strings")
    for s in specials:
        # Two or more characters so a special can never be confused with a character id; no line breaks so
        # text can be encoded in pieces cut at newlines.
        if not isinstance(s, str) or len(s) < 2 or "\n" in s or "\r" in s:
            raise ValueError(f"bad special string {s!r}: needs 2+ characters and no line break")
    return specials


class CharTokenizer:
    """Maps text to ids and back: 16 special strings, then one id per character in order of first addition."""

    def __init__(self, chars: Iterable[str] = (), specials: Iterable[str] = SPECIAL_TOKENS):
        self.specials = _check_specials(specials)
        self._special_id = {s: i for i, s in enumerate(self.specials)}
        # Longest first so a special that is a prefix of another never wins over it.
        alternatives = sorted(self.specials, key=len, reverse=True)
        self._special_re = re.compile("|".join(re.escape(s) for s in alternatives))
        self._first_chars = "".join(sorted({s[0] for s in self.specials}))
        self.chars: list[str] = []
        self._char_id: dict[str, int] = {}
        self._table = np.full(128, -1, dtype=np.int32)  # code point -> id, -1 = unknown; grows on demand
        self.add_chars("".join(chars), skip_specials=False)

    # ------------------------------------------------------------------ vocabulary
    @property
    def vocab_size(self) -> int:
        """Number of ids (specials + characters); valid ids are 0..vocab_size-1."""
        return NUM_SPECIAL + len(self.chars)

    @property
    def eot_id(self) -> int:
        return EOT_ID

    def _append(self, ch: str) -> None:
        cp = ord(ch)
        if cp >= len(self._table):
            grown = np.full(max(cp + 1, 2 * len(self._table)), -1, dtype=np.int32)
            grown[: len(self._table)] = self._table
            self._table = grown
        new_id = NUM_SPECIAL + len(self.chars)
        self._table[cp] = new_id
        self._char_id[ch] = new_id
        self.chars.append(ch)

    def add_chars(self, text: str, skip_specials: bool = True) -> int:
        """Append the characters of `text` not yet known, in order of first appearance; returns how many.

        With skip_specials (default) the characters inside special strings are not added: the vocabulary gets
        exactly the characters `encode(text)` needs.
        """
        if skip_specials and self._has_special(text):
            return sum(self.add_chars(part, skip_specials=False) for part in self._special_re.split(text))
        if not text:
            return 0
        codes = _codepoints(text)
        known = np.zeros(len(codes), dtype=bool)
        inside = codes < len(self._table)
        known[inside] = self._table[codes[inside]] >= 0
        if known.all():
            return 0
        unknown = codes[~known]
        values, first = np.unique(unknown, return_index=True)
        for cp in values[np.argsort(first, kind="stable")]:
            self._append(chr(int(cp)))
        return len(values)

    # ------------------------------------------------------------------ encode / decode
    def _has_special(self, text: str) -> bool:
        # Cheap pre-check (str.find runs at memory speed) before the regex scan.
        return any(c in text for c in self._first_chars) and self._special_re.search(text) is not None

    def encode(self, text: str, errors: str = "strict") -> np.ndarray:
        """Ids of `text` (int32, shape [n]); specials become one id each. errors: 'strict' raises, 'ignore' drops."""
        if errors not in ("strict", "ignore"):
            raise ValueError(f"errors must be 'strict' or 'ignore', not {errors!r}")
        codes = _codepoints(text)
        ids = np.full(len(codes), -1, dtype=np.int32)
        inside = codes < len(self._table)
        ids[inside] = self._table[codes[inside]]
        if self._has_special(text):
            keep = np.ones(len(codes), dtype=bool)
            for m in self._special_re.finditer(text):
                # Python string indices are code points, the same positions as in the UTF-32 array.
                ids[m.start()] = self._special_id[m.group()]
                keep[m.start() + 1: m.end()] = False
            ids = ids[keep]
        missing = ids < 0
        if missing.any():
            if errors == "ignore":
                return ids[~missing]
            raise UnknownCharError(self._describe_unknown(text))
        return ids

    def _describe_unknown(self, text: str) -> str:
        plain = self._special_re.sub("", text)
        bad = sorted({c for c in plain if c not in self._char_id})
        shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in bad[:8])
        more = f" and {len(bad) - 8} more" if len(bad) > 8 else ""
        return f"{len(bad)} character(s) not in the vocabulary: {shown}{more}"

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """Text of a sequence of ids (each special id becomes its string)."""
        arr = np.asarray(ids)
        if arr.size == 0:
            return ""
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError("decode expects a flat sequence of integer ids")
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= self.vocab_size:
            raise ValueError(f"id out of range: ids must be in 0..{self.vocab_size - 1}, got {lo if lo < 0 else hi}")
        strings = self.specials + tuple(self.chars)
        return "".join(map(strings.__getitem__, arr.tolist()))

    def id_to_string(self, i: int) -> str:
        """The string one id stands for."""
        return self.specials[i] if i < NUM_SPECIAL else self.chars[i - NUM_SPECIAL]

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        """JSON-able description (travels inside meta.json and checkpoints)."""
        return {"type": TOKENIZER_TYPE, "version": TOKENIZER_VERSION, "specials": list(self.specials),
                "chars": list(self.chars)}

    @classmethod
    def from_dict(cls, d: dict) -> "CharTokenizer":
        """Inverse of `to_dict`; ValueError for anything that is not a char tokenizer of a known version."""
        if not isinstance(d, dict) or d.get("type") != TOKENIZER_TYPE:
            raise ValueError(f"not a char tokenizer description (type={d.get('type') if isinstance(d, dict) else d!r})")
        if d.get("version") != TOKENIZER_VERSION:
            raise ValueError(f"unsupported char tokenizer version {d.get('version')!r} "
                             f"(this code reads version {TOKENIZER_VERSION})")
        chars = d.get("chars")
        if not isinstance(chars, list) or any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("char tokenizer 'chars' must be a list of single characters")
        if len(set(chars)) != len(chars):
            raise ValueError("char tokenizer 'chars' holds duplicates")
        tok = cls(specials=d.get("specials", SPECIAL_TOKENS))
        for c in chars:
            tok._append(c)
        return tok

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"
