"""What every search provider shares: the provider interface, its errors, domain rules and the recorder.

A provider is any object with a `name` and `pages(query, limit)`, an iterator of result pages (lists of URL
strings, in the order the source gave them). API providers are called once per query; the URL-list, sitemap
and crawl providers once with `query=None`. The `Recorder` turns pages into manifest entries: it drops
non-http(s) URLs (`skipped`), applies the allowed/blocked domain rules (`blocked`), and calls
`UrlManifest.discover` (`new`, or `known` when the canonical URL is already there), then flushes after every
page so a kill loses at most the page in flight.

Errors: `QuotaStop` (429, 403 quota, 402) ends a provider cleanly, keeping what it found; `ProviderError` is
anything else the remote side did wrong (not JSON, HTTP 5xx, unreachable), one line for the user.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterator, Protocol
from urllib.parse import urlsplit

from common.config import UserError, read_user_file
from scraper.manifest import UrlManifest, canonical_url

log = logging.getLogger("miniature_memory.search")

# Counters every search run reports, in this order (providers may add their own after these).
COUNT_KEYS = ("found", "new", "known", "blocked", "skipped", "errors")
COMMENT = re.compile(r"(^|\s)#.*$")  # a comment starts a line or follows whitespace


class ProviderError(Exception):
    """The provider cannot go on: the message is one line naming the provider and what went wrong."""


class QuotaStop(ProviderError):
    """The provider ran out of quota or was rate-limited: stop cleanly, keep what was found."""


class Provider(Protocol):
    """The one small interface: yield pages of result URLs for a query (None for non-query providers)."""

    name: str
    uses_queries: bool

    def pages(self, query: str | None, limit: int) -> Iterator[list[str]]: ...


def one_line(text: str, limit: int = 200) -> str:
    """Collapse whitespace and cut long text, for error messages built from remote content."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def normalise_domain(domain: str) -> str:
    """`Example.COM.` or `https://example.com/x` -> `example.com` (config is forgiving about spelling)."""
    d = domain.strip().lower()
    if "://" in d:
        d = urlsplit(d).hostname or ""
    d = d.strip(".")
    return d[4:] if d.startswith("www.") else d


def host_matches(host: str, domains: list[str]) -> bool:
    """True when `host` is one of `domains` or a subdomain of one (`a.b.com` matches `b.com`)."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) or host == "www." + d for d in domains if d)


class DomainRules:
    """Allowed and blocked domains: a URL passes when its host is allowed (or no list) and not blocked."""

    def __init__(self, allowed: list[str], blocked: list[str]):
        self.allowed = [normalise_domain(d) for d in allowed if d.strip()]
        self.blocked = [normalise_domain(d) for d in blocked if d.strip()]

    def allows_host(self, host: str) -> bool:
        """Host-level verdict (used by the crawler to decide what it may follow)."""
        if self.blocked and host_matches(host, self.blocked):
            return False
        return not self.allowed or host_matches(host, self.allowed)

    def allows(self, url: str) -> bool:
        """URL-level verdict; URLs without a host are never allowed."""
        host = urlsplit(url).hostname
        return bool(host) and self.allows_host(host)


def http_url(url: object) -> str | None:
    """The canonical form of an absolute http(s) URL, or None for anything else (mailto:, relative, junk)."""
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        return canonical_url(url)
    except ValueError:
        return None


def read_urls_file(path: str | Path, keep_invalid: bool = False) -> list[str]:
    """URLs of a seed file: one per line, `#` starts a comment, blank lines ignored.

    Lines that are not absolute http(s) URLs are logged and dropped, or kept when `keep_invalid` (so the
    recorder counts them as `skipped`).
    """
    p = Path(path).expanduser()
    try:
        text = read_user_file(p, "urls file").decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"cannot read urls file {p}: not UTF-8 ({e.reason} at byte {e.start})") from None
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = COMMENT.sub("", line).strip()  # a '#' inside a URL (fragment) is not a comment
        if not line:
            continue
        if http_url(line) is None:
            log.warning(f"{p}:{lineno}: not an http(s) URL, skipped: {one_line(line, 80)}")
            if not keep_invalid:
                continue
        out.append(line)
    return out


class Recorder:
    """Applies the URL rules and writes discoveries to the manifest, keeping the run's counts."""

    def __init__(self, manifest: UrlManifest, rules: DomainRules, counts: dict):
        self.manifest = manifest
        self.rules = rules
        self.counts = counts
        for key in COUNT_KEYS:
            counts.setdefault(key, 0)

    def add_page(self, urls: list[str], provider: str, query: str | None) -> int:
        """Record one page of results (then flush); returns how many were new."""
        new = 0
        for url in urls:
            self.counts["found"] += 1
            key = http_url(url)
            if key is None:
                self.counts["skipped"] += 1
                continue
            if not self.rules.allows(key):
                self.counts["blocked"] += 1
                continue
            fields = {"provider": provider}
            if query is not None:
                fields["query"] = query
            if self.manifest.discover(key, **fields):
                self.counts["new"] += 1
                new += 1
            else:
                self.counts["known"] += 1
        self.manifest.flush()
        return new


def run_provider(provider: Provider, queries: list[str], limit: int, recorder: Recorder) -> str | None:
    """Drive a provider over its queries into the recorder; returns the stop message when quota ended it.

    A `QuotaStop` ends the whole provider (later queries would hit the same wall) but keeps what was found;
    a `ProviderError` propagates after the pages so far are flushed.
    """
    for query in (queries if provider.uses_queries else [None]):
        taken = 0
        try:
            for page in provider.pages(query, limit):
                if provider.uses_queries and limit > 0:
                    page = page[: max(0, limit - taken)]
                taken += len(page)
                recorder.add_page(page, provider.name, query)
                if provider.uses_queries and limit > 0 and taken >= limit:
                    break
        except QuotaStop as e:
            recorder.counts["errors"] += 1
            recorder.manifest.flush()
            return str(e)
        except ProviderError:
            recorder.counts["errors"] += 1
            recorder.manifest.flush()
            raise
    return None
