"""Content-Encoding decoding: every coding, the output cap (a gzip bomb stops), bad data."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcmclient._http.wire.content import decode_body

TEXT = b'{"name": "projects/p/messages/1"}' * 20


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", gzip.compress(TEXT)),
        ("x-gzip", gzip.compress(TEXT)),
        ("GZIP", gzip.compress(TEXT)),
        ("deflate", zlib.compress(TEXT)),
        ("deflate", raw_deflate(TEXT)),
        ("identity", TEXT),
        ("", TEXT),
        (None, TEXT),
        ("gzip, identity", gzip.compress(TEXT)),
        ("deflate, gzip", gzip.compress(zlib.compress(TEXT))),
    ],
)
def test_each_coding_decodes(coding: str | None, body: bytes) -> None:
    assert decode_body(coding, body, cap=len(TEXT)) == (TEXT, True)


def test_several_gzip_members_are_concatenated() -> None:
    assert decode_body("gzip", gzip.compress(b"ab") + gzip.compress(b"cd"), cap=10) == (b"abcd", True)


def test_gzip_bomb_stops_at_the_cap() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    decoded, ok = decode_body("gzip", bomb, cap=4 * 1024 * 1024)
    assert (len(decoded), ok) == (4 * 1024 * 1024, False)


def test_output_one_byte_over_the_cap_is_refused() -> None:
    assert decode_body("gzip", gzip.compress(b"x" * 11), cap=10) == (b"x" * 10, False)
    assert decode_body("deflate", zlib.compress(b"x" * 10), cap=10) == (b"x" * 10, True)


def test_unknown_coding_returns_the_body_unread() -> None:
    assert decode_body("br", b"\x1b\x00", cap=10) == (b"\x1b\x00", False)
    assert decode_body("gzip, br", b"\x1b\x00", cap=10) == (b"\x1b\x00", False)


def test_corrupt_data_returns_what_decoded_before_the_fault() -> None:
    compressed = gzip.compress(bytes(range(256)) * 1000, compresslevel=0)
    damaged = compressed[:-8] + b"\xff" * 8  # the CRC and length trailer no longer match
    decoded, ok = decode_body("gzip", damaged, cap=1 << 20)
    # Everything before the last 64 KiB of input fed to zlib (its step) comes back.
    assert not ok
    assert decoded == (bytes(range(256)) * 1000)[: len(decoded)]
    assert len(decoded) > 150_000


@pytest.mark.parametrize(
    "body", [gzip.compress(TEXT)[:-3], b"not gzip at all", gzip.compress(TEXT) + b"junk"]
)
def test_cut_or_garbage_gzip_is_not_ok(body: bytes) -> None:
    assert decode_body("gzip", body, cap=1 << 20)[1] is False


def test_empty_body_needs_no_decoding() -> None:
    assert decode_body("gzip", b"", cap=10) == (b"", True)


@given(st.binary(max_size=5000), st.sampled_from(["gzip", "deflate"]), st.integers(0, 6000))
def test_round_trip_within_the_cap(data: bytes, coding: str, cap: int) -> None:
    body = gzip.compress(data) if coding == "gzip" else zlib.compress(data)
    decoded, ok = decode_body(coding, body, cap)
    assert ok is (len(data) <= cap)
    assert decoded == data[:cap]


@given(st.binary(max_size=300), st.sampled_from(["gzip", "deflate", "x-gzip", "gzip, deflate"]))
def test_random_bytes_never_raise(noise: bytes, coding: str) -> None:
    decoded, ok = decode_body(coding, noise, cap=1000)
    assert isinstance(decoded, bytes)
    assert len(decoded) <= 1000
    assert isinstance(ok, bool)
