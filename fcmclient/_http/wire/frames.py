"""HTTP/2 framing (RFC 9113 sections 4 and 6): codes, frame builders and a frame reader.

Everything here is frame syntax, checked without knowing any stream's state: sizes, which
frames belong on stream 0, padding, header blocks not interleaved. What a frame means is
decided in :mod:`.h2`.
"""

from __future__ import annotations

import enum
import struct
from typing import NamedTuple

__all__ = [
    "Frame",
    "FrameReader",
    "H2ConnectionError",
    "ErrorCode",
    "FrameType",
    "Setting",
    "PREFACE",
    "HEADER",
    "MAX_WINDOW",
    "frame",
    "goaway",
    "header_frames",
    "rst_stream",
    "settings",
    "window_update",
]

#: The client connection preface (section 3.4), sent before the first SETTINGS frame.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#: Frame header: length (24 bits as 8 + 16), type, flags, reserved bit + stream id.
HEADER = struct.Struct(">BHBBL")
#: The largest flow-control window (section 6.9.1).
MAX_WINDOW = 2**31 - 1
DEFAULT_WINDOW = 65_535
DEFAULT_MAX_FRAME = 16_384
LARGEST_MAX_FRAME = 2**24 - 1

# Flags (section 6).
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20


class FrameType(enum.IntEnum):
    """Frame types (section 6); any other type is ignored (section 5.5)."""

    DATA = 0x0
    HEADERS = 0x1
    PRIORITY = 0x2
    RST_STREAM = 0x3
    SETTINGS = 0x4
    PUSH_PROMISE = 0x5
    PING = 0x6
    GOAWAY = 0x7
    WINDOW_UPDATE = 0x8
    CONTINUATION = 0x9


