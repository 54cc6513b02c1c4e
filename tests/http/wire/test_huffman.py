"""The Huffman code of RFC 7541 Appendix B, checked against the hpack package and the RFC."""

from __future__ import annotations

import contextlib
import itertools

import hpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcmclient._http.wire.errors import DecodingError
from fcmclient._http.wire.huffman import CODES, EOS, decode


def encode(data: bytes) -> bytes:
    """Huffman-code ``data`` with our table, padded with ones (RFC 7541 section 5.2)."""
    acc, bits = 0, 0
    for byte in data:
        code, length = CODES[byte]
        acc, bits = acc << length | code, bits + length
    pad = -bits % 8
    return (acc << pad | (1 << pad) - 1).to_bytes((bits + pad) // 8, "big")


def hpack_huffman(value: bytes) -> bytes:
    """The Huffman-coded ``value`` from the hpack package's public encoder."""
    block = hpack.Encoder().encode([(b"x", value)], huffman=True)
    # 0x40 (literal, new name), name length + name, value length (H bit set) + value.
    name_end = 2 + (block[1] & 0x7F)
    assert block[name_end] & 0x80, "hpack did not Huffman-code the value"
    start = name_end + 1
    if block[name_end] & 0x7F == 0x7F:  # a long value: the length goes on in continuation octets
        while block[start] & 0x80:
            start += 1
        start += 1
    return block[start:]


@pytest.mark.parametrize("symbol", range(256))
def test_each_symbol_codes_as_hpack_codes_it(symbol: int) -> None:
    assert encode(bytes([symbol])) == hpack_huffman(bytes([symbol]))


def test_all_symbols_in_a_row_code_as_hpack_codes_them() -> None:
    everything = bytes(range(256)) + bytes(range(255, -1, -1))
    assert encode(everything) == hpack_huffman(everything)
    assert decode(hpack_huffman(everything)) == everything


def test_code_is_complete_and_canonical() -> None:
    assert len(CODES) == 257
    assert sum(2.0**-length for _, length in CODES) == 1.0  # Kraft: a complete prefix code
    ordered = sorted(range(257), key=lambda s: (CODES[s][1], s))
    for before, after in itertools.pairwise(ordered):
        (code_a, len_a), (code_b, len_b) = CODES[before], CODES[after]
        assert code_b == (code_a + 1) << (len_b - len_a)


@pytest.mark.parametrize(
    ("symbol", "code", "length"),
    [
        (0, 8184, 13),
        (ord(" "), 20, 6),
        (ord("0"), 0, 5),
        (ord("a"), 3, 5),
        (ord("/"), 24, 6),
        (10, 1073741820, 30),
        (127, 268435452, 28),
        (255, 67108846, 26),
        (EOS, 1073741823, 30),
    ],
)
def test_codes_from_the_rfc_table(symbol: int, code: int, length: int) -> None:
    assert CODES[symbol] == (code, length)


@pytest.mark.parametrize(
    ("coded", "text"),
    [
        ("f1e3c2e5f23a6ba0ab90f4ff", b"www.example.com"),  # RFC 7541 C.4.1
        ("a8eb10649cbf", b"no-cache"),  # C.4.2
        ("25a849e95ba97d7f", b"custom-key"),  # C.4.3
        ("25a849e95bb8e8b4bf", b"custom-value"),
        ("", b""),
    ],
)
def test_rfc_examples_decode(coded: str, text: bytes) -> None:
    assert decode(bytes.fromhex(coded)) == text


@given(st.binary(max_size=200))
def test_round_trip(data: bytes) -> None:
    assert decode(encode(data)) == data


def test_eos_inside_a_string_is_an_error() -> None:
    with pytest.raises(DecodingError, match="EOS"):
        decode(b"\xff\xff\xff\xff")  # 30 ones: EOS, then 2 bits


@pytest.mark.parametrize(
    "coded",
    [
        b"\x00",  # "0" (00000), then a pad of zeros
        bytes.fromhex("a8eb10649cbf") + b"\xff",  # 8 bits of padding: too long
        b"\xfe",  # a 10-bit code cut after 8 bits: a pad that is not all ones
    ],
)
def test_bad_padding_is_an_error(coded: bytes) -> None:
    with pytest.raises(DecodingError):
        decode(coded)


@given(st.binary(max_size=64))
def test_random_bytes_raise_nothing_but_decoding_error(noise: bytes) -> None:
    with contextlib.suppress(DecodingError):
        assert isinstance(decode(noise), bytes)
