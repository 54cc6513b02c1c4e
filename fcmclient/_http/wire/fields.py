"""Header fields: validation for what we send, a case-insensitive lookup for what we receive.

A name is an RFC 9110 token; a value has no CR, LF or NUL (what would let a value start a
new header or end the head early). :class:`~.errors.InvalidHeaderError` names the header and
never echoes its value, since values carry secrets (``Authorization``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import InvalidHeaderError

__all__ = ["Fields", "FieldLookup", "check_token", "encode_field", "has_token"]

#: Header pairs as received: names as sent by the peer, values decoded as Latin-1.
Fields = tuple[tuple[str, str], ...]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_LOWER_NAME = re.compile(r":?[!#$%&'*+\-.^_`|~0-9a-z]+")
_BAD_VALUE = re.compile(r"[\r\n\x00]")


def check_token(what: str, text: str) -> None:
    """Raise :class:`InvalidHeaderError` unless ``text`` is a non-empty RFC 9110 token."""
    if not _TOKEN.fullmatch(text):
        raise InvalidHeaderError(f"the {what} {text[:64]!r} is not an HTTP token")


def encode_field(name: str, value: str, *, lowercase: bool = False) -> tuple[bytes, bytes]:
    """``(name, value)`` as Latin-1 bytes, validated for sending.

    With ``lowercase`` (HTTP/2) the name must be lower case and may be a pseudo-header
    (``:path``). Raises :class:`InvalidHeaderError` naming the header, never showing its value.
    """
    if not (_LOWER_NAME if lowercase else _TOKEN).fullmatch(name):
        shown = name[:64]
        raise InvalidHeaderError(
            f"the header name {shown!r} is not a valid {'HTTP/2 ' if lowercase else ''}name"
        )
    if _BAD_VALUE.search(value):
        raise InvalidHeaderError(f"the value of header {name!r} contains CR, LF or NUL")
    try:
        return name.encode("ascii"), value.encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidHeaderError(f"the value of header {name!r} is not Latin-1 text") from None


class FieldLookup:
    """Case-insensitive access to a ``headers`` attribute holding :data:`Fields`."""

    __slots__ = ()
    headers: Fields

    def get_all(self, name: str) -> list[str]:
        """Every value of the header ``name`` (any case), in the order received."""
        key = name.lower()
        return [value for field, value in self.headers if field.lower() == key]

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of ``name``; repeated fields joined with ``", "``; ``default`` if absent."""
        values = self.get_all(name)
        return ", ".join(values) if values else default


def has_token(values: Iterable[str], token: str) -> bool:
    """True when the comma-separated lists in ``values`` hold ``token`` (lower case, any case in)."""
    return any(item.strip().lower() == token for value in values for item in value.split(","))
