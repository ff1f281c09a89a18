"""The connection layer every scraper request goes through: checked, pinned, and bounded in total time.

`guard_session(session, safety)` mounts on a requests Session an http/https adapter that
- checks every request it sends (first URL, every redirect hop `requests` follows itself, every API call) with
  the run's SafetyCheck, refusing with `UnsafeURL` (a requests InvalidURL that carries the reason code);
- connects to the addresses that check resolved and approved, never resolving the name again (no DNS rebinding
  between check and connect); the Host header, TLS SNI and certificate checks still use the name, because only
  the socket's destination changes (urllib3's connection class, with `_new_conn` overridden as urllib3's own
  SOCKS support does).
A proxy from the environment (HTTP_PROXY...) still works, but then the proxy resolves names: pinning applies to
direct connections only.

`Deadline(seconds)` bounds one whole exchange (connect, headers, body): a timer shuts down the sockets the
exchange uses when time is up, so a server dripping one byte at a time (which never trips a per-read timeout)
is cut off. Callers check `deadline.expired` after any error, and after a body that "ended" normally.
"""

from __future__ import annotations

import socket
import threading
from socket import timeout as SocketTimeout

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

from scraper.fetch.errors import FetchFailed, FetchRejected
from scraper.fetch.safety import SafetyCheck

_local = threading.local()  # the Deadline active in this thread, if any


class UnsafeURL(requests.exceptions.InvalidURL):
    """A request the safety check refused; `reason` is FetchRejected's code (bad_url, private_host...)."""

    def __init__(self, reason: str, message: str, request=None):
        super().__init__(message, request=request)
        self.reason = reason


class Deadline:
    """Context manager: after `seconds`, shut down every socket this thread's exchange used (see module doc)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._expire)
        self._timer.daemon = True
        self._outer = None

    def __enter__(self) -> "Deadline":
        self._outer = getattr(_local, "deadline", None)
        _local.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        _local.deadline = self._outer

    def watch(self, sock: socket.socket) -> None:
        """Add a socket to shut down at the deadline (at once when it has passed)."""
        with self._lock:
            self._socks.append(sock)
            if self.expired:
                _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._socks:
                _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:  # the plain socket method, also for an SSLSocket: another thread may be blocked reading it
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _watch(sock) -> None:
    deadline = getattr(_local, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(sock)


class _PinnedConnection:
    """Mixin for urllib3 connections: connect to the SafetyCheck's approved addresses of the host."""

    safety: SafetyCheck

    def _new_conn(self) -> socket.socket:
        try:
            addresses = self.safety.addresses(self.host)
        except (FetchRejected, FetchFailed) as e:
            raise NewConnectionError(self, f"refused by the safety check: {e}") from None
        error: Exception | None = None
        for address in addresses:
            try:
                sock = create_connection((address, self.port), self.timeout, source_address=self.source_address,
                                         socket_options=self.socket_options)
            except SocketTimeout:
                error = ConnectTimeoutError(self, f"Connection to {self.host} ({address}) timed out. "
                                                  f"(connect timeout={self.timeout})")
            except OSError as e:
                error = NewConnectionError(self, f"Failed to establish a new connection to {address}: {e}")
            else:
                _watch(sock)
                return sock
        raise error

    def request(self, *args, **kwargs):
        _watch(self.sock)  # a kept-alive connection, reused by this exchange
        return super().request(*args, **kwargs)


def pinned_pool_classes(safety: SafetyCheck) -> dict:
    """urllib3 pool classes (by scheme) whose connections use `safety`'s addresses."""

    class PinnedHTTPConnection(_PinnedConnection, HTTPConnection):
        pass

    class PinnedHTTPSConnection(_PinnedConnection, HTTPSConnection):
        pass

    PinnedHTTPConnection.safety = PinnedHTTPSConnection.safety = safety

    class PinnedHTTPPool(HTTPConnectionPool):
        ConnectionCls = PinnedHTTPConnection

    class PinnedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = PinnedHTTPSConnection

    return {"http": PinnedHTTPPool, "https": PinnedHTTPSPool}


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter that checks each request with `safety` and connects to the checked addresses."""

    def __init__(self, safety: SafetyCheck, **kwargs):
        self.safety = safety  # before super().__init__, which builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = pinned_pool_classes(self.safety)

    def send(self, request, **kwargs):
        try:
            self.safety(request.url)
        except FetchRejected as e:
            raise UnsafeURL(e.reason, str(e), request=request) from None
        except FetchFailed as e:
            raise requests.exceptions.ConnectionError(str(e), request=request) from None
        return super().send(request, **kwargs)


def guard_session(session: requests.Session, safety: SafetyCheck) -> requests.Session:
    """Mount the guarded adapter for http and https on `session` (more specific mounts keep precedence)."""
    adapter = GuardedAdapter(safety)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def session_safety(session: requests.Session) -> SafetyCheck | None:
    """The SafetyCheck a guarded session uses, or None for a plain session."""
    return getattr(session.adapters.get("http://"), "safety", None)
