"""Content-Encoding decoding with a hard cap on the decoded size (RFC 9110 section 8.4).

The cap bounds the *output*, so a small compressed body that inflates to gigabytes (a "zip
bomb") costs at most ``cap`` bytes of memory::

    >>> import gzip
    >>> decoded, ok = decode_body("gzip", gzip.compress(b"x" * 10_000), cap=100)
    >>> len(decoded), ok
    (100, False)
"""

from __future__ import annotations

import zlib

__all__ = ["decode_body"]

_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS
_KNOWN = frozenset({"gzip", "x-gzip", "deflate"})
_STEP = 64 * 1024  # input fed to zlib per call, so that corrupt data still yields what came before


def decode_body(content_encoding: str | None, body: bytes, cap: int) -> tuple[bytes, bool]:
    """``(decoded, ok)``: ``body`` decoded as ``content_encoding`` says, at most ``cap`` bytes.

    Handles ``gzip``/``x-gzip`` (several members too), ``deflate`` (zlib-wrapped or raw, as
    servers send both) and ``identity``, listed in the order applied (``"deflate, gzip"``).
    ``ok`` is False when the output would pass ``cap`` (the first ``cap`` bytes come back),
    when the coding is unknown (the body comes back as it was) or the data are corrupt or cut
    (what decoded before the fault comes back). The caller then treats the body as unreadable.
    """
    codings = [c.strip(" \t").lower() for c in (content_encoding or "").split(",")]
    data = body
    for coding in reversed([c for c in codings if c not in ("", "identity")]):
        if not data and coding in _KNOWN:  # no content (HEAD, 204, 304): nothing to decode
            continue
        if coding in ("gzip", "x-gzip"):
            data, ok = _inflate(data, _GZIP, cap)
        elif coding == "deflate":
            data, ok = _inflate(data, _ZLIB if _has_zlib_header(data) else _RAW_DEFLATE, cap)
        else:
            return data, False
        if not ok:
            return data, False
    return data, True


def _has_zlib_header(data: bytes) -> bool:
    """True if ``data`` starts with a zlib header (RFC 1950): deflate method and a valid check."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def _inflate(data: bytes, wbits: int, cap: int) -> tuple[bytes, bool]:
    """Inflate ``data`` with ``wbits`` into at most ``cap`` bytes; gzip members are concatenated."""
    out = bytearray()
    while True:
        decompressor = zlib.decompressobj(wbits)
        try:
            for start in range(0, len(data), _STEP):
                pending = data[start : start + _STEP]
                while pending and not decompressor.eof:
                    out += decompressor.decompress(pending, cap + 1 - len(out))
                    if len(out) > cap:
                        return bytes(out[:cap]), False
                    pending = decompressor.unconsumed_tail
                if decompressor.eof:
                    break
        except zlib.error:
            return bytes(out), False
        if not decompressor.eof:
            return bytes(out), False  # cut short
        rest = decompressor.unused_data + data[start + _STEP :]
        if not rest:
            return bytes(out), True
        if wbits != _GZIP or not rest.startswith(b"\x1f\x8b"):
            return bytes(out), False  # trailing garbage
        data = rest
