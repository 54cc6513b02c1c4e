"""HTTP/1.1 request heads: what is sent, and what is refused without showing a secret."""

from __future__ import annotations

import pytest

from fcmclient._http.wire.errors import InvalidHeaderError, WireError
from fcmclient._http.wire.h1 import request, request_head

SECRET = "Bearer ya29.secret-token"


def test_head_holds_request_line_host_and_headers_in_order() -> None:
    head = request_head("POST", "/v1/projects/p/messages:send", "fcm.example:443", [("A", "1"), ("B", "2")])
    assert head == b"POST /v1/projects/p/messages:send HTTP/1.1\r\nHost: fcm.example:443\r\nA: 1\r\nB: 2\r\n"


def test_request_adds_content_length_blank_line_and_body() -> None:
    head = request_head("POST", "/", "h", [])
    assert request(head, b"{}") == b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"
    assert request(head, b"") == b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"


def test_request_without_body_sends_no_content_length() -> None:
    assert request(request_head("GET", "/", "h", []), None) == b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"


def test_one_head_serves_many_bodies() -> None:
    head = request_head("POST", "/", "h", [("Authorization", SECRET)])
    first, second = request(head, b"a"), request(head, b"bcd")
    assert first.startswith(head)
    assert second.startswith(head)
    assert first.endswith(b"Content-Length: 1\r\n\r\na")
    assert second.endswith(b"Content-Length: 3\r\n\r\nbcd")


def test_latin1_values_are_encoded_as_latin1() -> None:
    assert b"X: caf\xe9\r\n" in request_head("GET", "/", "h", [("X", "café")])


@pytest.mark.parametrize(
    "value", [SECRET + "\r\nX-Injected: 1", SECRET + "\n", SECRET + "\r", SECRET + "\x00"]
)
def test_value_with_cr_lf_or_nul_is_refused_naming_the_header_not_the_value(value: str) -> None:
    with pytest.raises(InvalidHeaderError) as caught:
        request_head("POST", "/", "h", [("Authorization", value)])
    assert "Authorization" in str(caught.value)
    assert "secret" not in str(caught.value)
    assert "ya29" not in repr(caught.value)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, WireError)


def test_value_outside_latin1_is_refused_without_showing_it() -> None:
    with pytest.raises(InvalidHeaderError, match="Authorization") as caught:
        request_head("POST", "/", "h", [("Authorization", SECRET + "€")])
    assert "ya29" not in str(caught.value)


@pytest.mark.parametrize("name", ["", "Bad Name", "Bad:Name", "Bad\r\nName", "Ünicode", "(x)", "a/b"])
def test_header_name_must_be_a_token(name: str) -> None:
    with pytest.raises(InvalidHeaderError, match="header name"):
        request_head("POST", "/", "h", [(name, "v")])


@pytest.mark.parametrize("name", ["Host", "content-length", "Transfer-Encoding"])
def test_framing_headers_belong_to_the_codec(name: str) -> None:
    with pytest.raises(InvalidHeaderError, match="set by the codec"):
        request_head("POST", "/", "h", [(name, "1")])


@pytest.mark.parametrize("method", ["", "PO ST", "GET\r\n", "P/ST"])
def test_method_must_be_a_token(method: str) -> None:
    with pytest.raises(InvalidHeaderError, match="method"):
        request_head(method, "/", "h", [])


@pytest.mark.parametrize("target", ["", "/a b", "/a\r\nX: y", "/caf\xe9", "/\x00"])
def test_target_must_be_visible_ascii_and_is_not_echoed(target: str) -> None:
    with pytest.raises(InvalidHeaderError, match="request target") as caught:
        request_head("GET", target, "h", [])
    assert target not in str(caught.value) or not target


@pytest.mark.parametrize("host", ["", "a b", "h\r\nX: y"])
def test_host_must_be_visible_ascii(host: str) -> None:
    with pytest.raises(InvalidHeaderError, match="Host"):
        request_head("GET", "/", host, [])
