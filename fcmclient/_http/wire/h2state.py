"""What an HTTP/2 client connection (:mod:`.h2`) keeps per stream and per peer, and checks.

The errors raised here never reach the caller: the connection turns them into RST_STREAM
or GOAWAY frames and events.
"""

from __future__ import annotations

import re

from . import frames as f
from .fields import Fields

__all__ = ["H2StreamError", "PeerSettings", "Stream", "response_fields"]

_STATUS = re.compile(rb"[1-9][0-9]{2}")
_H2_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")
_BAD_VALUE = re.compile(rb"[\x00\r\n]|^[ \t]|[ \t]$")
_CONNECTION_SPECIFIC = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)


class H2StreamError(Exception):
    """A stream error (section 5.4.2). Internal: :mod:`.h2` turns it into RST_STREAM and an event."""

    def __init__(self, code: f.ErrorCode) -> None:
        super().__init__(code)
        self.code = code


class Stream:
    """One open stream: windows, the body still to send, the response so far."""

    __slots__ = (
        "body",
        "content_length",
        "data",
        "headers",
        "offset",
        "received",
        "recv_window",
        "send_window",
        "status",
    )

    def __init__(self, send_window: int, recv_window: int) -> None:
        self.send_window = send_window
        self.recv_window = recv_window
        self.data = b""  # the request body, sent up to ``offset``
        self.offset = 0
        self.status = 0  # the final status, once its HEADERS arrived
        self.headers: Fields = ()
        self.body = bytearray()
        self.received = 0  # DATA octets received (without padding), kept or not
        self.content_length: int | None = None


class PeerSettings:
    """The server's settings that bind us (section 6.5.2), starting from the defaults.

    MAX_CONCURRENT_STREAMS starts at 100 rather than unlimited, as Firebase and most servers
    allow, until the server says otherwise.
    """

    __slots__ = ("initial_window", "max_concurrent_streams", "max_frame_size")

    def __init__(self) -> None:
        self.initial_window = f.DEFAULT_WINDOW
        self.max_frame_size = f.DEFAULT_MAX_FRAME
        self.max_concurrent_streams = 100

    def apply(self, key: int, value: int) -> int:
        """Apply one setting; the change of the initial window it makes (section 6.9.2)."""
        if key == f.Setting.ENABLE_PUSH and value != 0:
            raise f.H2ConnectionError(f.ErrorCode.PROTOCOL_ERROR, "a server set ENABLE_PUSH")
        if key == f.Setting.MAX_CONCURRENT_STREAMS:
            self.max_concurrent_streams = value
        elif key == f.Setting.MAX_FRAME_SIZE:
            if not f.DEFAULT_MAX_FRAME <= value <= f.LARGEST_MAX_FRAME:
                raise f.H2ConnectionError(f.ErrorCode.PROTOCOL_ERROR, "MAX_FRAME_SIZE out of range")
            self.max_frame_size = value
        elif key == f.Setting.INITIAL_WINDOW_SIZE:
            if value > f.MAX_WINDOW:
                raise f.H2ConnectionError(
                    f.ErrorCode.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE above 2**31 - 1"
                )
            delta, self.initial_window = value - self.initial_window, value
            return delta
        # HEADER_TABLE_SIZE does not bind our encoder, which uses no dynamic table;
        # MAX_HEADER_LIST_SIZE is advisory; unknown settings are ignored.
        return 0


def response_fields(fields: list[tuple[bytes, bytes]], trailers: bool) -> tuple[int, Fields, int | None]:
    """``(status, headers, content-length)`` of a decoded response header list (section 8.3).

    For ``trailers`` the status is 0. Raises :class:`H2StreamError` (PROTOCOL_ERROR) when the
    list is malformed (section 8.1.1): pseudo-headers other than one leading ``:status``,
    upper-case or connection-specific names, CR/LF/NUL or surrounding spaces in a value, or
    Content-Length values that disagree.
    """
    status, regular, lengths = 0, list[tuple[str, str]](), set[bytes]()
    for name, value in fields:
        if name[:1] == b":":
            if name != b":status" or status or regular or trailers or not _STATUS.fullmatch(value):
                raise H2StreamError(f.ErrorCode.PROTOCOL_ERROR)
            status = int(value)
            continue
        if not _H2_NAME.fullmatch(name) or _BAD_VALUE.search(value) or name in _CONNECTION_SPECIFIC:
            raise H2StreamError(f.ErrorCode.PROTOCOL_ERROR)
        if name == b"content-length":
            lengths.update(item.strip() for item in value.split(b","))
        regular.append((name.decode("ascii"), value.decode("latin-1")))
    if (not trailers and not status) or len(lengths) > 1 or any(not v.isdigit() for v in lengths):
        raise H2StreamError(f.ErrorCode.PROTOCOL_ERROR)
    return status, tuple(regular), int(lengths.pop()) if lengths else None
