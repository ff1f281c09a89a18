"""How many CPU threads decoding uses, and in which pool: torch's (OpenMP) or numpy's BLAS (OpenBLAS threads).

A model's weight products run in one pool: float32 models through numpy's BLAS (generation/numpy_step.py),
int8, bf16 and fp16 ones through torch. That pool gets the thread count and the other one a single thread:
two pools sized to every core fight over the cores (OpenBLAS's threads keep spinning after a product, and a
torch softmax over a few rows then waited ~3.5 ms for its second thread on the 2-core VM, where the whole step
takes ~3 ms).

Which count wins depends on the shape and the weight format: decoding one token streams every weight once and
a second core adds memory bandwidth to some kernels and only synchronisation to others (measured on the 2-core
VM: torch's int8 kernel streamed 15.6 GB/s on 1 thread and 26.6 on 2). `pick_decoding` times a few steps of
the real model at each candidate and keeps the fastest.

For float32 models the products may also run in torch (generation/numpy_step.py, `torch_products`), which
gives torch the threads instead: OpenBLAS is as fast or faster for one row, torch's GEMM much faster for several
rows decoded together (`generate --num-samples N`), so `pick_decoding` times both.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

import torch
from threadpoolctl import threadpool_limits

from common.parallel import cpu_count
from generation.kv_decoder import KVDecoder
from generation.numpy_step import blas_products, set_torch_products

PROBE_STEPS = 24  # timed decoding steps per candidate (after as many untimed ones: caches, thread pools)


def pool_sizes(n: int, model, torch_products: bool = False) -> tuple[int, int]:
    """(torch threads, BLAS threads) for decoding `model` on `n` threads (see the module docstring)."""
    return (1, n) if blas_products(model) and not torch_products else (n, 1)


def set_threads(n: int, model, torch_products: bool = False) -> None:
    """Decode `model` on `n` threads from now on (for a command that owns its process: chat, serve)."""
    torch_n, blas_n = pool_sizes(n, model, torch_products)
    torch.set_num_threads(torch_n)
    threadpool_limits(limits=blas_n, user_api="blas")
    set_torch_products(torch_products)


@contextmanager
def decode_threads(n: int, model, torch_products: bool = False) -> Iterator[None]:
    """Decode `model` on `n` threads inside the `with`, float32 products in torch when `torch_products` (both
    pools and the products setting put back after; decoders built inside keep the setting)."""
    before = torch.get_num_threads()
    torch_n, blas_n = pool_sizes(n, model, torch_products)
    torch.set_num_threads(torch_n)
    products_before = set_torch_products(torch_products)
    try:
        with threadpool_limits(limits=blas_n, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)
        set_torch_products(products_before)


def step_seconds(model, threads: int, rows: int = 1, steps: int = PROBE_STEPS, torch_products: bool = False) -> float:
    """Seconds per decoding step of `rows` rows at `threads` threads, from the middle of a block of context
    (a fixed pseudo-random prompt; the weights are the model's own)."""
    ids = torch.randint(0, model.cfg.vocab_size, (model.cfg.block_size // 2,),
                        generator=torch.Generator().manual_seed(0)).tolist()
    with decode_threads(threads, model, torch_products), torch.no_grad():
        dec = KVDecoder(model, rows=rows)
        dec.prefill(ids)
        token = [ids[-1]] * rows
        for _ in range(steps):
            dec.step_rows(token)
        start = time.perf_counter()
        for _ in range(steps):
            dec.step_rows(token)
        return (time.perf_counter() - start) / steps


def pick_decoding(model, rows: int = 1, candidates: list[int] | None = None) -> tuple[int, bool]:
    """(threads, torch_products) whose decoding steps of `rows` rows ran fastest for this model: 1 thread or
    every core by default, and for float32 models the products in numpy's BLAS or in torch."""
    candidates = candidates or sorted({1, cpu_count()})
    pools = (False, True) if blas_products(model) else (False,)
    options = [(n, p) for n in candidates for p in pools]
    if len(options) == 1:
        return options[0]
    return min(options, key=lambda o: step_seconds(model, o[0], rows, torch_products=o[1]))
