"""HPACK header compression (RFC 7541): a full decoder and a stateless client encoder.

:class:`Decoder` keeps the dynamic table of one HTTP/2 connection's responses.
:func:`encode_headers` never touches a dynamic table, so one encoded block serves every
request of a send::

    >>> block = encode_headers([(":method", "POST"), (":path", "/v1/send"), ("authorization", "Bearer t")])
    >>> Decoder().decode(block)
    [(b':method', b'POST'), (b':path', b'/v1/send'), (b'authorization', b'Bearer t')]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from . import huffman
from .errors import DecodingError, HeaderListTooLargeError, InvalidHeaderError
from .fields import encode_field

__all__ = ["STATIC_TABLE", "Decoder", "encode_headers"]

#: RFC 7541 Appendix A: entries 1 to 61 (index 0 here is entry 1).
STATIC_TABLE: tuple[tuple[bytes, bytes], ...] = (
    *((b":authority", b""), (b":method", b"GET"), (b":method", b"POST"), (b":path", b"/")),
    *((b":path", b"/index.html"), (b":scheme", b"http"), (b":scheme", b"https")),
    *((b":status", b"200"), (b":status", b"204"), (b":status", b"206"), (b":status", b"304")),
    *((b":status", b"400"), (b":status", b"404"), (b":status", b"500"), (b"accept-charset", b"")),
    *((b"accept-encoding", b"gzip, deflate"), (b"accept-language", b""), (b"accept-ranges", b"")),
    *((b"accept", b""), (b"access-control-allow-origin", b""), (b"age", b""), (b"allow", b"")),
    *((b"authorization", b""), (b"cache-control", b""), (b"content-disposition", b"")),
    *((b"content-encoding", b""), (b"content-language", b""), (b"content-length", b"")),
    *((b"content-location", b""), (b"content-range", b""), (b"content-type", b"")),
    *((b"cookie", b""), (b"date", b""), (b"etag", b""), (b"expect", b""), (b"expires", b"")),
    *((b"from", b""), (b"host", b""), (b"if-match", b""), (b"if-modified-since", b"")),
    *((b"if-none-match", b""), (b"if-range", b""), (b"if-unmodified-since", b"")),
    *((b"last-modified", b""), (b"link", b""), (b"location", b""), (b"max-forwards", b"")),
    *((b"proxy-authenticate", b""), (b"proxy-authorization", b""), (b"range", b"")),
    *((b"referer", b""), (b"refresh", b""), (b"retry-after", b""), (b"server", b"")),
    *((b"set-cookie", b""), (b"strict-transport-security", b""), (b"transfer-encoding", b"")),
    *((b"user-agent", b""), (b"vary", b""), (b"via", b""), (b"www-authenticate", b"")),
)
_STATIC_EXACT = {entry: index for index, entry in reversed(list(enumerate(STATIC_TABLE, 1)))}
_STATIC_NAME = {name: index for index, (name, _) in reversed(list(enumerate(STATIC_TABLE, 1)))}
_ENTRY_OVERHEAD = 32  # RFC 7541 section 4.1
_MAX_INTEGER_SHIFT = 28  # an integer needing more than 5 continuation octets is refused
# HTTP/2 forbids these connection-specific fields (RFC 9113 section 8.2.2).
_CONNECTION_SPECIFIC = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)


def _integer(data: bytes, pos: int, bits: int) -> tuple[int, int]:
    """The integer with a ``bits``-bit prefix at ``data[pos]`` (section 5.1), and the next position."""
    mask = (1 << bits) - 1
    value = data[pos] & mask
    pos += 1
    if value < mask:
        return value, pos
    shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > _MAX_INTEGER_SHIFT:
            raise DecodingError("an HPACK integer is too long")
    raise DecodingError("a header block ends inside an integer")


def _encode_integer(value: int, bits: int, flags: int) -> bytes:
    """``value`` with a ``bits``-bit prefix, the high bits of the first octet set to ``flags``."""
    mask = (1 << bits) - 1
    if value < mask:
        return bytes((flags | value,))
    out = bytearray((flags | mask,))
    value -= mask
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class Decoder:
    """Decodes the header blocks of one connection, in order, keeping the dynamic table.

    ``max_table_size`` is the SETTINGS_HEADER_TABLE_SIZE we advertised (the peer may only
    lower the table below it); ``max_header_list_size`` bounds a decoded list (RFC 9113
    section 6.5.2 counting); ``max_string_length`` bounds each name and value.
    """

    __slots__ = ("_dynamic", "_max_list", "_max_string", "_max_table", "_size", "_table_limit")

    def __init__(
        self, max_table_size: int = 4096, max_header_list_size: int = 65536, max_string_length: int = 65536
    ) -> None:
        self._max_table = max_table_size  # what the peer may choose up to
        self._table_limit = max_table_size  # what the peer chose (section 4.2)
        self._max_list = max_header_list_size
        self._max_string = max_string_length
        self._dynamic: deque[tuple[bytes, bytes]] = deque()
        self._size = 0

    @property
    def table_size(self) -> int:
        """The current size of the dynamic table (section 4.1), for tests and diagnostics."""
        return self._size

    def decode(self, block: bytes) -> list[tuple[bytes, bytes]]:
        """The ``(name, value)`` octet pairs of one complete header block.

        Raises :class:`~.errors.DecodingError` for a malformed block (the connection must
        end: the table may be out of step), :class:`~.errors.HeaderListTooLargeError` when the
        block was fine but its list passes the limit (the table is in step).
        """
        fields: list[tuple[bytes, bytes]] = []
        pos, size, length = 0, 0, len(block)
        while pos < length:
            byte = block[pos]
            if byte & 0x80:  # indexed field (section 6.1)
                index, pos = _integer(block, pos, 7)
                name, value = self._entry(index)
            elif byte & 0x40:  # literal with incremental indexing (6.2.1)
                name, value, pos = self._literal(block, pos, 6)
                self._insert(name, value)
            elif byte & 0x20:  # dynamic table size update (6.3), only before the first field
                if fields or size:
                    raise DecodingError("a dynamic table size update after a header field")
                pos = self._resize(block, pos)
                continue
            else:  # literal without indexing (6.2.2) or never indexed (6.2.3)
                name, value, pos = self._literal(block, pos, 4)
            size += len(name) + len(value) + _ENTRY_OVERHEAD
            if size <= self._max_list:
                fields.append((name, value))
        if size > self._max_list:
            raise HeaderListTooLargeError(f"a header list larger than {self._max_list} bytes")
        return fields

    def _entry(self, index: int) -> tuple[bytes, bytes]:
        if 0 < index <= len(STATIC_TABLE):
            return STATIC_TABLE[index - 1]
        dynamic_index = index - len(STATIC_TABLE) - 1
        if index == 0 or dynamic_index >= len(self._dynamic):
            raise DecodingError(f"the header table has no entry {index}")
        return self._dynamic[dynamic_index]

    def _literal(self, block: bytes, pos: int, bits: int) -> tuple[bytes, bytes, int]:
        index, pos = _integer(block, pos, bits)
        if index:
            name = self._entry(index)[0]
        else:
            name, pos = self._string(block, pos)
        value, pos = self._string(block, pos)
        return name, value, pos

    def _string(self, block: bytes, pos: int) -> tuple[bytes, int]:
        """The string literal at ``pos`` (section 5.2), Huffman-decoded if flagged."""
        if pos >= len(block):
            raise DecodingError("a header block ends before a string")
        coded = block[pos] & 0x80
        length, pos = _integer(block, pos, 7)
        end = pos + length
        if length > self._max_string or end > len(block):
            raise DecodingError("a string longer than the limit or than the block")
        text = huffman.decode(block[pos:end]) if coded else block[pos:end]
        if len(text) > self._max_string:
            raise DecodingError(f"a string longer than {self._max_string} bytes")
        return text, end

    def _insert(self, name: bytes, value: bytes) -> None:
        """Add an entry at the front, evicting from the back (section 4.4)."""
        entry_size = len(name) + len(value) + _ENTRY_OVERHEAD
        self._evict(self._table_limit - entry_size)
        if entry_size <= self._table_limit:
            self._dynamic.appendleft((name, value))
            self._size += entry_size
        # else: the table is now empty and the entry is not added (not an error)

    def _resize(self, block: bytes, pos: int) -> int:
        limit, pos = _integer(block, pos, 5)
        if limit > self._max_table:
            raise DecodingError(f"a dynamic table size update above {self._max_table}")
        self._table_limit = limit
        self._evict(limit)
        return pos

    def _evict(self, target: int) -> None:
        dynamic = self._dynamic
        while self._size > target and dynamic:
            name, value = dynamic.pop()
            self._size -= len(name) + len(value) + _ENTRY_OVERHEAD


def encode_headers(
    pairs: Iterable[tuple[str, str]], never_index: frozenset[str] = frozenset({"authorization"})
) -> bytes:
    """An HTTP/2 header block for ``pairs``, independent of any connection's state.

    An exact static-table match is sent indexed; anything else as a literal without
    indexing (never-indexed for names in ``never_index``, so intermediaries must not cache
    them either), with a static name index where there is one and raw (non-Huffman) strings.
    Names must be lower case, pseudo-headers first; connection-specific fields are refused.
    Raises :class:`~.errors.InvalidHeaderError` naming the header, never showing its value.
    """
    out = bytearray()
    regular_seen = False
    for name, value in pairs:
        raw_name, raw_value = encode_field(name, value, lowercase=True)
        if name.startswith(":") and regular_seen:
            raise InvalidHeaderError(f"the pseudo-header {name!r} comes after a regular header")
        if name in _CONNECTION_SPECIFIC or (name == "te" and value != "trailers"):
            raise InvalidHeaderError(f"the connection-specific header {name!r} is not allowed in HTTP/2")
        regular_seen = regular_seen or not name.startswith(":")
        index = _STATIC_EXACT.get((raw_name, raw_value))
        if index is not None:
            out += _encode_integer(index, 7, 0x80)
            continue
        name_index = _STATIC_NAME.get(raw_name, 0)
        out += _encode_integer(name_index, 4, 0x10 if name in never_index else 0x00)
        if not name_index:
            out += _encode_integer(len(raw_name), 7, 0) + raw_name
        out += _encode_integer(len(raw_value), 7, 0) + raw_value
    return bytes(out)
