"""The connections to one scheme, host and port: at most ``limit`` open, idle ones reused.

Each request takes an HTTP/2 connection with a free stream, or an idle HTTP/1.1 one, or
opens one while fewer than ``limit`` are open, or waits for one to be given back. An
HTTP/1.1 connection given back in the middle of an exchange (timed out, cancelled) or unable
to carry another request is closed, and its place freed; an HTTP/2 one resets that stream
only. Over TLS the server chooses (ALPN): until the first connection tells, and while an
HTTP/2 connection is being opened, other requests wait for it rather than open their own.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import NamedTuple, Protocol

import requests

from ..session import Reply
from ..wire.content import decode_body
from ..wire.errors import InvalidHeaderError
from ..wire.h1 import request, request_head
from .dial import Address, Dialer, Resolver, close_inherited
from .h1 import H1Connection
from .h2 import Connection, H2Link, NotProcessed, content_length, header_block

__all__ = ["Address", "Headers", "Origin", "Request", "close_inherited"]

Headers = tuple[tuple[str, str], ...]


class Request(NamedTuple):
    """One request of a fan-out: every header but ``Host`` and ``Content-Length``."""

    method: str
    target: str
    headers: Headers
    body: bytes | None


class _Answer(Protocol):
    """An HTTP/1.1 or HTTP/2 response, as the codecs give it."""

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> Headers: ...
    @property
    def body(self) -> bytes: ...
    def get(self, name: str, default: str | None = None) -> str | None: ...


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
        self._links: list[H2Link] = []  # HTTP/2 connections still taking new streams
        self._every: set[Connection] = set()  # open or opening, idle or busy, winding down
        self._open = 0
        self._opening = 0
        #: "h2" or "http/1.1" once a connection told (plain HTTP: HTTP/1.1 from the start).
        self._protocol: str | None = None if address.tls is not None and address.http2 else "http/1.1"
        self._opening_failed = False  # then requests open their own connections, as HTTP/1.1's do
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()
        self._dialer = Dialer(loop, address, resolve, max_body)
        #: The request's HTTP/1.1 head and its HTTP/2 fields, each encoded once for a run of
        #: requests with the same method, target and headers.
        self._encode = _LastHeaders(
            lambda req: request_head(req.method, req.target, address.authority, req.headers)
        )
        self._h2_fields = _LastHeaders(
            lambda req: header_block(req.method, address.scheme, address.authority, req.target, req.headers)
        )

    @property
    def open_connections(self) -> int:
        """Connections open or being opened now (HTTP/2 ones winding down included)."""
        return self._open

    @property
    def protocol(self) -> str | None:
        """``"h2"`` or ``"http/1.1"``, as the server chose; None until a connection told."""
        return self._protocol

    async def exchange(self, req: Request, deadline: float, connect: float, read: float) -> Reply:
        """Send ``req`` on a connection of this origin; its whole answer within ``read``
        seconds of writing it, and by ``deadline`` (a connection is opened within ``connect``).

        :raises requests.RequestException: ``ConnectTimeout``, ``ConnectionError``,
            ``SSLError`` before the answer began, ``ReadTimeout`` once its time passed;
            :class:`~fcmclient._http.engine.h2.NotProcessed` for a request an HTTP/2 server
            refused unprocessed.
        """
        try:
            head = self._encode(req)  # a header that cannot be sent costs no connection
        except InvalidHeaderError as exc:
            raise requests.exceptions.InvalidHeader(str(exc)) from None
        conn = await self._acquire(deadline, connect)
        loop = self._loop
        try:
            if loop.time() >= deadline:  # no time left to send it in: it is not sent
                raise requests.ConnectTimeout(f"no connection to {self.address.where} within the time bound")
            if isinstance(conn, H2Link):
                if not conn.room():  # the server lowered its limit meanwhile: nothing written
                    raise NotProcessed(f"{self.address.where} takes no new request on this connection")
                stream_id, answer = conn.exchange(self._header_block(req), req.body or b"")
                timer = loop.call_at(min(deadline, loop.time() + read), conn.out_of_time, stream_id)
                try:
                    response: _Answer = await answer
                finally:
                    timer.cancel()
                    conn.give_up(stream_id)  # a stream still open (the caller stopped waiting) is reset
            else:
                data = request(head, req.body)
                timer = loop.call_at(min(deadline, loop.time() + read), conn.out_of_time)
                try:
                    response = await conn.exchange(data, head=req.method == "HEAD")
                finally:
                    timer.cancel()
        except InvalidHeaderError as exc:
            raise requests.exceptions.InvalidHeader(str(exc)) from None
        finally:
            self._release(conn)
        return self._reply(response)

    def close(self) -> None:
        """Close every connection at once (an exchange under way fails); open no more."""
        self.limit = 0
        self._idle, self._links = [], []
        for conn in list(self._every):
            conn.abort()

    def _reply(self, response: _Answer) -> Reply:
        """The :class:`Reply` of an HTTP/1.1 or HTTP/2 response, its body decoded."""
        body = response.body
        fields: dict[str, str] = {}  # names as received: decoders look them up in any case
        for name, value in response.headers:
            fields[name] = f"{fields[name]}, {value}" if name in fields else value
        encoding = response.get("Content-Encoding")
        if encoding is not None:
            body = decode_body(encoding, body, self._max_body)[0]
        return Reply(response.status, fields, body)

    # Connections --------------------------------------------------------------------------

    async def _acquire(self, deadline: float, connect_timeout: float) -> Connection:
        while True:
            link = next((link for link in self._links if link.room()), None)
            if link is not None:
                return link
            conn = await self._take_idle()
            if conn is not None:
                return conn
            if self._open < self.limit and not self._wait_for_opening():
                opened = await self._open_one(deadline, connect_timeout)
                if opened is not None:
                    return opened
                continue  # an HTTP/2 connection that ended at once, or was filled meanwhile
            handed = await self._wait_for_turn(deadline)
            if handed is None:
                continue  # a free place: open a connection if it is still free
            if await self._usable(handed):
                return handed
            if isinstance(handed, H1Connection):
                self._drop(handed)  # closed while it was being handed over

    def _wait_for_opening(self) -> bool:
        """Whether a request should wait for the connection being opened rather than open its
        own: while the server's choice of protocol is unknown, and for HTTP/2 (whose one
        connection carries many requests), unless opening one failed."""
        return self._opening > 0 and self._protocol != "http/1.1" and not self._opening_failed

    async def _open_one(self, deadline: float, connect_timeout: float) -> Connection | None:
        """A new connection for this request, or None if it turned out HTTP/2 with no stream free.

        :raises NotProcessed: the server ended its HTTP/2 connection before the first request,
            or allows no stream on it (then every request waiting is not processed either).
        :raises requests.ConnectionError: the server closed a new HTTP/1.1 connection at once.
        """
        if self._loop.time() >= deadline:  # no time to connect in: not a failure of the server's
            raise requests.ConnectTimeout(f"no connection to {self.address.where} within the time bound")
        self._open += 1
        self._opening += 1
        try:
            conn = await self._connect(min(connect_timeout, max(deadline - self._loop.time(), 0.0)))
        except BaseException as exc:
            self._open -= 1
            self._opening -= 1
            if not isinstance(exc, asyncio.CancelledError):  # then the waiters open their own
                self._opening_failed = True
            self._wake_all()
            raise
        self._opening -= 1
        self._opening_failed = False
        if isinstance(conn, H1Connection):
            if self._protocol != "http/1.1":  # the requests that waited to know open their own now
                self._protocol = "http/1.1"
                self._wake_all()
            if not conn.idle:  # closed, or sent something unasked, before its first request
                self._drop(conn)
                raise requests.ConnectionError(
                    f"{self.address.where} closed the connection before the request"
                )
            return conn
        self._protocol = "h2"
        if conn.gone:  # lost before it was kept
            self._open -= 1
            self._every.discard(conn)
            self._wake_all()
            raise NotProcessed(f"{self.address.where} closed the HTTP/2 connection before the first request")
        conn.on_end, conn.on_lost = self._link_ended, self._link_lost
        if conn.closed or not conn.room():  # a GOAWAY, or no stream allowed: the server is not taking
            conn.abort()  # requests; its place is freed once it is gone
            why = NotProcessed(f"{self.address.where} takes no request on a new HTTP/2 connection")
            self._fail_waiters(why)
            raise why
        conn.on_room = self._hand_streams
        self._links.append(conn)
        self._hand_streams(conn, keep=1)  # this request takes one stream, waiters the others
        if self._waiters:  # more waiting than it carries: one of them opens another
            self._wake_one(None)
        return conn

    def _hand_streams(self, link: H2Link, keep: int = 0) -> None:
        """Give waiters the streams ``link`` has free (but ``keep``); if some still wait, one
        of them opens another connection."""
        while link.room() > keep and self._wake_one(link):
            pass
        if self._waiters:
            self._wake_one(None)

    def _fail_waiters(self, why: requests.RequestException) -> None:
        """Every request waiting for a connection fails with ``why`` (nothing was sent for it)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(why)

    def _link_ended(self, link: H2Link) -> None:
        """An HTTP/2 connection takes no new stream (its place stays taken until it is gone)."""
        if link in self._links:
            self._links.remove(link)
        self._wake_one(None)

    def _link_lost(self, link: H2Link) -> None:
        """An HTTP/2 connection is gone: its place is free."""
        if link in self._links:  # normally gone already: its end came first
            self._links.remove(link)
        self._every.discard(link)
        self._open -= 1
        self._wake_one(None)

    def _wake_all(self) -> None:
        """Every waiter looks again (a connection failed, or the protocol is now known)."""
        for _ in range(len(self._waiters)):
            if not self._wake_one(None):
                break

    async def _take_idle(self) -> H1Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if await self._usable(conn):
                return conn
            self._drop(conn)
        return None

    async def _usable(self, conn: Connection) -> bool:
        """Whether ``conn``, taken by the caller, can carry a request: an HTTP/2 one with a
        free stream, or an HTTP/1.1 one open with nothing unread on its socket (a server's
        close the loop has not seen yet is given one turn of the loop to show, as urllib3
        polls a pooled connection before reusing it)."""
        if isinstance(conn, H2Link):
            return conn.room() > 0
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

    async def _wait_for_turn(self, deadline: float) -> Connection | None:
        """Wait until a connection (or a free place, ``None``) is handed over, by ``deadline``.

        A waiter cancelled after something was handed to it passes that on: nothing is lost.
        """
        waiter: asyncio.Future[Connection | None] = self._loop.create_future()
        self._waiters.append(waiter)
        timer = self._loop.call_at(deadline, _expire, waiter, self.address)
        try:
            handed = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                handed = waiter.result()
                if isinstance(handed, H2Link):
                    handed.reserved -= 1
                if handed is not None:
                    self._release(handed)
                else:
                    self._wake_one(None)
            raise
        finally:
            timer.cancel()
        if isinstance(handed, H2Link):  # the stream promised is this request's to take now
            handed.reserved -= 1
        return handed

    def _drop(self, conn: H1Connection) -> None:
        conn.abort()
        self._every.discard(conn)
        self._open -= 1
        self._wake_one(None)

    def _release(self, conn: Connection) -> None:
        if isinstance(conn, H2Link):
            while conn.room() and self._wake_one(conn):
                pass
            return
        if not conn.idle or self._open > self.limit:
            self._drop(conn)
            return
        if not self._wake_one(conn):
            self._idle.append(conn)

    def _wake_one(self, conn: Connection | None) -> bool:
        """Hand ``conn`` (or a free place, ``None``) to the first waiter still waiting."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                if isinstance(conn, H2Link):  # kept for that request until it resumes
                    conn.reserved += 1
                return True
        return False

    async def _connect(self, timeout: float) -> Connection:
        conn = await self._dialer.connect(timeout)
        self._every.add(conn)
        return conn

    def _header_block(self, req: Request) -> bytes:
        """The request's HTTP/2 header block, with its ``content-length``."""
        block = self._h2_fields(req)
        return block if req.body is None else block + content_length(len(req.body))


class _LastHeaders:
    """``make(request)``, made again only when a request's method, target or headers (by
    identity: a fan-out shares one tuple) differ from the last one's."""

    __slots__ = ("_key", "_make", "_value")

    def __init__(self, make: Callable[[Request], bytes]) -> None:
        self._make = make
        self._key: tuple[str, str, Headers] | None = None
        self._value = b""

    def __call__(self, req: Request) -> bytes:
        key = self._key
        if key is None or key[2] is not req.headers or key[0] != req.method or key[1] != req.target:
            self._value = self._make(req)  # may raise InvalidHeaderError: then nothing is kept
            self._key = (req.method, req.target, req.headers)
        return self._value


def _expire(waiter: asyncio.Future[Connection | None], address: Address) -> None:
    if not waiter.done():
        waiter.set_exception(
            requests.ConnectTimeout(f"no connection to {address.where} became free within the time bound")
        )
