"""The HTTP/1.1 response parser, rule by rule (RFC 9112)."""

from __future__ import annotations

import tracemalloc

import pytest

from fcmclient._http.wire.errors import ProtocolError
from fcmclient._http.wire.h1 import MAX_HEADERS, MAX_LINE, Response, ResponseParser

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def parse(data: bytes, **kwargs: int) -> list[Response]:
    return ResponseParser(**kwargs).feed(data)


def one(data: bytes) -> Response:
    (response,) = parse(data)
    return response


def test_content_length_response() -> None:
    response = one(OK)
    assert (response.status, response.reason, response.body) == (200, "OK", b"{}")
    assert response.headers == (("Content-Type", "application/json"), ("Content-Length", "2"))
    assert response.keep_alive
    assert not response.truncated


def test_header_lookup_ignores_case_and_joins_repeats() -> None:
    response = one(b"HTTP/1.1 200 OK\r\nVary: a\r\nvary: b\r\nContent-Length: 0\r\n\r\n")
    assert response.get("VARY") == "a, b"
    assert response.get_all("Vary") == ["a", "b"]
    assert response.get("missing") is None
    assert response.get("missing", "d") == "d"


def test_values_are_stripped_and_latin1() -> None:
    response = one(b"HTTP/1.1 200 OK\r\nX:  caf\xe9 \t\r\nContent-Length: 0\r\n\r\n")
    assert response.get("x") == "café"


