"""Events of an HTTP/2 client connection (:mod:`.h2`): what the caller acts on."""

from __future__ import annotations

from dataclasses import dataclass

from .fields import FieldLookup, Fields

__all__ = ["ResponseReceived", "StreamReset", "ConnectionEnded", "Event"]


@dataclass(frozen=True, slots=True)
class ResponseReceived(FieldLookup):
    """A stream's complete response (final headers, body, trailers); ``get()`` reads a header.

    ``truncated``: the body passed ``max_body``; it holds the first ``max_body`` octets and the
    rest was refused with RST_STREAM(CANCEL).
    """

    stream_id: int
    status: int
    headers: Fields
    body: bytes
    truncated: bool = False
    trailers: Fields = ()


@dataclass(frozen=True, slots=True)
class StreamReset:
    """A stream ended without a response.

    ``refused``: the server did not process the request (RST_STREAM(REFUSED_STREAM), or the
    stream is above a GOAWAY's last stream id): it is safe to send again. ``remote`` is False
    when we reset the stream (a malformed response) or the connection ended under it.
    """

    stream_id: int
    error_code: int
    refused: bool
    remote: bool = True


@dataclass(frozen=True, slots=True)
class ConnectionEnded:
    """No new stream may open: a GOAWAY arrived (``remote``) or we ended a broken connection.

    Streams above ``last_stream_id`` were not processed; ``unprocessed`` lists those that were
    open (each also got a refused :class:`StreamReset`). ``reason``: the GOAWAY's debug text
    (shortened) or what we found wrong.
    """

    last_stream_id: int
    error_code: int
    reason: str
    unprocessed: tuple[int, ...] = ()
    remote: bool = True


Event = ResponseReceived | StreamReset | ConnectionEnded
