"""Character-level tokenizer with a fixed block of special tokens and ids that never move.

Ids 0..15 are special strings, each encoded as ONE id wherever it appears in a text:

    0 `<|endoftext|>`  end of a document (prepare puts it after every document)
    1 `* * *`          scene break (the cleaner normalises every scene-break line to exactly this)
    2 `<|summary|>`    3 `<|/summary|>`    4 `<SCENE>`    5 `<POV>`    6 `<TONE>`   control tags
    7..10 the chat tags `<|memory|>`, `<|/memory|>`, `<|user|>`, `<|assistant|>` (`<|reserved_N|>` in tokenizers
    made before they had names); 11..15 `<|reserved_11|>` ... `<|reserved_15|>`: placeholders, so later control
    tags need no renumbering

Characters start at id 16, in the order they were first added. `add_chars` only ever appends, so a tokenizer
saved with a dataset (meta.json) or a checkpoint keeps every old id when new data brings new characters.

Encoding finds the special strings (leftmost first, longest at a position), then maps every other character
through a numpy lookup table indexed by Unicode code point (UTF-32): hundreds of MB/s on document-sized texts.
Unknown characters: `errors="strict"` (default) raises `UnknownCharError` naming them; `errors="ignore"`
drops them (for user prompts at generation time). Special strings never contain a line break, so a long text
may be encoded in pieces cut after any newline (or at `safe_cut`) with the same result as encoding it whole.

Three tokenizers share one interface (`Tokenizer` below) and the same 16 specials at ids 0..15: this char
tokenizer (grows), `model.bpe.ByteTokenizer` (256 byte ids, fixed) and `model.bpe.BPETokenizer` (trained by
`scripts/train_tokenizer.py`, fixed). `model.token_files.tokenizer_from_dict` rebuilds any of them from its `to_dict()`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterable, Protocol

import numpy as np

from common.text_format import (EOT, EOT_ID, NUM_SPECIAL, SCENE_BREAK,  # noqa: F401  (re-exported)
                                SCENE_BREAK_ID, SPECIAL_TOKENS)

TOKENIZER_TYPE = "char"
TOKENIZER_VERSION = 1
ENCODE_BLOCK = 1 << 18  # code points looked up per numpy call (keeps temporaries in the CPU cache)
TOKENIZER_TYPES = ("char", "byte", "bpe")  # the "type" field of to_dict(); also PrepareConfig.tokenizer


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
        self._by_length = sorted(self.specials, key=len, reverse=True)
        self._first_chars = "".join(sorted({s[0] for s in self.specials}))
        self._special_codes = np.array(sorted({ord(c) for s in self.specials for c in s}), dtype=np.uint32)
        self.chars: list[str] = []
        self._char_id: dict[str, int] = {}
        self._table = np.full(128, -1, dtype=np.int32)  # code point -> id, -1 = unknown; grows on demand
        self._cp_of_id = np.zeros(0, dtype=np.uint32)  # id -> code point (decode); rebuilt when stale
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
        if cp + 1 >= len(self._table):  # keep a last slot that stays -1: encode clips unknown code points to it
            grown = np.full(max(cp + 2, 2 * len(self._table)), -1, dtype=np.int32)
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
        codes = _codepoints(text)
        if skip_specials:
            codes = codes[self._outside_specials(codes, self._find_specials(text, codes))]
        before = len(self.chars)
        for lo in range(0, len(codes), ENCODE_BLOCK):  # blocks in order keep "first appearance" order
            block = codes[lo: lo + ENCODE_BLOCK]
            unknown = block[self._table.take(np.minimum(block, len(self._table) - 1)) < 0]
            if unknown.size:
                values, first = np.unique(unknown, return_index=True)
                for cp in values[np.argsort(first, kind="stable")]:
                    self._append(chr(int(cp)))
        return len(self.chars) - before

    # ------------------------------------------------------------------ encode / decode
    @staticmethod
    def _outside_specials(codes: np.ndarray, spans: list[tuple[int, int, int]]) -> np.ndarray | slice:
        """Index selecting the positions of `codes` that are not part of a special string."""
        if not spans:
            return slice(None)
        mask = np.ones(len(codes), dtype=bool)
        for start, end, _ in spans:
            mask[start:end] = False
        return mask

    def _find_specials(self, text: str, codes: np.ndarray) -> list[tuple[int, int, int]]:
        """(start, end, id) of every special string in `text`: leftmost first, longest at each position.

        Same result as a regex alternation of the specials (longest first), but only the positions holding a
        special's first character (rare in prose: '<' and '*') are looked at, found with numpy: several times
        faster than the regex engine on long texts.
        """
        firsts = [c for c in self._first_chars if c in text]
        if not firsts:
            return []
        cand = np.flatnonzero(codes == ord(firsts[0])) if len(firsts) == 1 else \
            np.flatnonzero(np.isin(codes, np.array([ord(c) for c in firsts], dtype=np.uint32)))
        spans, end = [], 0
        for pos in cand.tolist():
            if pos < end:
                continue  # inside the special just taken
            for s in self._by_length:
                if text.startswith(s, pos):
                    end = pos + len(s)
                    spans.append((pos, end, self._special_id[s]))
                    break
        return spans

    def safe_cut(self, text: str) -> int:
        """Largest p (0 < p < len(text)) where encoding text[:p] and text[p:] apart equals encoding text; 0 if
        none. Cutting before a character that occurs in no special string can never split one."""
        codes = _codepoints(text)
        ok = np.flatnonzero(~np.isin(codes[1:], self._special_codes))
        return int(ok[-1]) + 1 if ok.size else 0

    def encode(self, text: str, errors: str = "strict") -> np.ndarray:
        """Ids of `text` (int32, shape [n]), a special string as one id; unknown characters raise ('strict')
        or are dropped ('ignore')."""
        if errors not in ("strict", "ignore"):
            raise ValueError(f"errors must be 'strict' or 'ignore', not {errors!r}")
        codes = _codepoints(text)
        ids = np.empty(len(codes), dtype=np.int32)
        table, top = self._table, len(self._table) - 1  # table[top] is always -1 (see _append)
        # Blocks keep the temporaries in cache: one pass over a 200 MB array is several times slower.
        for lo in range(0, len(codes), ENCODE_BLOCK):
            block = codes[lo: lo + ENCODE_BLOCK]
            if block.max() > top:
                block = np.minimum(block, top)  # characters beyond the table are unknown
            np.take(table, block, out=ids[lo: lo + ENCODE_BLOCK])
        spans = self._find_specials(text, codes)
        if spans:
            # Python string indices are code points, the same positions as in the UTF-32 array. Each special
            # keeps its first position (now its id) and loses the rest.
            pieces, prev = [], 0
            for start, end, sid in spans:
                ids[start] = sid
                pieces.append(ids[prev: start + 1])
                prev = end
            pieces.append(ids[prev:])
            ids = np.concatenate(pieces)
        missing = ids < 0
        if missing.any():
            if errors == "ignore":
                return ids[~missing]
            raise UnknownCharError(self._describe_unknown(text))
        return ids

    def _describe_unknown(self, text: str) -> str:
        codes = _codepoints(text)
        codes = codes[self._outside_specials(codes, self._find_specials(text, codes))]
        bad = sorted({chr(int(c)) for c in np.unique(codes)} - set(self._char_id))
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
            bad = lo if lo < 0 else hi
            raise ValueError(f"id out of range: ids must be in 0..{self.vocab_size - 1}, got {bad}")
        # Characters go back through a code point table in one numpy pass; specials are spliced in between.
        if len(self._cp_of_id) != self.vocab_size:  # rebuilt after add_chars
            self._cp_of_id = np.array([0] * NUM_SPECIAL + [ord(c) for c in self.chars], dtype=np.uint32)
        cps = self._cp_of_id.take(arr)
        out, prev = [], 0
        for pos in np.flatnonzero(arr < NUM_SPECIAL).tolist():
            out.append(cps[prev:pos].tobytes().decode("utf-32-le"))
            out.append(self.specials[int(arr[pos])])
            prev = pos + 1
        out.append(cps[prev:].tobytes().decode("utf-32-le"))
        return "".join(out)

    def id_to_string(self, i: int) -> str:
        """The string one id stands for."""
        return self.specials[i] if i < NUM_SPECIAL else self.chars[i - NUM_SPECIAL]

    # ------------------------------------------------------------------ persistence
    grows = True  # add_chars may add ids (byte and BPE tokenizers never grow)

    @property
    def fingerprint(self) -> str:
        """Short hash of everything that decides the ids (changes whenever a character is added)."""
        return description_fingerprint(self.to_dict())

    def extends(self, old: object) -> bool:
        """True when every id of tokenizer `old` means the same string here (same specials, old chars first)."""
        return (isinstance(old, CharTokenizer) and old.specials == self.specials
                and self.chars[: len(old.chars)] == old.chars)

    def to_dict(self) -> dict:
        """JSON-able description (travels inside meta.json and checkpoints)."""
        d = {"type": TOKENIZER_TYPE, "version": TOKENIZER_VERSION, "specials": list(self.specials),
             "chars": list(self.chars)}
        return {**d, "fingerprint": description_fingerprint(d)}

    @classmethod
    def from_dict(cls, d: dict) -> "CharTokenizer":
        """Inverse of `to_dict`; ValueError for anything that is not a char tokenizer of a known version."""
        if not isinstance(d, dict) or d.get("type") != TOKENIZER_TYPE:
            kind = d.get("type") if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"not a char tokenizer description (type {kind!r})")
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
        if "fingerprint" in d and d["fingerprint"] != tok.fingerprint:
            raise ValueError("char tokenizer description does not match its fingerprint (edited or damaged)")
        return tok

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


# ---------------------------------------------------------------------- the common interface
class Tokenizer(Protocol):
    """What every tokenizer offers (CharTokenizer, model.bpe.ByteTokenizer, model.bpe.BPETokenizer)."""

    specials: tuple[str, ...]  # the 16 special strings, id i = specials[i]
    grows: bool  # whether add_chars can add ids (char only)

    @property
    def vocab_size(self) -> int: ...  # valid ids are 0..vocab_size-1
    @property
    def eot_id(self) -> int: ...  # always 0 (EOT_ID)
    @property
    def fingerprint(self) -> str: ...  # short hash of what decides the ids; also in to_dict()
    def encode(self, text: str, errors: str = "strict") -> np.ndarray: ...  # int32 ids, specials as one id
    def decode(self, ids: Iterable[int] | np.ndarray) -> str: ...
    def id_to_string(self, i: int) -> str: ...
    def add_chars(self, text: str, skip_specials: bool = True) -> int: ...  # new ids added (0 unless char)
    def safe_cut(self, text: str) -> int: ...  # a cut point where encoding in two pieces = encoding whole
    def extends(self, old: object) -> bool: ...  # every id of `old` means the same string here
    def to_dict(self) -> dict: ...  # JSON-able, with "type" in TOKENIZER_TYPES and "fingerprint"


def description_fingerprint(d: dict) -> str:
    """Short stable hash of a tokenizer description (its to_dict() without the fingerprint itself)."""
    blob = json.dumps({k: v for k, v in d.items() if k != "fingerprint"}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
