"""HTTP/2 client connection state machine (RFC 9113), sans-IO.

The caller writes :meth:`H2Connection.preface` first, opens streams with
:meth:`~H2Connection.send_request` while :meth:`~H2Connection.can_open`, feeds every
received chunk to :meth:`~H2Connection.receive`, writes back the octets it returns and acts
on its events. Each stream ends in exactly one :class:`ResponseReceived` or
:class:`StreamReset`, unless the caller gave it up (:meth:`~H2Connection.cancel`). Peer
misbehaviour never raises: it ends a stream or the connection
with events (and the RST_STREAM or GOAWAY to send).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from . import frames as f
from .errors import ConnectionStateError, DecodingError, HeaderListTooLargeError
from .fields import Fields
from .h1 import MAX_BODY
from .h2events import ConnectionEnded, Event, ResponseReceived, StreamReset
from .h2state import H2StreamError, PeerSettings, Stream, response_fields
from .hpack import Decoder

__all__ = ["H2Connection", "ResponseReceived", "StreamReset", "ConnectionEnded", "Event"]

_LAST_STREAM_ID = 2**31 - 1
_MAX_BLOCK = 1024 * 1024  # most octets of one HEADERS + CONTINUATION sequence we buffer


class H2Connection:
    """The client side of one HTTP/2 connection (prior knowledge, or after ALPN "h2").

    ``initial_window_size`` is the receive window of each stream and ``connection_window``
    the connection's; each is topped up by WINDOW_UPDATE once half is used. ``max_body``
    caps each kept response body (4 MiB, as HTTP/1.1); ``max_header_list_size`` is
    advertised and enforced per response.
    """

    def __init__(
        self,
        *,
        initial_window_size: int = 1 << 24,
        connection_window: int = 1 << 24,
        max_body: int = MAX_BODY,
        max_header_list_size: int = 65_536,
    ) -> None:
        for value in (initial_window_size, connection_window):
            if not f.DEFAULT_WINDOW <= value <= f.MAX_WINDOW:
                raise ValueError("a window must be between 65535 and 2**31 - 1")
        self._stream_window = initial_window_size
        self._conn_window = connection_window
        self._recv_window = f.DEFAULT_WINDOW  # the connection's, until the preface raises it
        self._max_body = max_body
        self._max_list = max_header_list_size
        self._decoder = Decoder(max_header_list_size=max_header_list_size)
        self._reader = f.FrameReader()
        self._peer = PeerSettings()
        self._send_window = f.DEFAULT_WINDOW
        self._streams: dict[int, Stream] = {}
        self._blocked: dict[int, None] = {}  # streams whose body waits for window, oldest first
        self._next_id = 1
        self._block: tuple[int, bool, bytearray] | None = None  # a header block being continued
        self._goaway: int | None = None  # the last stream id of the lowest GOAWAY received
        self._settled = False  # the server's first SETTINGS arrived
        self._closing = False  # we sent GOAWAY
        self._ended = False  # the connection is over: nothing more is read or sent
        self._out: list[bytes] = []  # octets to write, collected during one call
        self._events: list[Event] = []  # events, collected during one call

    # -- the caller's side --

    def preface(self) -> bytes:
        """The octets to write first: preface, SETTINGS and the connection WINDOW_UPDATE."""
        ours = {
            f.Setting.ENABLE_PUSH: 0,
            f.Setting.INITIAL_WINDOW_SIZE: self._stream_window,
            f.Setting.MAX_HEADER_LIST_SIZE: self._max_list,
        }
        out = f.PREFACE + f.settings(ours)
        if self._conn_window > f.DEFAULT_WINDOW:
            out += f.window_update(0, self._conn_window - f.DEFAULT_WINDOW)
            self._recv_window = self._conn_window
        return out

    @property
    def open_streams(self) -> int:
        """Streams opened and not yet ended."""
        return len(self._streams)

    @property
    def settled(self) -> bool:
        """Whether the server's first SETTINGS arrived (its limits are known)."""
        return self._settled

    @property
    def max_streams(self) -> int:
        """The most streams the server lets be open at once (100 until its SETTINGS say)."""
        return self._peer.max_concurrent_streams

    def can_open(self) -> bool:
        """Whether :meth:`send_request` may open a stream now.

        False at the server's SETTINGS_MAX_CONCURRENT_STREAMS (100 until it says), after a
        GOAWAY either way, once the connection ended, or when stream ids ran out.
        """
        return (
            not self._ended
            and not self._closing
            and self._goaway is None
            and len(self._streams) < self._peer.max_concurrent_streams
            and self._next_id <= _LAST_STREAM_ID
        )

    def send_request(self, header_block: bytes, body: bytes = b"") -> tuple[int, bytes]:
        """Open a stream: ``(stream id, octets to write)``.

        ``header_block`` comes from :func:`~.hpack.encode_headers` and may be reused. Body
        octets beyond the flow-control windows wait and leave from a later :meth:`receive`.
        Raises :class:`~.errors.ConnectionStateError` unless :meth:`can_open`.
        """
        if not self.can_open():
            raise ConnectionStateError("no stream can open on this connection now")
        stream_id, self._next_id = self._next_id, self._next_id + 2
        stream = self._streams[stream_id] = Stream(self._peer.initial_window, self._stream_window)
        self._out = f.header_frames(stream_id, header_block, not body, self._peer.max_frame_size)
        if body:
            stream.data = body
            self._send_data(stream_id, stream)
        return stream_id, self._take_output()[0]

    def receive(self, data: bytes) -> tuple[bytes, list[Event]]:
        """Take received octets: ``(octets to write back, events)``. Never raises on bad input."""
        if self._ended:
            return b"", []
        frames, error = self._reader.read(data)
        try:
            for frame in frames:
                handler = _HANDLERS.get(frame.kind)
                if handler is not None:  # unknown frame types are ignored (section 5.5)
                    handler(self, frame)
            if error is not None:
                raise error
        except f.H2ConnectionError as exc:
            self._terminate(exc.code, exc.reason)
            return self._take_output()
        for stream_id in list(self._blocked):
            self._send_data(stream_id, self._streams[stream_id])
        if self._recv_window <= self._conn_window // 2:
            self._out.append(f.window_update(0, self._conn_window - self._recv_window))
            self._recv_window = self._conn_window
        return self._take_output()

    def cancel(self, stream_id: int) -> tuple[bytes, ResponseReceived | None]:
        """Give up an open stream, reporting no event: ``(RST_STREAM(CANCEL) to write, its
        response so far)``: the response if its HEADERS arrived (``truncated``), else None.
        A stream already ended (or a connection over) gives ``(b"", None)``."""
        stream = self._streams.get(stream_id)
        if stream is None or self._ended:
            return b"", None
        self._close_stream(stream_id)
        partial = None
        if stream.status:
            partial = ResponseReceived(stream_id, stream.status, stream.headers, bytes(stream.body), True)
        return f.rst_stream(stream_id, f.ErrorCode.CANCEL), partial

    def close(self) -> bytes:
        """A GOAWAY(NO_ERROR) to write: no new stream opens; those open may still finish."""
        self._closing = True
        return f.goaway(0, f.ErrorCode.NO_ERROR)

    def eof(self) -> list[Event]:
        """The transport closed: a reset for each open stream, and :class:`ConnectionEnded`
        unless a GOAWAY already said so."""
        if self._ended:
            return []
        self._terminate(f.ErrorCode.INTERNAL_ERROR, "the connection closed", send=False)
        events = self._take_output()[1]
        return events[:-1] if self._goaway is not None else events

    def _take_output(self) -> tuple[bytes, list[Event]]:
        """What this call produced; the collectors start empty again."""
        out, events = b"".join(self._out), self._events
        self._out, self._events = [], []
        return out, events

    # -- sending --

    def _send_data(self, stream_id: int, stream: Stream) -> None:
        """Send what the windows and frame size allow of the stream's body; the rest waits."""
        data, offset = stream.data, stream.offset
        while offset < len(data):
            size = min(len(data) - offset, self._peer.max_frame_size, stream.send_window, self._send_window)
            if size <= 0:
                break
            flags = f.END_STREAM if offset + size == len(data) else 0
            self._out.append(f.frame(f.FrameType.DATA, flags, stream_id, data[offset : offset + size]))
            offset += size
            stream.send_window -= size
            self._send_window -= size
        if offset < len(data):
            stream.offset = offset
            self._blocked[stream_id] = None
        else:
            self._blocked.pop(stream_id, None)
            stream.data, stream.offset = b"", 0

    # -- receiving: one handler per frame type --

    def _stream(self, stream_id: int) -> Stream | None:
        """The open stream ``stream_id``, or None if it is closed; an error if never opened."""
        if stream_id % 2 == 0 or stream_id >= self._next_id:
            raise f.H2ConnectionError(
                f.ErrorCode.PROTOCOL_ERROR, f"a frame on stream {stream_id}, never opened"
            )
        return self._streams.get(stream_id)

    def _on_data(self, frame: f.Frame) -> None:
        if frame.length > self._recv_window:
            raise f.H2ConnectionError(f.ErrorCode.FLOW_CONTROL_ERROR, "DATA beyond the connection window")
        self._recv_window -= frame.length
        stream = self._stream(frame.stream_id)
        if stream is None:
            return  # a stream already ended: its octets still counted for the connection window
        data = frame.payload
        if frame.length > stream.recv_window or not stream.status:  # no window, or before HEADERS
            code = f.ErrorCode.FLOW_CONTROL_ERROR if stream.status else f.ErrorCode.PROTOCOL_ERROR
            self._reset(frame.stream_id, code)
            return
        stream.recv_window -= frame.length
        stream.received += len(data)
        if stream.content_length is not None and stream.received > stream.content_length:
            self._reset(frame.stream_id, f.ErrorCode.PROTOCOL_ERROR)
        elif len(data) > self._max_body - len(stream.body):
            stream.body += data[: self._max_body - len(stream.body)]
            self._end_stream(frame.stream_id, (), truncated=True)
            self._out.append(f.rst_stream(frame.stream_id, f.ErrorCode.CANCEL))
        else:
            stream.body += data
            if frame.flags & f.END_STREAM:
                self._finish(frame.stream_id, stream, ())
            elif stream.recv_window <= self._stream_window // 2:
                self._out.append(f.window_update(frame.stream_id, self._stream_window - stream.recv_window))
                stream.recv_window = self._stream_window

    def _on_headers(self, frame: f.Frame) -> None:
        self._stream(frame.stream_id)  # push is off: a server never opens a stream
        self._block = (frame.stream_id, bool(frame.flags & f.END_STREAM), bytearray())
        self._on_continuation(frame)

    def _on_continuation(self, frame: f.Frame) -> None:
        if self._block is None:  # the reader lets CONTINUATION follow HEADERS only: not reached
            raise f.H2ConnectionError(f.ErrorCode.PROTOCOL_ERROR, "a CONTINUATION without HEADERS")
        self._block[2].extend(frame.payload)
        if len(self._block[2]) > _MAX_BLOCK:
            raise f.H2ConnectionError(
                f.ErrorCode.ENHANCE_YOUR_CALM, f"a header block over {_MAX_BLOCK} octets"
            )
        if frame.flags & f.END_HEADERS:
            stream_id, end_stream, block = self._block
            self._block = None
            self._header_block(stream_id, end_stream, bytes(block))

    def _header_block(self, stream_id: int, end_stream: bool, block: bytes) -> None:
        """Decode a complete header block (always: the HPACK table must stay in step) and apply it."""
        stream = self._streams.get(stream_id)
        try:
            try:
                fields = self._decoder.decode(block)
            except HeaderListTooLargeError:
                raise H2StreamError(f.ErrorCode.PROTOCOL_ERROR) from None
            except DecodingError as exc:
                raise f.H2ConnectionError(f.ErrorCode.COMPRESSION_ERROR, str(exc)) from None
            if stream is None:
                return  # a stream already ended
            trailers = bool(stream.status)
            status, headers, length = response_fields(fields, trailers)
            if (trailers and not end_stream) or (status < 200 and end_stream and not trailers):
                raise H2StreamError(f.ErrorCode.PROTOCOL_ERROR)
        except H2StreamError as exc:
            if stream is not None:
                self._reset(stream_id, exc.code)
            return
        if trailers:
            self._finish(stream_id, stream, headers)
        elif status >= 200:  # interim (1xx) responses are skipped
            stream.status, stream.headers, stream.content_length = status, headers, length
            if end_stream:
                self._finish(stream_id, stream, ())

    def _on_rst_stream(self, frame: f.Frame) -> None:
        if self._stream(frame.stream_id) is not None:
            (code,) = struct.unpack(">L", frame.payload)
            self._close_stream(frame.stream_id)
            self._events.append(StreamReset(frame.stream_id, code, code == f.ErrorCode.REFUSED_STREAM))

    def _on_settings(self, frame: f.Frame) -> None:
        if frame.flags & f.ACK:
            return
        self._settled = True
        for key, value in struct.iter_unpack(">HL", frame.payload):
            delta = self._peer.apply(key, value)
            for stream in self._streams.values():  # section 6.9.2: open windows move too
                stream.send_window += delta
                if stream.send_window > f.MAX_WINDOW:
                    raise f.H2ConnectionError(
                        f.ErrorCode.FLOW_CONTROL_ERROR, "a stream window past 2**31 - 1"
                    )
        self._out.append(f.frame(f.FrameType.SETTINGS, f.ACK, 0))

    def _on_ping(self, frame: f.Frame) -> None:
        if not frame.flags & f.ACK:
            self._out.append(f.frame(f.FrameType.PING, f.ACK, 0, frame.payload))

    def _on_goaway(self, frame: f.Frame) -> None:
        last, code = struct.unpack_from(">LL", frame.payload)
        last &= _LAST_STREAM_ID
        if self._goaway is not None:
            last = min(last, self._goaway)  # a peer may lower it, never raise it
        self._goaway = last
        unprocessed = tuple(sorted(sid for sid in self._streams if sid > last))
        for stream_id in unprocessed:
            self._close_stream(stream_id)
            self._events.append(StreamReset(stream_id, code, refused=True))
        reason = frame.payload[8:264].decode("utf-8", "replace")
        self._events.append(ConnectionEnded(last, code, reason, unprocessed))

    def _on_window_update(self, frame: f.Frame) -> None:
        (increment,) = struct.unpack(">L", frame.payload)
        increment &= _LAST_STREAM_ID
        if frame.stream_id == 0:
            if not increment or self._send_window + increment > f.MAX_WINDOW:
                reason = "a connection WINDOW_UPDATE of 0 or past 2**31 - 1"
                raise f.H2ConnectionError(f.ErrorCode.FLOW_CONTROL_ERROR, reason)
            self._send_window += increment
            return
        stream = self._stream(frame.stream_id)
        if stream is None:
            return
        if not increment:
            self._reset(frame.stream_id, f.ErrorCode.PROTOCOL_ERROR)
        elif stream.send_window + increment > f.MAX_WINDOW:
            self._reset(frame.stream_id, f.ErrorCode.FLOW_CONTROL_ERROR)
        else:
            stream.send_window += increment

    def _on_push_promise(self, frame: f.Frame) -> None:
        raise f.H2ConnectionError(f.ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE though push is disabled")

    # -- ending streams and the connection --

    def _finish(self, stream_id: int, stream: Stream, trailers: Fields) -> None:
        """The server ended the stream: the response, or a reset if its length was wrong."""
        if stream.content_length is not None and stream.received != stream.content_length:
            self._reset(stream_id, f.ErrorCode.PROTOCOL_ERROR)
            return
        if stream.data:  # a complete response before our whole request: stop sending it
            self._out.append(f.rst_stream(stream_id, f.ErrorCode.CANCEL))
        self._end_stream(stream_id, trailers)

    def _end_stream(self, stream_id: int, trailers: Fields, truncated: bool = False) -> None:
        stream = self._close_stream(stream_id)
        body = bytes(stream.body)
        self._events.append(
            ResponseReceived(stream_id, stream.status, stream.headers, body, truncated, trailers)
        )

    def _reset(self, stream_id: int, code: f.ErrorCode) -> None:
        """A stream error (section 5.4.2): RST_STREAM out, the stream reported reset by us."""
        self._close_stream(stream_id)
        self._out.append(f.rst_stream(stream_id, code))
        self._events.append(StreamReset(stream_id, code, refused=False, remote=False))

    def _close_stream(self, stream_id: int) -> Stream:
        self._blocked.pop(stream_id, None)
        return self._streams.pop(stream_id)

    def _terminate(self, code: int, reason: str, send: bool = True) -> None:
        """End the connection: GOAWAY out (if ``send``), every open stream reported reset."""
        self._ended = True
        if send:
            self._out.append(f.goaway(0, code))
        for stream_id in list(self._streams):
            self._close_stream(stream_id)
            self._events.append(StreamReset(stream_id, code, refused=False, remote=False))
        last = max(self._next_id - 2, 0)
        self._events.append(ConnectionEnded(last, code, reason, (), remote=False))


_HANDLERS: dict[int, Callable[[H2Connection, f.Frame], None]] = {
    f.FrameType.DATA: H2Connection._on_data,
    f.FrameType.HEADERS: H2Connection._on_headers,
    f.FrameType.RST_STREAM: H2Connection._on_rst_stream,
    f.FrameType.SETTINGS: H2Connection._on_settings,
    f.FrameType.PUSH_PROMISE: H2Connection._on_push_promise,
    f.FrameType.PING: H2Connection._on_ping,
    f.FrameType.GOAWAY: H2Connection._on_goaway,
    f.FrameType.WINDOW_UPDATE: H2Connection._on_window_update,
    f.FrameType.CONTINUATION: H2Connection._on_continuation,
}
