"""How many CPU threads decoding uses: torch's pool and numpy's BLAS pool (the float32 step multiplies in numpy,
generation/numpy_step.py), set together, and picked by timing when asked to.

Which count wins depends on the shape and the weight format: decoding one token streams every weight once and
a second core adds memory bandwidth to some kernels and only synchronisation to others (measured on the 2-core
VM: torch's int8 kernel streamed 15.6 GB/s on 1 thread and 26.6 on 2, while numpy's float32 products gained
nothing). `pick_threads` times a few steps of the real model at each candidate and keeps the fastest.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Iterator

import torch
from threadpoolctl import threadpool_limits

from generation.kv_decoder import KVDecoder

PROBE_STEPS = 24  # timed decoding steps per candidate (after as many untimed ones: caches, thread pools)


def cpu_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_threads(n: int) -> None:
    """torch and numpy's BLAS at `n` threads from now on (for a command that owns its process: chat, serve)."""
    torch.set_num_threads(n)
    threadpool_limits(limits=n, user_api="blas")


@contextmanager
def decode_threads(n: int) -> Iterator[None]:
    """torch and the BLAS numpy uses limited to `n` threads inside the `with`; both put back after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)


def step_seconds(model, threads: int, rows: int = 1, steps: int = PROBE_STEPS) -> float:
    """Seconds per decoding step of `rows` rows at `threads` threads, from the middle of a block of context
    (a fixed pseudo-random prompt; the weights are the model's own)."""
    ids = torch.randint(0, model.cfg.vocab_size, (model.cfg.block_size // 2,),
                        generator=torch.Generator().manual_seed(0)).tolist()
    with decode_threads(threads), torch.no_grad():
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
    candidates = candidates or sorted({1, cpu_cores()})
    if len(candidates) == 1:
        return candidates[0]
    return min(candidates, key=lambda n: step_seconds(model, n, rows))
