"""HPACK (RFC 7541): the RFC's examples, every representation and error, limits, the encoder,
and round trips with the hpack package in both directions."""

from __future__ import annotations

import contextlib

import hpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fcmclient._http.wire.errors import DecodingError, HeaderListTooLargeError, InvalidHeaderError
from fcmclient._http.wire.hpack import STATIC_TABLE, Decoder, encode_headers

REQUESTS = [  # RFC 7541 C.3 (raw) and C.4 (Huffman): the same three requests, one connection each
    [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"www.example.com")],
    [
        (b":method", b"GET"),
        (b":scheme", b"http"),
        (b":path", b"/"),
        (b":authority", b"www.example.com"),
        (b"cache-control", b"no-cache"),
    ],
    [
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":path", b"/index.html"),
        (b":authority", b"www.example.com"),
        (b"custom-key", b"custom-value"),
    ],
]
C3 = [
    "828684410f7777772e6578616d706c652e636f6d",
    "828684be58086e6f2d6361636865",
    "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
]
C4 = [
    "828684418cf1e3c2e5f23a6ba0ab90f4ff",
    "828684be5886a8eb10649cbf",
    "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
]


@pytest.mark.parametrize("blocks", [C3, C4], ids=["C.3", "C.4"])
def test_rfc_request_sequences(blocks: list[str]) -> None:
    decoder = Decoder()
    for block, expected, size in zip(blocks, REQUESTS, [57, 110, 164], strict=False):
        assert decoder.decode(bytes.fromhex(block)) == expected
        assert decoder.table_size == size


@pytest.mark.parametrize(
    ("block", "field", "size"),
    [
        (
            "400a637573746f6d2d6b65790d637573746f6d2d686561646572",
            (b"custom-key", b"custom-header"),
            55,
        ),  # C.2.1
        ("040c2f73616d706c652f70617468", (b":path", b"/sample/path"), 0),  # C.2.2
        ("100870617373776f726406736563726574", (b"password", b"secret"), 0),  # C.2.3
        ("82", (b":method", b"GET"), 0),  # C.2.4
    ],
)
def test_rfc_single_representations(block: str, field: tuple[bytes, bytes], size: int) -> None:
    decoder = Decoder()
    assert decoder.decode(bytes.fromhex(block)) == [field]
    assert decoder.table_size == size


def test_static_table_has_the_61_rfc_entries() -> None:
    assert len(STATIC_TABLE) == 61
    assert STATIC_TABLE[0] == (b":authority", b"")
    assert STATIC_TABLE[7] == (b":status", b"200")
    assert STATIC_TABLE[60] == (b"www-authenticate", b"")
    theirs = hpack.Decoder()
    for index, entry in enumerate(STATIC_TABLE, 1):
        assert theirs.decode(bytes([0x80 | index]) if index < 127 else b"", raw=True) == [entry]


def test_integers_with_continuation_octets() -> None:
    decoder = Decoder()
    decoder.decode(b"\x3f\x9a\x0a")  # a size update to 1337 on a 5-bit prefix (RFC 7541 C.1.2)
    long_value = b"v" * 300  # length 300 needs a continuation octet
    assert decoder.decode(b"\x00\x01x\x7f\xad\x01" + long_value) == [(b"x", long_value)]


def test_dynamic_table_evicts_oldest_first() -> None:
    decoder = Decoder(max_table_size=100)
    decoder.decode(b"\x40\x01a\x01A")  # size 34
    decoder.decode(b"\x40\x01b\x01B")  # 68
    assert decoder.decode(b"\xbe\xbf") == [(b"b", b"B"), (b"a", b"A")]  # 62 is the newest
    decoder.decode(b"\x40\x01c\x01C")  # 102 > 100: "a" goes
    assert decoder.table_size == 68
    assert decoder.decode(b"\xbe\xbf") == [(b"c", b"C"), (b"b", b"B")]
    with pytest.raises(DecodingError, match="no entry 64"):
        decoder.decode(b"\xc0")


def test_an_entry_larger_than_the_table_empties_it() -> None:
    decoder = Decoder(max_table_size=64)
    decoder.decode(b"\x40\x01a\x01A")
    assert decoder.decode(b"\x40\x01b\x20" + b"B" * 32) == [(b"b", b"B" * 32)]
    assert decoder.table_size == 0
    with pytest.raises(DecodingError):
        decoder.decode(b"\xbe")


def test_size_update_shrinks_and_evicts() -> None:
    decoder = Decoder()
    decoder.decode(b"\x40\x01a\x01A\x40\x01b\x01B")
    assert decoder.decode(b"\x3f\x03" + b"\xbe") == [(b"b", b"B")]  # limit 34: only "b" stays
    assert decoder.table_size == 34


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (b"\x80", "no entry 0"),
        (b"\xbe", "no entry 62"),
        (b"\xff", "inside an integer"),
        (b"\xff\x80", "inside an integer"),
        (b"\xff" + b"\x80" * 6 + b"\x01", "too long"),
        (b"\x40", "before a string"),
        (b"\x00\x05ab", "longer than"),
        (b"\x00\x01a", "before a string"),
        (b"\x00\x81\xff", "EOS|padding"),
        (b"\x00\x01a\x81\x00", "padding"),
        (b"\x82\x20", "after a header field"),
        (b"\x3f\xe2\x1f", "above 4096"),
        (b"\x10\x00\x00\x10", "before a string"),
    ],
)
def test_malformed_blocks_are_decoding_errors(block: bytes, message: str) -> None:
    with pytest.raises(DecodingError, match=message):
        Decoder().decode(block)


