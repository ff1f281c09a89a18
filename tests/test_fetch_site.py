"""A tiny story site on 127.0.0.1 for the fetch tests (no tests of its own): routes, streamed bodies, a request log.

    with Site() as site:
        site.page("/a", "<html>...</html>")
        site.add("/flaky", lambda n: (503, {}, b"") if n == 1 else (200, HTML, b"ok"))
        url = site.url("/a")
        site.hits("/a")  # how many times it was requested
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable

from scripts.fetch import FetchConfig
from tests.support.serving import ThreadedServer

HTML = {"Content-Type": "text/html; charset=utf-8"}


def story_html(title: str, paragraphs: Iterable[str], extra: str = "") -> str:
    """A plain story page with the given paragraphs."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!doctype html><html><head><title>{title}</title>{extra}</head>"
            f"<body><article><h1>{title}</h1>{body}</article></body></html>")


def long_story(seed: str, n: int = 8) -> list[str]:
    """Paragraphs of made-up story text, long enough for the extractor to take it as a story."""
    return [f"{seed} walked along the quiet harbour on day {i}, counting the boats that came back before dusk, "
            f"and wondered whether the lighthouse keeper had ever written down the names of them all."
            for i in range(n)]


def test_config(**overrides) -> FetchConfig:
    """A FetchConfig for tests: no delays, local hosts allowed, tiny retry waits and timeouts."""
    values = dict(delay=0.0, allow_private_hosts=True, backoff=0.01, max_retry_wait=0.5, connect_timeout=3.0,
                  read_timeout=3.0, total_timeout=10.0, browser_timeout=10.0, browser_idle_wait=0.5,
                  fetch_mode="static", concurrency=1)
    values.update(overrides)
    return FetchConfig(**values)


test_config.__test__ = False  # a helper, not a test


class Site(ThreadedServer):
    """A threaded HTTP server on an ephemeral 127.0.0.1 port; a context manager."""

    def __init__(self):
        self.routes: dict[str, Callable[[int], tuple]] = {}
        self.log: list[tuple[float, str]] = []  # (monotonic time, path) of every request, in arrival order
        self.headers_seen: list[dict] = []
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: streamed bodies need no length

            def do_GET(self):  # noqa: N802 (http.server's naming)
                with site._lock:
                    site.log.append((time.monotonic(), self.path))
                    site.headers_seen.append(dict(self.headers))
                    n = site._counts[self.path] = site._counts.get(self.path, 0) + 1
                fn = site.routes.get(self.path)
                status, headers, body = fn(n) if fn else (404, {"Content-Type": "text/plain"}, b"not found")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if isinstance(body, (bytes, str)):
                    data = body.encode("utf-8") if isinstance(body, str) else body
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self.end_headers()
                    try:
                        for chunk in body:
                            self.wfile.write(chunk)
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # the client hung up, as it should past max_bytes

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, fn: Callable[[int], tuple]) -> None:
        """Serve `path` with fn(request number) -> (status, headers, body bytes/str or an iterable of chunks)."""
        self.routes[path] = fn

    def page(self, path: str, html: str | bytes, status: int = 200, headers: dict | None = None) -> None:
        """Serve fixed content (HTML with a utf-8 content type unless `headers` says otherwise)."""
        self.add(path, lambda n: (status, HTML if headers is None else headers, html))

    def hits(self, path: str) -> int:
        with self._lock:
            return self._counts.get(path, 0)

    def times(self, path: str) -> list[float]:
        with self._lock:
            return [t for t, p in self.log if p == path]