def test_reason_may_be_empty_or_absent() -> None:
    assert one(b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").reason == ""
    assert one(b"HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n").status == 503


def test_bare_lf_line_endings_are_tolerated() -> None:
    response = one(b"HTTP/1.1 200 OK\nContent-Length: 2\nX: y\n\n{}")
    assert (response.body, response.get("x")) == (b"{}", "y")
    assert one(b"HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\n{}").body == b"{}"


def test_obs_fold_is_unfolded_into_one_space() -> None:
    assert one(b"HTTP/1.1 200 OK\r\nX: a\r\n  b\r\nContent-Length: 0\r\n\r\n").get("x") == "a b"


def test_several_responses_in_one_feed_none_lost() -> None:
    responses = parse(OK + OK.replace(b"200 OK", b"404 NF") + OK[:10])
    assert [r.status for r in responses] == [200, 404]


def test_split_responses_complete_on_the_right_feed() -> None:
    parser = ResponseParser()
    assert parser.feed(OK[:-1]) == []
    assert parser.feed(OK[-1:] + OK[:5]) == [one(OK)]
    assert parser.feed(OK[5:]) == [one(OK)]


# -- Content-Length --


def test_repeated_equal_content_lengths_are_accepted() -> None:
    assert one(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab").body == b"ab"
    assert one(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nab").body == b"ab"


@pytest.mark.parametrize("value", [b"-1", b"+2", b"2x", b"0x2", b"", b"1 2", b"\xd9\xa3", b"9" * 19])
def test_content_length_must_be_a_number(value: bytes) -> None:
    with pytest.raises(ProtocolError, match="Content-Length"):
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\n")


def test_conflicting_content_lengths_are_refused() -> None:
    with pytest.raises(ProtocolError, match="conflicting"):
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc")
    with pytest.raises(ProtocolError, match="conflicting"):
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nabc")


def test_zero_length_body_completes_with_the_head() -> None:
    assert one(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").body == b""


# -- chunked --

CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_chunked_body_with_extensions_and_trailers() -> None:
    data = CHUNKED + b"3;name=value\r\nabc\r\nA ; x\r\n0123456789\r\n0\r\nX-Trailer: t\r\nY: u\r\n\r\n"
    response = one(data)
    assert response.body == b"abc0123456789"
    assert response.trailers == (("X-Trailer", "t"), ("Y", "u"))
    assert response.keep_alive


def test_chunked_with_bare_lf_and_upper_case_hex() -> None:
    assert one(CHUNKED + b"B\n0123456789a\n0\n\n").body == b"0123456789a"


def test_chunked_wins_over_content_length_but_closes() -> None:
    response = one(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"
    )
    assert response.body == b"a"
    assert not response.keep_alive


@pytest.mark.parametrize("coding", [b"gzip", b"gzip, chunked", b"chunked, chunked", b"identity"])
def test_transfer_codings_other_than_chunked_are_refused(coding: bytes) -> None:
    with pytest.raises(ProtocolError, match="Transfer-Encoding"):
        parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + coding + b"\r\n\r\n")


def test_transfer_encoding_in_http10_is_refused() -> None:
    with pytest.raises(ProtocolError, match=r"HTTP/1\.0"):
        parse(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")


@pytest.mark.parametrize(
    "body", [b"x\r\n", b"-1\r\n", b"\r\n", b"1\r\nab\r\n", b"1" * 16 + b"\r\n", b"0\r\nbad trailer\r\n\r\n"]
)
def test_malformed_chunks_are_refused(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse(CHUNKED + body + b"0\r\n\r\n")


# -- close-delimited, eof --


def test_close_delimited_body_ends_at_eof_and_is_not_keep_alive() -> None:
    parser = ResponseParser()
    assert parser.feed(b"HTTP/1.1 200 OK\r\n\r\nab") == []
    assert parser.feed(b"cd") == []
    response = parser.eof()
    assert response is not None
    assert (response.body, response.keep_alive, response.truncated) == (b"abcd", False, False)


def test_eof_before_any_head_returns_none_and_later_feeds_fail() -> None:
    parser = ResponseParser()
    assert parser.feed(b"HTTP/1.1 20") == []
    assert parser.eof() is None
    assert parser.eof() is None
    with pytest.raises(ProtocolError, match="closed"):
        parser.feed(b"0 OK\r\n\r\n")


@pytest.mark.parametrize("cut", [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", CHUNKED + b"5\r\nab"])
def test_a_cut_body_comes_back_truncated_and_not_keep_alive(cut: bytes) -> None:
    parser = ResponseParser()
    assert parser.feed(cut) == []
    response = parser.eof()
    assert response is not None
    assert (response.status, response.body, response.truncated, response.keep_alive) == (
        200,
        b"ab",
        True,
        False,
    )


def test_eof_after_a_complete_response_returns_none() -> None:
    parser = ResponseParser()
    assert len(parser.feed(OK)) == 1
    assert parser.eof() is None


# -- interim responses, bodiless statuses, HEAD --


def test_interim_responses_are_skipped() -> None:
    data = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK
    assert [r.status for r in parse(data)] == [200]


def test_interim_responses_split_byte_by_byte() -> None:
    data = b"HTTP/1.1 100 Continue\r\n\r\n" + OK
    parser = ResponseParser()
    out = [r for i in range(len(data)) for r in parser.feed(data[i : i + 1])]
    assert [r.status for r in out] == [200]


def test_101_is_refused_as_nobody_asked_to_switch() -> None:
    with pytest.raises(ProtocolError, match="101"):
        parse(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n")


@pytest.mark.parametrize("status", [204, 304])
def test_204_and_304_have_no_body_whatever_the_headers(status: int) -> None:
    head = b"HTTP/1.1 %d X\r\nContent-Length: 10\r\n\r\n" % status
    responses = parse(head + OK)
    assert [(r.status, r.body) for r in responses] == [(status, b""), (200, b"{}")]


def test_response_to_head_has_no_body() -> None:
    parser = ResponseParser()
    parser.head_sent()
    responses = parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + OK)
    assert [(r.status, r.body) for r in responses] == [(200, b""), (200, b"{}")]


# -- keep-alive --


@pytest.mark.parametrize(
    ("head", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\n", True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n", False),
        (b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\n", False),
        (b"HTTP/1.0 200 OK\r\n", False),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n", True),
        (b"HTTP/1.2 200 OK\r\n", True),
    ],
)
def test_keep_alive(head: bytes, keep_alive: bool) -> None:
    assert one(head + b"Content-Length: 0\r\n\r\n").keep_alive is keep_alive


# -- garbage and limits --


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 099 OK\r\n\r\n",
        b"HTTP/1.1  200 OK\r\n\r\n",
        b"http/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: v\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nName : v\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n: v\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded-first: v\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
    ],
)
def test_malformed_heads_are_protocol_errors(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse(data)


def test_non_http_garbage_fails_before_a_blank_line_arrives() -> None:
    with pytest.raises(ProtocolError, match="status line"):
        ResponseParser().feed(b"\x00\x00\x12\x04\x00\x00")  # an HTTP/2 server's SETTINGS frame


def test_error_messages_never_echo_values() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse(b"HTTP/1.1 200 OK\r\nSet-Cookie: secret-session\x00\r\n\r\n")
    assert "secret" not in str(caught.value)


def test_lines_up_to_the_limit_are_accepted() -> None:
    value = b"v" * (MAX_LINE - 3)
    assert (
        one(b"HTTP/1.1 200 OK\r\nX: " + value + b"\r\nContent-Length: 0\r\n\r\n").get("x") == value.decode()
    )


def test_a_header_line_over_the_limit_fails_without_waiting_for_its_end() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 200 OK\r\nX: ")
    for _ in range(MAX_LINE // 1024 - 1):
        assert parser.feed(b"v" * 1024) == []
    with pytest.raises(ProtocolError, match="longer than"):
        parser.feed(b"v" * 1024)  # 3 + 64 KiB octets in the line, and still no end in sight


def test_a_complete_head_with_a_line_over_the_limit_fails() -> None:
    with pytest.raises(ProtocolError, match="longer than"):
        parse(b"HTTP/1.1 200 OK\r\nX: " + b"v" * MAX_LINE + b"\r\n\r\n")


def test_a_status_line_over_the_limit_fails() -> None:
    with pytest.raises(ProtocolError, match="longer than"):
        parse(b"HTTP/1.1 200 " + b"r" * MAX_LINE)


def test_header_count_limit() -> None:
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS - 1))
    assert len(one(b"HTTP/1.1 200 OK\r\n" + fields + b"Content-Length: 0\r\n\r\n").headers) == MAX_HEADERS
    with pytest.raises(ProtocolError, match="header lines"):
        parse(b"HTTP/1.1 200 OK\r\n" + fields + b"Y: 1\r\nContent-Length: 0\r\n\r\n")
    parser = ResponseParser()
    with pytest.raises(ProtocolError, match="header lines"):
        parser.feed(b"HTTP/1.1 200 OK\r\n" + fields * 2)  # fails before the head ends


def test_trailer_count_limit() -> None:
    trailers = b"".join(b"T-%d: v\r\n" % i for i in range(MAX_HEADERS + 1))
    with pytest.raises(ProtocolError, match="trailer"):
        parse(CHUNKED + b"0\r\n" + trailers + b"\r\n")


def test_responses_before_garbage_are_returned_and_the_next_call_fails() -> None:
    parser = ResponseParser()
    responses = parser.feed(OK + b"garbage\r\n\r\n")
    assert [r.body for r in responses] == [b"{}"]
    assert not responses[0].keep_alive  # the connection is broken: do not reuse it
    with pytest.raises(ProtocolError):
        parser.feed(b"")


# -- the body cap --


def test_body_at_the_cap_is_complete() -> None:
    response = one(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + b"x" * 10)
    assert not response.truncated
    assert (
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + b"x" * 10, max_body=10)[0].truncated is False
    )


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
        CHUNKED + b"19\r\n",
    ],
)
def test_body_over_the_cap_is_cut_at_the_cap_then_discarded(head: bytes) -> None:
    parser = ResponseParser(max_body=10)
    assert parser.feed(head + b"x" * 9) == []
    (response,) = parser.feed(b"y" * 5)
    assert (response.body, response.truncated, response.keep_alive) == (b"x" * 9 + b"y", True, False)
    assert parser.feed(b"z" * 100 + OK) == []
    assert parser.eof() is None


def test_discarding_past_the_cap_buffers_nothing() -> None:
    parser = ResponseParser(max_body=1024)
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
    chunk = b"x" * 65536
    tracemalloc.start()
    try:
        for _ in range(200):  # 12.5 MiB
            parser.feed(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 512 * 1024