def test_never_indexed_and_without_indexing_leave_the_table_alone() -> None:
    decoder = Decoder()
    assert decoder.decode(b"\x00\x01a\x01A\x10\x01b\x01B") == [(b"a", b"A"), (b"b", b"B")]
    assert decoder.table_size == 0


def test_string_length_limit() -> None:
    decoder = Decoder(max_string_length=4)
    assert decoder.decode(b"\x00\x01a\x04abcd") == [(b"a", b"abcd")]
    with pytest.raises(DecodingError, match="longer than"):
        decoder.decode(b"\x00\x01a\x05abcde")
    huffman_five = hpack.Encoder().encode([(b"a", b"aaaaa")], huffman=True)[3:]  # Huffman: 4 octets
    with pytest.raises(DecodingError, match="longer than 4"):
        decoder.decode(b"\x00\x01a" + huffman_five)


def test_header_list_limit_keeps_the_table_in_step() -> None:
    decoder = Decoder(max_header_list_size=100)
    with pytest.raises(HeaderListTooLargeError):
        decoder.decode(b"\x40\x01a\x30" + b"A" * 48 + b"\x40\x01b\x30" + b"B" * 48)
    # Both entries went into the table although the list was refused.
    assert decoder.decode(b"\xbe") == [(b"b", b"B" * 48)]
    assert decoder.decode(b"\xbf") == [(b"a", b"A" * 48)]


# -- the encoder --


def test_exact_static_matches_are_indexed() -> None:
    assert encode_headers([(":method", "POST"), (":scheme", "https"), (":path", "/")]) == b"\x83\x87\x84"


def test_other_fields_are_raw_literals_without_indexing() -> None:
    assert encode_headers([(":path", "/v1")]) == b"\x04\x03/v1"
    assert encode_headers([("x-a", "b")]) == b"\x00\x03x-a\x01b"


def test_authorization_is_never_indexed() -> None:
    block = encode_headers([("authorization", "Bearer t")])
    assert block == b"\x1f\x08\x08Bearer t"  # 0001 + name index 23 (15 + 8) on a 4-bit prefix
    (field,) = hpack.Decoder().decode(block)
    assert isinstance(field, hpack.NeverIndexedHeaderTuple)
    assert encode_headers([("x-key", "k")], never_index=frozenset({"x-key"}))[0] == 0x10


def test_the_encoder_is_stateless() -> None:
    pairs = [(":method", "POST"), (":path", "/v1/send"), ("authorization", "Bearer t")]
    assert encode_headers(pairs) == encode_headers(pairs)
    theirs = hpack.Decoder()
    for _ in range(3):  # the same block decodes the same every time on one connection
        assert theirs.decode(encode_headers(pairs)) == pairs


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([("Content-Type", "a")], "header name"),
        ([("x", "a\r\nb")], "CR, LF or NUL"),
        ([("x", "\x00")], "CR, LF or NUL"),
        ([("x", "€")], "Latin-1"),
        ([("x-a", "1"), (":path", "/")], "after a regular header"),
        ([("connection", "close")], "connection-specific"),
        ([("te", "gzip")], "connection-specific"),
        ([("bad name", "1")], "header name"),
    ],
)
def test_invalid_headers_are_refused_without_showing_values(
    pairs: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(InvalidHeaderError, match=message) as caught:
        encode_headers(pairs)
    assert all(value not in str(caught.value) for _, value in pairs if len(value) > 2)


# -- round trips with the hpack package --

NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=20)
VALUE = st.binary(max_size=40)
HEADERS = st.lists(st.tuples(NAME.map(str.encode), VALUE), max_size=12)


@given(st.lists(st.tuples(HEADERS, st.booleans(), st.sampled_from([None, 0, 64, 256, 4096])), max_size=8))
@settings(max_examples=150)
def test_what_hpack_encodes_we_decode(
    blocks: list[tuple[list[tuple[bytes, bytes]], bool, int | None]],
) -> None:
    """One connection: their encoder indexes into its dynamic table, resizes it, Huffman or not."""
    theirs, ours = hpack.Encoder(), Decoder()
    for headers, huffman, table_size in blocks:
        if table_size is not None:
            theirs.header_table_size = table_size
        assert ours.decode(theirs.encode(headers, huffman=huffman)) == headers


FORBIDDEN = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"}


@given(
    st.lists(
        st.tuples(
            NAME.filter(lambda n: n not in FORBIDDEN),
            st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=30),
        )
    )
)
def test_what_we_encode_hpack_decodes(pairs: list[tuple[str, str]]) -> None:
    block = encode_headers(pairs)
    expected = [(n.encode(), v.encode("latin-1")) for n, v in pairs]
    assert hpack.Decoder().decode(block, raw=True) == expected
    assert Decoder().decode(block) == expected


@given(st.binary(max_size=100), st.binary(max_size=100))
@settings(max_examples=500)
def test_random_bytes_raise_nothing_but_decoding_error(first: bytes, second: bytes) -> None:
    decoder = Decoder(max_table_size=256, max_header_list_size=512, max_string_length=64)
    for block in (first, second):
        with contextlib.suppress(DecodingError):
            assert all(isinstance(n, bytes) and isinstance(v, bytes) for n, v in decoder.decode(block))
