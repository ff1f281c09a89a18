"""Small, careful HTTP for discovery: a session, a private-address guard, a size-limited GET, robots.txt.

The sitemap and crawl providers fetch pages themselves (to read links), so they get the same safety rules as
the fetch stage, in a smaller form: only http(s); hosts that resolve to private, loopback, link-local or
otherwise non-public addresses are refused unless `allow_private_hosts` (checked on every redirect hop,
redirects followed by hand and bounded); bodies streamed and cut at a byte limit (after gzip/deflate decoding);
connect/read timeouts and a total time per request (headers and body: a dripping server is cut off);
robots.txt per host with RFC 9309 semantics (4xx: everything allowed; 5xx or unreachable: everything
disallowed) and its Crawl-delay. The address and robots rules are the fetch stage's own (scraper/fetch/safety.py,
scraper/fetch/robots.py), and so is the connection layer (scraper/fetch/transport.py: every request checked as it
is sent, connected to the checked address); only the GET differs (any content type: sitemaps are XML).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

import requests

from scraper import DEFAULT_USER_AGENT
from scraper.fetch import robots
from scraper.fetch.charset import text_codec
from scraper.fetch.errors import FetchFailed, FetchRejected
from scraper.fetch.robots import product_token
from scraper.fetch.safety import SafetyCheck, check_url, resolve_host
from scraper.fetch.transport import Deadline, UnsafeURL, guard_session

# Identifies the bot and where to read about it; users running their own crawl should put their contact here.
REDIRECT_CODES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
ROBOTS_MAX_BYTES = 512_000  # RFC 9309 asks parsers to handle at least 500 KiB
CHUNK = 64 * 1024
TOTAL_TIMEOUT = 60.0  # seconds one request may take, headers and body together, unless the caller says


class FetchError(Exception):
    """A fetch that was refused or failed; `reason` is a stable code, the message one line."""

    def __init__(self, reason: str, message: str, status: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass
class Fetched:
    """A finished GET: the final URL after redirects, its status, content type and (2xx only) body."""

    url: str
    status: int
    content_type: str
    charset: str | None
    body: bytes


def make_session(user_agent: str, allow_private: bool = False, resolver=resolve_host,
                 trusted_hosts: tuple[str, ...] = ()) -> requests.Session:
    """A guarded requests session that identifies the bot: every request it sends is checked and pinned.

    `trusted_hosts` (a search API's configured host, e.g. a SearXNG on localhost) skip the private-address
    rule; the URL-form checks and pinning still apply. Environment proxies are honoured, as users expect.
    """
    session = requests.Session()
    session.headers["User-Agent"] = user_agent or DEFAULT_USER_AGENT
    session.headers["Accept-Encoding"] = "gzip, deflate"
    return guard_session(session, SafetyCheck(allow_private, resolver, trusted_hosts=trusted_hosts))


def check_target(url: str, allow_private: bool) -> None:
    """Refuse non-http(s) URLs and (unless allowed) hosts on non-public addresses: the fetch stage's rules."""
    try:
        check_url(url, allow_private, resolve_host)
    except FetchRejected as e:
        raise FetchError(e.reason, str(e)) from None
    except FetchFailed as e:
        raise FetchError("dns", str(e)) from None


def fetch(session: requests.Session, url: str, *, max_bytes: int, timeout: tuple[float, float],
          allow_private: bool, max_redirects: int = MAX_REDIRECTS,
          total_timeout: float = TOTAL_TIMEOUT) -> Fetched:
    """GET `url` following at most `max_redirects` redirects, each hop checked; body only for 2xx, size-capped.

    Each hop has `total_timeout` seconds for its headers and body together (FetchError `timeout`).
    """
    for _ in range(max_redirects + 1):
        check_target(url, allow_private)
        with Deadline(total_timeout) as deadline:
            try:
                got = _get_once(session, url, max_bytes, timeout)
            except FetchError:
                if not deadline.expired:
                    raise
            if deadline.expired:  # whatever came back was cut short, even a body that looks complete
                raise FetchError("timeout", f"no complete answer from {url[:200]} within {total_timeout:g} s")
        if isinstance(got, Fetched):
            return got
        url = got
    raise FetchError("redirects", f"more than {max_redirects} redirects from {url[:200]}")


def _get_once(session: requests.Session, url: str, max_bytes: int, timeout: tuple[float, float]) -> Fetched | str:
    """One GET: the Fetched answer, or the next URL when it is a redirect."""
    try:
        resp = session.get(url, stream=True, allow_redirects=False, timeout=timeout)
    except UnsafeURL as e:
        raise FetchError(e.reason, str(e)) from None
    except requests.RequestException as e:
        raise FetchError("network", f"{type(e).__name__} fetching {url[:200]}") from None
    with resp:
        location = resp.headers.get("Location")
        if resp.status_code in REDIRECT_CODES and location:
            return urljoin(url, location.strip())
        content_type = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        charset = requests.utils.get_encoding_from_headers(resp.headers) if content_type else None
        body = read_limited(resp, max_bytes, url) if 200 <= resp.status_code < 300 else b""
        return Fetched(url, resp.status_code, content_type, charset, body)


def read_limited(resp: requests.Response, max_bytes: int, url: str) -> bytes:
    """The (decoded) body, aborting with FetchError('too_large') once it passes `max_bytes`."""
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes and "Content-Encoding" not in resp.headers:
        raise FetchError("too_large", f"{url[:200]} declares {int(declared):,} bytes (limit {max_bytes:,})")
    parts, size = [], 0
    try:
        for chunk in resp.iter_content(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise FetchError("too_large", f"{url[:200]} is larger than {max_bytes:,} bytes")
            parts.append(chunk)
    except requests.RequestException as e:
        raise FetchError("network", f"{type(e).__name__} reading {url[:200]}") from None
    return b"".join(parts)


def decode_body(body: bytes, charset: str | None) -> str:
    """Text of a body: the declared charset when it is a real text encoding, else UTF-8; bad bytes replaced."""
    codec = text_codec(charset) or "utf-8"
    try:
        return body.decode(codec, errors="replace")
    except (UnicodeError, LookupError, ValueError):  # a text codec that still refuses: plain UTF-8
        return body.decode("utf-8", errors="replace")


class RobotsRules:
    """robots.txt verdicts per origin (fetched once each), parsed by the fetch stage's RFC 9309 rules."""

    def __init__(self, session: requests.Session, user_agent: str, timeout: tuple[float, float],
                 allow_private: bool, total_timeout: float = TOTAL_TIMEOUT):
        self.session = session
        self.agent = product_token(user_agent or DEFAULT_USER_AGENT)
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.allow_private = allow_private
        self._cache: dict[str, robots.RobotsRules] = {}

    def _rules(self, url: str) -> robots.RobotsRules:
        origin = robots.origin_of(url)
        if origin not in self._cache:
            try:
                got = fetch(self.session, origin + "/robots.txt", max_bytes=ROBOTS_MAX_BYTES,
                            timeout=self.timeout, allow_private=self.allow_private,
                            total_timeout=self.total_timeout)
                status, text = got.status, decode_body(got.body, got.charset or "utf-8")
            except FetchError as e:
                # A huge robots.txt is not a "no" (the fetch stage parses its first 500 KiB); anything else
                # unreachable counts as a complete disallow, like a 5xx (RFC 9309 2.3.1.4).
                status, text = (404, "") if e.reason == "too_large" else (None, "")
            self._cache[origin] = robots.rules_for_response(status, text, self.agent)
        return self._cache[origin]

    def allowed(self, url: str) -> bool:
        """May this bot fetch `url`?"""
        return self._rules(url).allows(url)

    def crawl_delay(self, url: str) -> float:
        """The host's Crawl-delay for this bot in seconds (0 when none)."""
        return float(self._rules(url).crawl_delay or 0)
