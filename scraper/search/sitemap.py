"""The sitemap provider: page URLs from a sitemap.xml, following sitemap index files (nested, bounded).

Reads the sitemaps protocol (sitemaps.org): `<urlset><url><loc>` pages and `<sitemapindex><sitemap><loc>`
child sitemaps, gzip-compressed files (`.xml.gz`), and plain-text sitemaps (one URL per line). Parsing is
safe: a document with a DOCTYPE or ENTITY declaration is refused outright (no external entities, no entity
expansion bombs), and every file is capped in size before and after decompression. Bounds: index nesting
depth, number of sitemap files, number of page URLs. The `crawl_include` / `crawl_exclude` patterns filter
the page URLs here too (sitemaps list tag and archive pages beside the stories).
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
import zlib
from collections import deque
from typing import Iterator

import requests

from common.config import UserError
from scraper.search.base import DomainRules, ProviderError, http_url
from scraper.search.net import FetchError, fetch

log = logging.getLogger("miniature_memory.search")

MAX_INDEX_DEPTH = 3  # index -> index -> index -> urlset at most
DTD_MARKERS = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class SitemapError(Exception):
    """A sitemap that cannot be read; the message is one line."""


def gunzip_limited(data: bytes, max_bytes: int) -> bytes:
    """Decompress gzip data, refusing output larger than `max_bytes` (a small file can expand enormously)."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, max_bytes + 1)
    except zlib.error as e:
        raise SitemapError(f"broken gzip data ({e})") from None
    if len(out) > max_bytes or d.unconsumed_tail:
        raise SitemapError(f"larger than {max_bytes:,} bytes once decompressed")
    return out


def local_name(tag: object) -> str:
    """`{namespace}loc` -> `loc` (sitemaps come with and without the sitemaps.org namespace)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_sitemap(data: bytes, max_bytes: int) -> tuple[str, list[str]]:
    """("urlset" | "sitemapindex" | "text", locs) of one sitemap file's bytes (gzip or not)."""
    if data[:2] == b"\x1f\x8b":
        data = gunzip_limited(data, max_bytes)
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<"):  # plain-text sitemap: one absolute URL per line
        lines = data.decode("utf-8", errors="replace").splitlines()
        return "text", [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if DTD_MARKERS.search(data):
        raise SitemapError("refusing XML with a DOCTYPE/ENTITY declaration")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise SitemapError(f"not valid XML ({e})") from None
    kind = local_name(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise SitemapError(f"not a sitemap (root element <{kind}>)")
    child = "url" if kind == "urlset" else "sitemap"
    locs = []
    for entry in root:
        if local_name(entry.tag) != child:
            continue
        for field in entry:
            if local_name(field.tag) == "loc" and field.text and field.text.strip():
                locs.append(field.text.strip())
                break
    return kind, locs


def compile_patterns(patterns: list[str], key: str) -> list[re.Pattern]:
    """Compile config regexes; a bad one is a UserError naming it."""
    out = []
    for p in patterns:
        try:
            out.append(re.compile(p))
        except re.error as e:
            raise UserError(f"{key}: bad regular expression {p!r} ({e})") from None
    return out


def wanted(url: str, include: list[re.Pattern], exclude: list[re.Pattern]) -> bool:
    """Include patterns (any must match, when there are some) and exclude patterns (none may match)."""
    if any(p.search(url) for p in exclude):
        return False
    return not include or any(p.search(url) for p in include)


class SitemapProvider:
    """Page URLs of a sitemap (base_url), walking index files breadth-first within the configured bounds."""

    name = "sitemap"
    uses_queries = False

    def __init__(self, cfg, session: requests.Session, counts: dict):
        if not cfg.base_url:
            raise UserError("sitemap needs base_url: the address of a sitemap.xml (or a sitemap index)")
        root = cfg.base_url.strip()
        if http_url(root) is None:
            raise UserError(f"sitemap base_url is not an http(s) URL: {root}")
        self.root = root + "sitemap.xml" if root.endswith("/") else root
        self.session = session
        self.cfg = cfg
        self.counts = counts
        self.rules = DomainRules(cfg.allowed_domains, cfg.blocked_domains)
        self.include = compile_patterns(cfg.crawl_include, "crawl_include")
        self.exclude = compile_patterns(cfg.crawl_exclude, "crawl_exclude")
        counts.setdefault("sitemaps", 0)

    def _load(self, url: str) -> tuple[str, list[str]]:
        got = fetch(self.session, url, max_bytes=self.cfg.max_bytes, allow_private=self.cfg.allow_private_hosts,
                    timeout=(self.cfg.connect_timeout, self.cfg.read_timeout), total_timeout=self.cfg.total_timeout)
        if not 200 <= got.status < 300:
            raise FetchError("http_error", f"HTTP {got.status} for {url}", got.status)
        return parse_sitemap(got.body, self.cfg.max_bytes)

    def pages(self, query: str | None, limit: int) -> Iterator[list[str]]:
        queue = deque([(self.root, 0)])
        seen = {http_url(self.root)}
        taken = 0
        while queue and self.counts["sitemaps"] < self.cfg.sitemap_max_files:
            url, depth = queue.popleft()
            try:
                kind, locs = self._load(url)
            except FetchError as e:
                if url == self.root and e.reason == "private_host":
                    raise UserError(str(e)) from None
                if url == self.root:
                    raise ProviderError(f"sitemap {url}: {e}") from None
                log.warning(f"sitemap {url}: {e}; skipped")
                self.counts["errors"] += 1
                continue
            except SitemapError as e:
                if url == self.root:
                    raise ProviderError(f"sitemap {url}: {e}") from None
                log.warning(f"sitemap {url}: {e}; skipped")
                self.counts["errors"] += 1
                continue
            self.counts["sitemaps"] += 1
            if kind == "sitemapindex":
                for loc in locs:
                    key = http_url(loc)
                    if key is None or key in seen or not self.rules.allows(key):
                        continue
                    if depth + 1 > MAX_INDEX_DEPTH:
                        log.warning(f"sitemap {url}: index nesting deeper than {MAX_INDEX_DEPTH}; not followed")
                        break
                    seen.add(key)
                    queue.append((loc, depth + 1))
                continue
            page = [loc for loc in locs if wanted(loc, self.include, self.exclude)]
            room = self.cfg.sitemap_max_urls - taken
            if len(page) > room:
                log.warning(f"sitemap: stopped at sitemap_max_urls={self.cfg.sitemap_max_urls:,}")
                page = page[:room]
            taken += len(page)
            if page:
                yield page
            if taken >= self.cfg.sitemap_max_urls:
                return
        if queue:
            log.warning(f"sitemap: stopped at sitemap_max_files={self.cfg.sitemap_max_files}; "
                        f"{len(queue)} sitemap(s) not read")
