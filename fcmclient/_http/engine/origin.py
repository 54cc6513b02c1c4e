"""The connections to one scheme, host and port: at most ``limit`` open, idle ones reused.

Each request takes an idle connection, or opens one while fewer than ``limit`` are open, or
waits for one to be given back. A connection given back in the middle of an exchange (timed
out, cancelled) or unable to carry another request is closed, and its place freed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import ssl
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import requests

from ..session import Reply
from ..wire.content import decode_body
from ..wire.errors import InvalidHeaderError
from ..wire.h1 import request, request_head
from .h1 import H1Connection

__all__ = ["Address", "Origin", "Request", "close_inherited"]

#: Seconds a resolved address list is reused for new connections to the same host.
RESOLVED_FOR = 30.0

Headers = tuple[tuple[str, str], ...]

#: Every socket the engine opened, with the id of the process that opened it.
_OPENED: weakref.WeakKeyDictionary[socket.socket, int] = weakref.WeakKeyDictionary()


def close_inherited() -> None:
    """Close this process's copies of the engine sockets another process opened (a forked
    child's), so that the parent's close really closes them. Only the descriptor is closed:
    no shutdown, no TLS alert, nothing written, and the inherited loop (whose selector the
    parent still uses) is never touched."""
    here = os.getpid()
    while True:
        try:
            inherited = [sock for sock, pid in _OPENED.items() if pid != here]
            break
        except RuntimeError:  # changed while being read: look again
            continue
    for sock in inherited:
        _OPENED.pop(sock, None)
        sock.close()


class Request(NamedTuple):
    """One request of a fan-out: every header but ``Host`` and ``Content-Length``."""

    method: str
    target: str
    headers: Headers
    body: bytes | None


@dataclass(frozen=True)
class Address:
    """Where an :class:`Origin` connects, and how."""

    scheme: str
    host: str
    port: int
    #: The TLS context (``https``), or None.
    tls: ssl.SSLContext | None
    #: The ``Host`` header value.
    authority: str

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


Resolver = Callable[[str, int], Awaitable[Sequence[tuple[int, str]]]]


class Origin:
    """Up to ``limit`` connections to ``address``, on one loop.

    :param resolve: gives ``(family, ip)`` pairs for a host and port, off the loop's thread.
    :param limit: the most connections open at once.
    :param max_body: the most bytes of an answer's body kept.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        address: Address,
        resolve: Resolver,
        limit: int,
        max_body: int,
    ) -> None:
        self._loop = loop
        self.address = address
        self._resolve = resolve
        self.limit = limit
        self._max_body = max_body
        self._idle: list[H1Connection] = []
        self._every: set[H1Connection] = set()  # open or opening, idle or busy
        self._open = 0
        self._waiters: deque[asyncio.Future[H1Connection | None]] = deque()
        self._resolved: tuple[float, Sequence[tuple[int, str]]] | None = None
        self._resolving: asyncio.Future[Sequence[tuple[int, str]]] | None = None
        self._head: tuple[str, str, Headers, bytes] | None = None

    @property
    def open_connections(self) -> int:
        """Connections open or being opened now."""
        return self._open

    async def exchange(self, req: Request, deadline: float, connect: float, read: float) -> Reply:
        """Send ``req`` on a connection of this origin; its whole answer within ``read``
        seconds of writing it, and by ``deadline`` (a connection is opened within ``connect``).

        :raises requests.RequestException: ``ConnectTimeout``, ``ConnectionError``,
            ``SSLError`` before the answer began, ``ReadTimeout`` once its time passed.
        """
        try:
            head = self._encode(req)
        except InvalidHeaderError as exc:
            raise requests.exceptions.InvalidHeader(str(exc)) from None
        conn = await self._acquire(deadline, connect)
        loop = self._loop
        if loop.time() >= deadline:  # no time left to send it in: it is not sent
            self._release(conn)
            raise requests.ConnectTimeout(f"no connection to {self.address.where} within the time bound")
        timer = loop.call_at(min(deadline, loop.time() + read), conn.out_of_time)
        try:
            response = await conn.exchange(request(head, req.body), head=req.method == "HEAD")
        finally:
            timer.cancel()
            self._release(conn)
        fields: dict[str, str] = {}  # names as received: decoders look them up in any case
        for name, value in response.headers:
            fields[name] = f"{fields[name]}, {value}" if name in fields else value
        encoding = response.get("Content-Encoding")
        body = response.body if encoding is None else decode_body(encoding, response.body, self._max_body)[0]
        return Reply(response.status, fields, body)

    def close(self) -> None:
        """Close every connection at once (an exchange under way fails); open no more."""
        self.limit = 0
        self._idle = []
        for conn in self._every:
            conn.abort()

    # Connections --------------------------------------------------------------------------

    async def _acquire(self, deadline: float, connect_timeout: float) -> H1Connection:
        while True:
            conn = await self._take_idle()
            if conn is not None:
                return conn
            if self._open < self.limit:
                break
            handed = await self._wait_for_turn(deadline)
            if handed is None:
                continue  # a free place: open a connection if it is still free
            if await self._usable(handed):
                return handed
            self._drop(handed)  # closed while it was being handed over
        self._open += 1
        try:
            return await self._connect(min(connect_timeout, max(deadline - self._loop.time(), 0.0)))
        except BaseException:
            self._open -= 1
            self._wake_one(None)
            raise

    async def _take_idle(self) -> H1Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if await self._usable(conn):
                return conn
            self._drop(conn)
        return None

    async def _usable(self, conn: H1Connection) -> bool:
        """Whether ``conn``, taken by the caller, can carry a request: open, and nothing unread
        on its socket (a server's close the loop has not seen yet is given one turn of the
        loop to show, as urllib3 polls a pooled connection before reusing it)."""
        if not conn.idle:
            return False
        if not conn.bytes_waiting():
            return True
        try:
            await asyncio.sleep(0)
        except BaseException:  # cancelled meanwhile: the connection goes back
            self._release(conn)
            raise
        return conn.idle

    async def _wait_for_turn(self, deadline: float) -> H1Connection | None:
        """Wait until a connection (or a free place, ``None``) is handed over, by ``deadline``.

        A waiter cancelled after something was handed to it passes that on: nothing is lost.
        """
        waiter: asyncio.Future[H1Connection | None] = self._loop.create_future()
        self._waiters.append(waiter)
        timer = self._loop.call_at(deadline, _expire, waiter, self.address)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                handed = waiter.result()
                if handed is not None:
                    self._release(handed)
                else:
                    self._wake_one(None)
            raise
        finally:
            timer.cancel()

    def _drop(self, conn: H1Connection) -> None:
        conn.abort()
        self._every.discard(conn)
        self._open -= 1
        self._wake_one(None)

    def _release(self, conn: H1Connection) -> None:
        if not conn.idle or self._open > self.limit:
            self._drop(conn)
            return
        if not self._wake_one(conn):
            self._idle.append(conn)

    def _wake_one(self, conn: H1Connection | None) -> bool:
        """Hand ``conn`` (or a free place, ``None``) to the first waiter still waiting."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return True
        return False

    async def _connect(self, timeout: float) -> H1Connection:
        address = self.address
        give_up = self._loop.time() + timeout
        try:
            addresses = await asyncio.wait_for(asyncio.shield(self._addresses()), timeout)
        except asyncio.TimeoutError:
            raise requests.ConnectTimeout(f"resolving {address.host} took over {timeout:g} s") from None
        failure: requests.RequestException | None = None
        for family, ip in addresses:
            left = give_up - self._loop.time()
            if left <= 0:
                break
            try:
                conn = await asyncio.wait_for(self._dial(family, ip), left)
            except asyncio.TimeoutError:
                break
            except (OSError, ssl.SSLError, ssl.CertificateError) as exc:
                failure = _connect_error(exc, address)
                continue
            self._every.add(conn)
            return conn
        raise failure or requests.ConnectTimeout(f"connecting to {address.where} took over {timeout:g} s")

    async def _dial(self, family: int, ip: str) -> H1Connection:
        """A connection to ``ip``, on a socket of this process's own (see :func:`close_inherited`)."""
        address, loop = self.address, self._loop
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            _OPENED[sock] = os.getpid()
            await loop.sock_connect(sock, (ip, address.port))
            conn = H1Connection(loop, self._max_body, address.where)
            tls, name = address.tls, address.host if address.tls is not None else None
            await loop.create_connection(lambda: conn, sock=sock, ssl=tls, server_hostname=name)
        except BaseException:  # failed, timed out or cancelled: nothing is left open
            sock.close()
            raise
        return conn

    async def _addresses(self) -> Sequence[tuple[int, str]]:
        """The host's addresses: an IP literal as it is, a name looked up once for every
        connection opened meanwhile, then kept for :data:`RESOLVED_FOR` seconds."""
        literal = _ip_literal(self.address.host)
        if literal is not None:
            return literal
        resolved = self._resolved
        if resolved is not None and time.monotonic() - resolved[0] < RESOLVED_FOR:
            return resolved[1]
        if self._resolving is None:
            self._resolving = asyncio.ensure_future(self._look_up())
            self._resolving.add_done_callback(_retrieved)
        return await asyncio.shield(self._resolving)

    async def _look_up(self) -> Sequence[tuple[int, str]]:
        now = time.monotonic()
        try:
            found = await self._resolve(self.address.host, self.address.port)
        except OSError as exc:
            raise requests.ConnectionError(
                f"cannot resolve {self.address.host}: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            self._resolving = None
        self._resolved = (now, found)
        return found

    def _encode(self, req: Request) -> bytes:
        """The request's head, encoded once for a run of requests with the same headers."""
        cached = self._head
        if (
            cached is not None
            and cached[2] is req.headers
            and cached[0] == req.method
            and cached[1] == req.target
        ):
            return cached[3]
        head = request_head(req.method, req.target, self.address.authority, req.headers)
        self._head = (req.method, req.target, req.headers, head)
        return head


def _retrieved(task: asyncio.Future[Any]) -> None:
    """Mark a shared lookup's failure as seen (its waiters may all have given up)."""
    if not task.cancelled():
        task.exception()


def _ip_literal(host: str) -> list[tuple[int, str]] | None:
    """``host`` as an address to connect to, if it is an IP address (no lookup needed)."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, str(ip))]


def _expire(waiter: asyncio.Future[H1Connection | None], address: Address) -> None:
    if not waiter.done():
        waiter.set_exception(
            requests.ConnectTimeout(f"no connection to {address.where} became free within the time bound")
        )


def _connect_error(exc: BaseException, address: Address) -> requests.RequestException:
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
        return requests.exceptions.SSLError(f"TLS handshake with {address.where} failed: {exc}")
    return requests.ConnectionError(f"cannot connect to {address.where}: {type(exc).__name__}: {exc}")
