"""The crawl provider: follow links from seed pages within allowed hosts, breadth-first, bounded and polite.

Seeds are `base_url` and the lines of `urls_file`. The crawl stays on the allowed domains (or, when none are
configured, on the seed hosts). A link is *recorded* when it matches an include pattern (any, when there are
none) and no exclude pattern; it is *followed* (fetched to read its links) when it is within `max_depth` hops
of a seed and not excluded. Seeds are depth 0; links on a depth-d page are depth d+1; pages are fetched only
below `max_depth`, and at most `max_pages` of them, each within `total_timeout` seconds (headers and body).
robots.txt is respected (a disallowed page is neither fetched nor recorded, counted as `robots`), requests to
a host are spaced by `crawl_delay` or the host's Crawl-delay (whichever is larger, capped at 60 s), and only HTML
responses are parsed.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from html.parser import HTMLParser
from typing import Iterator
from urllib.parse import urljoin, urlsplit

import requests

from common.config import UserError
from scraper.search.base import DomainRules, http_url, normalise_domain, read_urls_file
from scraper.search.net import FetchError, RobotsRules, check_target, decode_body, fetch
from scraper.search.sitemap import compile_patterns, wanted

log = logging.getLogger("miniature_memory.search")

HTML_TYPES = ("text/html", "application/xhtml+xml")
MAX_CRAWL_DELAY = 60.0  # seconds; a larger robots Crawl-delay would stall the crawl for hours


class LinkParser(HTMLParser):
    """Collects `<a href>`/`<area href>` targets, honouring `<base href>`."""

    def __init__(self, base: str):
        super().__init__(convert_charrefs=True)
        self.base = base
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if not href:
            return
        if tag == "base":
            self.base = urljoin(self.base, href.strip())
        elif tag in ("a", "area"):
            self.links.append(urljoin(self.base, href.strip()))


def extract_links(html: str, base_url: str) -> list[str]:
    """Absolute link targets of a page, in document order (duplicates kept; the caller dedups)."""
    parser = LinkParser(base_url)
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # html.parser gives up on some malformed markup: keep what it saw
        pass
    return parser.links


class CrawlProvider:
    """Breadth-first crawl from seeds; yields the recordable links of every fetched page."""

    name = "crawl"
    uses_queries = False

    def __init__(self, cfg, session: requests.Session, counts: dict):
        seeds = ([cfg.base_url.strip()] if cfg.base_url.strip() else []) + \
                (read_urls_file(cfg.urls_file) if cfg.urls_file else [])
        if not seeds:
            raise UserError("crawl needs seed pages: base_url and/or urls_file")
        bad = [s for s in seeds if http_url(s) is None]
        if bad:
            raise UserError(f"crawl seed is not an http(s) URL: {bad[0]}")
        self.seeds = seeds
        self.cfg = cfg
        self.session = session
        self.counts = counts
        allowed = cfg.allowed_domains or [normalise_domain(urlsplit(s).hostname or "") for s in seeds]
        self.scope = DomainRules(allowed, cfg.blocked_domains)
        self.include = compile_patterns(cfg.crawl_include, "crawl_include")
        self.exclude = compile_patterns(cfg.crawl_exclude, "crawl_exclude")
        self.timeout = (cfg.connect_timeout, cfg.read_timeout)
        self.robots = RobotsRules(session, cfg.user_agent, self.timeout, cfg.allow_private_hosts, cfg.total_timeout)
        self._last_hit: dict[str, float] = {}
        for key in ("pages", "robots"):
            counts.setdefault(key, 0)

    def _wait_turn(self, url: str) -> None:
        """Sleep until this host's delay since our last request to it has passed."""
        host = urlsplit(url).netloc
        delay = min(MAX_CRAWL_DELAY, max(self.cfg.crawl_delay, self.robots.crawl_delay(url)))
        last = self._last_hit.get(host)
        if last is not None and delay > 0:
            time.sleep(max(0.0, last + delay - time.monotonic()))
        self._last_hit[host] = time.monotonic()

    def _robots_ok(self, url: str) -> bool:
        if self.robots.allowed(url):
            return True
        self.counts["robots"] += 1
        log.info(f"crawl: robots.txt disallows {url}")
        return False

    def _get_links(self, url: str) -> list[str] | None:
        """Fetch a page and return its links; None when it could not be used (counted, logged)."""
        self._wait_turn(url)
        try:
            got = fetch(self.session, url, max_bytes=self.cfg.max_bytes, timeout=self.timeout,
                        allow_private=self.cfg.allow_private_hosts, total_timeout=self.cfg.total_timeout)
        except FetchError as e:
            log.warning(f"crawl: {e}")
            self.counts["errors"] += 1
            return None
        self.counts["pages"] += 1
        if not 200 <= got.status < 300:
            log.warning(f"crawl: HTTP {got.status} for {url}")
            self.counts["errors"] += 1
            return None
        if got.content_type not in HTML_TYPES:
            log.info(f"crawl: not HTML ({got.content_type or 'no type'}), links not read: {url}")
            return None
        if not self.scope.allows(got.url):
            log.info(f"crawl: {url} redirected off the allowed hosts to {got.url}; links not read")
            return None
        return extract_links(decode_body(got.body, got.charset), got.url)

    def pages(self, query: str | None, limit: int) -> Iterator[list[str]]:
        seen: set[str] = set()
        queue: deque[tuple[str, int]] = deque()
        first: list[str] = []
        for seed in self.seeds:
            key = http_url(seed)
            if key in seen:
                continue
            seen.add(key)
            try:
                check_target(key, self.cfg.allow_private_hosts)
            except FetchError as e:
                if e.reason == "private_host":
                    raise UserError(f"crawl seed {key}: {e}") from None
                log.warning(f"crawl: seed {key}: {e}")
                self.counts["errors"] += 1
                continue
            if not self.scope.allows(key) or not self._robots_ok(key):
                continue
            queue.append((key, 0))
            if wanted(key, self.include, self.exclude):
                first.append(key)
        if first:
            yield first
        while queue and self.counts["pages"] < self.cfg.max_pages:
            url, depth = queue.popleft()
            if depth >= self.cfg.max_depth:
                continue
            links = self._get_links(url)
            if not links:
                continue
            found = []
            for link in links:
                key = http_url(link)
                if key is None or key in seen:
                    continue
                seen.add(key)
                if not self.scope.allows(key) or any(p.search(key) for p in self.exclude):
                    continue
                follow = depth + 1 < self.cfg.max_depth
                record = wanted(key, self.include, self.exclude)
                if not (follow or record) or not self._robots_ok(key):
                    continue
                if follow:
                    queue.append((key, depth + 1))
                if record:
                    found.append(key)
            if found:
                yield found
        if queue and self.counts["pages"] >= self.cfg.max_pages:
            log.warning(f"crawl: stopped at max_pages={self.cfg.max_pages}; {len(queue)} page(s) not visited")
