"""Politeness: one request at a time per host, and a minimum pause between two requests to the same host.

`HostGate.turn(host, delay)` is a context manager around one request: it waits for the host's lock, then until
`delay` seconds have passed since the previous request to that host *ended*, and records when this one ends.
The delay is the larger of the configured `delay` and the host's robots.txt `Crawl-delay` (the caller passes
it). Waiting uses a stop event, so an interrupted run stops sleeping at once.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlsplit


def host_key(url: str) -> str:
    """The politeness key of a URL: lowercase host plus an explicit port (`example.com`, `127.0.0.1:8000`)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


class Stopped(Exception):
    """The run was asked to stop (Ctrl-C) while waiting for a host's turn."""


class HostGate:
    """Per-host locks and last-request times shared by all worker threads of a run."""

    def __init__(self, stop: threading.Event | None = None, clock=time.monotonic):
        self.stop = stop or threading.Event()
        self.clock = clock
        self._locks: dict[str, threading.Lock] = {}
        self._last_end: dict[str, float] = {}
        self._guard = threading.Lock()

    def _lock(self, host: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(host, threading.Lock())

    def sleep(self, seconds: float) -> None:
        """Sleep that ends early (raising Stopped) when the run is stopped."""
        if seconds > 0 and self.stop.wait(seconds):
            raise Stopped()
        if self.stop.is_set():
            raise Stopped()

    @contextmanager
    def turn(self, host: str, delay: float) -> Iterator[None]:
        """Hold `host` for one request, after waiting `delay` seconds since its previous request ended."""
        lock = self._lock(host)
        while not lock.acquire(timeout=0.2):
            if self.stop.is_set():
                raise Stopped()
        try:
            last = self._last_end.get(host)
            if last is not None:
                self.sleep(last + delay - self.clock())
            elif self.stop.is_set():
                raise Stopped()
            try:
                yield
            finally:
                self._last_end[host] = self.clock()
        finally:
            lock.release()
