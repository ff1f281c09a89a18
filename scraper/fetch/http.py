"""The HTTP side of fetching: one polite, bounded GET of an HTML page with manual, checked redirects.

`HttpClient.get_html(url)` does, for the URL and then for every redirect hop (at most `max_redirects`):
safety check (scheme, private addresses) -> robots.txt -> wait for the host's turn (per-host delay, at least
the robots Crawl-delay) -> GET with `allow_redirects=False`, streamed. 429 and 5xx answers and network errors are
retried up to `max_retries` times with exponential backoff (`backoff` * 2^attempt seconds), or at least what
`Retry-After` asks, never more than `max_retry_wait` seconds. The body must have an allowed content type
(`content_types`; a missing header is accepted when the body starts like HTML) and is read in chunks, aborted
past `max_bytes` (decoded size, so a gzip bomb is stopped too). `total_timeout` bounds each request as a whole
(connect, headers and body: a server dripping bytes is cut off, see scraper/fetch/transport.py); the session
connects only to the addresses the safety check approved.

The config object needs: user_agent, connect_timeout, read_timeout, total_timeout, max_redirects, max_retries,
backoff, max_retry_wait, max_bytes, content_types, allow_private_hosts, delay.
"""

from __future__ import annotations

import email.utils
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urljoin

import requests

from scraper.fetch.charset import decode_html
from scraper.fetch.errors import FetchFailed, FetchRejected, one_line
from scraper.fetch.politeness import HostGate, host_key
from scraper.fetch.robots import MAX_ROBOTS_BYTES, RobotsCache
from scraper.fetch.safety import SafetyCheck, resolve_host
from scraper.fetch.transport import Deadline, UnsafeURL, guard_session

log = logging.getLogger("miniature_memory.fetch")
REDIRECT_CODES = (301, 302, 303, 307, 308)
ROBOTS_MAX_REDIRECTS = 5  # RFC 9309: follow at least five
CHUNK = 64 * 1024


@dataclass
class HttpPage:
    """A fetched HTML page: where it ended up, what the server said, and the decoded text."""

    url: str
    final_url: str
    http_status: int
    content_type: str
    charset: str
    html: str
    nbytes: int


def build_session(user_agent: str) -> requests.Session:
    """A requests session that identifies itself and asks for HTML."""
    session = requests.Session()
    session.headers.update({"User-Agent": user_agent,
                            "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"})
    return session


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date), None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def backoff_wait(attempt: int, retry_after: str | None, backoff: float, cap: float) -> float:
    """Seconds to wait before retry number `attempt + 1`: exponential, at least Retry-After, at most `cap`."""
    wait = backoff * (2 ** attempt)
    asked = retry_after_seconds(retry_after)
    if asked is not None:
        wait = max(wait, asked)
    return max(0.0, min(wait, cap))


