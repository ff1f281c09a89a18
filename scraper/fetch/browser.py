"""Headless Chromium through Playwright, for pages whose text is written by JavaScript.

Finding a browser, in order: `browser_path` from the config (must exist); Playwright's own Chromium when
`playwright install chromium` put one in place; a system Chromium (`/usr/bin/chromium`, then `chromium`,
`chromium-browser`, `google-chrome`, `google-chrome-stable` on PATH) launched through `executable_path` with
LAUNCH_ARGS. None found -> BrowserUnavailable with a one-line reason.

All Playwright calls run in one dedicated thread (Playwright's sync API is bound to the thread that started it,
and refuses to run inside a notebook's asyncio loop, which this sidesteps). One browser is reused across pages
and relaunched every `browser_restart_every` pages (bounded memory); each page gets a fresh context (no cookies
carried over). Images, fonts and media are aborted, and so is every request to a non-http(s) URL or, unless
`allow_private_hosts`, to a private address (the `allowed` callback). Every request left is not sent by Chromium
but by us, through the same guarded session as static fetches (scraper/fetch/transport.py: checked as sent,
connected to the checked address, bounded in total time and size), and the answer handed back to the page. A
redirect goes back to Chromium as it is, so the next hop is a new request that passes the same route and check:
Chromium's own redirects are never routed through Playwright, which is why it must not fetch anything itself.
Navigation is bounded by `browser_timeout`; after `load`, up to `browser_idle_wait` seconds more for the network
to go quiet so script-fetched content lands.
"""

from __future__ import annotations

import logging
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Callable
from urllib.parse import urljoin

import requests

from scraper.fetch.errors import FetchFailed, one_line
from scraper.fetch.safety import SafetyCheck
from scraper.fetch.transport import Deadline, UnsafeURL, guard_session

log = logging.getLogger("miniature_memory.fetch")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic"]
SYSTEM_PATHS = ("/usr/bin/chromium",)
SYSTEM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BLOCKED_RESOURCES = {"image", "font", "media"}
# Headers that describe one hop's transfer, not the content: requests sets or decodes these itself.
HOP_HEADERS = {"host", "connection", "content-length", "transfer-encoding", "accept-encoding", "keep-alive",
               "proxy-connection", "te", "upgrade", "content-encoding"}
CHUNK = 64 * 1024
REDIRECT_CODES = (301, 302, 303, 307, 308)


class BrowserUnavailable(Exception):
    """No usable Chromium (message says why, in one line)."""


@dataclass
class RenderedPage:
    """What the browser ended up showing."""

    final_url: str
    http_status: int | None
    html: str


def _executable(path: str | Path) -> bool:
    p = Path(path)
    return p.is_file() and os.access(p, os.X_OK)


def system_chromium() -> str | None:
    """A Chromium installed on the system, or None."""
    for path in SYSTEM_PATHS:
        if _executable(path):
            return path
    for name in SYSTEM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_session(cfg) -> requests.Session:
    """A guarded session for the browser's requests: the run's address rules, and no cookie jar of its own
    (each page's cookies live in its browser context, which starts empty)."""
    session = requests.Session()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    session.max_redirects = cfg.max_redirects
    return guard_session(session, SafetyCheck(cfg.allow_private_hosts))


