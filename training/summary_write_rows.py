"""Summary-writing rows: the model learns to write its own rolling summary (issue 12's model-written summary).

A memory example (story_memory/example_files.py) is a summary prefix and the window that follows it; two
consecutive examples of one document, `update_every` tokens apart, say how the summary changed when that stretch
of text left the window. A writing row is

    <|summary|> previous summary <|/summary|>  the evicted tokens  <|summary|> new summary <|/summary|>  ...

with targets only on the new summary and its closing tag (the rest of the row, the story that follows, is filler
the loss ignores). The targets are the extractive summarizer's (story_memory/summarize.py), so a model trained on
these rows imitates it; generation and the benchmark can then fold with the model instead
(generation/summary_writer.py). `summary_write_ratio` is the share of each batch's memory rows that are writing
rows (0 = off).
"""

from __future__ import annotations

import numpy as np
import torch


def write_pairs(examples: np.ndarray, update_every: int) -> np.ndarray:
    """Indices i of the examples whose previous example is the same document's fold just before it (window
    starts `update_every` apart), so (i - 1, i) is a (previous summary, evicted text, new summary) triple."""
    if len(examples) < 2:
        return np.zeros(0, dtype=np.int64)
    starts = np.asarray(examples[:, 0])
    return np.flatnonzero(np.diff(starts) == update_every).astype(np.int64) + 1


def write_row(data: np.ndarray, prefixes: np.ndarray, examples: np.ndarray, i: int,
              block_size: int) -> tuple[np.ndarray, int, int]:
    """(row ids [block_size + 1], first target position, end of the targets) of writing row `i` (a write_pairs
    index): position t predicts row[t + 1]; targets are positions [first, end)."""
    (start_prev, off_prev, len_prev), (start, off, length) = (
        (int(v) for v in examples[j, :3]) for j in (i - 1, i))
    prev = np.asarray(prefixes[off_prev: off_prev + len_prev], dtype=np.int64)
    new = np.asarray(prefixes[off: off + length], dtype=np.int64)
    evicted = np.asarray(data[start_prev: start], dtype=np.int64)
    head = np.concatenate((prev, evicted, new))[: block_size + 1]
    rest = np.asarray(data[start: start + block_size + 1 - len(head)], dtype=np.int64)
    row = np.zeros(block_size + 1, dtype=np.int64)
    row[: len(head)] = head
    row[len(head): len(head) + len(rest)] = rest
    first = len(prev) + len(evicted)  # the new summary's open tag: it predicts the first summary token
    return row, first, min(first + len(new) - 1, block_size)


def with_write_rows(rows: torch.Tensor, prefix_lens: torch.Tensor, ends: torch.Tensor, memory, pairs: np.ndarray,
                    data: np.ndarray, block_size: int, share: float, gen: torch.Generator):
    """The batch with round(share x its memory rows) of them (the first rows, where `sample_mixed` puts memory
    examples) replaced by writing rows; returns (rows, prefix_lens, ends) where a row's targets are the positions
    from prefix_len - 1 up to (not including) its end."""
    k = round(share * int((prefix_lens > 0).sum())) if len(pairs) else 0
    if k == 0:
        return rows, prefix_lens, ends
    rows, prefix_lens, ends = rows.clone(), prefix_lens.clone(), ends.clone()
    picks = torch.randint(len(pairs), (k,), generator=gen).tolist()
    for j, p in enumerate(picks):
        row, first, end = write_row(data, memory.prefixes, memory.examples, int(pairs[p]), block_size)
        rows[j] = torch.from_numpy(row)
        prefix_lens[j] = first + 1
        ends[j] = end
    return rows, prefix_lens, ends
