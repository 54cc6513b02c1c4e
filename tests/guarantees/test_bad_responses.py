"""Bad answers get the documented exception or bucket, and never another exception type.

What each protocol promises (see docs/guarantees.rst):

- legacy ``send()``: a result, or ``FCMRequestError`` / ``FCMAuthenticationError`` /
  ``FCMResponseError`` (all ``ValueError``), or ``requests.RequestException`` for a network
  problem before the status line arrived;
- v1 ``send()``: a result in which every token has a bucket (an unreadable 200 is ``failed``
  ``INVALID_RESPONSE``, never retried: it may have been delivered), or
  ``FCMAuthenticationError`` for a 401/403 without an FcmError;
- the OAuth token endpoint: a token, or ``FCMAuthenticationError`` (rejected, or 200 without
  a usable token) or ``requests.RequestException`` (a transient failure).

Pure decoders are fuzzed with hypothesis; transport-level misbehaviour (gzip garbage, cut
bodies, huge bodies, redirects, garbage status lines) is served by a raw loopback server.
"""

from __future__ import annotations

import gzip
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st

from fcmclient import (
    FCM,
    FCM_URL,
    FCMAuthenticationError,
    FCMRequestError,
    FCMResponseError,
    JSONMessage,
    PlainTextMessage,
    TopicMessage,
)
from fcmclient._http.session import MAX_RESPONSE_BYTES, make_session, post
from fcmclient._protocol import legacy, v1
from fcmclient._protocol.oauth import read_token_response
from fcmclient.outcomes import Bucket
from fcmclient.waits import MAX_RETRY_AFTER
from tests.loopback import RawServer, answer, http_answer

NOW = 1_700_000_000.0
LEGACY_ERRORS = (FCMRequestError, FCMAuthenticationError, FCMResponseError)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


def any_of(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A well-typed value, or any JSON value in its place, or the field left out."""
    return st.one_of(value, json_values, st.just(...))


def document(**fields: Any) -> Any:
    """The JSON document, with every field drawn as ``...`` left out (at any depth)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items() if item is not ...}
        if isinstance(value, list):
            return [strip(item) for item in value if item is not ...]
        return value

    return strip(fields)


# -- pure decoders, fuzzed ----------------------------------------------------------------------

statuses = st.integers(min_value=100, max_value=599)
bodies = st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode())
retry_afters = st.none() | st.text(max_size=20)


@given(statuses, bodies, retry_afters, st.sampled_from(["json", "topic", "plain"]))
def test_legacy_decoder_answers_any_bytes_with_outcomes_or_a_documented_error(
    status: int, body: bytes, retry_after: str | None, kind: str
) -> None:
    message = {
        "json": JSONMessage(["a", "b"]),
        "topic": TopicMessage(topic="news"),
        "plain": PlainTextMessage("a"),
    }[kind]
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    try:
        decoded = legacy.decode(message, status, headers, body, NOW)
    except LEGACY_ERRORS as exc:
        error: Exception = exc
    else:
        assert len(decoded.outcomes) == len(message.targets)
        assert all(o.wait is None or 0.0 <= o.wait <= MAX_RETRY_AFTER for o in decoded.outcomes)
        return
    assert status != 200 or isinstance(error, FCMResponseError)


legacy_entries = st.fixed_dictionaries(
    {},
    optional={
        "message_id": any_of(st.text(min_size=1, max_size=6)),
        "registration_id": any_of(st.text(min_size=1, max_size=6)),
        "error": any_of(st.sampled_from(["NotRegistered", "Unavailable", "InvalidRegistration"])),
    },
)


