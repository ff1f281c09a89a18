"""Reading the prepared dataset (processed/): meta.json, the tokenizer and the token files.

Written by `scripts/prepare_data.py`; the format is described there and versioned by `PROCESSED_VERSION`.
`meta.json` is the commit record of a prepare run: it is removed before the first output is replaced and written
after the last, so when it exists the files it describes are complete and consistent; when it is missing, prepare
has not finished (re-run it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.config import UserError
from common.fsio import read_json
from model.tokenizer import TOKENIZER_TYPES, CharTokenizer, Tokenizer

PROCESSED_FORMAT = "miniature-memory/processed"
PROCESSED_VERSION = 1
META_NAME = "meta.json"
SPLITS = ("train", "val")
UINT16_MAX_VOCAB = 65535  # as DATA_FORMAT.md states (one short of what uint16 could hold: 0xFFFF stays free)


def txt_name(split: str) -> str:
    return f"{split}.txt"


def bin_name(split: str) -> str:
    return f"{split}.bin"


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 while vocab_size <= 65,535, else uint32."""
    return np.dtype(np.uint16 if vocab_size <= UINT16_MAX_VOCAB else np.uint32)


def load_meta(processed_dir: str | Path) -> dict:
    """The meta.json of a processed/ folder; UserError when prepare has not (completely) run there."""
    path = Path(processed_dir) / META_NAME
    try:
        meta = read_json(path)
    except (ValueError, OSError) as e:
        raise UserError(f"cannot read {path}: {e}; re-run the prepare stage") from None
    if meta is None:
        raise UserError(f"no prepared data in {path.parent} (meta.json missing): run the prepare stage")
    if not isinstance(meta, dict) or meta.get("format") != PROCESSED_FORMAT:
        raise UserError(f"{path} is not a miniature-memory meta.json")
    if meta.get("version") != PROCESSED_VERSION:
        raise UserError(f"{path} has format version {meta.get('version')!r}, this code reads "
                        f"{PROCESSED_VERSION}: re-run the prepare stage")
    return meta


def tokenizer_from_dict(d: dict) -> Tokenizer:
    """Rebuild a tokenizer of any type from its `to_dict()`; ValueError when it cannot be read."""
    kind = d.get("type") if isinstance(d, dict) else None
    if kind == "char":
        return CharTokenizer.from_dict(d)
    if kind in ("byte", "bpe"):
        from model.bpe import BPETokenizer, ByteTokenizer  # BPE needs the `tokenizers` library: load on use
        return (ByteTokenizer if kind == "byte" else BPETokenizer).from_dict(d)
    raise ValueError(f"unknown tokenizer type {kind!r} (known: {', '.join(TOKENIZER_TYPES)})")


def load_tokenizer(processed_dir: str | Path, meta: dict | None = None) -> Tokenizer:
    """The tokenizer the token files were written with (CharTokenizer, ByteTokenizer or BPETokenizer)."""
    meta = meta or load_meta(processed_dir)
    try:
        return tokenizer_from_dict(meta.get("tokenizer"))
    except ValueError as e:
        raise UserError(f"{Path(processed_dir) / META_NAME}: {e}; re-run the prepare stage") from None


def open_tokens(processed_dir: str | Path, split: str, meta: dict | None = None) -> np.ndarray:
    """The token ids of a split as a read-only memmap (a plain empty array for an empty split)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    meta = meta or load_meta(processed_dir)
    dtype = np.dtype(meta["dtype"])
    path = Path(processed_dir) / bin_name(split)
    expected = meta["splits"][split]["tokens"]
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UserError(f"{path} is missing: re-run the prepare stage") from None
    if size != expected * dtype.itemsize:
        raise UserError(f"{path} has {size:,} bytes, meta.json says {expected:,} tokens of {dtype.name}: "
                        f"re-run the prepare stage")
    if expected == 0:
        return np.zeros(0, dtype=dtype)  # mmap cannot map an empty file
    return np.memmap(path, dtype=dtype, mode="r")
