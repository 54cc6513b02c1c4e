"""Small pure helpers shared by both protocol codecs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["dumps", "stringify", "snippet", "header"]

_SNIPPET = 300


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as sent on the wire."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


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
