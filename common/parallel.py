"""Run a pure per-item function on a process pool and get the results back in input order.

A stage whose per-item work is pure (filter, clean) hands that work to `ordered_map`; everything that depends on
the order of items (duplicate lookups, ledger appends, file writes) stays in the calling process, which consumes
the results in input order. So a stage writes the same bytes whatever its worker count, and a kill loses no more
than an unfinished single-process run would.

- Bounded look-ahead: at most `ahead` chunks per worker are submitted and not yet consumed, so memory does not grow
  with the dataset.
- No pool when workers == 1 or there are fewer than `min_items` items: the initializer and `fn` run right here,
  so tiny datasets and the demo do not pay the start-up of fresh interpreters (about a second).
- The spawn start method: the caller may have threads (tqdm's monitor), and fork copies a threaded process badly.
  So `fn` and `initializer` must live in importable package modules, never in a script run as __main__, and a
  script that reaches a pool must keep its top level behind `if __name__ == "__main__":` (every worker imports it).
- Workers ignore SIGINT (Ctrl-C is handled once, by the caller) and exit when the caller dies, even by kill -9
  (they watch a pipe whose only write end the caller holds). On an exception, or when the consumer stops early,
  pending chunks are cancelled and the pool is shut down and joined before the exception goes on.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from common.config import UserError


def cpu_count() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, else all of them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def resolve_workers(workers: int) -> int:
    """The process count a `workers` setting means (0: one per CPU core); a negative one is a UserError."""
    if workers < 0:
        raise UserError(f"workers must be 0 (one per CPU core) or more, got {workers}")
    return workers or cpu_count()


def ordered_map(fn: Callable[[Any], Any], items: Iterable, workers: int, initializer: Callable | None = None,
                initargs: tuple = (), chunk: int = 16, min_items: int = 2, ahead: int = 2) -> Iterator:
    """fn(item) for every item, in input order, computed by `workers` processes (0: one per core).

    `initializer(*initargs)` runs once per process before any item (here too when there is no pool); `items` sent
    to workers travel in chunks of `chunk`. A sized `items` with fewer than `min_items` (an unsized one: fewer
    found when reading ahead that many) runs without a pool. Close the returned generator (contextlib.closing)
    when stopping early, so the pool goes at once rather than when the generator is collected."""
    workers = resolve_workers(workers)
    if chunk < 1 or ahead < 1:
        raise ValueError("chunk and ahead must be at least 1")
    return _generate(fn, items, workers, initializer, initargs, chunk, min_items, ahead)


def _generate(fn, items, workers, initializer, initargs, chunk, min_items, ahead) -> Iterator:
    source = iter(items)
    if isinstance(items, Sized):
        small = len(items) < min_items
        workers = max(1, min(workers, -(-len(items) // chunk)))  # no worker without a chunk (each costs memory)
    else:  # read ahead just enough to know whether there are min_items
        head = list(itertools.islice(source, min_items))
        small = len(head) < min_items
        source = itertools.chain(head, source)
    if workers == 1 or small:
        if initializer is not None:
            initializer(*initargs)
        for item in source:
            yield fn(item)
        return
    chunks = iter(lambda: list(itertools.islice(source, chunk)), [])
    ctx = multiprocessing.get_context("spawn")
    alive_r, alive_w = ctx.Pipe(duplex=False)
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(alive_r, initializer, initargs))
    pending: deque = deque()
    try:
        # Workers are spawned by these first submits; started with SIGINT ignored, they inherit that, so a Ctrl-C
        # during their start-up cannot print a traceback from each of them.
        with _sigint_ignored():
            for part in itertools.islice(chunks, workers * ahead):
                pending.append(pool.submit(_run_chunk, fn, part))
        while pending:
            results = pending.popleft().result()
            part = next(chunks, None)
            if part is not None:  # refill before handing results over, so workers stay busy meanwhile
                pending.append(pool.submit(_run_chunk, fn, part))
            yield from results
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)  # joins every worker: none outlives this generator
        alive_w.close()
        alive_r.close()


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT for the duration (only the main thread may change signal handlers; elsewhere do nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _init_worker(alive, initializer: Callable | None, initargs: tuple) -> None:
    """Per-worker set-up: leave Ctrl-C to the caller, die with the caller, then the user's initializer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_caller, args=(alive,), daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def _exit_with_caller(alive) -> None:
    """Block until the caller's end of the pipe closes (its exit, however it died), then leave at once."""
    try:
        alive.recv_bytes()
    except (EOFError, OSError):
        pass
    os._exit(1)


def _run_chunk(fn: Callable[[Any], Any], part: list) -> list:
    return [fn(item) for item in part]
