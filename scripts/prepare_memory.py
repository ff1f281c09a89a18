"""The memory step, right after prepare: training examples that teach the model to read a rolling summary.

Each document of processed/{train,val}.bin is read the way generation reads a story (story_memory/rolling.py):
whenever the window of a `block_size` model would overflow, the oldest `update_every` tokens are folded into a
summary of at most `budget` tokens. After each fold one example is kept: the summary prefix
(`<|summary|> ... <|/summary|>`), the place where the window then starts, and its relevance (how many words of
the summary's facts the window uses: the trainer draws half its memory rows from relevant examples). The
trainer mixes these with plain windows (its `memory_ratio`). Everything is a pure function of processed/ (itself
rebuilt from cleaned/) and the settings: re-running gives the same bytes, and with nothing changed there is no
work.

`block_size` must be the block of the model that trains on the examples (the trainer checks); 0 = the profile's
train block_size when run.py runs this step, else 256. `budget` 0 = 40 tokens for a BPE tokenizer, 160 for the
char and byte tokenizers (about as much text as 40 BPE tokens). `focus: window` (the default) keeps the summary at
4 x budget and shows the model, within budget, the part about the characters its window names
(story_memory/focus.py); `focus: none` shows the summary as kept.

Crash safety: the files are written under hidden temp names and fsynced; memory.json is removed, the files are
renamed into place, then memory.json is written: a kill leaves the old complete set or no memory.json (the
trainer refuses until this step is re-run, which then writes the same bytes).

**Reads:** `dataset/processed/` (meta.json, train.bin, val.bin).
**Writes:** `dataset/processed/memory/` (memory.json, {train,val}.prefixes.bin, {train,val}.examples.bin).
**Usage:**
    python scripts/prepare_memory.py --block-size 256
    python scripts/prepare_memory.py --block-size 256 --budget 120 --dataset-dir /data/stories
    python scripts/prepare_memory.py --block-size 128 --budget 72 --focus none
"""

import sys

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.cli import require_dataset, stage_main
from common.config import UserError, config_dict, opt
from common.fsio import fsync_dir, read_json, write_json
from common.ledger import write_manifest
from common.paths import DatasetPaths
from story_memory.documents import document_bounds, document_folds
from model.token_files import SPLITS, load_meta, load_tokenizer, open_tokens
from story_memory.example_files import (COLUMNS, MEMORY_DIR, MEMORY_FORMAT, MEMORY_META, MEMORY_VERSION,
                                        examples_name, prefixes_name)
from story_memory.rolling import make_schedule
from story_memory.summarize import CHARS_PER_BPE_TOKEN, DEFAULT_BUDGET_TOKENS

STAGE = "memory"
DEFAULT_BLOCK = 256
log = logging.getLogger("miniature_memory.memory")


@dataclass
class MemoryConfig:
    block_size: int = opt(0, "block of the model that will train on the examples (0 = the profile's train "
                             "block_size under run.py, else 256)")
    budget: int = opt(0, "summary budget in tokens (0 = 40 for BPE, 160 for the char and byte tokenizers)")
    update_every: int = opt(0, "tokens folded into the summary at a time (0 = half of the smallest window)")
    focus: str = opt("window", "what of the summary the model is shown: 'window' (the characters the window "
                               "names first, from a summary kept at 4x the budget) or 'none' (the summary as kept)")


def default_budget(tokenizer_type: str) -> int:
    return DEFAULT_BUDGET_TOKENS if tokenizer_type == "bpe" else DEFAULT_BUDGET_TOKENS * CHARS_PER_BPE_TOKEN


def settings_of(cfg: MemoryConfig, tokenizer_type: str) -> dict:
    """The resolved settings (defaults filled in), checked; UserError when the summary leaves no window."""
    block = cfg.block_size or DEFAULT_BLOCK
    budget = cfg.budget or default_budget(tokenizer_type)
    if block < 16 or budget < 0 or cfg.update_every < 0:
        raise UserError(f"block_size must be >= 16 and budget, update_every >= 0 (got {block}, {budget}, "
                        f"{cfg.update_every})")
    try:
        sch = make_schedule(block, budget, cfg.update_every, cfg.focus)
    except ValueError as e:
        raise UserError(str(e)) from None
    return {"block_size": sch.block_size, "budget": sch.budget, "update_every": sch.update_every,
            "focus": sch.focus}


