"""Byte-level tokenizers that never grow: plain bytes (`ByteTokenizer`) and byte-level BPE (`BPETokenizer`).

Both keep the char tokenizer's 16 special strings at ids 0..15 (`model.tokenizer.SPECIAL_TOKENS`, each one id
wherever it appears) and offer the same interface (`model.tokenizer.Tokenizer`).

ByteTokenizer: id 16 + b for every byte b of the UTF-8 text: 272 ids, whatever the data. Decoding replaces
invalid UTF-8 (a model can emit any byte sequence) with U+FFFD, deterministically.

BPETokenizer: a HuggingFace `tokenizers` BPE model trained by `scripts/train_tokenizer.py` (`train_bpe` here):
the specials first (ids 0..15), then the 256 byte symbols, then the merges in the order they were learned.
Pre-tokenisation: runs of newlines are pieces of their own, then GPT-2's byte-level split; the byte-level decoder
maps ids back to bytes, so any text round-trips. Because a run of newlines is always its own piece, a text cut
after a newline that is followed by something else (or at `safe_cut`) encodes exactly like the whole text: that
is what lets prepare stream documents in pieces and `encode` use the library's parallel batch encoder.
The tokenizer is stored as the library's own JSON (no pickle); `to_dict` embeds that JSON string, so it travels
inside meta.json and checkpoints. Same corpus and settings give the same JSON bytes (the trainer breaks ties by
pair order; its threads only sum counts).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from common.text_format import is_known_special
from model.tokenizer import (EOT_ID, NUM_SPECIAL, SPECIAL_TOKENS, UnknownCharError, _check_specials,
                                description_fingerprint)

BYTE_VERSION = 1
BYTE_VOCAB = NUM_SPECIAL + 256  # 272 ids: never more
MIN_BPE_VOCAB = BYTE_VOCAB  # specials + every byte: the smallest BPE vocabulary that can encode any text
MAX_BPE_VOCAB = 1 << 20
ENCODE_CHUNK = 1 << 14  # characters per batch item in BPE encode (cut after a newline run)
# Cut points that never change the encoding (see safe_cut): after a newline run, or before a space between ASCII
# letters. Neither can split a special string.
_SAFE_CUT = re.compile(r"\n(?=[^\n])|(?<=[A-Za-z])(?= [A-Za-z])")
_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _check_errors(errors: str) -> None:
    if errors not in ("strict", "ignore"):
        raise ValueError(f"errors must be 'strict' or 'ignore', not {errors!r}")


def _utf8(text: str, errors: str) -> bytes:
    """UTF-8 bytes of `text`; a lone surrogate (not a character) raises or is dropped."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        if errors == "ignore":
            return text.encode("utf-8", errors="ignore")
        raise UnknownCharError(f"text holds an unencodable character at position {e.start} "
                               f"({text[e.start]!r})") from None


