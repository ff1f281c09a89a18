"""Which URLs the fetcher may contact: well-formed http(s) URLs only, and no private, loopback or link-local hosts.

Two parsers look at every URL: Python's `urllib.parse` (what our checks used to read) and urllib3's (what
`requests` connects with). They disagree on odd URLs: `http://127.0.0.1:8080\\x@public.example/` is host
`public.example` to the first and `127.0.0.1` to the second. So a URL is first made into exactly what `requests`
will send (`PreparedRequest.prepare_url`) and refused (`bad_url`) unless it is plain: no control characters, no
backslash or whitespace before the query, no user info (`user@`), no percent-encoding in the host, no IPv6 zone
id, no numeric host other than a dotted quad (`http://2130706433/`, `http://0x7f.1/`, `http://127.1/` are what
the C resolver turns into 127.0.0.1), a valid port, and both parsers agreeing on scheme, host and port.

The host is then resolved once (an injectable resolver, so tests can pretend a name is public) and every address
must be public unless `allow_private_hosts` (tests, the built-in demo site on 127.0.0.1). `SafetyCheck` keeps the
checked addresses per host for the run, and the connection layer (scraper/fetch/transport.py) connects to those
addresses and never resolves the name again, so a DNS answer that changes between check and connect (DNS
rebinding) gains nothing. The check runs for the first URL and every redirect hop, in the transport for every
request sent, and for every request a headless browser page makes.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

import urllib3.exceptions
import urllib3.util
from requests.exceptions import RequestException
from requests.models import PreparedRequest

from scraper.fetch.errors import FetchFailed, FetchRejected

ALLOWED_SCHEMES = ("http", "https")
Resolver = Callable[[str], list[str]]  # host name -> IP address strings
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
NAME_LABEL = re.compile(r"^[a-z0-9_-]{1,63}$")
NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")  # the WHATWG "ends in a number" test


@dataclass(frozen=True)
class Target:
    """A URL as it will be sent: the prepared URL, lowercase scheme and host (no brackets), port."""

    url: str
    scheme: str
    host: str
    port: int


def resolve_host(host: str) -> list[str]:
    """Every address `host` resolves to (system resolver); OSError when it does not resolve."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({info[4][0] for info in infos})


def is_public_address(address: str) -> bool:
    """False for private, loopback, link-local, multicast, reserved and unspecified addresses (IPv4 or IPv6)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified or not ip.is_global)


def _bad(message: str) -> FetchRejected:
    return FetchRejected("bad_url", message)


def _check_host_form(host: str, bracketed: bool) -> None:
    """Refuse host spellings that resolvers read differently from URL parsers (see the module docstring)."""
    if bracketed:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _bad(f"malformed IPv6 host [{host}]") from None
        return
    labels = host.rstrip(".").split(".")
    if NUMERIC_LABEL.match(labels[-1]):  # a numeric host must be a plain dotted quad
        try:
            ipaddress.IPv4Address(host.rstrip("."))
        except ValueError:
            raise _bad(f"numeric host {host!r} is not a dotted-quad IPv4 address") from None
        return
    if len(host) > 254 or not all(NAME_LABEL.match(label) for label in labels):
        raise _bad(f"malformed host name {host!r}")


def parse_target(url: str) -> Target:
    """`url` as `requests` will send it, or FetchRejected (`bad_scheme`, `bad_url`) when it is not plain."""
    if not isinstance(url, str) or not url:
        raise _bad("empty URL")
    if CONTROL.search(url):
        raise _bad("control character in URL")
    before_query = re.split(r"[?#]", url, maxsplit=1)[0]
    if "\\" in before_query:
        raise _bad("backslash in URL (parsers disagree on its host)")
    try:
        raw = urlsplit(url)
    except ValueError as e:  # unbalanced brackets ("Invalid IPv6 URL")
        raise _bad(f"unusable URL: {e}") from None
    if raw.scheme.lower() not in ALLOWED_SCHEMES:
        raise FetchRejected("bad_scheme", f"refused scheme {raw.scheme or '(none)'!r}: only http and https")
    if not raw.netloc:
        raise FetchRejected("bad_scheme", f"no host in URL {url[:200]!r}")
    if any(ch.isspace() for ch in raw.netloc):
        raise _bad("whitespace in the URL's host")
    if "@" in raw.netloc:
        raise _bad("user info (user@) in URL")
    if "%" in raw.netloc:
        raise _bad("percent-encoding or a zone id in the URL's host")
    prepared = PreparedRequest()
    try:
        prepared.prepare_url(url, None)
    except (RequestException, ValueError, UnicodeError) as e:
        raise _bad(f"unusable URL: {' '.join(str(e).split())[:200]}") from None
    sent = prepared.url
    try:
        ours, theirs = urlsplit(sent), urllib3.util.parse_url(sent)
        port = ours.port
    except (ValueError, urllib3.exceptions.LocationParseError) as e:
        raise _bad(f"unusable URL: {' '.join(str(e).split())[:200]}") from None
    host = (ours.hostname or "").lower()
    their_host = (theirs.host or "").strip("[]").lower()
    if (ours.scheme.lower(), host, port) != ((theirs.scheme or "").lower(), their_host, theirs.port) or not host:
        raise _bad("URL parsers disagree on its host")
    if raw.hostname and raw.hostname.isascii() and raw.hostname.lower() != host:
        raise _bad("URL changes host when prepared for sending")
    _check_host_form(host, bracketed=ours.netloc.rsplit("@", 1)[-1].startswith("["))
    scheme = ours.scheme.lower()
    return Target(url=sent, scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80))


def host_addresses(host: str, resolver: Resolver) -> list[str]:
    """The addresses of a host: an IP literal is its own address, a name goes through `resolver`."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]").split("%", 1)[0]))]
    except ValueError:
        pass
    try:
        found = list(resolver(host))
    except (OSError, UnicodeError) as e:
        raise FetchFailed(f"cannot resolve host {host}: {e}") from None
    if not found:
        raise FetchFailed(f"cannot resolve host {host}: no addresses")
    return found


