"""The memory-bandwidth limit of decoding: how fast this machine streams a buffer far larger than its caches,
and how many bytes of weights a model reads per generated token.

Decoding one token multiplies a vector by every weight once, so tokens/s <= bandwidth / weight bytes per token.
The bandwidth is the best of several streaming kernels (numpy's sum, torch's sum, a float32 matrix-vector
product through numpy's BLAS), each at 1 thread and at every core, best of `repeats` passes over a 256 MB
buffer: the highest rate any of them reached, so a fraction of the limit is never flattered by a slow yardstick.

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

BUFFER_MB = 256  # far beyond any CPU's last-level cache


def _best_seconds(fn, repeats: int) -> float:
    fn()  # first touch: page faults and cold TLBs are not bandwidth
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def stream_bandwidth(repeats: int = 5) -> dict:
    """GB/s of each streaming kernel at 1 thread and at every core, and `best`, the highest of them."""
    n = BUFFER_MB * 2**20 // 4
    flat = np.ones(n, dtype=np.float32)
    matrix = flat.reshape(-1, 1024)  # [65536, 1024] float32
    vec = np.ones(matrix.shape[0], dtype=np.float32)
    flat_t = torch.from_numpy(flat)
    kernels = {"numpy_sum": lambda: flat.sum(), "torch_sum": lambda: flat_t.sum(), "blas_gemv": lambda: vec @ matrix}
    out: dict = {}
    cores = sorted({1, os.cpu_count() or 1})
    before = torch.get_num_threads()
    for threads in cores:
        torch.set_num_threads(threads)
        with threadpool_limits(threads, user_api="blas"):
            for name, fn in kernels.items():
                out[f"{name}_{threads}t"] = round(flat.nbytes / _best_seconds(fn, repeats) / 1e9, 2)
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
