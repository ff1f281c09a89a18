"""Headless Chromium through Playwright, for pages whose text is written by JavaScript.

Finding a browser, in order: `browser_path` from the config (must exist); Playwright's own Chromium when
`playwright install chromium` put one in place; a system Chromium (`/usr/bin/chromium`, then `chromium`,
`chromium-browser`, `google-chrome`, `google-chrome-stable` on PATH) launched through `executable_path` with
LAUNCH_ARGS. None found -> BrowserUnavailable with a one-line reason.

All Playwright calls run in one dedicated thread (Playwright's sync API is bound to the thread that started it,
and refuses to run inside a notebook's asyncio loop, which this sidesteps). One browser is reused across pages
and relaunched every `browser_restart_every` pages (bounded memory); each page gets a fresh context (no cookies
carried over). Images, fonts and media are aborted, and so is every request to a non-http(s) URL or, unless
`allow_private_hosts`, to a private address (the `allowed` callback). Navigation is bounded by
`browser_timeout`; after `load`, up to `browser_idle_wait` seconds more for the network to go quiet so
script-fetched content lands.
"""

from __future__ import annotations

import logging
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from scraper.fetch.errors import FetchFailed, one_line

log = logging.getLogger("miniature_memory.fetch")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic"]
SYSTEM_PATHS = ("/usr/bin/chromium",)
SYSTEM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BLOCKED_RESOURCES = {"image", "font", "media"}


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


class BrowserRenderer:
    """Renders pages in one reused headless Chromium owned by a private thread; `close()` when done."""

    def __init__(self, cfg, allowed: Callable[[str], bool] = lambda url: True):
        self.cfg, self.allowed = cfg, allowed
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="browser")
        self._pw = self._browser = None
        self._pages = 0
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

    def _route(self, route, request) -> None:
        if request.resource_type in BLOCKED_RESOURCES or not self.allowed(request.url):
            route.abort("blockedbyclient")
        else:
            route.continue_()

    def _render(self, url: str) -> RenderedPage:
        from playwright.sync_api import Error as PlaywrightError, TimeoutError as PlaywrightTimeout
        if self._browser is None or self._pages >= self.cfg.browser_restart_every:
            self._close_browser()
            self._launch()
        self._pages += 1
        context = self._browser.new_context(user_agent=self.cfg.user_agent, service_workers="block")
        try:
            page = context.new_page()
            page.route("**/*", self._route)
            try:
                response = page.goto(url, wait_until="load", timeout=self.cfg.browser_timeout * 1000)
            except PlaywrightError as e:
                raise FetchFailed(f"browser navigation failed: {one_line(e, 200)}") from None
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
