"""The memory-bandwidth limit of decoding: how fast this machine streams a buffer larger than its caches,
how fast it streams a buffer the size of a model's weights, and how many bytes of weights a model reads per
generated token.

Decoding one token multiplies a vector by every weight once, so tokens/s <= bandwidth / weight bytes per token.
The bandwidth is the best of several streaming kernels (numpy's sum, torch's sum, a float32 matrix-vector
product through numpy's BLAS), each at 1 thread and at every core, best of `repeats` passes over the buffer:
the highest rate any of them reached, so a fraction of the limit is never flattered by a slow yardstick.

Two buffer sizes, because a model small enough to stay in the last-level cache between tokens streams at the
cache's speed, not memory's: over 256 MB (memory on common CPUs, whose L3 holds 8-64 MB) and over the model's
own weight bytes, read again and again as decoding reads them. On most machines the two agree for models of
tens of MB; on the 2-core VM of this project's figures (it reports a 480 MB L3) a 64 MB buffer streamed at
~52 GB/s and a 256 MB one at ~24-31, so there the weight-sized rate is the honest ceiling.

**Usage:** `from bench.bandwidth import stream_bandwidth, weight_bytes_per_token`
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
import torch.nn as nn
from threadpoolctl import threadpool_limits

from generation.quantize import Int8Linear, TransposedLinear

BUFFER_MB = 256  # beyond the last-level cache of common CPUs
MIN_PASS_BYTES = 256 * 2**20  # a timed pass reads a small buffer again until it has read this much


def _best_seconds(fn, repeats: int) -> float:
    fn()  # first touch: page faults and cold TLBs are not bandwidth
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def stream_bandwidth(repeats: int = 5, buffer_bytes: int = BUFFER_MB * 2**20) -> dict:
    """GB/s of each streaming kernel at 1 thread and at every core over a buffer of about `buffer_bytes` (rounded
    up to 4 KB), and `best`, the highest of them. A buffer under 256 MB is read several times per timed pass, so
    the timer's resolution does not matter and the buffer stays wherever the cache keeps it, as weights do."""
    n = max(1, -(-int(buffer_bytes) // 4096)) * 1024  # float32 elements, a whole number of 1,024-wide rows
    flat = np.ones(n, dtype=np.float32)
    matrix = flat.reshape(-1, 1024)
    vec = np.ones(matrix.shape[0], dtype=np.float32)
    flat_t = torch.from_numpy(flat)
    reads = max(1, MIN_PASS_BYTES // flat.nbytes)

    def again(fn):
        def run():
            for _ in range(reads):
                fn()
        return run
    kernels = {"numpy_sum": again(lambda: flat.sum()), "torch_sum": again(lambda: flat_t.sum()),
               "blas_gemv": again(lambda: vec @ matrix)}
    out: dict = {}
    cores = sorted({1, os.cpu_count() or 1})
    before = torch.get_num_threads()
    for threads in cores:
        torch.set_num_threads(threads)
        with threadpool_limits(threads, user_api="blas"):
            for name, fn in kernels.items():
                out[f"{name}_{threads}t"] = round(reads * flat.nbytes / _best_seconds(fn, repeats) / 1e9, 2)
    torch.set_num_threads(before)
    out["best"] = max(out.values())
    return out


def weight_bytes_per_token(model: nn.Module) -> int:
    """Bytes of weights one decoding step reads: every linear layer (the output head included; int8 weights and
    their scales), the norms' gains and biases, and one row of each embedding table (only the looked-up row is
    read, unless the table is the head's own matrix, which the head counts once)."""
    total = 0
    counted: set[int] = set()

    def add(t: torch.Tensor | None) -> None:
        nonlocal total
        if t is not None and t.data_ptr() not in counted:
            counted.add(t.data_ptr())
            total += t.numel() * t.element_size()

    for module in model.modules():
        if isinstance(module, TransposedLinear):
            add(module.weight_t)
            add(module.bias)
        elif isinstance(module, Int8Linear):
            add(module.qweight)
            add(module.scale)
            add(module.bias)
        elif isinstance(module, nn.Linear):
            add(module.weight)
            add(module.bias)
        elif isinstance(module, (nn.LayerNorm, nn.RMSNorm)):
            add(module.weight)
            add(getattr(module, "bias", None))
    for table in (model.wte, getattr(model, "wpe", None)):
        if table is not None and table.weight.data_ptr() not in counted:
            total += table.weight.shape[1] * table.weight.element_size()  # one row per token
    return total
