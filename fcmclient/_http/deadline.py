"""A total deadline for one HTTP request, on top of requests' per-read timeouts.

requests (and urllib3) apply the read timeout to each socket read, so a server that sends
one byte every few seconds can hold a request for ever. Here every read of the answer,
status line, headers and body alike, waits at most for what is left of the request's
deadline, and connecting never waits beyond it either.

It takes two pieces: :class:`DeadlineAdapter`, mounted on a session, makes urllib3 use
connections whose answers are read this way; :func:`deadline` sets the deadline for the
requests the current thread makes inside its ``with`` block. Outside such a block the
connections behave exactly like urllib3's own. Nothing here starts a thread.
"""

from __future__ import annotations

import http.client
import io
import threading
import time
import weakref
from typing import Any

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from urllib3 import connection, connectionpool

from .intercept import urllib3_is_watched
from .process import ProcessGuard, forks

__all__ = ["Deadline", "DeadlineAdapter", "close_inherited", "deadline"]

_local = threading.local()


class Deadline:
    """The moment (on :func:`time.monotonic`) by which a request must be over.

    :param seconds: how long from now.
    """

    __slots__ = ("at", "made_in")

    def __init__(self, seconds: float) -> None:
        #: The moment it passes, on the monotonic clock.
        self.at = time.monotonic() + seconds
        #: The forks stamp of the process whose request this is (:func:`~.process.forks`).
        self.made_in = forks()

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - time.monotonic()

    @property
    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.remaining() <= 0


class deadline:  # noqa: N801  # used like a function: ``with deadline(5.0):``
    """Give the requests this thread makes inside the block ``seconds`` in total.

    Nests: an inner block never extends an outer one's deadline. (A class rather than a
    generator-based context manager: it runs once per request of a fan-out.)

    :param seconds: the time allowed, from now.

    >>> with deadline(30.0) as outer, deadline(60.0) as inner:
    ...     inner is outer
    True
    """

    __slots__ = ("_outer", "_seconds")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._outer: Deadline | None = None

    def __enter__(self) -> Deadline:
        outer: Deadline | None = getattr(_local, "deadline", None)
        current = Deadline(self._seconds)
        if outer is not None and outer.at < current.at:
            current = outer
        self._outer = outer
        _local.deadline = current
        return current

    def __exit__(self, *exc_info: object) -> None:
        _local.deadline = self._outer


def _timed_out() -> TimeoutError:
    return TimeoutError("the request's total deadline passed")


class _DeadlineReader(io.RawIOBase):
    """Reads a socket's raw file, each read waiting at most for what is left of the deadline.

    It stands between the response's buffer and ``socket.makefile()``'s raw reader (which
    keeps the socket open for the response even when the connection lets go of it).
    """

    def __init__(self, raw: Any, sock: Any, until: Deadline) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._until = until
        self._base = sock.gettimeout()  # the read timeout urllib3 (or the channel) set
        self._current = self._base

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        remaining = self._until.at - time.monotonic()
        if remaining <= 0:
            raise _timed_out()
        # Shrink the socket's timeout only when the deadline is nearer than it: each
        # settimeout() is a system call, and a fast answer never needs one.
        current = self._current
        if current is None or current > remaining:
            self._sock.settimeout(remaining)
            self._current = remaining
        count: int | None = self._raw.readinto(buffer)
        return count

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
                if self._current != self._base and self._sock.fileno() != -1:
                    self._sock.settimeout(self._base)  # kept alive: the next request starts afresh
            except OSError:
                pass
            finally:
                super().close()


class _ReaderSource:
    """What :class:`http.client.HTTPResponse` takes as its socket: only ``makefile`` is used.

    It builds the response's file once, deadline-aware, instead of wrapping a finished one.
    """

    __slots__ = ("_sock", "_until")

    def __init__(self, sock: Any, until: Deadline) -> None:
        self._sock = sock
        self._until = until

    def makefile(self, mode: str) -> io.BufferedReader:
        raw = self._sock.makefile(mode, buffering=0)
        return io.BufferedReader(_DeadlineReader(raw, self._sock, self._until))


class _DeadlineResponse(http.client.HTTPResponse):
    """An answer whose reads honour the current thread's deadline, if any."""

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        until: Deadline | None = getattr(_local, "deadline", None)
        source: Any = sock if until is None else _ReaderSource(sock, until)
        super().__init__(source, *args, **kwargs)


def _connect_within_deadline(conn: connection.HTTPConnection) -> None:
    until: Deadline | None = getattr(_local, "deadline", None)
    if until is None:
        return
    remaining = until.remaining()
    if remaining <= 0:
        raise _timed_out()
    timeout = conn.timeout
    if not isinstance(timeout, (int, float)) or timeout > remaining:
        conn.timeout = remaining


# The classes keep urllib3's names: they show in urllib3's and requests' error messages.


#: Every connection these classes opened, in this process or (after a fork) in a parent.
_OPENED: weakref.WeakSet[Any] = weakref.WeakSet()

#: Where a connection keeps its socket (behind :class:`_ThisProcess`).
_SOCK = "_fcm_sock"