def check_addresses(host: str, addresses: list[str], allow_private: bool,
                    public: Callable[[str], bool] | None = None) -> None:
    """FetchRejected (`private_host`) unless every address is public (or private hosts are allowed)."""
    if allow_private:
        return
    public = public or is_public_address
    for address in addresses:
        if not public(address):
            raise FetchRejected("private_host", f"refused {host}: resolves to non-public address {address} "
                                                "(set allow_private_hosts to fetch from a local network)")


def check_url(url: str, allow_private: bool, resolver: Resolver = resolve_host) -> Target:
    """The Target of `url`, or FetchRejected (`bad_scheme`, `bad_url`, `private_host`) / FetchFailed (no DNS)."""
    target = parse_target(url)
    if not allow_private:
        check_addresses(target.host, host_addresses(target.host, resolver), allow_private)
    return target


def connect_order(addresses: list[str]) -> list[str]:
    """IPv4 addresses first (a host without IPv6 routes still connects), each group in the resolver's order."""
    return sorted(addresses, key=lambda a: ":" in a)


class SafetyCheck:
    """`check_url` with a fixed setting and resolver; remembers the checked addresses per host for one run.

    `public` decides which addresses count as public (None: `is_public_address`). `trusted_hosts` skip the
    address rule (a search API the user configured, such as a SearXNG on localhost), nothing else.
    """

    def __init__(self, allow_private: bool, resolver: Resolver = resolve_host,
                 public: Callable[[str], bool] | None = None, trusted_hosts: tuple[str, ...] = ()):
        self.allow_private, self.resolver, self.public = allow_private, resolver, public
        self.trusted = {h.strip("[]").lower().rstrip(".") for h in trusted_hosts if h}
        self._cache: dict[str, list[str]] = {}

    def addresses(self, host: str) -> list[str]:
        """The checked addresses of `host` (resolved once per run), to connect to in this order."""
        host = host.strip("[]").lower().rstrip(".") or host
        if host not in self._cache:
            found = host_addresses(host, self.resolver)
            check_addresses(host, found, self.allow_private or host in self.trusted, self.public)
            self._cache[host] = connect_order(found)
        return self._cache[host]

    def __call__(self, url: str) -> Target:
        """The Target of `url`; raises unless it may be requested (see parse_target and check_addresses)."""
        target = parse_target(url)
        self.addresses(target.host)
        return target

    def allowed(self, url: str) -> bool:
        """True when `url` may be requested (for the browser's subrequest filter: no exceptions)."""
        try:
            self(url)
            return True
        except (FetchRejected, FetchFailed):
            return False
