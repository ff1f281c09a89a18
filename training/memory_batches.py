"""Memory examples in training batches: rows that start with a summary prefix the model reads but is not
trained to write (their targets are -1, ignored by the loss).

The examples are the memory step's files (`scripts/prepare_memory.py`, format in story_memory/example_files.py);
they were cut for one block size, which must be the model's. A batch of n rows holds round(memory_ratio * n)
memory examples (drawn with the run's batch generator, so resume stays bit-for-bit: half uniformly, half among
the examples whose window uses a fact of their summary) and plain windows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from common.config import UserError
from common.fsio import read_json
from story_memory.example_files import (
    MEMORY_DIR,
    MEMORY_FORMAT,
    MEMORY_META,
    MEMORY_VERSION,
    build_row,
    open_examples,
)
from training.step import sample_windows
from training.summary_write_rows import write_pairs

log = logging.getLogger("miniature_memory.train")


@dataclass
class MemoryExamples:
    examples: np.ndarray   # [n, 4] int64 (window start, prefix offset, prefix length, relevance)
    prefixes: np.ndarray   # prefix ids
    settings: dict         # block_size, budget, update_every, focus
    relevant: torch.Tensor  # indices of the examples with relevance > 0
    pairs: np.ndarray       # examples that follow their document's previous fold (training/summary_write_rows.py)


def load_memory_examples(processed: Path, meta: dict, split: str, block_size: int) -> MemoryExamples | None:
    """The memory examples of a split. None (with a warning: the run trains without memory) when the memory
    step never ran on this dataset; UserError when its files are there but unusable (an interrupted step, older
    data, another block size), since then the user asked for them."""
    folder = Path(processed) / MEMORY_DIR
    fix = f"run the memory step: python scripts/prepare_memory.py --block-size {block_size}"
    if not folder.exists():
        log.warning(f"train: memory_ratio > 0 but {folder} does not exist: training WITHOUT memory examples "
                    f"(to train with them, {fix})")
        return None
    try:
        mmeta = read_json(folder / MEMORY_META)
    except ValueError:
        mmeta = None
    if not isinstance(mmeta, dict) or mmeta.get("format") != MEMORY_FORMAT:
        raise UserError(f"memory_ratio > 0 needs memory examples in {folder}: {fix}")
    if mmeta.get("version") != MEMORY_VERSION or mmeta.get("processed_fingerprint") != meta.get("fingerprint"):
        raise UserError(f"the memory examples in {folder} are out of date (prepare has run since): {fix}")
    if mmeta.get("block_size") != block_size:
        raise UserError(f"the memory examples in {folder} were cut for block_size {mmeta.get('block_size')}, "
                        f"this run uses {block_size}: {fix}")
    try:
        examples, prefixes = open_examples(folder, split, meta["dtype"], mmeta)
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{folder}: {e}: {fix}") from None
    settings = {k: mmeta[k] for k in ("block_size", "budget", "update_every", "focus")}
    relevant = np.flatnonzero(np.asarray(examples[:, 3]) > 0) if len(examples) else np.zeros(0, dtype=np.int64)
    return MemoryExamples(examples, prefixes, settings, torch.from_numpy(relevant.astype(np.int64)),
                          write_pairs(examples, int(settings["update_every"])))


def sample_mixed(data: np.ndarray, memory: MemoryExamples | None, n: int, block_size: int, ratio: float,
                 gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows [n, block_size + 1] int64, prefix lengths [n]): memory examples first, then plain windows."""
    k = round(ratio * n) if memory is not None and len(memory.examples) else 0
    prefix_lens = torch.zeros(n, dtype=torch.long)
    plain = sample_windows(data, n - k, block_size, gen) if n - k else None
    if not k:
        return plain, prefix_lens
    # Half the memory rows come from the examples whose window uses a fact of their summary (relevance > 0):
    # reading the summary pays only there, and such windows are a small share of a story (where facts come back).
    relevant = memory.relevant
    k_rel = k // 2 if len(relevant) else 0
    picks = torch.randint(len(memory.examples), (k - k_rel,), generator=gen).tolist()
    if k_rel:
        picks += relevant[torch.randint(len(relevant), (k_rel,), generator=gen)].tolist()
    rows = []
    for i, e in enumerate(picks):
        row, plen = build_row(data, memory.prefixes, memory.examples[e], block_size)
        rows.append(row)
        prefix_lens[i] = plen
    mem = torch.from_numpy(np.stack(rows))
    return (mem if plain is None else torch.cat([mem, plain])), prefix_lens


def mask_prefix_targets(y: torch.Tensor, prefix_lens: torch.Tensor, ends: torch.Tensor | None = None) -> torch.Tensor:
    """Targets with every position that predicts a prefix token set to -1 (row i: positions < prefix_len - 1),
    and, with `ends`, every position from ends[i] on (summary-writing rows learn the summary only)."""
    if not bool((prefix_lens > 0).any()):
        return y
    pos = torch.arange(y.shape[1], device=y.device)
    mask = pos[None, :] < (prefix_lens.to(y.device)[:, None] - 1)
    if ends is not None:
        mask |= pos[None, :] >= ends.to(y.device)[:, None]
    return y.masked_fill(mask, -1)
