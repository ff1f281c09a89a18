"""DemoSite: the built-in story website and its SearXNG-compatible search endpoint, served on 127.0.0.1.

    with DemoSite(stories=40, seed=1234) as site:      # ephemeral port, background thread
        site.base_url                                   # http://127.0.0.1:<port>
        site.searxng_base                               # <base_url>/searx: a searxng provider's base URL
        site.expected()                                 # ground truth: which URL is what (see expected())

Routes (GET and HEAD; everything is generated in memory, nothing is read from the filesystem):
    /, /stories/, /about/, every story page       HTML, `text/html; charset=utf-8`
    /stories/<slug>  (no trailing slash)          301 to /stories/<slug>/
    /api/story/<slug>.json                         the story JSON a JavaScript page fetches
    /searx/search?q=..&format=json&pageno=N        SearXNG-shaped results (demo/site/endpoints.py)
    /robots.txt, /sitemap_index.xml, /sitemap.xml, /page-sitemap.xml
    /static/site.css, /static/illustrations/<slug>.svg
    anything else                                  404 HTML page
Behaviours: the slow page waits `slow_seconds` before answering (stop() cuts the wait short); the flaky page
answers 500 to its first `flaky_failures` requests on this server instance, then 200. Every request is logged
(`requested_paths()`), so tests can check that a robots-disallowed page was never requested.

Stories come from `story_provider(n, seed)`, by default the project's demo story generator
`demo.stories.generate_corpus`, imported lazily inside `default_story_provider`: the one place where
scraper/ reaches into scripts/, because the demo site exists to serve those very stories. Pass another provider
(any callable returning objects with .title, .text and .doc_id) to serve other stories.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, NamedTuple
from urllib.parse import parse_qs, urlsplit

from demo.site import endpoints as E
from demo.site import pages as P
from demo.site import shells as S
from demo.site.content import SitePlan, build_plan

HOST = "127.0.0.1"  # never any other interface
HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
log = logging.getLogger("miniature_memory.demo_site")


class Response(NamedTuple):
    """What the server sends: status, content type, body, extra headers, and seconds to wait first."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


def default_story_provider(n: int, seed: int) -> Iterable[Any]:
    """The project's demo stories (lazy import: scraper/ otherwise never imports scripts/)."""
    from demo.stories import generate_corpus
    return generate_corpus(n, seed)


