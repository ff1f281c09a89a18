"""Fetch one story: its first page and the pages its "next" links lead to, each kept as a snapshot.

`StoryFetcher.fetch(url)` returns the manifest fields of a fetched story or raises FetchRejected/FetchFailed.
Per page, by `fetch_mode`:
- `static`: the HTTP client only.
- `browser`: the HTTP client first (it checks robots, safety, redirects, status and content type, and gives the
  final URL), then the browser renders that final URL in the host's politeness turn.
- `auto`: static; rendered only when the page looks like a JavaScript shell, or its extracted story is empty,
  too short or under `thin_chars` characters (scraper.extract.readable decides). Without a browser, a
  JavaScript shell is rejected as `js_no_browser` (retried by a later run that has a browser) and a merely thin
  page is kept as fetched statically.
An error on page 1 ends the fetch (FetchRejected / FetchFailed). An error on page k >= 2 never loses pages
1..k-1 (their snapshots are already written):
- permanent (a rejection: robots, private_host, content_type...; or a 4xx such as 404/410): the pages so far are
  the story, returned with `complete: false`, `stopped_at_page: k`, `stop_reason` (`http_404`, `robots`...) and
  `stop_error` (the one-line message);
- temporary (5xx, 408, 429, timeout, network error, an unexpected exception): StoryPaused carries a
  StoryProgress, so that the runner can record where to go on; a later run passes it back as `resume` and
  fetching starts again at page k.
A story cut by `max_pages` while it still has a next link is likewise `complete: false`, `stop_reason: max_pages`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from common.paths import DatasetPaths
from scraper.fetch.browser import BrowserRenderer, BrowserUnavailable
from scraper.fetch.errors import FetchFailed, FetchRejected, StoryPaused, is_temporary, one_line, stop_reason
from scraper.fetch.http import HttpClient
from scraper.fetch.pages import find_next_link
from scraper.fetch.politeness import Stopped, host_key
from scraper.fetch.progress import StoryProgress
from scraper.manifest import canonical_url
from scraper.snapshots import write_snapshot

log = logging.getLogger("miniature_memory.fetch")
RENDER_REASONS = {"js_shell", "no_content", "too_short"}  # extraction outcomes a browser may fix


@dataclass
class FetchedPage:
    """One page of a story as kept."""

    final_url: str
    http_status: int | None
    content_type: str
    charset: str
    method: str  # "static" | "browser"
    html: str


def _key(url: str) -> str:
    """Canonical form for the loop guard (the URL itself should it have none: it is only compared)."""
    try:
        return canonical_url(url)
    except ValueError:
        return url


def _fallback_judge(html: str) -> tuple[bool, int]:
    """(looks like a JS shell, visible characters) without the extractor: scripts but almost no text."""
    body = re.sub(r"(?is)<(script|style|noscript|template)\b.*?</\1\s*>", " ", html)
    text = " ".join(re.sub(r"(?s)<[^>]*>", " ", body).split())
    return bool(re.search(r"(?i)<script\b", html)) and len(text) < 200, len(text)


def needs_rendering(html: str, url: str, thin_chars: int) -> tuple[bool, bool]:
    """(render it?, is it a JavaScript shell?) for a statically fetched page, judged by the extractor."""
    try:
        from scraper.extract.readable import extract_story, looks_like_js_shell
    except ImportError:  # extractor not installed in this checkout: a crude stand-in
        shell, chars = _fallback_judge(html)
        return shell or chars < thin_chars, shell
    try:
        if looks_like_js_shell(html):
            return True, True
        found = extract_story(html, url)
    except Exception as e:  # an extractor bug on one odd page: keep the static page, extract will report it
        log.debug(f"{url}: extractor failed while judging the static page: {e}")
        return False, False
    if found.reason is not None:
        return found.reason in RENDER_REASONS, found.reason == "js_shell"
    return len(found.text) < thin_chars, False


class StoryFetcher:
    """Fetches stories with a shared HTTP client and (for browser/auto modes) a shared browser."""

    def __init__(self, cfg, paths: DatasetPaths, client: HttpClient, renderer: BrowserRenderer | None):
        self.cfg, self.paths, self.client, self.renderer = cfg, paths, client, renderer
        self._warned = False

    def _warn_no_browser(self, why: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning(f"fetch: {why}; fetch_mode auto goes on with static fetching only "
                        "(JavaScript-only pages are rejected as js_no_browser and retried once a browser exists)")

    def _render(self, url: str, static) -> FetchedPage:
        """Render `url` (already admitted by the static fetch) in the host's politeness turn."""
        with self.client.gate.turn(host_key(url), self.client.host_delay(url)):
            shown = self.renderer.render(url)
        if shown.final_url != url:
            self.client.admit(shown.final_url)  # a script or server sent the browser elsewhere: same rules
        if shown.http_status is not None and shown.http_status >= 400:
            raise FetchFailed(f"HTTP {shown.http_status} in the browser", shown.http_status)
        return FetchedPage(shown.final_url, shown.http_status or static.http_status, static.content_type,
                           static.charset, "browser", shown.html)

    def fetch_page(self, url: str) -> FetchedPage:
        """One page by the configured mode (see the module docstring)."""
        got = self.client.get_html(url)
        static = FetchedPage(got.final_url, got.http_status, got.content_type, got.charset, "static", got.html)
        mode = self.cfg.fetch_mode
        if mode == "static":
            return static
        if mode == "browser":
            return self._render(got.final_url, static)
        render, shell = needs_rendering(got.html, got.final_url, self.cfg.thin_chars)
        if not render:
            return static
        if self.renderer is None or not self.renderer.start():
            self._warn_no_browser(self.renderer.unavailable if self.renderer else "no browser configured")
            if shell:
                raise FetchRejected("js_no_browser", "page needs JavaScript and no browser is available",
                                    got.http_status)
            return static
        try:
            return self._render(got.final_url, static)
        except BrowserUnavailable as e:
            self._warn_no_browser(str(e))
            if shell:
                raise FetchRejected("js_no_browser", "page needs JavaScript and the browser failed",
                                    got.http_status) from None
            return static

    def fetch(self, url: str, resume: dict | None = None) -> dict:
        """Fetch the story at canonical `url`; the manifest fields of a `fetched` event (see the module docstring).

        `resume`: the `resume` field an earlier run recorded; fetching goes on at its page instead of page 1."""
        progress = StoryProgress.from_resume(url, resume, self.paths) if resume is not None else None
        if resume is not None and progress is None:
            log.info(f"{url}: the kept pages of an earlier run are unusable; fetching from page 1")
        if progress is None:
            progress = StoryProgress(url=url, next_url=url)
        while progress.next_url is not None and len(progress.snapshots) < self.cfg.max_pages:
            current, k = progress.next_url, progress.next_page
            progress.seen.add(_key(current))
            try:
                page = self.fetch_page(current)
            except Stopped:
                raise
            except Exception as e:
                if k == 1:
                    raise
                detail = str(e)
                if not isinstance(e, (FetchFailed, FetchRejected)):  # a bug or a library surprise: say which
                    log.debug(f"unexpected error fetching page {k} of {url}", exc_info=True)
                    detail = f"{type(e).__name__}: {e}"
                message = one_line(f"page {k} ({current}): {detail}")
                if is_temporary(e):
                    raise StoryPaused(message, getattr(e, "http_status", None), progress, stop_reason(e)) from None
                log.info(f"{url}: story kept at {k - 1} page(s): {message}")
                return progress.story_fields(stopped_at=k, reason=stop_reason(e), error=message)
            progress.seen.add(_key(page.final_url))
            snapshot = write_snapshot(self.paths, url, k, page.html)
            progress.add_page(vars(page), snapshot, page.method)
            nxt = find_next_link(page.html, page.final_url)
            progress.next_url = nxt if nxt is not None and _key(nxt) not in progress.seen else None
        if progress.next_url is not None:  # max_pages reached with more to come
            return progress.story_fields(stopped_at=progress.next_page, reason="max_pages",
                                         error=f"max_pages={self.cfg.max_pages} reached")
        return progress.story_fields()
