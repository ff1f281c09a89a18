"""Small, careful HTTP for discovery: a session, a private-address guard, a size-limited GET, robots.txt.

The sitemap and crawl providers fetch pages themselves (to read links), so they get the same safety rules as
the fetch stage, in a smaller form: only http(s); hosts that resolve to private, loopback, link-local or
otherwise non-public addresses are refused unless `allow_private_hosts` (checked on every redirect hop,
redirects followed by hand and bounded); bodies streamed and cut at a byte limit (after gzip/deflate decoding);
connect/read timeouts; robots.txt per host with RFC 9309 semantics (4xx: everything allowed; 5xx or
unreachable: everything disallowed) and its Crawl-delay. The full fetch-stage versions live in scraper/fetch/.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.robotparser
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

# Identifies the bot and where to read about it; users running their own crawl should put their contact here.
DEFAULT_USER_AGENT = ("miniature-memory/0.1 (story-corpus builder; "
                      "+https://github.com/miniature-memory/miniature-memory)")
REDIRECT_CODES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
ROBOTS_MAX_BYTES = 512_000  # RFC 9309 asks parsers to handle at least 500 KiB
CHUNK = 64 * 1024


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


def make_session(user_agent: str) -> requests.Session:
    """A requests session that identifies the bot (environment proxies are honoured, as users expect)."""
    session = requests.Session()
    session.headers["User-Agent"] = user_agent or DEFAULT_USER_AGENT
    session.headers["Accept-Encoding"] = "gzip, deflate"
    return session


def non_public_address(host: str) -> str | None:
    """The first address `host` resolves to that is not public (private, loopback, link-local...), or None.

    Raises FetchError("dns") when the name does not resolve at all.
    """
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError) as e:
        raise FetchError("dns", f"cannot resolve host {host!r} ({e})") from None
    for info in infos:
        addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        if (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
                or addr.is_reserved or addr.is_unspecified):
            return str(addr)
    return None


def check_target(url: str, allow_private: bool) -> None:
    """Refuse non-http(s) URLs and (unless allowed) hosts on non-public addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("bad_scheme", f"not an http(s) URL: {url[:200]}")
    if not allow_private:
        addr = non_public_address(parts.hostname)
        if addr:
            raise FetchError("private_host", f"refusing {parts.hostname}: it resolves to the non-public address "
                                             f"{addr} (set allow_private_hosts: true for a local site)")


def fetch(session: requests.Session, url: str, *, max_bytes: int, timeout: tuple[float, float],
          allow_private: bool, max_redirects: int = MAX_REDIRECTS) -> Fetched:
    """GET `url` following at most `max_redirects` redirects, each hop checked; body only for 2xx, size-capped."""
    for _ in range(max_redirects + 1):
        check_target(url, allow_private)
        try:
            resp = session.get(url, stream=True, allow_redirects=False, timeout=timeout)
        except requests.RequestException as e:
            raise FetchError("network", f"{type(e).__name__} fetching {url[:200]}") from None
        with resp:
            location = resp.headers.get("Location")
            if resp.status_code in REDIRECT_CODES and location:
                url = urljoin(url, location)
                continue
            content_type = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            charset = requests.utils.get_encoding_from_headers(resp.headers) if content_type else None
            body = read_limited(resp, max_bytes, url) if 200 <= resp.status_code < 300 else b""
            return Fetched(url, resp.status_code, content_type, charset, body)
    raise FetchError("redirects", f"more than {max_redirects} redirects from {url[:200]}")


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
    """Text of a body: the declared charset when Python knows it, else UTF-8; undecodable bytes replaced."""
    for enc in (charset, "utf-8"):
        if not enc:
            continue
        try:
            return body.decode(enc, errors="replace")
        except LookupError:
            continue
    return body.decode("utf-8", errors="replace")


class RobotsRules:
    """robots.txt verdicts per host (fetched once each, RFC 9309 status rules), for one user agent."""

    def __init__(self, session: requests.Session, user_agent: str, timeout: tuple[float, float],
                 allow_private: bool):
        self.session = session
        self.agent = (user_agent or DEFAULT_USER_AGENT).split("/", 1)[0].split()[0]  # product token
        self.timeout = timeout
        self.allow_private = allow_private
        self._cache: dict[str, urllib.robotparser.RobotFileParser] = {}

    def _parser(self, url: str) -> urllib.robotparser.RobotFileParser:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._cache:
            rp = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
            try:
                got = fetch(self.session, origin + "/robots.txt", max_bytes=ROBOTS_MAX_BYTES,
                            timeout=self.timeout, allow_private=self.allow_private)
                if 200 <= got.status < 300:
                    rp.parse(decode_body(got.body, got.charset or "utf-8").splitlines())
                elif 400 <= got.status < 500:
                    rp.allow_all = True  # no robots.txt (or forbidden to read it): no restrictions
                else:
                    rp.disallow_all = True  # server error: assume complete disallow (RFC 9309 2.3.1.4)
            except FetchError as e:
                if e.reason == "too_large":
                    rp.allow_all = True  # a huge robots.txt is not a "no"; the fetch stage parses the first 500 KiB
                else:
                    rp.disallow_all = True  # unreachable: assume complete disallow, as for 5xx
            self._cache[origin] = rp
        return self._cache[origin]

    def allowed(self, url: str) -> bool:
        """May this bot fetch `url`?"""
        return self._parser(url).can_fetch(self.agent, url)

    def crawl_delay(self, url: str) -> float:
        """The host's Crawl-delay for this bot in seconds (0 when none)."""
        try:
            delay = self._parser(url).crawl_delay(self.agent)
        except (TypeError, ValueError):
            return 0.0
        return float(delay or 0)
