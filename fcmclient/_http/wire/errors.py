"""The exceptions of the wire codecs: one root, each a :class:`ValueError`.

Messages name what was wrong (a header name, a limit, a frame type) and never echo a header
value or a body, since those carry secrets.
"""

from __future__ import annotations

__all__ = [
    "WireError",
    "InvalidHeaderError",
    "ProtocolError",
    "DecodingError",
    "HeaderListTooLargeError",
    "ConnectionStateError",
]


class WireError(ValueError):
    """Root of every error the wire codecs raise."""


class InvalidHeaderError(WireError):
    """A header given to an encoder is not valid; the message names it, never its value."""


class ProtocolError(WireError):
    """The peer sent bytes that are not valid HTTP/1.1; the connection cannot be used again."""


class DecodingError(WireError):
    """An HPACK header block is malformed or exceeds a limit (RFC 7541 section 2.3.3)."""


class HeaderListTooLargeError(DecodingError):
    """A header block decoded fine but its list passes the size limit; the table stayed in sync."""


class ConnectionStateError(WireError):
    """The caller asked an HTTP/2 connection for what it cannot do now (check ``can_open()``)."""