class DemoSite:
    """The demo website on 127.0.0.1 in a background thread; use as a context manager (see the module doc)."""

    def __init__(self, stories: int = 40, seed: int = 1234, slow_seconds: float = 1.5, flaky_failures: int = 1,
                 port: int = 0, story_provider: Callable[[int, int], Iterable[Any]] | None = None):
        if slow_seconds < 0 or flaky_failures < 0 or not 0 <= port <= 65535:
            raise ValueError("slow_seconds and flaky_failures must be >= 0, port in 0..65535")
        self.seed, self.slow_seconds, self.flaky_failures = seed, slow_seconds, flaky_failures
        self.plan: SitePlan = build_plan(list((story_provider or default_story_provider)(stories, seed)))
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._cache: dict[str, bytes] = {}
        self._failures: dict[str, int] = {}  # flaky path -> 500s already sent
        self._requests: list[tuple[str, str]] = []  # (method, path) in arrival order

    # --- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> "DemoSite":
        """Bind 127.0.0.1 (ephemeral port unless one was given) and serve in a daemon thread."""
        if self._server is not None:
            return self
        server = _Server((HOST, self._port), _Handler)
        server.site = self
        self._stopping.clear()
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="demo-site", daemon=True)
        self._thread.start()
        log.info("demo site at %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket (idempotent)."""
        if self._server is None:
            return
        self._stopping.set()  # wakes a slow response that is still waiting
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> "DemoSite":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port being served (RuntimeError when not started)."""
        if self._server is None:
            raise RuntimeError("the demo site is not running; call start() or use it in a with block")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>` (no trailing slash)."""
        return f"http://{HOST}:{self.port}"

    @property
    def search_url(self) -> str:
        """The SearXNG-compatible search endpoint: `searxng_base` + `/search`."""
        return f"{self.base_url}/searx/search"

    @property
    def searxng_base(self) -> str:
        """What a searxng provider takes as its base URL (it appends `/search`)."""
        return f"{self.base_url}/searx"

    def url(self, path: str) -> str:
        """Absolute URL of a root-relative path."""
        return self.base_url + path

    def requested_paths(self) -> list[str]:
        """Paths requested so far (query strings dropped), in arrival order."""
        with self._lock:
            return [path for _, path in self._requests]

    # --- ground truth ----------------------------------------------------------------------------------------
    def expected(self) -> dict:
        """Ground truth for tests, with absolute URLs (root-relative paths when the site is not running).

        stories: {first page url: {title, doc_id, role, text, pages: [urls]}} for every story whose full text the
        site serves; story_pages: first pages of the stories a pipeline should keep (plain, multi-page, slow,
        flaky, and the originals of the duplicates); multi_page: {first url: [page urls]}; js_only: [urls];
        exact_duplicates / near_duplicates: {duplicate url: original url} (the original is listed first);
        foreign: {url: language}; app_wall, too_short, disallowed, slow, flaky: [urls]; listed: every url the
        search endpoint returns for a generic query, in order; plus base_url, searxng_base, search_url,
        sitemap_url, sitemap_index_url, robots_url, page_size and disallow_prefix.
        """
        base = self.base_url if self._server is not None else ""
        t = self.plan.truth
        absolute = lambda p: base + p  # noqa: E731
        out: dict[str, Any] = {
            "stories": {absolute(p): {**rec, "pages": [absolute(x) for x in rec["pages"]]}
                        for p, rec in t["stories"].items()},
            "multi_page": {absolute(p): [absolute(x) for x in v] for p, v in t["multi_page"].items()},
            "exact_duplicates": {absolute(k): absolute(v) for k, v in t["exact_duplicates"].items()},
            "near_duplicates": {absolute(k): absolute(v) for k, v in t["near_duplicates"].items()},
            "foreign": {absolute(k): v for k, v in t["foreign"].items()},
            "listed": [absolute(p) for p in self.plan.listed],
        }
        for key in ("story_pages", "js_only", "app_wall", "too_short", "disallowed", "slow", "flaky"):
            out[key] = [absolute(p) for p in t[key]]
        out.update(base_url=base, searxng_base=absolute("/searx"), search_url=absolute("/searx/search"),
                   sitemap_url=absolute("/sitemap.xml"),
                   sitemap_index_url=absolute("/sitemap_index.xml"), robots_url=absolute("/robots.txt"),
                   page_size=E.PAGE_SIZE, disallow_prefix=E.DISALLOWED)
        return out

    # --- routing ---------------------------------------------------------------------------------------------
    def render(self, path: str) -> str | None:
        """The HTML of a page of the site (None when there is none at `path`); cached, deterministic per seed."""
        page = self.plan.pages.get(path)
        if page is None:
            return None
        if page.kind in ("js_inline", "js_api"):
            return S.js_shell_page(page)
        if page.kind == "print":
            return S.print_page(page)
        if page.kind == "app_wall":
            return P.app_wall_page(self.plan, page, self.seed)
        if page.kind == "home":
            return P.home_page(self.plan)
        if page.kind == "index":
            return P.index_page(self.plan)
        if page.kind == "about":
            return P.about_page(self.plan)
        return P.story_page(self.plan, page, self.seed)

    def respond(self, target: str, method: str = "GET") -> Response:
        """The response to `GET target` (a path with an optional query string); counts the flaky page's failures."""
        parts = urlsplit(target)
        path = parts.path or "/"
        with self._lock:
            self._requests.append((method, path))
        if path == "/searx/search":
            return self._search(parse_qs(parts.query))
        if path in self.plan.flaky:
            with self._lock:
                failed = self._failures.get(path, 0)
                if failed < self.flaky_failures:
                    self._failures[path] = failed + 1
                    return Response(500, HTML, b"<!DOCTYPE html><title>Error</title><h1>500 Internal Server Error"
                                                b"</h1><p>Something went wrong. Please try again.</p>\n")
        if path in self.plan.pages:
            with self._lock:
                body = self._cache.get(path)
            if body is None:
                body = self.render(path).encode("utf-8")
                with self._lock:
                    self._cache[path] = body
            return Response(200, HTML, body, delay=self.slow_seconds if path in self.plan.slow else 0.0)
        if not path.endswith("/") and path + "/" in self.plan.pages:
            return Response(301, HTML, b"", (("Location", path + "/"),))
        base = self.base_url
        fixed = {"/robots.txt": ("text/plain; charset=utf-8", lambda: E.robots_txt(base)),
                 "/sitemap.xml": ("application/xml; charset=utf-8", lambda: E.story_sitemap(self.plan, base)),
                 "/page-sitemap.xml": ("application/xml; charset=utf-8", lambda: E.page_sitemap(base)),
                 "/sitemap_index.xml": ("application/xml; charset=utf-8", lambda: E.sitemap_index(base)),
                 "/static/site.css": ("text/css; charset=utf-8", lambda: S.SITE_CSS)}
        if path in fixed:
            ctype, make = fixed[path]
            return Response(200, ctype, make().encode("utf-8"))
        if path in self.plan.api:
            return Response(200, JSON, E.dumps(S.story_json(self.plan.pages[self.plan.api[path]])))
        if path.startswith("/static/illustrations/") and path.endswith(".svg"):
            slug = path[len("/static/illustrations/"):-len(".svg")]
            if any(p.slug == slug and p.story is not None for p in self.plan.pages.values()):
                return Response(200, "image/svg+xml", S.illustration_svg(slug).encode("utf-8"))
        return Response(404, HTML, P.not_found_page(self.plan).encode("utf-8"))

    def _search(self, params: dict[str, list[str]]) -> Response:
        """The SearXNG-compatible endpoint; 400 with a JSON error for a missing query or a bad page number."""
        query = (params.get("q") or [""])[0].strip()
        fmt = (params.get("format") or ["html"])[0]
        try:
            pageno = int((params.get("pageno") or ["1"])[0])
        except ValueError:
            pageno = 0
        if not query or pageno < 1 or fmt not in ("json", "html"):
            return Response(400, JSON, E.dumps({"error": "need q, format json or html, and pageno >= 1"}))
        result = E.search_json(self.plan, self.base_url, query, pageno)
        if fmt == "json":
            return Response(200, JSON, E.dumps(result))
        return Response(200, HTML, E.search_html(result, pageno).encode("utf-8"))


class _Server(ThreadingHTTPServer):
    """A threading server that logs handler errors quietly instead of printing tracebacks to stderr."""

    daemon_threads = True
    # Rebind a port whose old connections linger in TIME_WAIT (run.py reuses the last run's port so page URLs
    # stay the same); on Linux this never lets two servers listen on one port.
    allow_reuse_address = True
    site: DemoSite

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("demo site: error while answering %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.0 (one request per connection, so stop() leaves no connection being served)."""

    server_version = "DemoStorySite/1.0"
    sys_version = ""
    server: _Server

    def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        site = self.server.site
        response = site.respond(self.path, self.command)
        if response.delay and site._stopping.wait(response.delay):
            return  # the server is stopping: drop the slow answer
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (http.server's signature)
        log.debug("demo site: " + format, *args)
