"""Copy warm-up rows: a span of the training text written twice in a row.

Why: a model only uses its rolling summary (or anything earlier in its window) once it has learned to copy a token
it saw before ("goat, Barnaby ... his goat, " -> "Barnaby"). On stories that skill forms late, because a name
recurs a few times per window at most; measured on the demo corpus, the `tiny` preset trained for 13 minutes still
scored the pet of a character named one sentence earlier at chance level. In rows where the second half repeats
the first, every second-half token is a copy, so the skill forms in a few hundred steps (in the `tiny` shape: a
random-token repeat task falls from 4.1 to 0.06 nats in 500 steps). The rows come from the training text itself
and only during the first `copy_warmup_iters` steps, so the model then goes on learning plain stories.
"""

from __future__ import annotations

import numpy as np
import torch

from training.step import sample_windows


def repeat_rows(data: np.ndarray, n: int, block_size: int, gen: torch.Generator) -> torch.Tensor:
    """n rows [n, block_size + 1]: a random span of `data` of (block_size + 1) // 2 + 1 tokens, then the same span
    again, cut to the row length."""
    half = (block_size + 1) // 2 + 1
    spans = sample_windows(data, n, half - 1, gen)  # [n, half]
    return torch.cat([spans, spans], dim=1)[:, : block_size + 1]


def with_copy_rows(rows: torch.Tensor, prefix_lens: torch.Tensor, data: np.ndarray, block_size: int,
                   gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch with its last half rows (the plain windows, which `sample_mixed` puts last) replaced by repeat
    rows; their prefix lengths become 0 (every target is learned)."""
    k = rows.shape[0] // 2
    if k == 0:
        return rows, prefix_lens
    rows, prefix_lens = rows.clone(), prefix_lens.clone()
    rows[-k:] = repeat_rows(data, k, block_size, gen)
    prefix_lens[-k:] = 0
    return rows, prefix_lens
