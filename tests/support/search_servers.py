"""A fake HTTP server on 127.0.0.1 for the search tests: routes answer canned responses, requests are logged.

Each route is a path mapped to a function `(params, headers) -> Reply` (or a fixed Reply); unknown paths get
404. `server.requests` lists what arrived (path, single-valued query params, headers) so tests can assert
that an API key header was really sent or which pages were asked for.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qsl, urlsplit

import pytest

from common.paths import DatasetPaths
from tests.support.serving import ThreadedServer


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict = field(default_factory=dict)


def json_reply(obj, status: int = 200, **headers) -> Reply:
    return Reply(status, json.dumps(obj), "application/json", headers)


def html_page(*links: str, title: str = "page") -> Reply:
    body = "".join(f'<p><a href="{href}">link {i}</a></p>' for i, href in enumerate(links))
    return Reply(200, f"<html><head><title>{title}</title></head><body>{body}</body></html>")


def xml_reply(text: str, gz: bool = False) -> Reply:
    data = text.encode("utf-8")
    if gz:
        return Reply(200, gzip.compress(data, mtime=0), "application/x-gzip")
    return Reply(200, data, "application/xml")


@dataclass
class Seen:
    path: str
    params: dict
    headers: dict


class FakeServer(ThreadedServer):
    """Threaded HTTP server on an ephemeral 127.0.0.1 port; use as a context manager."""

    def __init__(self):
        self.routes: dict[str, Reply | Callable[[dict, dict], Reply]] = {}
        self.requests: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append(Seen(parts.path, params, headers))
                route = server.routes.get(parts.path)
                reply = Reply(404, "not found", "text/plain") if route is None else \
                    (route(params, headers) if callable(route) else route)
                body = reply.body.encode("utf-8") if isinstance(reply.body, str) else reply.body
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(body)))
                for k, v in reply.headers.items():
                    self.send_header(k, str(v))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def paths(self, prefix: str = "") -> list[str]:
        """Paths requested so far (robots.txt left out), in order."""
        return [r.path for r in self.requests if r.path != "/robots.txt" and r.path.startswith(prefix)]

    def hits(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def server():
    """A fake HTTP server on 127.0.0.1 for one test."""
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def paths(tmp_path):
    """A fresh dataset folder."""
    return DatasetPaths.at(tmp_path / "ds")