def mime_type(content_type: str | None) -> str:
    """`text/html` out of `text/html; charset=utf-8` (lowercase, '' when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def looks_like_html(body: bytes) -> bool:
    """Sniff for a body served without a content type."""
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


class HttpClient:
    """Fetches HTML pages politely and safely; shared by all worker threads of a run."""

    def __init__(self, cfg, session: requests.Session | None = None, gate: HostGate | None = None,
                 resolver=resolve_host, safety: SafetyCheck | None = None):
        self.cfg = cfg
        self.safety = safety or SafetyCheck(cfg.allow_private_hosts, resolver)
        self.session = guard_session(session or build_session(cfg.user_agent), self.safety)
        self.gate = gate or HostGate()
        self.robots = RobotsCache(self._fetch_robots, cfg.user_agent)

    # -- gates every request passes ------------------------------------------------------------------------
    def admit(self, url: str) -> None:
        """Raise FetchRejected (bad_scheme, private_host, robots) unless `url` may be requested now."""
        self.safety(url)
        if not self.robots.allowed(url):
            raise FetchRejected("robots", f"disallowed by robots.txt ({self.robots.rules(url).note})")

    def host_delay(self, url: str) -> float:
        """Seconds between two requests to `url`'s host: the configured delay, at least the Crawl-delay."""
        return max(self.cfg.delay, self.robots.crawl_delay(url) or 0.0)

    # -- one request ---------------------------------------------------------------------------------------
    def _read_body(self, resp: requests.Response, limit: int, truncate: bool) -> bytes:
        """The body, at most `limit` bytes (truncated, or FetchRejected too_large)."""
        declared = resp.headers.get("Content-Length", "")
        if not truncate and declared.isdigit() and int(declared) > limit:
            raise FetchRejected("too_large", f"body of {int(declared):,} bytes exceeds max_bytes={limit:,}",
                                resp.status_code)
        chunks, size = [], 0
        for chunk in resp.iter_content(CHUNK):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                if truncate:
                    break
                raise FetchRejected("too_large", f"body exceeds max_bytes={limit:,} (aborted while streaming)",
                                    resp.status_code)
        return b"".join(chunks)[:limit]

    def _exchange(self, url: str, delay: float, robots: bool = False):
        """One GET in the host's turn, within total_timeout: (status, headers, body, error)."""
        with self.gate.turn(host_key(url), delay), Deadline(self.cfg.total_timeout) as deadline:
            answer = self._exchange_within(url, robots)
            if deadline.expired:  # a body cut short by the deadline can look complete: never keep it
                raise FetchFailed(f"no complete answer within total_timeout={self.cfg.total_timeout:g} s")
        status, headers, body, error = answer
        if error is None and not robots and 200 <= status < 300 and not mime_type(headers.get("Content-Type")) \
                and not looks_like_html(body):
            raise FetchRejected("content_type", "no content type and the body is not HTML", status)
        return answer

    def _exchange_within(self, url: str, robots: bool):
        """The GET itself: (status, headers, body, error); body only for a final 2xx answer."""
        cfg = self.cfg
        try:
            resp = self.session.get(url, stream=True, allow_redirects=False,
                                    timeout=(cfg.connect_timeout, cfg.read_timeout))
        except UnsafeURL as e:
            raise FetchRejected(e.reason, one_line(e)) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                requests.exceptions.MissingSchema) as e:
            raise FetchRejected("bad_url", one_line(f"unusable URL: {e}")) from None  # retrying cannot help
        except requests.RequestException as e:
            return None, {}, b"", one_line(f"{type(e).__name__}: {e}")
        with resp:
            status, headers = resp.status_code, resp.headers
            if not 200 <= status < 300:
                return status, headers, b"", None
            if robots:
                limit = MAX_ROBOTS_BYTES
            else:
                limit = cfg.max_bytes
                mime = mime_type(headers.get("Content-Type"))
                if mime and mime not in cfg.content_types:
                    raise FetchRejected("content_type", f"content type {mime} is not HTML", status)
            try:
                body = self._read_body(resp, limit, truncate=robots)
            except requests.RequestException as e:
                return None, {}, b"", one_line(f"{type(e).__name__} while reading: {e}")
        return status, headers, body, None

    def _with_retries(self, url: str):
        """`_exchange` retried on network errors, 429 and 5xx; FetchFailed when the retries run out."""
        cfg = self.cfg
        delay = self.host_delay(url)
        for attempt in range(cfg.max_retries + 1):
            status, headers, body, error = self._exchange(url, delay)
            if error is None and status != 429 and status < 500:
                return status, headers, body
            if attempt == cfg.max_retries:
                break
            wait = backoff_wait(attempt, headers.get("Retry-After"), cfg.backoff, cfg.max_retry_wait)
            log.debug(f"retry {attempt + 1}/{cfg.max_retries} of {url} in {wait:.1f} s ({error or status})")
            self.gate.sleep(wait)
        tries = cfg.max_retries + 1
        if error is not None:
            raise FetchFailed(f"{error} (after {tries} attempts)")
        raise FetchFailed(f"HTTP {status} (after {tries} attempts)", status)

    # -- public --------------------------------------------------------------------------------------------
    def get_html(self, url: str) -> HttpPage:
        """Fetch one HTML page (redirects followed and checked hop by hop); FetchRejected / FetchFailed."""
        current = url
        for _ in range(self.cfg.max_redirects + 1):
            try:
                self.admit(current)
            except FetchRejected as e:
                if current == url:
                    raise
                raise FetchRejected(e.reason, f"redirect to {current}: {e}", e.http_status) from None
            status, headers, body = self._with_retries(current)
            if status in REDIRECT_CODES and headers.get("Location"):
                current = urljoin(current, headers["Location"].strip())
                continue
            if not 200 <= status < 300:
                raise FetchFailed(f"HTTP {status}", status)
            content_type = headers.get("Content-Type", "")
            html, charset = decode_html(body, content_type)
            return HttpPage(url=url, final_url=current, http_status=status, content_type=mime_type(content_type),
                            charset=charset, html=html, nbytes=len(body))
        raise FetchRejected("too_many_redirects", f"more than max_redirects={self.cfg.max_redirects} redirects")

    def _fetch_robots(self, robots_url: str) -> tuple[int | None, str]:
        """robots.txt of an origin: (status, text), status None when unreachable (RFC 9309 rules apply later)."""
        current = robots_url
        for _ in range(ROBOTS_MAX_REDIRECTS + 1):
            try:
                self.safety(current)
            except (FetchRejected, FetchFailed) as e:
                log.debug(f"robots.txt at {current} not fetched: {e}")
                return None, ""
            try:
                status, headers, body, error = self._exchange(current, self.cfg.delay, robots=True)
            except FetchFailed as e:  # past total_timeout: unreachable, like any network error
                status, headers, body, error = None, {}, b"", str(e)
            if error is not None:
                log.debug(f"robots.txt at {current} unreachable: {error}")
                return None, ""
            if status in REDIRECT_CODES and headers.get("Location"):
                current = urljoin(current, headers["Location"].strip())
                continue
            return status, body.decode("utf-8", errors="replace")
        return None, ""  # a redirect loop counts as unreachable
