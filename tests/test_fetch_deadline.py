"""total_timeout bounds a whole request, headers and body, against servers that drip one byte at a time.

Each drip stays under the read timeout, so only a real total deadline stops it. The server would take about 20 s
to finish; the assertions allow total + 2 s.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from common.config import StageFailed
from common.paths import DatasetPaths
from scraper.fetch.errors import FetchFailed
from scraper.fetch.http import HttpClient
from scraper.search import net
from scripts import search as search_stage
from tests.test_fetch_site import test_config

TOTAL = 1.0


class DripServer:
    """Raw TCP server on 127.0.0.1: sends `head` at once, then `drip` one byte every `every` seconds."""

    def __init__(self, head: bytes, drip: bytes, every: float = 0.4):
        self.head, self.drip, self.every = head, drip, every
        self.stop = threading.Event()
        self.requests: list[str] = []  # paths asked for (robots.txt, answered 404 at once, left out)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            request = conn.recv(65536)  # small enough for one read
            if request.startswith(b"GET /robots.txt"):
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            self.requests.append(request.split(b" ", 2)[1].decode())
            conn.sendall(self.head)
            for i in range(len(self.drip)):
                if self.stop.wait(self.every):
                    break
                conn.sendall(self.drip[i:i + 1])
        except OSError:
            pass  # the client hung up: what a deadline should do
        finally:
            conn.close()

    def __enter__(self) -> "DripServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.sock.close()


def drip_body() -> DripServer:
    """Headers at once, then a 40-byte body (Content-Length 40) one byte per 0.5 s: 20 s in all."""
    return DripServer(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 40\r\n\r\n",
                      b"<html><body>" + b"x" * 21 + b"</body></html>", every=0.5)


def drip_headers() -> DripServer:
    """The status line at once, then a header line one byte per 0.4 s: about 20 s before the body."""
    return DripServer(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n",
                      b"X-Slow: " + b"a" * 40 + b"\r\nContent-Length: 6\r\n\r\n<html>", every=0.4)


@pytest.mark.parametrize("make", [drip_body, drip_headers], ids=["body", "headers"])
def test_fetch_total_timeout_bounds_dripped_answers(make):
    with make() as server:
        client = HttpClient(test_config(total_timeout=TOTAL, read_timeout=3.0, max_retries=0))
        start = time.monotonic()
        with pytest.raises(FetchFailed) as e:
            client.get_html(server.url + "/page")
        elapsed = time.monotonic() - start
    assert elapsed < TOTAL + 2, elapsed
    assert "total_timeout" in str(e.value) and server.requests == ["/page"]


@pytest.mark.parametrize("make", [drip_body, drip_headers], ids=["body", "headers"])
def test_search_fetch_total_timeout_bounds_dripped_answers(make):
    with make() as server:
        session = net.make_session("test-bot/1.0", allow_private=True)
        start = time.monotonic()
        with pytest.raises(net.FetchError) as e:
            net.fetch(session, server.url + "/sitemap.xml", max_bytes=10_000, timeout=(3, 3), allow_private=True,
                      total_timeout=TOTAL)
        elapsed = time.monotonic() - start
    assert elapsed < TOTAL + 2, elapsed
    assert e.value.reason == "timeout" and server.requests == ["/sitemap.xml"]


def test_crawl_and_sitemap_and_api_have_a_total_limit(tmp_path):
    paths = DatasetPaths.at(tmp_path / "ds")
    common = dict(allow_private_hosts=True, crawl_delay=0.0, connect_timeout=3.0, read_timeout=3.0,
                  total_timeout=TOTAL)
    assert search_stage.SearchConfig().total_timeout == 60.0  # the default
    with drip_body() as server:
        start = time.monotonic()
        counts = search_stage.run(search_stage.SearchConfig(provider="crawl", base_url=server.url + "/", **common),
                                  paths)
        with pytest.raises(StageFailed):  # the sitemap itself cannot be read: a one-line stage failure
            search_stage.run(search_stage.SearchConfig(provider="sitemap", base_url=server.url + "/s.xml",
                                                       **common), paths)
        with pytest.raises(StageFailed) as e:
            search_stage.run(search_stage.SearchConfig(provider="searxng", base_url=server.url, query=["x"],
                                                       **common), paths)
        elapsed = time.monotonic() - start
        assert [p.split("?")[0] for p in server.requests] == ["/", "/s.xml", "/search"]
    assert counts["errors"] == 1 and "total_timeout" in str(e.value)
    assert elapsed < 3 * (TOTAL + 2), elapsed
