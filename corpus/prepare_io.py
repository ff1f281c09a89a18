"""File mechanics of the prepare stage: documents read in pieces, hidden temp outputs, the all-or-nothing commit.

Kept apart from `prepare_data.py` so the stage file stays about what goes where; nothing here decides splits
or ids. See the prepare_data docstring for the output format and the crash-safety argument.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from common.config import StageFailed
from common.fsio import fsync_dir, write_json
from common.paths import DatasetPaths
from common.rawstore import list_items
from model.token_files import META_NAME, SPLITS, bin_name, token_dtype, txt_name
from model.tokenizer import EOT, EOT_ID, Tokenizer

OUTPUT_NAMES = tuple(txt_name(s) for s in SPLITS) + tuple(bin_name(s) for s in SPLITS)
BPE_FILE_NAME = "bpe_tokenizer.json"  # default place of the BPE tokenizer, under metadata/
PENDING_META = f".{META_NAME}.pending"  # the next meta.json, written before any output is replaced
PIECE_BYTES = 1 << 20  # bytes read at a time; a piece holds about this much text (memory stays flat)
MAX_CARRY_CHARS = 4 * PIECE_BYTES  # past this without a newline, cut anywhere the tokenizer allows


def temp_path(processed: Path, name: str) -> Path:
    """Where an output is written before the commit (hidden, fixed name: a re-run overwrites it)."""
    return processed / f".{name}.tmp"


def tokenizer_file(paths: DatasetPaths, value: str) -> Path:
    """Where the BPE tokenizer JSON is: `value` (absolute, ~, or relative to the dataset folder), or
    `metadata/bpe_tokenizer.json` of the dataset when empty."""
    if not value:
        return paths.metadata / BPE_FILE_NAME
    p = Path(value).expanduser()
    return p if p.is_absolute() else paths.root / p


def iter_pieces(path: Path, tok: Tokenizer, hasher=None) -> Iterator[str]:
    """The text of a UTF-8 file in pieces that encode exactly like the whole text (cut after a newline that is
    followed by another character, so newline runs stay whole for BPE, or where `tok.safe_cut` allows in a very
    long line); `hasher.update` sees every byte. `tok` only needs a `safe_cut(text) -> int`."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    carry = ""
    try:
        with open(path, "rb") as f:
            while block := f.read(PIECE_BYTES):
                if hasher is not None:
                    hasher.update(block)
                text = carry + decoder.decode(block)
                cut = text.rstrip("\n").rfind("\n") + 1
                if cut == 0 and len(text) > MAX_CARRY_CHARS:
                    cut = tok.safe_cut(text)
                if cut == 0:
                    carry = text
                    continue
                carry = text[cut:]
                yield text[:cut]
            carry += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise StageFailed(f"{path} is not valid UTF-8; re-run the clean stage") from None
    if carry:
        yield carry


def strip_markers(text: str) -> tuple[str, int]:
    """`text` without any literal end-of-text marker (which would split the document); (text, how many)."""
    removed = 0
    while EOT in text:  # removing one can join its neighbours into a new marker: repeat until none is left
        removed += text.count(EOT)
        text = text.replace(EOT, "")
    return text, removed


class SplitWriters:
    """The four temp outputs of one run: text and token ids appended document by document."""

    def __init__(self, processed: Path, dtype: np.dtype):
        self.processed = processed
        self.dtype = np.dtype(dtype).newbyteorder("<")  # the .bin files are little-endian everywhere
        self.files: dict[str, object] = {}
        self._eot_bytes = EOT.encode("utf-8")
        self._eot_ids = np.array([EOT_ID], dtype=self.dtype).tobytes()

    def __enter__(self) -> "SplitWriters":
        for name in OUTPUT_NAMES:
            self.files[name] = open(temp_path(self.processed, name), "wb", buffering=PIECE_BYTES)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        for f in self.files.values():
            f.close()
        if exc_type is not None:  # failed run: leave nothing behind (a killed one is cleaned up next time)
            for name in OUTPUT_NAMES:
                temp_path(self.processed, name).unlink(missing_ok=True)

    def write(self, split: str, text: str, ids: np.ndarray) -> None:
        """Append a piece of a document: its text and its ids."""
        self.files[txt_name(split)].write(text.encode("utf-8"))
        self.files[bin_name(split)].write(ids.astype(self.dtype).tobytes())

    def end_document(self, split: str) -> int:
        """Append the end-of-text marker to both files of the split; returns the tokens added (1)."""
        self.files[txt_name(split)].write(self._eot_bytes)
        self.files[bin_name(split)].write(self._eot_ids)
        return 1

    def fit_vocab(self, vocab_size: int) -> None:
        """Widen the token files to the dtype `vocab_size` needs (uint16 -> uint32), converting what is there."""
        dtype = token_dtype(vocab_size).newbyteorder("<")
        if dtype.itemsize <= self.dtype.itemsize:
            return
        for split in SPLITS:
            name = bin_name(split)
            self.files[name].close()
            src, dst = temp_path(self.processed, name), temp_path(self.processed, f"{name}.wide")
            with open(src, "rb") as fin, open(dst, "wb") as fout:
                while block := fin.read(1 << 20):  # flat memory, whatever was written so far (even byte count)
                    fout.write(np.frombuffer(block, dtype=self.dtype).astype(dtype).tobytes())
            os.replace(dst, src)
            self.files[name] = open(src, "ab", buffering=PIECE_BYTES)
        self.dtype = dtype
        self._eot_ids = np.array([EOT_ID], dtype=self.dtype).tobytes()

    def finish(self) -> dict[str, int]:
        """Flush and fsync every temp output; returns their sizes in bytes by output name."""
        sizes = {}
        for name, f in self.files.items():
            f.flush()
            os.fsync(f.fileno())
            sizes[name] = f.tell()
        return sizes


def cleanup_temp_files(processed: Path, pending_too: bool) -> None:
    """Remove temp files a killed run left behind (the pending meta only when asked: it may hold the ids)."""
    for p in processed.iterdir():
        if p.name.startswith(".") and p.name.endswith(".tmp") and p.is_file():
            p.unlink()
    if pending_too:
        (processed / PENDING_META).unlink(missing_ok=True)


def commit_outputs(processed: Path, meta: dict) -> None:
    """Put the temp outputs in place: pending meta, remove meta.json, rename outputs, pending -> meta.json."""
    pending = processed / PENDING_META
    write_json(pending, meta)
    (processed / META_NAME).unlink(missing_ok=True)
    fsync_dir(processed)  # from here until the last rename, readers find no meta.json and refuse
    for name in OUTPUT_NAMES:
        os.replace(temp_path(processed, name), processed / name)
    fsync_dir(processed)
    os.replace(pending, processed / META_NAME)
    fsync_dir(processed)


def list_cleaned_items(paths: DatasetPaths) -> list[str]:
    """Every `*.txt` under cleaned/<source>/ as item ids (`<source>/<stem>`), in arrival order."""
    return list_items(paths.cleaned)


def inputs_fingerprint(paths: DatasetPaths, items: list[str]) -> str:
    """sha256 over (item id, sha256 of its cleaned file) in item order: identifies the input set."""
    fp = hashlib.sha256()
    for item in tqdm(items, desc="prepare: hash", unit="doc", disable=None):
        h = hashlib.sha256()
        with open(paths.cleaned_file(item), "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        fp.update(f"{item}\t{h.hexdigest()}\n".encode("utf-8"))
    return fp.hexdigest()