def fingerprint_of(meta: dict, settings: dict) -> str:
    blob = f"{MEMORY_VERSION}\n{meta['fingerprint']}\n{sorted(settings.items())}"
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def temp(folder: Path, name: str) -> Path:
    return folder / f".{name}.tmp"


def write_split(folder: Path, data: np.ndarray, tok, schedule, dtype: np.dtype, split: str) -> dict:
    """Write the temp files of one split; returns its counts."""
    n_examples = n_prefix = 0
    with open(temp(folder, examples_name(split)), "wb") as fe, open(temp(folder, prefixes_name(split)), "wb") as fp:
        docs = list(document_bounds(data))
        for start, end in tqdm(docs, desc=f"memory: {split}", unit="doc", disable=None):
            last, last_at = None, 0
            rows = []
            for covered, prefix, rel in document_folds(np.asarray(data[start:end]), tok, schedule):
                pos = start + covered
                if not prefix or pos + schedule.block_size + 1 - len(prefix) > len(data):
                    continue
                if prefix != last:
                    last, last_at = prefix, n_prefix
                    fp.write(np.asarray(prefix, dtype=dtype).tobytes())
                    n_prefix += len(prefix)
                rows.append((pos, last_at, len(prefix), rel))
            if rows:
                fe.write(np.asarray(rows, dtype="<i8").tobytes())
                n_examples += len(rows)
        for f in (fe, fp):
            f.flush()
            os.fsync(f.fileno())
    return {"docs": len(docs), "examples": n_examples, "prefix_tokens": n_prefix}


def run(cfg: MemoryConfig, paths: DatasetPaths, force: bool = False) -> dict:
    """Write processed/memory/ from processed/ (no work when nothing changed); returns counts."""
    require_dataset(paths)
    meta = load_meta(paths.processed)
    tok = load_tokenizer(paths.processed, meta)
    settings = settings_of(cfg, meta["tokenizer"].get("type", "char"))
    schedule = make_schedule(**settings)
    folder = paths.processed / MEMORY_DIR
    folder.mkdir(parents=True, exist_ok=True)
    fingerprint = fingerprint_of(meta, settings)
    names = [n(s) for s in SPLITS for n in (examples_name, prefixes_name)]
    old = read_json(folder / MEMORY_META, default=None) if (folder / MEMORY_META).is_file() else None
    if not force and isinstance(old, dict) and old.get("fingerprint") == fingerprint and all(
            (folder / n).is_file() and (folder / n).stat().st_size == old.get("files", {}).get(n) for n in names):
        counts = {"examples": sum(old["splits"][s]["examples"] for s in SPLITS), "unchanged": True}
        write_manifest(paths, STAGE, config_dict(cfg), counts)
        return counts
    dtype = np.dtype(meta["dtype"]).newbyteorder("<")
    splits = {}
    try:
        for split in SPLITS:
            splits[split] = write_split(folder, open_tokens(paths.processed, split, meta), tok, schedule, dtype, split)
    except BaseException:
        for n in names:
            temp(folder, n).unlink(missing_ok=True)
        raise
    (folder / MEMORY_META).unlink(missing_ok=True)
    fsync_dir(folder)
    for n in names:
        os.replace(temp(folder, n), folder / n)
    fsync_dir(folder)
    files = {n: (folder / n).stat().st_size for n in names}
    write_json(folder / MEMORY_META, {"format": MEMORY_FORMAT, "version": MEMORY_VERSION, **settings,
                                      "dtype": meta["dtype"], "processed_fingerprint": meta["fingerprint"],
                                      "fingerprint": fingerprint, "splits": splits, "files": files,
                                      "columns": list(COLUMNS)})
    counts = {"examples": sum(s["examples"] for s in splits.values()),
              "val_examples": splits["val"]["examples"], **settings, "unchanged": False}
    log.info(f"memory: {counts['examples']:,} examples, block {settings['block_size']}, budget {settings['budget']}")
    write_manifest(paths, STAGE, config_dict(cfg), counts)
    return counts


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, MemoryConfig, run, argv, __doc__, "prepare_memory.py")


if __name__ == "__main__":
    sys.exit(main())