class BrowserRenderer:
    """Renders pages in one reused headless Chromium owned by a private thread; `close()` when done."""

    def __init__(self, cfg, allowed: Callable[[str], bool] = lambda url: True,
                 session: requests.Session | None = None):
        self.cfg, self.allowed = cfg, allowed
        self.session = session or browser_session(cfg)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="browser")
        self._pw = self._browser = None
        self._pages = 0
        self._redirect_to: str | None = None  # where the main frame's last navigation was redirected
        self.executable: str | None = None  # None with a running browser: Playwright's own Chromium
        self.unavailable: str | None = None  # why no browser can be used (set once, then never retried)

    # -- everything below the next line runs in the browser thread ------------------------------------------
    def _choose_executable(self) -> str | None:
        configured = self.cfg.browser_path
        if configured:
            if _executable(Path(configured).expanduser()):
                return str(Path(configured).expanduser())
            raise BrowserUnavailable(f"browser_path {configured} is not an executable file")
        own = self._pw.chromium.executable_path
        if own and _executable(own):
            return None
        found = system_chromium()
        if found is None:
            raise BrowserUnavailable("no Chromium found (run setup.sh, install the 'chromium' package, or "
                                     "'python -m playwright install chromium'; or set browser_path)")
        return found

    def _launch(self) -> None:
        if self._pw is None:
            try:
                from playwright.sync_api import sync_playwright
            except ImportError:
                raise BrowserUnavailable("Playwright is not installed (pip install playwright)") from None
            self._pw = sync_playwright().start()
        self.executable = self._choose_executable()
        try:
            self._browser = self._pw.chromium.launch(headless=True, executable_path=self.executable,
                                                     args=LAUNCH_ARGS)
        except Exception as e:  # Playwright's Error: missing libraries, wrong revision, crash at start
            raise BrowserUnavailable(f"Chromium did not start ({self.executable or 'Playwright build'}): "
                                     f"{one_line(e, 200)}") from None
        self._pages = 0

    def _close_browser(self) -> None:
        if self._browser is not None:
            try:
                self._browser.close()
            except Exception as e:  # already crashed or gone: nothing left to release
                log.debug(f"closing the browser: {e}")
            self._browser = None

    def _navigate(self, context, url: str):
        """(page, response) of page.goto, following the main frame's redirects one checked hop at a time, each
        in a fresh page (the stopped one is busy showing Chromium's error page); see `_route`."""
        from playwright.sync_api import Error as PlaywrightError
        for _ in range(self.cfg.max_redirects + 1):
            self._redirect_to = None
            page = context.new_page()
            page.route("**/*", self._route)
            try:
                return page, page.goto(url, wait_until="load", timeout=self.cfg.browser_timeout * 1000)
            except PlaywrightError as e:
                if self._redirect_to is None:
                    raise FetchFailed(f"browser navigation failed: {one_line(e, 200)}") from None
            page.close()
            url = self._redirect_to  # a new navigation: routed and checked like the first
        raise FetchFailed(f"browser navigation: more than max_redirects={self.cfg.max_redirects} redirects")

    def _route(self, route, request) -> None:
        if request.resource_type in BLOCKED_RESOURCES or not self.allowed(request.url):
            route.abort("blockedbyclient")
            return
        navigation = request.is_navigation_request()
        try:
            status, headers, body = self._forward(request, follow=not navigation)
        except UnsafeURL as e:
            log.debug(f"browser request refused: {e}")
            route.abort("blockedbyclient")
        except (requests.RequestException, FetchFailed) as e:
            log.debug(f"browser request failed: {one_line(e, 200)}")
            route.abort("failed")
        else:
            location = next((v for k, v in headers.items() if k.lower() == "location"), None)
            if navigation and status in REDIRECT_CODES and location:
                # Chromium would follow a redirect without routing the next hop: stop here, and let _navigate
                # start the next hop as a navigation of its own (frames other than the main one just stop).
                if request.frame.parent_frame is None:
                    self._redirect_to = urljoin(request.url, location.strip())
                route.abort("blockedbyclient")
            else:
                route.fulfill(status=status, headers=headers, body=body)

    def _forward(self, request, follow: bool) -> tuple[int, dict, bytes]:
        """Send one of the page's requests through the guarded session: (status, headers, body).

        `follow`: redirects are followed here (every hop checked by the session); a subresource then arrives
        under its first URL, which matters to no page.
        """
        cfg = self.cfg
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        with Deadline(cfg.browser_timeout) as deadline:
            resp = self.session.request(request.method, request.url, headers=headers,
                                        data=request.post_data_buffer, allow_redirects=follow, stream=True,
                                        timeout=(cfg.connect_timeout, cfg.read_timeout))
            with resp:
                chunks, size = [], 0
                for chunk in resp.iter_content(CHUNK):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > cfg.max_bytes:
                        break  # the page gets a cut resource, never an unbounded one
            if deadline.expired:
                raise FetchFailed(f"no complete answer within {cfg.browser_timeout:g} s")
        kept = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_HEADERS}
        return resp.status_code, kept, b"".join(chunks)[:cfg.max_bytes]

    def _render(self, url: str) -> RenderedPage:
        from playwright.sync_api import Error as PlaywrightError, TimeoutError as PlaywrightTimeout
        if self._browser is None or self._pages >= self.cfg.browser_restart_every:
            self._close_browser()
            self._launch()
        self._pages += 1
        context = self._browser.new_context(user_agent=self.cfg.user_agent, service_workers="block")
        try:
            page, response = self._navigate(context, url)
            try:
                page.wait_for_load_state("networkidle", timeout=self.cfg.browser_idle_wait * 1000)
            except PlaywrightTimeout:
                pass  # a page that keeps polling: take what it shows now
            return RenderedPage(final_url=page.url, http_status=response.status if response else None,
                                html=page.content())
        except PlaywrightError as e:
            if not self._browser.is_connected():
                self._browser = None  # crashed: relaunch on the next page
            raise FetchFailed(f"browser error: {one_line(e, 200)}") from None
        finally:
            try:
                context.close()
            except Exception as e:  # the browser died under us; the context goes with it
                log.debug(f"closing a browser context: {e}")

    def _shutdown(self) -> None:
        self._close_browser()
        if self._pw is not None:
            try:
                self._pw.stop()
            except Exception as e:  # the driver process is already gone
                log.debug(f"stopping Playwright: {e}")
            self._pw = None

    # -- public, called from any thread ---------------------------------------------------------------------
    def _call(self, fn, *args):
        limit = self.cfg.browser_timeout + self.cfg.browser_idle_wait + 60  # a hung driver must not hang us
        try:
            return self._thread.submit(fn, *args).result(timeout=limit)
        except FutureTimeout:
            raise FetchFailed(f"browser did not answer within {limit:g} s") from None

    def start(self) -> bool:
        """Launch the browser now if it is not running; False (and `unavailable` says why) when impossible."""
        if self.unavailable is None and self._browser is None:
            try:
                self._call(self._launch)
            except (BrowserUnavailable, FetchFailed) as e:
                self.unavailable = str(e)
        return self.unavailable is None

    def render(self, url: str) -> RenderedPage:
        """Load `url` in the browser and return the rendered DOM; BrowserUnavailable or FetchFailed."""
        if not self.start():
            raise BrowserUnavailable(self.unavailable)
        try:
            return self._call(self._render, url)
        except BrowserUnavailable as e:  # a relaunch failed: stop trying for the rest of the run
            self.unavailable = str(e)
            raise

    def close(self) -> None:
        """Close the browser and its thread (safe to call twice)."""
        try:
            self._call(self._shutdown)
        except (FetchFailed, RuntimeError) as e:
            log.debug(f"browser shutdown: {e}")
        self._thread.shutdown(wait=False)
        self.session.close()
