"""One HTTP/2 connection (ALPN "h2") as an asyncio protocol: many exchanges at once, a stream each.

Stream ids are never reused, so an answer can only reach the request whose stream it ends:
a stream given up (timed out, cancelled) is reset and the connection goes on carrying the
others. A connection the server winds down (GOAWAY) or that breaks takes no new stream;
its :attr:`H2Link.on_end` callback is told once, the first time that happens.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable
from typing import Any

import requests

from ..wire.frames import ErrorCode
from ..wire.h2 import ConnectionEnded, Event, H2Connection, ResponseReceived, StreamReset
from ..wire.hpack import encode_headers
from .h1 import H1Connection, lost

__all__ = ["Chooser", "Connection", "H2Link", "NotProcessed", "content_length", "header_block", "retrieved"]

_LAST_STREAM_ID = 2**31 - 1


class NotProcessed(requests.ConnectionError):
    """The server said it did not process the request (REFUSED_STREAM, or a stream above
    its GOAWAY's last stream id): it was not delivered."""


class H2Link(asyncio.Protocol):
    """The client side of one HTTP/2 connection; :meth:`exchange` opens a stream.

    :param loop: the loop the connection runs on.
    :param max_body: the most body bytes kept of an answer (the rest is refused).
    :param where: ``host:port``, for error messages.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, max_body: int, where: str) -> None:
        self._loop = loop
        self._codec = H2Connection(max_body=max_body)
        self._transport: asyncio.Transport | None = None
        self._waiting: dict[int, asyncio.Future[ResponseReceived]] = {}
        #: Once True, the connection takes no new stream (it may still finish open ones).
        self.closed = False
        #: True once the transport is gone.
        self.gone = False
        #: Streams promised to requests that have not taken them yet (the origin's count).
        self.reserved = 0
        self.where = where
        #: Called once when the connection stops taking new streams.
        self.on_end: Callable[[H2Link], None] | None = None
        #: Called once when the transport is gone.
        self.on_lost: Callable[[H2Link], None] | None = None
        #: Called when the server's SETTINGS let more streams open than before.
        self.on_room: Callable[[H2Link], None] | None = None
        #: Done once the server's first SETTINGS arrived (its limits known), or failed.
        self.ready: asyncio.Future[None] = loop.create_future()
        self.ready.add_done_callback(retrieved)

    # asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(self._codec.preface())

    def data_received(self, data: bytes) -> None:
        limit = self._codec.max_streams
        out, events = self._codec.receive(data)
        if out and self._transport is not None:
            self._transport.write(out)
        if not self.ready.done() and self._codec.settled:
            self.ready.set_result(None)
        self._dispatch(events, None)
        if self._codec.max_streams > limit and self.on_room is not None and self.room():
            self.on_room(self)

    def eof_received(self) -> bool:
        self._dispatch(self._codec.eof(), None)
        self._ended()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        self._dispatch(self._codec.eof(), exc)
        self._ended()
        why = lost(exc, self.where)
        if not self.ready.done():
            self.ready.set_exception(why)
        for waiter in self._waiting.values():  # none should be left; never leave one waiting
            if not waiter.done():
                waiter.set_exception(why)
        self._waiting.clear()
        if self.on_lost is not None:
            on_lost, self.on_lost = self.on_lost, None
            on_lost(self)

    # Requests -----------------------------------------------------------------------------

    def room(self) -> int:
        """How many more streams may open now, less those :attr:`reserved` (0 once the
        connection takes no new one)."""
        if self.closed or self._transport is None or not self._codec.can_open():
            return 0
        return max(self._codec.max_streams - self._codec.open_streams - self.reserved, 0)

    def exchange(self, header_block: bytes, body: bytes) -> tuple[int, asyncio.Future[ResponseReceived]]:
        """Open a stream carrying one request (only while :meth:`room`): its id, and a future
        for its answer, or a requests exception (:class:`NotProcessed` if it was refused)."""
        assert self._transport is not None
        stream_id, out = self._codec.send_request(header_block, body)
        waiter: asyncio.Future[ResponseReceived] = self._loop.create_future()
        self._waiting[stream_id] = waiter
        self._transport.write(out)
        if stream_id >= _LAST_STREAM_ID - 2:  # no stream id left: a new connection takes over
            self._ended()
        return stream_id, waiter

    def give_up(self, stream_id: int) -> None:
        """The request on ``stream_id`` is no longer waited for: reset its stream (the
        connection carries on). Harmless once the stream ended."""
        waiter, _ = self._drop_stream(stream_id)
        if waiter is not None and not waiter.done():
            waiter.cancel()
        self._close_when_done()

    def out_of_time(self, stream_id: int) -> None:
        """The exchange on ``stream_id`` ran out of time: reset its stream, and answer with what
        arrived if its status and headers did (body cut, ``truncated``), as HTTP/1.1 does;
        otherwise fail with ``ReadTimeout``."""
        waiter, partial = self._drop_stream(stream_id)
        if waiter is not None and not waiter.done():
            if partial is not None:
                waiter.set_result(partial)
            else:
                waiter.set_exception(
                    requests.ReadTimeout(f"no whole answer from {self.where} within the request's time bound")
                )
        self._close_when_done()

    def _drop_stream(
        self, stream_id: int
    ) -> tuple[asyncio.Future[ResponseReceived] | None, ResponseReceived | None]:
        """Stop waiting for ``stream_id`` and reset it: its waiter, and what arrived of its answer."""
        waiter = self._waiting.pop(stream_id, None)
        out, partial = self._codec.cancel(stream_id)
        if out and self._transport is not None and not self._transport.is_closing():
            self._transport.write(out)
        return waiter, partial

    def abort(self) -> None:
        """Close at once; every exchange under way fails."""
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    # Inside -------------------------------------------------------------------------------

    def _dispatch(self, events: list[Event], exc: Exception | None) -> None:
        for event in events:
            if isinstance(event, ResponseReceived):
                waiter = self._waiting.pop(event.stream_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(event)
            elif isinstance(event, StreamReset):
                waiter = self._waiting.pop(event.stream_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_exception(self._reset_error(event, exc))
            elif isinstance(event, ConnectionEnded):
                self._ended()
        if self.closed:
            self._close_when_done()

    def _reset_error(self, event: StreamReset, exc: Exception | None) -> requests.RequestException:
        if event.refused:
            return NotProcessed(f"{self.where} did not process the request ({_named(event.error_code)})")
        if exc is not None:
            return lost(exc, self.where)
        if event.remote:
            return requests.ConnectionError(
                f"{self.where} reset the request's stream ({_named(event.error_code)})"
            )
        return requests.ConnectionError(f"the HTTP/2 connection to {self.where} ended before the answer")

    def _ended(self) -> None:
        """No new stream from now on: tell the origin, once (and whoever awaits :attr:`ready`)."""
        if not self.ready.done():
            self.ready.set_exception(
                requests.ConnectionError(f"the HTTP/2 connection to {self.where} ended before it was ready")
            )
        if self.on_end is not None:
            on_end, self.on_end = self.on_end, None
            on_end(self)
        self.closed = True

    def _close_when_done(self) -> None:
        """A connection that takes no new stream closes once its last stream ended."""
        transport = self._transport
        if self.closed and not self._waiting and transport is not None and not transport.is_closing():
            transport.close()


Connection = H1Connection | H2Link


class Chooser(asyncio.Protocol):
    """Stands in until the TLS handshake ends, then hands the transport to the protocol the
    server chose by ALPN (:attr:`chosen`): :class:`H2Link` for "h2", else HTTP/1.1. It is
    chosen before any byte is received, so the server's first frames reach the right one."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_body: int, where: str) -> None:
        self._loop, self._max_body, self._where = loop, max_body, where
        self.chosen: Connection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        protocol = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        kind = H2Link if protocol == "h2" else H1Connection
        chosen = self.chosen = kind(self._loop, self._max_body, self._where)
        transport.set_protocol(chosen)
        chosen.connection_made(transport)


def retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a future's failure as seen (nobody may be left waiting for it)."""
    if not future.cancelled():
        future.exception()


def _named(code: int) -> str:
    """An HTTP/2 error code as RFC 9113 names it (``REFUSED_STREAM``), or its number."""
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"HTTP/2 error {code}"


def header_block(
    method: str, scheme: str, authority: str, target: str, headers: Iterable[tuple[str, str]]
) -> bytes:
    """A request's HTTP/2 header block: pseudo-headers, then ``headers`` (names lower-cased,
    the connection-specific ones left out). Raises :class:`InvalidHeaderError` for a header
    that cannot be sent."""
    fields = ((name.lower(), value) for name, value in headers)
    pseudo = [(":method", method), (":scheme", scheme), (":authority", authority), (":path", target)]
    return encode_headers([*pseudo, *(field for field in fields if _h2_field(*field))])


#: Fields that belong to one HTTP/1.1 connection: not sent over HTTP/2 (RFC 9113 8.2.2).
_CONNECTION_SPECIFIC = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)


def _h2_field(name: str, value: str) -> bool:
    """Whether a request header goes into an HTTP/2 header block (connection-specific ones
    do not: HTTP/2 has its own framing and connection management)."""
    return name not in _CONNECTION_SPECIFIC and (name != "te" or value == "trailers")


@functools.lru_cache(maxsize=4096)
def content_length(length: int) -> bytes:
    """The HPACK field ``content-length: <length>`` (a header block of its own)."""
    return encode_headers([("content-length", str(length))])
