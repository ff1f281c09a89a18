"""How many CPU threads decoding uses, and in which pool: torch's (OpenMP) or numpy's BLAS (OpenBLAS threads).

A model's weight products run in one pool: float32 models through numpy's BLAS (generation/numpy_step.py),
int8, bf16 and fp16 ones through torch. That pool gets the thread count and the other one a single thread:
two pools sized to every core fight over the cores (OpenBLAS's threads keep spinning after a product, and a
torch softmax over a few rows then waited ~3.5 ms for its second thread on the 2-core VM, where the whole step
takes ~3 ms).

Which count wins depends on the shape and the weight format: decoding one token streams every weight once and
a second core adds memory bandwidth to some kernels and only synchronisation to others (measured on the 2-core
VM: torch's int8 kernel streamed 15.6 GB/s on 1 thread and 26.6 on 2). `pick_threads` times a few steps of
the real model at each candidate and keeps the fastest.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

import torch
from threadpoolctl import threadpool_limits

from common.parallel import cpu_count
from generation.kv_decoder import KVDecoder
from generation.numpy_step import supports
from generation.quantize import Int8Linear

PROBE_STEPS = 24  # timed decoding steps per candidate (after as many untimed ones: caches, thread pools)


def blas_products(model) -> bool:
    """True when the model's weight products run in numpy's BLAS (float32 on the CPU), False for torch."""
    return supports(model) and not any(isinstance(m, Int8Linear) for m in model.modules())


def pool_sizes(n: int, model) -> tuple[int, int]:
    """(torch threads, BLAS threads) for decoding `model` on `n` threads (see the module docstring)."""
    return (1, n) if blas_products(model) else (n, 1)


def set_threads(n: int, model) -> None:
    """Decode `model` on `n` threads from now on (for a command that owns its process: chat, serve)."""
    torch_n, blas_n = pool_sizes(n, model)
    torch.set_num_threads(torch_n)
    threadpool_limits(limits=blas_n, user_api="blas")


@contextmanager
def decode_threads(n: int, model) -> Iterator[None]:
    """Decode `model` on `n` threads inside the `with` (both pools put back after)."""
    before = torch.get_num_threads()
    torch_n, blas_n = pool_sizes(n, model)
    torch.set_num_threads(torch_n)
    try:
        with threadpool_limits(limits=blas_n, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)


def step_seconds(model, threads: int, rows: int = 1, steps: int = PROBE_STEPS) -> float:
    """Seconds per decoding step of `rows` rows at `threads` threads, from the middle of a block of context
    (a fixed pseudo-random prompt; the weights are the model's own)."""
    ids = torch.randint(0, model.cfg.vocab_size, (model.cfg.block_size // 2,),
                        generator=torch.Generator().manual_seed(0)).tolist()
    with decode_threads(threads, model), torch.no_grad():
        dec = KVDecoder(model, rows=rows)
        dec.prefill(ids)
        token = [ids[-1]] * rows
        for _ in range(steps):
            dec.step_rows(token)
        start = time.perf_counter()
        for _ in range(steps):
            dec.step_rows(token)
        return (time.perf_counter() - start) / steps


def pick_threads(model, rows: int = 1, candidates: list[int] | None = None) -> int:
    """The thread count (1 or every core, by default) whose decoding steps ran fastest for this model."""
    candidates = candidates or sorted({1, cpu_count()})
    if len(candidates) == 1:
        return candidates[0]
    return min(candidates, key=lambda n: step_seconds(model, n, rows))
