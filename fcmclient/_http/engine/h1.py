"""One HTTP/1.1 keep-alive connection as an asyncio protocol, one request at a time.

An answer is only ever handed to the request written just before it on this connection: a
connection carries one exchange at a time, and one that is cut, timed out, given up or left
with bytes nobody asked for is closed, never reused (so a late answer cannot reach the next
request).
"""

from __future__ import annotations

import asyncio
import select
import ssl

import requests

from ..wire.errors import ProtocolError
from ..wire.h1 import Response, ResponseParser

__all__ = ["H1Connection", "lost"]


class H1Connection(asyncio.Protocol):
    """The client side of one connection; :meth:`exchange` sends a request and awaits its answer.

    :param loop: the loop the connection runs on.
    :param max_body: the most body bytes kept of an answer (the rest is discarded unread).
    :param where: ``host:port``, for error messages.
    """

    __slots__ = ("_loop", "_max_body", "_parser", "_transport", "_waiter", "closed", "where")

    def __init__(self, loop: asyncio.AbstractEventLoop, max_body: int, where: str) -> None:
        self._loop = loop
        self._max_body = max_body
        self._parser = ResponseParser(max_body=max_body)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Response] | None = None
        #: Once True, the connection takes no more requests.
        self.closed = False
        self.where = where

    # asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            # Bytes no request of this connection is waiting for (a stray answer, or the start
            # of one): never let them reach the next request.
            self._fail(requests.ConnectionError(f"{self.where} sent an answer nobody asked for"))
            return
        try:
            responses = self._parser.feed(data)
        except ProtocolError as exc:
            self._fail(requests.ConnectionError(f"invalid HTTP answer from {self.where}: {exc}"))
            return
        if not responses:
            return
        self._waiter = None
        response = responses[0]
        if not response.keep_alive or len(responses) > 1 or not self._parser.at_rest:
            # Anything after the answer to this request (a second answer, or part of one):
            # the connection is not trusted with another request.
            self.abort()
        waiter.set_result(response)

    def eof_received(self) -> bool:
        response = self._parser.eof()
        waiter, self._waiter = self._waiter, None
        self.closed = True
        if waiter is not None and not waiter.done():
            if response is not None:
                waiter.set_result(response)
            else:
                waiter.set_exception(
                    requests.ConnectionError(f"{self.where} closed the connection before answering")
                )
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(lost(exc, self.where))

    # Requests -----------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """Whether the connection can carry a request now."""
        return not self.closed and self._waiter is None and self._transport is not None

    def exchange(self, data: bytes, *, head: bool = False) -> asyncio.Future[Response]:
        """Write one whole request (``head``: a ``HEAD``, answered without a body); the future
        gets its answer, or a requests exception."""
        if self._transport is None or not self.idle:
            raise requests.ConnectionError(f"the connection to {self.where} cannot carry a request now")
        waiter: asyncio.Future[Response] = self._loop.create_future()
        self._waiter = waiter
        if head:
            self._parser.head_sent()
        self._transport.write(data)
        return waiter

    def bytes_waiting(self) -> bool:
        """Whether the socket holds bytes (or an end) the loop has not read yet: a connection
        to check again after one turn of the loop before it carries a request."""
        transport = self._transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is None:
            return True
        try:
            if hasattr(select, "poll"):
                poller = select.poll()
                poller.register(sock.fileno(), select.POLLIN)
                return bool(poller.poll(0))
            return bool(select.select([sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def abort(self) -> None:
        """Close at once, discarding anything unsent or unread; the connection is done."""
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    def out_of_time(self) -> None:
        """The exchange under way ran out of time: close the connection, and answer with what
        arrived if the status line and headers did (its body cut, ``truncated``), as requests'
        path does: once the status arrived it decides. Otherwise fail with ``ReadTimeout``."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            partial = self._parser.eof()
            if partial is not None:
                self._waiter = None
                self.abort()
                waiter.set_result(partial)
                return
        self._fail(requests.ReadTimeout(f"no whole answer from {self.where} within the request's time bound"))

    def _fail(self, why: requests.RequestException) -> None:
        waiter, self._waiter = self._waiter, None
        self.abort()
        if waiter is not None and not waiter.done():
            waiter.set_exception(why)


def lost(exc: Exception | None, where: str) -> requests.RequestException:
    """The requests exception for a connection lost with ``exc`` (as requests would raise)."""
    if exc is None:
        return requests.ConnectionError(f"the connection to {where} closed before the answer")
    if isinstance(exc, ssl.SSLError):
        return requests.exceptions.SSLError(f"TLS error with {where}: {exc}")
    return requests.ConnectionError(f"the connection to {where} was lost: {type(exc).__name__}: {exc}")