def _check_ids(ids: Iterable[int] | np.ndarray, vocab_size: int) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.size == 0:
        return arr.reshape(0).astype(np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError("decode expects a flat sequence of integer ids")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= vocab_size:
        raise ValueError(f"id out of range: ids must be in 0..{vocab_size - 1}, got {lo if lo < 0 else hi}")
    return arr.astype(np.int64)


class ByteTokenizer:
    """16 special strings, then one id per byte value (16 + byte): 272 ids that never change."""

    grows = False

    def __init__(self, specials: Iterable[str] = SPECIAL_TOKENS):
        self.specials = _check_specials(specials)
        self._special_bytes = [(s.encode("utf-8"), i) for i, s in enumerate(self.specials)]
        self._special_bytes.sort(key=lambda p: len(p[0]), reverse=True)  # longest first at a position
        self._first_bytes = np.array(sorted({b[0] for b, _ in self._special_bytes}), dtype=np.uint8)
        self._special_codes = np.array(sorted({ord(c) for s in self.specials for c in s}), dtype=np.uint32)

    vocab_size = property(lambda self: BYTE_VOCAB, doc="272: 16 specials + 256 byte values")
    eot_id = property(lambda self: EOT_ID)
    fingerprint = property(lambda self: description_fingerprint(self.to_dict()))

    def add_chars(self, text: str, skip_specials: bool = True) -> int:
        """Every text is already encodable: adds nothing (0)."""
        return 0

    def _find_specials(self, data: bytes, arr: np.ndarray) -> list[tuple[int, int, int]]:
        """(start, end, id) byte spans of the specials: leftmost first, longest at a position (UTF-8 is
        self-synchronising, so a byte match is a character match)."""
        spans, end = [], 0
        for pos in np.flatnonzero(np.isin(arr, self._first_bytes)).tolist():
            if pos < end:
                continue
            for s, sid in self._special_bytes:
                if data.startswith(s, pos):
                    end = pos + len(s)
                    spans.append((pos, end, sid))
                    break
        return spans

    def encode(self, text: str, errors: str = "strict") -> np.ndarray:
        """Ids of `text` (int32): 16 + each UTF-8 byte, a special string as one id. Never unknown characters."""
        _check_errors(errors)
        data = _utf8(text, errors)
        arr = np.frombuffer(data, dtype=np.uint8)
        ids = arr.astype(np.int32) + NUM_SPECIAL
        spans = self._find_specials(data, arr)
        if not spans:
            return ids
        pieces, prev = [], 0
        for start, end, sid in spans:
            ids[start] = sid
            pieces.append(ids[prev: start + 1])
            prev = end
        pieces.append(ids[prev:])
        return np.concatenate(pieces)

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """Text of a sequence of ids; byte runs that are not valid UTF-8 decode to U+FFFD."""
        arr = _check_ids(ids, BYTE_VOCAB)
        out, prev = [], 0
        for pos in np.flatnonzero(arr < NUM_SPECIAL).tolist():
            out.append((arr[prev:pos] - NUM_SPECIAL).astype(np.uint8).tobytes().decode("utf-8", "replace"))
            out.append(self.specials[int(arr[pos])])
            prev = pos + 1
        out.append((arr[prev:] - NUM_SPECIAL).astype(np.uint8).tobytes().decode("utf-8", "replace"))
        return "".join(out)

    def id_to_string(self, i: int) -> str:
        """The string one id stands for (a byte >= 0x80 alone is not text: U+FFFD)."""
        return self.specials[i] if i < NUM_SPECIAL else bytes([i - NUM_SPECIAL]).decode("utf-8", "replace")

    def safe_cut(self, text: str) -> int:
        """Largest p (0 < p < len(text)) before a character that is in no special string; 0 if none."""
        codes = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
        ok = np.flatnonzero(~np.isin(codes[1:], self._special_codes))
        return int(ok[-1]) + 1 if ok.size else 0

    def extends(self, old: object) -> bool:
        return isinstance(old, ByteTokenizer) and old.specials == self.specials

    def to_dict(self) -> dict:
        d = {"type": "byte", "version": BYTE_VERSION, "specials": list(self.specials)}
        return {**d, "fingerprint": description_fingerprint(d)}

    @classmethod
    def from_dict(cls, d: dict) -> "ByteTokenizer":
        if not isinstance(d, dict) or d.get("type") != "byte":
            raise ValueError(f"not a byte tokenizer description (type {d.get('type') if isinstance(d, dict) else d!r})")
        if d.get("version") != BYTE_VERSION:
            raise ValueError(f"unsupported byte tokenizer version {d.get('version')!r}")
        tok = cls(d.get("specials", SPECIAL_TOKENS))
        if "fingerprint" in d and d["fingerprint"] != tok.fingerprint:
            raise ValueError("byte tokenizer description does not match its fingerprint")
        return tok

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ByteTokenizer) and other.specials == self.specials

    def __repr__(self) -> str:
        return "ByteTokenizer(vocab_size=272)"