class ErrorCode(enum.IntEnum):
    """Error codes of RST_STREAM and GOAWAY (section 7); peers may send others."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


class Setting(enum.IntEnum):
    """SETTINGS parameters (section 6.5.2); unknown ones are ignored."""

    HEADER_TABLE_SIZE = 0x1
    ENABLE_PUSH = 0x2
    MAX_CONCURRENT_STREAMS = 0x3
    INITIAL_WINDOW_SIZE = 0x4
    MAX_FRAME_SIZE = 0x5
    MAX_HEADER_LIST_SIZE = 0x6


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """One frame: the 9-octet header and ``payload`` (at most the peer's MAX_FRAME_SIZE)."""
    length = len(payload)
    return HEADER.pack(length >> 16, length & 0xFFFF, kind, flags, stream_id) + payload


def header_frames(stream_id: int, block: bytes, end_stream: bool, max_size: int) -> list[bytes]:
    """A header block as HEADERS (and CONTINUATION) frames of at most ``max_size`` octets."""
    flags = END_STREAM if end_stream else 0
    if len(block) <= max_size:
        return [frame(FrameType.HEADERS, flags | END_HEADERS, stream_id, block)]
    out = [frame(FrameType.HEADERS, flags, stream_id, block[:max_size])]
    for start in range(max_size, len(block), max_size):
        last_flags = END_HEADERS if start + max_size >= len(block) else 0
        out.append(frame(FrameType.CONTINUATION, last_flags, stream_id, block[start : start + max_size]))
    return out


def settings(values: dict[Setting, int]) -> bytes:
    """A SETTINGS frame carrying ``values``."""
    payload = b"".join(struct.pack(">HL", key, value) for key, value in values.items())
    return frame(FrameType.SETTINGS, 0, 0, payload)


def window_update(stream_id: int, increment: int) -> bytes:
    """A WINDOW_UPDATE frame; ``stream_id`` 0 is the connection's window."""
    return frame(FrameType.WINDOW_UPDATE, 0, stream_id, struct.pack(">L", increment))


def rst_stream(stream_id: int, code: int) -> bytes:
    """A RST_STREAM frame ending ``stream_id`` with error ``code``."""
    return frame(FrameType.RST_STREAM, 0, stream_id, struct.pack(">L", code))


def goaway(last_stream_id: int, code: int, debug: bytes = b"") -> bytes:
    """A GOAWAY frame: streams above ``last_stream_id`` were not and will not be processed."""
    return frame(FrameType.GOAWAY, 0, 0, struct.pack(">LL", last_stream_id, code) + debug)


class H2ConnectionError(Exception):
    """A connection error (section 5.4.1). Internal: :mod:`.h2` turns it into GOAWAY and events."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Frame(NamedTuple):
    """One received frame; ``payload`` without padding (and HEADERS without priority fields)."""

    kind: int
    flags: int
    stream_id: int
    payload: bytes
    length: int  # the whole payload's length, padding included: what flow control counts


_FIXED_LENGTH: dict[int, int] = {
    FrameType.PRIORITY: 5,
    FrameType.RST_STREAM: 4,
    FrameType.PING: 8,
    FrameType.WINDOW_UPDATE: 4,
}
_ON_CONNECTION = frozenset({FrameType.SETTINGS, FrameType.PING, FrameType.GOAWAY})
_ON_STREAM = frozenset(FrameType) - _ON_CONNECTION - {FrameType.WINDOW_UPDATE}


class FrameReader:
    """Splits received octets into frames and checks their syntax.

    ``max_frame_size`` is the largest frame we accept (our SETTINGS_MAX_FRAME_SIZE). The first
    frame must be the server's SETTINGS (section 3.4).
    """

    __slots__ = ("_block_stream", "_buf", "_max_frame", "_started")

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME) -> None:
        self._buf = bytearray()
        self._max_frame = max_frame_size
        self._started = False
        self._block_stream = 0  # the stream whose header block awaits CONTINUATION, or 0

    def read(self, data: bytes) -> tuple[list[Frame], H2ConnectionError | None]:
        """The complete frames in what arrived so far, and the error that stopped reading, if any.

        Frames before a bad one are returned so that they can be acted on; after an error the
        connection is over and the reader must not be fed again.
        """
        buf = self._buf
        buf += data
        pos, frames = 0, list[Frame]()
        try:
            while len(buf) - pos >= 9:
                high, low, kind, flags, stream_id = HEADER.unpack_from(buf, pos)
                length = high << 16 | low
                if not self._started:
                    self._check_preface(pos, kind, flags)
                if length > self._max_frame:
                    raise H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, f"a frame of {length} octets")
                if len(buf) - pos - 9 < length:
                    break
                payload = bytes(buf[pos + 9 : pos + 9 + length])
                pos += 9 + length
                frames.append(self._check(kind, flags, stream_id & MAX_WINDOW, payload))
        except H2ConnectionError as exc:
            return frames, exc
        finally:
            del buf[:pos]
        return frames, None

    def _check_preface(self, pos: int, kind: int, flags: int) -> None:
        if self._buf.startswith(b"HTTP/", pos):
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "the server answered in HTTP/1.x")
        if kind != FrameType.SETTINGS or flags & ACK:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "the server preface is not a SETTINGS frame")
        self._started = True

    def _check(self, kind: int, flags: int, stream_id: int, payload: bytes) -> Frame:
        """The frame, once its syntax is checked (sections 4.3, 6.1 to 6.10)."""
        if self._block_stream and (kind != FrameType.CONTINUATION or stream_id != self._block_stream):
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "a header block was interrupted")
        if kind == FrameType.CONTINUATION and not self._block_stream:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "a CONTINUATION without a header block")
        if (kind in _ON_STREAM and not stream_id) or (kind in _ON_CONNECTION and stream_id):
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, f"frame type {kind} on stream {stream_id}")
        size = _FIXED_LENGTH.get(kind, len(payload))
        settings_bad = kind == FrameType.SETTINGS and (len(payload) % 6 != 0 or bool(flags & ACK and payload))
        if len(payload) != size or settings_bad:
            raise H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, f"a frame of type {kind} of a wrong length")
        if kind == FrameType.GOAWAY and len(payload) < 8:
            raise H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "a GOAWAY frame under 8 octets")
        length = len(payload)
        if kind in (FrameType.DATA, FrameType.HEADERS, FrameType.PUSH_PROMISE) and flags & PADDED:
            if not payload or payload[0] >= len(payload):
                raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "padding as long as the frame")
            payload = payload[1 : len(payload) - payload[0]]
        if kind == FrameType.HEADERS and flags & PRIORITY_FLAG:
            if len(payload) < 5:
                raise H2ConnectionError(
                    ErrorCode.FRAME_SIZE_ERROR, "a HEADERS frame too short for its priority"
                )
            payload = payload[5:]
        if kind in (FrameType.HEADERS, FrameType.CONTINUATION):
            self._block_stream = 0 if flags & END_HEADERS else stream_id
        return Frame(kind, flags, stream_id, payload, length)
