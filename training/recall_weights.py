"""A heavier loss on the tokens a memory row can only get right by reading its summary.

In a memory example (a summary prefix, then the story) almost every target is predictable from the window
alone; the few that are not are the point of the summary: a name, a pet or a town that the window uses for the
first time and that the summary holds. Spread over ~128 targets, their share of the loss is too small for a
small model to learn to copy them in minutes (the chat rows learn copying because their loss is all reply).
`recall_weights` gives those targets `weight` times the loss of the others.

A recall target is a token that occurs in the row's summary, does not occur earlier in the row's window, and is
not one of the split's most common tokens (punctuation and function words the summary format happens to hold).
Only memory-example rows are weighted: rows that start with `<|summary|>` and whose prefix ends with
`<|/summary|>` (summary-writing, copy and chat rows keep weight 1).

Chat rows (training/chat_rows.py) have their own weight, `chat_weight`: their loss is all reply, but in "You told
me your name is Clem." only "Clem" needs the memory block. (Off by default: on the chat profile's weakest seed it
did not help, while a longer copy warm-up did; ROADMAP.md, section 9.) A chat recall target is a reply token that
the row's memory block (`<|memory|>` ... `<|/memory|>`, in the prompt) holds, that the prompt after the block does
not (the recent turns, the user's message), used for the first time in the reply, and not one of the common ids.
"""

from __future__ import annotations

import numpy as np
import torch

from common.text_format import MEMORY_CLOSE_ID, MEMORY_OPEN_ID, SUMMARY_CLOSE_ID, SUMMARY_OPEN_ID

COMMON_TOKENS = 64  # the split's most frequent ids never count as recall targets


def common_tokens(data: np.ndarray, k: int = COMMON_TOKENS) -> np.ndarray:
    """The k most frequent token ids of a split (ties broken by the lower id)."""
    counts = np.bincount(np.asarray(data))
    return np.sort(np.argsort(-counts, kind="stable")[:k])


def recall_weights(rows: torch.Tensor, prefix_lens: torch.Tensor, weight: float, common: np.ndarray,
                   chat_weight: float = 1.0) -> torch.Tensor:
    """Per-target loss weights [n, block] for rows [n, block + 1]: `weight` on the recall targets of memory
    rows, `chat_weight` on those of chat rows (module docstring), 1 elsewhere."""
    n, width = rows.shape
    out = np.ones((n, width - 1), dtype=np.float32)
    ids = rows.numpy()
    for i in range(n):
        plen = int(prefix_lens[i])
        if plen >= 3 and ids[i, 0] == SUMMARY_OPEN_ID and ids[i, plen - 1] == SUMMARY_CLOSE_ID:
            held, after, w = ids[i, 1: plen - 1], ids[i, plen:], weight
        elif chat_weight != 1 and 0 < plen < width:
            prompt = ids[i, :plen]
            opens, closes = np.flatnonzero(prompt == MEMORY_OPEN_ID), np.flatnonzero(prompt == MEMORY_CLOSE_ID)
            if not len(opens) or not len(closes) or closes[-1] < opens[0]:
                continue  # no memory block in this prompt
            held = np.setdiff1d(prompt[opens[0] + 1: closes[-1]], prompt[closes[-1] + 1:])
            after, w = ids[i, plen:], chat_weight
        else:
            continue
        _, first = np.unique(after, return_index=True)
        first_seen = np.zeros(len(after), dtype=bool)
        first_seen[first] = True
        recall = first_seen & np.isin(after, held) & ~np.isin(after, common)
        # token j after the prefix is the target of position plen + j - 1
        out[i, plen - 1 + np.flatnonzero(recall)] = w
    return torch.from_numpy(out)


def weighted_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The weighted mean cross-entropy over the targets that are not -1."""
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1),
                                           ignore_index=-1, reduction="none")
    w = weights.reshape(-1).to(ce.device) * (targets.reshape(-1) != -1)
    return (ce * w).sum() / w.sum().clamp_min(1e-9)
