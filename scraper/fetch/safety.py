"""Which URLs the fetcher may contact: http(s) only, and no private, loopback or link-local hosts.

The host is resolved first (an injectable resolver, so tests can pretend a name is public) and every address it
resolves to must be public; the check runs for the first URL and again for every redirect hop, and for every
request a headless browser page makes. `allow_private_hosts` (tests, the built-in demo site on 127.0.0.1) turns
the address check off; the scheme check always applies.

Known limit: the address is checked before connecting and `requests` resolves the name again when it connects,
so a DNS server that answers differently within seconds (DNS rebinding) is not stopped by this check.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Callable
from urllib.parse import urlsplit

from scraper.fetch.errors import FetchFailed, FetchRejected

ALLOWED_SCHEMES = ("http", "https")
Resolver = Callable[[str], list[str]]  # host name -> IP address strings


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


def check_url(url: str, allow_private: bool, resolver: Resolver = resolve_host) -> None:
    """Raise FetchRejected (`bad_scheme`, `private_host`) or FetchFailed (unresolvable) unless `url` is fetchable."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise FetchRejected("bad_scheme", f"refused scheme {parts.scheme or '(none)'!r}: only http and https")
    host = parts.hostname
    if not host:
        raise FetchRejected("bad_scheme", f"no host in URL {url!r}")
    if allow_private:
        return
    for address in host_addresses(host, resolver):
        if not is_public_address(address):
            raise FetchRejected("private_host", f"refused {host}: resolves to non-public address {address} "
                                                "(set allow_private_hosts to fetch from a local network)")


class SafetyCheck:
    """`check_url` with a fixed setting and resolver, caching resolutions per host for one run."""

    def __init__(self, allow_private: bool, resolver: Resolver = resolve_host):
        self.allow_private, self.resolver = allow_private, resolver
        self._cache: dict[str, list[str]] = {}

    def _resolve(self, host: str) -> list[str]:
        if host not in self._cache:
            self._cache[host] = list(self.resolver(host))
        return self._cache[host]

    def __call__(self, url: str) -> None:
        """Raise unless `url` may be requested (see check_url)."""
        check_url(url, self.allow_private, self._resolve)

    def allowed(self, url: str) -> bool:
        """True when `url` may be requested (for the browser's subrequest filter: no exceptions)."""
        try:
            self(url)
            return True
        except (FetchRejected, FetchFailed):
            return False