@given(
    multicast_id=any_of(st.integers()),
    success=any_of(st.integers()),
    failure=any_of(st.integers()),
    canonical_ids=any_of(st.integers()),
    results=any_of(st.lists(legacy_entries | json_values, min_size=1, max_size=3)),
)
def test_legacy_wrong_types_in_every_field_are_a_response_error(**fields: Any) -> None:
    message = JSONMessage(["a", "b"])
    body = json.dumps(document(**fields)).encode()
    try:
        decoded = legacy.decode(message, 200, {}, body, NOW)
    except FCMResponseError:
        return
    assert len(decoded.outcomes) == 2
    for outcome, entry in zip(decoded.outcomes, document(**fields)["results"], strict=True):
        if outcome.bucket is Bucket.SUCCESS:
            assert isinstance(entry["message_id"], (str, int))
        else:
            assert isinstance(entry["error"], str)


@given(statuses, bodies, retry_afters)
def test_v1_decoder_answers_any_bytes_with_an_outcome_or_an_auth_error(
    status: int, body: bytes, retry_after: str | None
) -> None:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    try:
        outcome = v1.decode(status, headers, body, NOW)
    except FCMAuthenticationError:
        assert status in (401, 403)
        return
    if status == 200:
        assert outcome.bucket in (Bucket.SUCCESS, Bucket.FAILED)
    assert outcome.wait is None or 0.0 <= outcome.wait <= MAX_RETRY_AFTER


fcm_details = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "@type": any_of(
                st.sampled_from(
                    [
                        "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                        "type.googleapis.com/google.firebase.fcm.v1.ApnsError",
                        "type.googleapis.com/google.rpc.ErrorInfo",
                    ]
                )
            ),
            "errorCode": any_of(st.sampled_from(["UNREGISTERED", "UNAVAILABLE", "INVALID_ARGUMENT"])),
            "statusCode": any_of(st.just(410)),
            "reason": any_of(st.just("ACCESS_TOKEN_EXPIRED")),
        },
    )
    | json_values,
    max_size=3,
)


@given(
    status=st.sampled_from([400, 401, 403, 404, 429, 500, 503]),
    code=any_of(st.integers()),
    state=any_of(st.sampled_from(["NOT_FOUND", "UNAVAILABLE"])),
    text=any_of(st.text(max_size=10)),
    details=any_of(fcm_details),
)
def test_v1_error_bodies_with_wrong_types_in_every_field(
    status: int, code: Any, state: Any, text: Any, details: Any
) -> None:
    body = json.dumps({"error": document(code=code, status=state, message=text, details=details)}).encode()
    try:
        outcome = v1.decode(status, {}, body, NOW)
    except FCMAuthenticationError:
        assert status in (401, 403)
        return
    assert outcome.bucket in Bucket
    assert outcome.detail is None or isinstance(outcome.detail, str)


@given(statuses, bodies)
def test_token_endpoint_answers_any_bytes_with_a_token_or_a_documented_error(
    status: int, body: bytes
) -> None:
    try:
        token, lifetime = read_token_response(status, body)
    except FCMAuthenticationError:
        assert status == 200 or (400 <= status <= 499 and status != 429)
        return
    except requests.HTTPError:
        assert status != 200
        return
    assert status == 200
    assert isinstance(token, str)
    assert token
    assert 0 < lifetime <= 86400
    assert math.isfinite(lifetime)


@given(
    access_token=any_of(st.text(min_size=1, max_size=8)),
    expires_in=any_of(st.integers(1, 7200)),
    token_type=any_of(st.just("Bearer")),
)
def test_token_answer_with_wrong_types_in_every_field(**fields: Any) -> None:
    body = json.dumps(document(**fields)).encode()
    try:
        token, lifetime = read_token_response(200, body)
    except FCMAuthenticationError:
        assert not isinstance(fields["access_token"], str) or not fields["access_token"]
        return
    assert token == fields["access_token"]
    assert 0 < lifetime <= 86400
    assert math.isfinite(lifetime)


