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
A later page that is refused (robots, other host...) ends the story at the pages so far; a later page that fails
fails the whole story (a half story is worse than a retry).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from common.paths import DatasetPaths
from scraper.fetch.browser import BrowserRenderer, BrowserUnavailable
from scraper.fetch.errors import FetchFailed, FetchRejected
from scraper.fetch.http import HttpClient
from scraper.fetch.pages import find_next_link
from scraper.fetch.politeness import host_key
from scraper.manifest import canonical_url, now_iso
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

    def fetch(self, url: str) -> dict:
        """Fetch the story at canonical `url` (all its pages); the manifest fields of a `fetched` event."""
        pages: list[FetchedPage] = []
        snapshots: list[str] = []
        seen: set[str] = set()
        current: str | None = url
        while current is not None and len(pages) < self.cfg.max_pages:
            seen.add(canonical_url(current))
            try:
                page = self.fetch_page(current)
            except FetchRejected as e:
                if not pages:
                    raise
                log.info(f"{url}: page {len(pages) + 1} not followed ({e.reason}: {e})")
                break
            except FetchFailed as e:
                if not pages:
                    raise
                raise FetchFailed(f"page {len(pages) + 1} ({current}): {e}", e.http_status) from None
            seen.add(canonical_url(page.final_url))
            pages.append(page)
            snapshots.append(write_snapshot(self.paths, url, len(pages), page.html))
            nxt = find_next_link(page.html, page.final_url)
            current = nxt if nxt is not None and canonical_url(nxt) not in seen else None
        first = pages[0]
        return {"http_status": first.http_status, "final_url": first.final_url,
                "fetch_method": "browser" if any(p.method == "browser" for p in pages) else "static",
                "content_type": first.content_type, "charset": first.charset, "snapshots": snapshots,
                "pages": len(pages), "fetched_at": now_iso(), "error": None, "reason": None}
