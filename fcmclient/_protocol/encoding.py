"""Small pure helpers shared by both protocol codecs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["dumps", "loads", "stringify", "snippet", "header", "check_credential"]

_SNIPPET = 300


#: One encoder for every call (it keeps no state between calls): making one per call, as
#: ``json.dumps`` with options does, costs as much as encoding a small message.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as sent on the wire.

    >>> dumps({"a": ["é", 1.5, None]})
    b'{"a":["\\xc3\\xa9",1.5,null]}'
    """
    return _ENCODER.encode(value).encode()


def loads(body: bytes) -> Any:
    """Parse an answer's JSON body.

    :raises ValueError: the body is not JSON, not UTF-8 (or -16/-32), or nested so deeply
        that parsing it would exhaust the stack (Python raises ``RecursionError`` for that).

    >>> loads(b'{"a": [1]}')
    {'a': [1]}
    >>> loads(b"[" * 100_000)
    Traceback (most recent call last):
    ...
    ValueError: the JSON is nested too deeply to read
    """
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply to read") from None


def stringify(value: Any) -> str:
    """A ``data`` value as HTTP v1 (and the plain-text format) carry it: a string.

    Strings are sent unchanged; anything else is JSON-encoded, so ``3`` becomes ``"3"``,
    ``True`` becomes ``"true"`` and ``{"a": 1}`` becomes ``'{"a":1}'``.

    >>> [stringify(v) for v in ("x", 3, True, None, {"a": 1})]
    ['x', '3', 'true', 'null', '{"a":1}']
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def snippet(body: bytes, limit: int = _SNIPPET) -> str:
    """The start of a response body as readable text, for error messages."""
    text = body[: limit * 4].decode("utf-8", errors="replace").strip()
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header value looked up case-insensitively (works on plain dicts too)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


_CHAR_KINDS = {"\n": "a line break", "\r": "a line break", " ": "a space", "\t": "a tab"}


def check_credential(value: object, what: str) -> str:
    """Check that a secret (API key, access token) can be sent in an HTTP header as it is.

    It must be a non-empty str of visible ASCII characters: no spaces, line breaks, control
    or non-ASCII characters. Checking here, before any request, is what keeps the secret out
    of error messages: an HTTP library that refuses a header quotes its whole value.

    :param value: the secret.
    :param what: its name, for the error message (the value itself is never shown).
    :returns: ``value``, unchanged.
    :raises TypeError: ``value`` is not a str.
    :raises ValueError: ``value`` is empty or holds a character that cannot be sent.

    >>> check_credential("AAAA:bcd-ef_1", "the API key")
    'AAAA:bcd-ef_1'
    >>> check_credential("AAAA bcd", "the API key")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the API key holds a space at position 4 (of 8 characters) ...
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{what} is empty")
    for position, char in enumerate(value):
        if not "!" <= char <= "~":
            kind = _CHAR_KINDS.get(char, "a non-ASCII or control character")
            hint = "; was it read with its trailing newline?" if kind == "a line break" else ""
            raise ValueError(
                f"{what} holds {kind} at position {position} (of {len(value)} characters) "
                f"and cannot be sent in an HTTP header{hint}"
            )
    return value