@pytest.mark.parametrize("expires_in", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_regression_nan_token_lifetime_refetched_on_every_send(expires_in: str) -> None:
    # read_token_response let expires_in NaN through: min(nan, 86400) is nan, refresh_at became
    # NaN and the token never counted as fresh, so every send fetched a new one.
    body = b'{"access_token": "tok", "expires_in": ' + expires_in.encode() + b"}"
    assert read_token_response(200, body) == ("tok", 3600.0)


DEEP = b"[" * 100_000 + b"]" * 100_000


def test_regression_deeply_nested_json_raised_recursion_error() -> None:
    # json.loads raises RecursionError (not ValueError) for deeply nested documents, and all
    # three readers let it escape.
    with pytest.raises(FCMResponseError, match="not JSON"):
        legacy.decode(JSONMessage(["a"]), 200, {}, DEEP, NOW)
    assert v1.decode(200, {}, DEEP, NOW).error == "INVALID_RESPONSE"
    assert v1.decode(503, {}, DEEP, NOW).bucket is Bucket.RETRY
    assert v1.decode(404, {}, DEEP, NOW).error == "HTTP_404"
    with pytest.raises(FCMAuthenticationError, match="without an access_token"):
        read_token_response(200, DEEP)


# -- named bad answers, one exchange each (responses) -------------------------------------------

HTML = "<html><head><title>Error</title></head><body>Oops</body></html>"
LEGACY_ANSWERS: list[tuple[str, int, str, str, Any]] = [
    # (case, status, content type, body, expected: exception class or bucket)
    ("200 not JSON", 200, "application/json", "oops", FCMResponseError),
    ("200 HTML page", 200, "text/html", HTML, FCMResponseError),
    (
        "200 truncated JSON",
        200,
        "application/json",
        '{"multicast_id": 1, "results": [{"mess',
        FCMResponseError,
    ),
    ("200 empty body", 200, "application/json", "", FCMResponseError),
    ("200 JSON null", 200, "application/json", "null", FCMResponseError),
    ("200 too few results", 200, "application/json", '{"results": [{"message_id": "1"}]}', FCMResponseError),
    (
        "200 too many results",
        200,
        "application/json",
        '{"results": [{"message_id": "1"}, {"message_id": "2"}, {"message_id": "3"}]}',
        FCMResponseError,
    ),
    (
        "200 JSON under a wrong Content-Type",
        200,
        "text/html",
        '{"results": [{"message_id": "1"}, {"error": "Unavailable"}]}',
        Bucket.SUCCESS,
    ),
    ("400 HTML", 400, "text/html", HTML, FCMRequestError),
    ("401 HTML", 401, "text/html", HTML, FCMAuthenticationError),
    ("404 HTML", 404, "text/html", HTML, FCMRequestError),
    ("413 empty", 413, "text/plain", "", FCMRequestError),
    ("500 HTML", 500, "text/html", HTML, Bucket.RETRY),
    ("502 HTML", 502, "text/html", HTML, Bucket.RETRY),
    ("503 empty", 503, "text/plain", "", Bucket.RETRY),
]


@pytest.mark.parametrize(
    ("case", "status", "ctype", "body", "expected"), LEGACY_ANSWERS, ids=[c[0] for c in LEGACY_ANSWERS]
)
def test_legacy_bad_answers(case: str, status: int, ctype: str, body: str, expected: Any) -> None:
    with responses.RequestsMock() as mock, FCM("key", backoff=1) as client:
        mock.post(FCM_URL, status=status, body=body, content_type=ctype)
        if isinstance(expected, type):
            with pytest.raises(expected):
                client.send(JSONMessage(["a", "b"]))
            return
        result = client.send(JSONMessage(["a", "b"]))
    assert result.outcomes["a"].bucket is expected


V1_ANSWERS: list[tuple[str, int, str, str, Any]] = [
    ("200 not JSON", 200, "application/json", "oops", "INVALID_RESPONSE"),
    ("200 HTML page", 200, "text/html", HTML, "INVALID_RESPONSE"),
    ("200 truncated JSON", 200, "application/json", '{"name": "projects/p/mess', "INVALID_RESPONSE"),
    ("200 empty body", 200, "application/json", "", "INVALID_RESPONSE"),
    ("200 name not a string", 200, "application/json", '{"name": 5}', "INVALID_RESPONSE"),
    (
        "200 JSON under a wrong Content-Type",
        200,
        "text/plain",
        '{"name": "projects/p/messages/1"}',
        Bucket.SUCCESS,
    ),
    ("400 HTML", 400, "text/html", HTML, "HTTP_400"),
    (
        "404 without FcmError",
        404,
        "application/json",
        '{"error": {"code": 404, "status": "NOT_FOUND"}}',
        "NOT_FOUND",
    ),
    ("404 error not an object", 404, "application/json", '{"error": "gone"}', "HTTP_404"),
    ("401 HTML", 401, "text/html", HTML, FCMAuthenticationError),
    ("403 truncated JSON", 403, "application/json", '{"error": {"code": 403, "sta', FCMAuthenticationError),
    ("429 empty", 429, "text/plain", "", Bucket.RETRY),
    ("500 truncated JSON", 500, "application/json", '{"error": {"code": 5', Bucket.RETRY),
    ("502 HTML", 502, "text/html", HTML, Bucket.RETRY),
]


@pytest.fixture
def v1_mocked(service_account_info: dict[str, Any]) -> Iterator[tuple[FCM, responses.RequestsMock]]:
    with (
        responses.RequestsMock() as mock,
        FCM.from_service_account(service_account_info, backoff=1) as client,
    ):
        mock.post(service_account_info["token_uri"], json={"access_token": "at-1", "expires_in": 3600})
        yield client, mock


@pytest.mark.parametrize(
    ("case", "status", "ctype", "body", "expected"), V1_ANSWERS, ids=[c[0] for c in V1_ANSWERS]
)
def test_v1_bad_answers(
    v1_mocked: tuple[FCM, responses.RequestsMock],
    case: str,
    status: int,
    ctype: str,
    body: str,
    expected: Any,
) -> None:
    client, mock = v1_mocked
    mock.post(client.url, status=status, body=body, content_type=ctype)
    if isinstance(expected, type):
        with pytest.raises(expected) as caught:
            client.send(JSONMessage(["a"]))
        assert caught.value.result.retry().targets == ["a"]  # type: ignore[attr-defined]  # nothing lost
        return
    outcome = client.send(JSONMessage(["a"])).outcomes["a"]
    if isinstance(expected, Bucket):
        assert outcome.bucket is expected
    else:
        assert outcome.bucket is Bucket.FAILED
        assert outcome.error == expected


TOKEN_ANSWERS: list[tuple[str, int, str, Any]] = [
    ("200 not JSON", 200, "oops", FCMAuthenticationError),
    ("200 HTML", 200, HTML, FCMAuthenticationError),
    ("200 truncated", 200, '{"access_token": "ya29.a', FCMAuthenticationError),
    ("200 empty", 200, "", FCMAuthenticationError),
    ("200 token not a string", 200, '{"access_token": 42}', FCMAuthenticationError),
    ("200 token with a line break", 200, '{"access_token": "ya29\\nX-Evil: 1"}', FCMAuthenticationError),
    ("200 non-ASCII token", 200, '{"access_token": "ya29\\u20ac"}', FCMAuthenticationError),
    ("400 HTML", 400, HTML, FCMAuthenticationError),
    (
        "400 OAuth error",
        400,
        '{"error": "invalid_grant", "error_description": "Bad JWT"}',
        FCMAuthenticationError,
    ),
    ("401 error not a string", 401, '{"error": {"x": 1}}', FCMAuthenticationError),
    ("429 HTML", 429, HTML, requests.HTTPError),
    ("500 truncated", 500, '{"err', requests.HTTPError),
    ("503 empty", 503, "", requests.HTTPError),
    ("302 redirect", 302, "", requests.HTTPError),
]


@pytest.mark.parametrize(
    ("case", "status", "body", "expected"), TOKEN_ANSWERS, ids=[c[0] for c in TOKEN_ANSWERS]
)
def test_token_endpoint_bad_answers(
    service_account_info: dict[str, Any], case: str, status: int, body: str, expected: type[Exception]
) -> None:
    with responses.RequestsMock() as mock, FCM.from_service_account(service_account_info) as client:
        mock.post(service_account_info["token_uri"], status=status, body=body)
        with pytest.raises(expected) as caught:
            client.send(JSONMessage(["a"]))
        assert len(mock.calls) == 1  # the token request only: nothing was sent
    assert "ya29" not in str(caught.value)


@pytest.mark.parametrize(
    "value", ["soon", "-5", "-1.5", "1e3", "0x10", "", "   ", "Thu, 99 Foo 2015 25:61:61 GMT"]
)
def test_garbage_or_negative_retry_after_falls_back_to_backoff(value: str) -> None:
    with responses.RequestsMock() as mock, FCM("key", backoff=1000) as client:
        mock.post(FCM_URL, status=503, headers={"Retry-After": value})
        result = client.send(JSONMessage(["a"]))
    assert result.retry_after is None
    assert 0.5 <= result.delay() <= 1.5  # the jittered 1 s backoff


@pytest.mark.parametrize("value", ["3601", "86400", "9" * 13, "9" * 400, "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_enormous_retry_after_is_capped_for_both_protocols(
    v1_mocked: tuple[FCM, responses.RequestsMock], value: str
) -> None:
    client, mock = v1_mocked
    mock.post(client.url, status=503, headers={"Retry-After": value}, body="")
    assert client.send(JSONMessage(["a"])).delay() == MAX_RETRY_AFTER == 3600.0
    with responses.RequestsMock() as legacy_mock, FCM("key") as legacy_client:
        legacy_mock.post(FCM_URL, status=503, headers={"Retry-After": value})
        assert legacy_client.send(JSONMessage(["a"])).delay() == MAX_RETRY_AFTER


# -- transport-level misbehaviour (raw loopback server) -----------------------------------------

GZIP_HEADERS = {"Content-Encoding": "gzip"}
CUT = b'{"multicast_id": 1, "resu'  # followed by the server closing the connection


def cut_answer(status: int) -> bytes:
    """Promise 1000 bytes, send a few, close."""
    return http_answer(status, b"", {"Content-Length": "1000"}) + CUT


def legacy_outcome(script: Any) -> Any:
    """Send a two-token legacy multicast to a raw server; the bucket of 'a', or the exception."""
    with RawServer(script) as server, FCM("key", url=server.url(), timeout=2.0, backoff=1) as client:
        try:
            return client.send(JSONMessage(["a", "b"])).outcomes["a"]
        except Exception as exc:
            return exc


def v1_outcome(info: dict[str, str], script: Any) -> Any:
    """A v1 unicast whose token comes from the emulator and whose send goes to a raw server."""
    with (
        RawServer(script) as server,
        FCM.from_service_account(info, url=server.url("/v1/send"), timeout=2.0) as client,
    ):
        return client.send(JSONMessage(["a"])).outcomes["a"]


def token_error(service_account_info: dict[str, Any], script: Any) -> Exception:
    """What send() raises when the token endpoint is a raw server."""
    with RawServer(script) as server:
        info = dict(service_account_info, token_uri=server.url("/token"))
        with FCM.from_service_account(info, url=server.url("/never"), timeout=2.0) as client:
            with pytest.raises((requests.RequestException, FCMAuthenticationError)) as caught:
                client.send(JSONMessage(["a"]))
            assert len(server.requests) == 1  # the token request; no send was attempted
            assert server.requests[0].startswith(b"POST /token ")
    return caught.value


TRANSPORT_CASES = {
    "gzip garbage 200": (answer(http_answer(200, b"not gzip at all", GZIP_HEADERS)), 200),
    "gzip garbage 503": (answer(http_answer(503, b"not gzip at all", GZIP_HEADERS)), 503),
    "cut body 200": (answer(cut_answer(200)), 200),
    "cut body 500": (answer(cut_answer(500)), 500),
}


@pytest.mark.parametrize("case", sorted(TRANSPORT_CASES))
def test_unreadable_bodies_are_judged_by_their_status(
    fcm_service_account: dict[str, str], service_account_info: dict[str, Any], case: str
) -> None:
    script, status = TRANSPORT_CASES[case]
    legacy_answer = legacy_outcome(script)
    v1_answer = v1_outcome(fcm_service_account, script)
    token_answer = token_error(service_account_info, script)
    if status == 200:  # FCM accepted the request: maybe delivered, so never retried
        assert isinstance(legacy_answer, FCMResponseError)
        assert (v1_answer.bucket, v1_answer.error) == (Bucket.FAILED, "INVALID_RESPONSE")
        assert isinstance(token_answer, FCMAuthenticationError)
    else:
        assert legacy_answer.bucket is Bucket.RETRY
        assert v1_answer.bucket is Bucket.RETRY
        assert isinstance(token_answer, requests.HTTPError)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_never_followed(
    fcm_service_account: dict[str, str], service_account_info: dict[str, Any], status: int
) -> None:
    with RawServer(answer(b"")) as elsewhere:
        script = answer(http_answer(status, b"", {"Location": elsewhere.url("/moved")}))
        legacy_answer = legacy_outcome(script)
        v1_answer = v1_outcome(fcm_service_account, script)
        token_answer = token_error(service_account_info, script)
        assert elsewhere.connections == 0
    assert isinstance(legacy_answer, FCMRequestError)
    assert legacy_answer.status == status
    assert (v1_answer.bucket, v1_answer.error) == (Bucket.FAILED, f"HTTP_{status}")
    assert isinstance(token_answer, requests.HTTPError)
    assert str(status) in str(token_answer)


@pytest.mark.parametrize(
    "raw", [b"", b"HELLO\r\n\r\n", b"HTTP/1.1 2xx Whatever\r\n\r\n", b"\x16\x03\x01\x00"]
)
def test_no_answer_or_a_garbage_status_line_is_a_network_error(
    fcm_service_account: dict[str, str], service_account_info: dict[str, Any], raw: bytes
) -> None:
    assert isinstance(legacy_outcome(answer(raw)), requests.ConnectionError)
    outcome = v1_outcome(fcm_service_account, answer(raw))
    assert (outcome.bucket, outcome.error) == (Bucket.RETRY, "TRANSPORT_ERROR")
    assert isinstance(token_error(service_account_info, answer(raw)), requests.ConnectionError)


def endless(prefix: bytes, filler: bytes) -> Any:
    """Send ``prefix``, then ``filler`` again and again until the client hangs up."""

    def script(sock: Any, server: RawServer) -> None:
        sock.sendall(prefix)
        while not server.stopping.is_set():
            sock.sendall(filler)

    return script


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip bomb"])
def test_huge_bodies_are_read_only_up_to_the_cap(compressed: bool) -> None:
    if compressed:  # 8 KiB of gzip that inflates to 8 MiB, sent again and again
        block = gzip.compress(b"\0" * (8 * 1024 * 1024), compresslevel=9)
        head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 999999999999\r\n\r\n"
        script = endless(head + block, block)
    else:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 999999999999\r\n\r\n"
        script = endless(head + b'{"results": [', b" " * 65536)
    with RawServer(script) as server, make_session(1) as session:
        started = time.monotonic()
        reply = post(session, server.url(), b"{}", {}, 5.0, {})
        elapsed = time.monotonic() - started
    assert reply.status == 200
    assert len(reply.body) == MAX_RESPONSE_BYTES
    assert elapsed < 5.0
    with pytest.raises(FCMResponseError, match="not JSON"):
        legacy.decode(JSONMessage(["a"]), reply.status, reply.headers, reply.body, NOW)
