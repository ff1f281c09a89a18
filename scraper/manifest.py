"""The URL manifest: an append-only event log of every URL the scraper found, fetched, rejected or extracted.

`dataset/metadata/urls.jsonl` holds one JSON event per line: `{"url": <canonical url>, "status": ..., "time":
..., ...fields}`. The state of a URL is all of its events merged in order (a later field wins), so a reader
never needs to rewrite the file; a torn last line (kill mid-append) is ignored and cut before the next append.
Statuses: `new` (discovered), `fetched` (HTML snapshot kept), `rejected` (robots, policy, no real content...),
`failed` (network/HTTP error; retried on a later run up to a limit).

Canonical URLs strip the fragment, tracking parameters, default ports and letter case of scheme and host, so
the same page found twice (by two queries or two providers) is one entry and never fetched twice. A URL whose
host no HTTP client could connect to (`http://*.example.com/`, `http://exa mple.com/`, `http://[::1`) has no
canonical form: `url_problem` says why in one line.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from common.fsio import append_jsonl, read_jsonl
from common.paths import DatasetPaths

MANIFEST_NAME = "urls.jsonl"
STATUSES = ("new", "fetched", "rejected", "failed")
# Query parameters that only track the visitor; dropping them merges copies of the same page.
TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_ga|_hsenc|_hsmi|ref|ref_src|"
                             r"igshid|yclid|spm|share|s_cid)$", re.IGNORECASE)
DEFAULT_PORTS = {"http": 80, "https": 443}
HOST_LABEL = re.compile(r"[\w-]{1,63}")  # letters (any script), digits, '-', '_': what DNS names are made of


def _host_problem(host: str) -> str | None:
    """Why `host` (as urlsplit gives it: lowercase, no brackets) cannot be connected to, or None."""
    if ":" in host:  # only an IPv6 literal has colons in the host part
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
            return None
        except ValueError:
            return f"invalid IPv6 address {host!r}"
    name = host.rstrip(".")
    if not name or len(name) > 253:
        return f"invalid host name {host!r}"
    for label in name.split("."):
        if not HOST_LABEL.fullmatch(label):
            return f"invalid host name {host!r} (label {label!r})"
    return None


def url_problem(url: str) -> str | None:
    """One line saying why `url` is not a usable absolute http(s) URL, or None when it is."""
    if not isinstance(url, str):
        return f"not a URL: {url!r}"
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # parsed here: an out-of-range or non-numeric port raises ValueError
    except ValueError as e:
        return f"malformed URL {url!r}: {e}"
    if parts.scheme.lower() not in DEFAULT_PORTS:
        return f"not an absolute http(s) URL: {url!r}"
    if not parts.hostname:
        return f"no host in URL {url!r}"
    if port == 0:
        return f"port 0 in URL {url!r}"
    problem = _host_problem(parts.hostname)
    return f"{problem} in URL {url!r}" if problem else None


def canonical_url(url: str) -> str:
    """The one spelling of a URL used as its key; ValueError (see url_problem) for anything else."""
    problem = url_problem(url)
    if problem:
        raise ValueError(problem)
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    port = parts.port
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)]
    path = re.sub(r"/{2,}", "/", parts.path) or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def now_iso() -> str:
    """Current UTC time, `2026-11-22T10:04:05Z`."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class UrlManifest:
    """Latest state per canonical URL, plus buffered appends of new events. Use as a context manager."""

    def __init__(self, paths: DatasetPaths):
        self.path = paths.metadata / MANIFEST_NAME
        self.state: dict[str, dict] = {}  # canonical url -> merged fields, in order of discovery
        self._pending: list[dict] = []
        for event in read_jsonl(self.path):
            url = event.get("url")
            if isinstance(url, str):
                self.state.setdefault(url, {}).update(event)

    def __enter__(self) -> "UrlManifest":
        return self

    def __exit__(self, *exc) -> None:
        self.flush()

    def flush(self) -> None:
        """Append buffered events durably (one fsync)."""
        if self._pending:
            append_jsonl(self.path, self._pending)
            self._pending = []

    def get(self, url: str) -> dict | None:
        """Merged state of a URL (any spelling), or None."""
        try:
            return self.state.get(canonical_url(url))
        except ValueError:
            return None

    def record(self, url: str, status: str, **fields) -> dict:
        """Append an event for `url` and return its new merged state.

        A URL already in the manifest is recorded under its key as is, even one with no canonical form (an old
        or hand-edited line): that is how a malformed entry gets its `rejected` outcome instead of a crash."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        key = url if url in self.state else canonical_url(url)
        event = {"url": key, "status": status, "time": now_iso(), **fields}
        self._pending.append(event)
        merged = self.state.setdefault(key, {})
        merged.update(event)
        return merged

    def discover(self, url: str, **fields) -> bool:
        """Add a found URL as `new` unless its canonical form is known; True when it was new."""
        key = canonical_url(url)
        if key in self.state:
            return False
        self.record(key, "new", discovered_at=now_iso(), attempts=0, **fields)
        return True

    def entries(self, *statuses: str) -> list[dict]:
        """Merged states (all, or those with one of `statuses`) in order of discovery."""
        return [s for s in self.state.values() if not statuses or s.get("status") in statuses]
