"""The memory examples on disk (`processed/memory/`), written by the memory step and read by the trainer.

One example is a summary prefix and the place in a split's token file where its window starts:

- `<split>.prefixes.bin`: every distinct prefix (`<|summary|>` ids `<|/summary|>`), concatenated, in the token
  dtype of processed/meta.json (little-endian);
- `<split>.examples.bin`: little-endian int64 rows (window start in `<split>.bin`, prefix offset, prefix length,
  relevance: how many words of the summary's facts the window then uses, `relevance` below);
- `memory.json`: format, version, the settings (block_size, budget, update_every, focus), the fingerprint of the
  processed data and settings, per-split counts and the file sizes. Written last (after the other files are in
  place; removed before any is replaced), so when it exists the files are complete.

A training row is the prefix followed by the tokens of the split from the window start, block_size + 1 tokens
in all (`build_row`); the targets of the prefix are not trained on.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from story_memory.summary import Summary

MEMORY_DIR = "memory"
MEMORY_META = "memory.json"
MEMORY_FORMAT = "miniature-memory/memory-examples"
MEMORY_VERSION = 5  # bumped whenever the summarizer or the example layout changes: older examples are rebuilt
EXAMPLE_COLUMNS = 4  # window start, prefix offset, prefix length, relevance
COLUMNS = ("window_start", "prefix_offset", "prefix_length", "relevance")


def prefixes_name(split: str) -> str:
    return f"{split}.prefixes.bin"


def examples_name(split: str) -> str:
    return f"{split}.examples.bin"


def open_examples(folder: Path, split: str, dtype: str, meta: dict) -> tuple[np.ndarray, np.ndarray]:
    """(examples [n, 3] int64, prefixes [m]) of a split, memory-mapped (empty arrays for an empty split).
    ValueError when a file's size disagrees with memory.json."""
    counts = meta["splits"][split]
    out = []
    for name, dt, n in ((examples_name(split), np.dtype("<i8"), counts["examples"] * EXAMPLE_COLUMNS),
                        (prefixes_name(split), np.dtype(dtype).newbyteorder("<"), counts["prefix_tokens"])):
        path = Path(folder) / name
        size = path.stat().st_size if path.is_file() else -1
        if size != n * dt.itemsize:
            raise ValueError(f"{path} has {size} bytes, memory.json says {n * dt.itemsize}")
        out.append(np.memmap(path, dtype=dt, mode="r") if n else np.zeros(0, dtype=dt))
    return out[0].reshape(-1, EXAMPLE_COLUMNS), out[1]


def build_row(data: np.ndarray, prefixes: np.ndarray, example: np.ndarray, block_size: int) -> tuple[np.ndarray, int]:
    """(the block_size + 1 token ids of one memory example, its prefix length)."""
    start, offset, length = (int(v) for v in example[:3])
    prefix = np.asarray(prefixes[offset: offset + length], dtype=np.int64)
    window = np.asarray(data[start: start + block_size + 1 - length], dtype=np.int64)
    return np.concatenate([prefix, window]), length


_WORD = re.compile(r"[^\W\d_]{3,}")


def relevance(summary: str, window_text: str) -> int:
    """How many distinct words of the summary's facts (not the names heading its entries; 3 letters or more)
    occur in the window: a window that uses a fact only the summary holds is where the model learns to read
    it."""
    words = set()
    for entry in Summary.parse(summary).entries:
        for fact in entry.facts:
            words.update(w.lower() for w in _WORD.findall(fact))
    if not words:
        return 0
    return len(words & {w.lower() for w in _WORD.findall(window_text)})