class BPETokenizer:
    """A trained byte-level BPE (`tokenizers` library) with the 16 specials at ids 0..15."""

    grows = False

    def __init__(self, tok):
        """Wrap a `tokenizers.Tokenizer`; ValueError unless it is one `train_bpe` makes."""
        from tokenizers import models
        if not isinstance(tok.model, models.BPE):
            raise ValueError("not a BPE tokenizer")
        # A tokenizer trained before the chat tags had names holds placeholders at those ids: still valid.
        specials = tuple(tok.id_to_token(i) or "" for i in range(NUM_SPECIAL))
        if not all(is_known_special(i, s) for i, s in enumerate(specials)):
            raise ValueError("the special tokens are not at ids 0..15 (not made by scripts/train_tokenizer.py)")
        self.specials = specials
        self._tok = tok
        self.json = tok.to_str()  # the library's canonical JSON: what the fingerprint and to_dict describe
        self._vocab_size = tok.get_vocab_size(with_added_tokens=True)
        if max(tok.get_vocab(with_added_tokens=True).values()) != self._vocab_size - 1:
            raise ValueError("token ids are not contiguous")
        self._encode_batch = getattr(tok, "encode_batch_fast", tok.encode_batch)  # no offsets: faster

    vocab_size = property(lambda self: self._vocab_size)
    eot_id = property(lambda self: EOT_ID)
    fingerprint = property(lambda self: hashlib.sha256(self.json.encode("utf-8")).hexdigest()[:16])

    @classmethod
    def from_json(cls, text: str) -> "BPETokenizer":
        from tokenizers import Tokenizer
        try:
            return cls(Tokenizer.from_str(text))
        except Exception as e:  # the library raises plain Exception for malformed JSON
            raise ValueError(f"not a readable tokenizer JSON: {str(e).splitlines()[0] if str(e) else e}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> "BPETokenizer":
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def add_chars(self, text: str, skip_specials: bool = True) -> int:
        """Every text is already encodable (byte fallback): adds nothing (0)."""
        return 0

    def encode(self, text: str, errors: str = "strict") -> np.ndarray:
        """Ids of `text` (int32), a special string as one id; long texts go through the parallel batch
        encoder in chunks cut after newline runs (same ids as encoding whole)."""
        _check_errors(errors)
        if errors == "ignore":
            text = _utf8(text, errors).decode("utf-8")
        chunks = list(safe_chunks(text, ENCODE_CHUNK))
        try:
            encs = self._encode_batch(chunks, add_special_tokens=False)
        except Exception:  # a lone surrogate cannot cross into Rust: say so (UnknownCharError), else re-raise
            _utf8(text, "strict")
            raise
        if not encs:
            return np.zeros(0, dtype=np.int32)
        return np.concatenate([np.asarray(e.ids, dtype=np.int32) for e in encs])

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """Text of a sequence of ids; invalid UTF-8 from odd id sequences decodes to U+FFFD."""
        arr = _check_ids(ids, self._vocab_size)
        return self._tok.decode(arr.tolist(), skip_special_tokens=False) if arr.size else ""

    def id_to_string(self, i: int) -> str:
        return self.decode([i])

    @staticmethod
    def safe_cut(text: str) -> int:
        """A cut point inside a line with no newline: before a space between two ASCII letters (GPT-2's
        split ends a word there and starts ' word' there, and no special holds such a space); 0 if none."""
        end = len(text) - 1  # the space needs a character after it
        while (p := text.rfind(" ", 1, end)) > 0:
            if text[p - 1] in _ASCII_LETTERS and text[p + 1] in _ASCII_LETTERS:
                return p
            end = p
        return 0

    def extends(self, old: object) -> bool:
        """True when every token of `old` has the same id here (e.g. the same corpus trained to a larger
        vocabulary): a model trained with `old` keeps its embedding rows."""
        if not isinstance(old, BPETokenizer):
            return False
        if old.json == self.json:
            return True
        new_vocab = self._tok.get_vocab(with_added_tokens=True)
        return all(new_vocab.get(t) == i for t, i in old._tok.get_vocab(with_added_tokens=True).items())

    def to_dict(self) -> dict:
        return {"type": "bpe", "version": 1, "specials": list(self.specials), "vocab_size": self._vocab_size,
                "json": self.json, "fingerprint": self.fingerprint}

    @classmethod
    def from_dict(cls, d: dict) -> "BPETokenizer":
        if not isinstance(d, dict) or d.get("type") != "bpe" or not isinstance(d.get("json"), str):
            raise ValueError("not a bpe tokenizer description (needs type 'bpe' and a 'json' string)")
        if d.get("version") != 1:
            raise ValueError(f"unsupported bpe tokenizer version {d.get('version')!r}")
        tok = cls.from_json(d["json"])
        if "fingerprint" in d and d["fingerprint"] != tok.fingerprint:
            raise ValueError("bpe tokenizer JSON does not match its fingerprint (edited, or another library "
                             "version wrote it)")
        return tok

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BPETokenizer) and other.json == self.json

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self._vocab_size}, fingerprint={self.fingerprint})"


def safe_chunks(text: str, size: int) -> Iterator[str]:
    """`text` in pieces of about `size` characters or more, cut where encoding in pieces equals encoding whole
    (after a newline run, else before a space between letters)."""
    lo = 0
    while len(text) - lo > size:
        m = _SAFE_CUT.search(text, lo + size)
        if not m:
            break
        yield text[lo: m.end()]
        lo = m.end()
    if lo < len(text) or lo == 0:
        yield text[lo:]


def new_bpe_pipeline():
    """An untrained `tokenizers.Tokenizer` with our pre-tokenizer and decoder."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\n+"), behavior="isolated"),  # newline runs apart: cut-after-newline safe
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    return tok


def train_bpe(texts: Iterable[str], vocab_size: int, min_frequency: int = 2,
              length: int | None = None) -> BPETokenizer:
    """Train a byte-level BPE on `texts` (each a document or a piece cut after a newline run / at safe_cut)."""
    from tokenizers import pre_tokenizers, trainers
    if not MIN_BPE_VOCAB <= vocab_size <= MAX_BPE_VOCAB:
        raise ValueError(f"vocab_size must be between {MIN_BPE_VOCAB} and {MAX_BPE_VOCAB:,}, got {vocab_size}")
    tok = new_bpe_pipeline()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=list(SPECIAL_TOKENS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer, length=length)
    return BPETokenizer(tok)