def _connect_here(conn: Any, connect: Any) -> None:
    """``connect()`` ``conn`` within the current deadline, for this process only.

    A request a green thread began before a fork never connects in the child (gevent carries
    green threads into it): its parent sends it, or already did.
    """
    until: Deadline | None = getattr(_local, "deadline", None)
    if until is not None and until.made_in != forks():
        raise ConnectionError("this process was forked from the one that made this request")
    _connect_within_deadline(conn)
    started = forks()
    conn.opened_in = None  # while it connects, close_inherited() leaves its socket alone
    connect()
    if forks() != started:  # forked while connecting (a green thread survives a fork): the parent's
        conn.close()
        raise ConnectionError("the process forked while this connection was being opened")
    conn.opened_in = ProcessGuard()
    _OPENED.add(conn)


def _foreign(conn: Any) -> bool:
    """Whether another process (a forked child's parent) opened ``conn``'s socket.

    Read its socket before asking: a connection reconnecting in this process sets
    ``opened_in`` to None before its new socket, and its own guard after it.
    """
    opened_in: ProcessGuard | None = conn.__dict__.get("opened_in")
    return opened_in is not None and not opened_in.owned()


def close_inherited() -> None:
    """Close this process's copies of the sockets another process opened (a forked child's).

    Only each inherited socket object is closed, never shut down (the parent's connections
    stay open), and never the connection holding it: a thread of this process may be reusing
    that connection already, on a socket of its own. It takes no lock, so a lock a parent
    thread held at the fork cannot block it.
    """
    while True:
        try:
            connections = list(_OPENED)
            break
        except RuntimeError:  # another thread connected meanwhile: look again
            continue
    for conn in connections:
        sock = conn.__dict__.get(_SOCK)
        if sock is not None and _foreign(conn):
            sock.close()  # this process's copy only; the connection's ``sock`` reads as gone


class _ThisProcess:
    """The ``sock`` of a connection, seen only by the process that opened it.

    Before lending a kept connection, urllib3 checks whether it was dropped by reading its
    ``sock`` (``is_connection_dropped`` in 1.26, ``is_connected`` in 2.x). In a forked child
    the inherited socket reads as gone: the child's copy of the descriptor is closed (never
    shut down, which would cut the parent's connection) and the pool connects afresh, so an
    answer is only ever read by the process that sent the request.
    """

    def __get__(self, conn: Any, owner: type | None = None) -> Any:
        if conn is None:
            return self
        sock = conn.__dict__.get(_SOCK)
        if sock is not None and _foreign(conn):
            conn.__dict__["opened_in"] = None
            conn.__dict__[_SOCK] = None
            sock.close()  # this process's copy only
            return None
        return sock

    def __set__(self, conn: Any, sock: Any) -> None:
        conn.__dict__[_SOCK] = sock


class HTTPConnection(connection.HTTPConnection):
    """urllib3's connection, connecting and reading within the current deadline."""

    response_class = _DeadlineResponse
    sock = _ThisProcess()
    #: The process that opened the socket (``None`` until connected).
    opened_in: ProcessGuard | None = None

    def connect(self) -> None:
        _connect_here(self, super().connect)


class HTTPSConnection(connection.HTTPSConnection):
    """urllib3's TLS connection, connecting and reading within the current deadline."""

    response_class = _DeadlineResponse
    sock = _ThisProcess()
    #: The process that opened the socket (``None`` until connected).
    opened_in: ProcessGuard | None = None

    def connect(self) -> None:
        _connect_here(self, super().connect)


class HTTPConnectionPool(connectionpool.HTTPConnectionPool):
    """urllib3's pool of :class:`HTTPConnection`."""

    ConnectionCls = HTTPConnection


class HTTPSConnectionPool(connectionpool.HTTPSConnectionPool):
    """urllib3's pool of :class:`HTTPSConnection`."""

    ConnectionCls = HTTPSConnection


_POOLS = {"http": HTTPConnectionPool, "https": HTTPSConnectionPool}


class DeadlineAdapter(HTTPAdapter):
    """An :class:`~requests.adapters.HTTPAdapter` whose connections honour :func:`deadline`.

    Takes the same arguments. Direct connections and HTTP(S) proxies are covered; a SOCKS
    proxy keeps urllib3's own connections (per-read timeouts only). While a piece of urllib3
    or http.client is replaced (vcrpy, a tracing agent:
    :func:`~fcmclient._http.intercept.urllib3_is_watched`), requests go through urllib3's own
    pool classes instead, where the replacement sees them (and only per-read timeouts apply).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._plain = HTTPAdapter(*args, **kwargs)
        super().__init__(*args, **kwargs)

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        """Send as :meth:`HTTPAdapter.send <requests.adapters.HTTPAdapter.send>` does."""
        if urllib3_is_watched():
            return self._plain.send(request, *args, **kwargs)
        return super().send(request, *args, **kwargs)

    def close(self) -> None:
        """Close every pooled connection, the plain adapter's included."""
        self._plain.close()
        super().close()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOLS
        return manager
