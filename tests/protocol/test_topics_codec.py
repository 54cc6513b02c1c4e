"""The topic subscription API as pure functions: names, URLs, request shapes, and the answers."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcmclient import FCMAuthenticationError, FCMResponseError
from fcmclient._protocol import topics
from fcmclient.outcomes import ACCESS_TOKEN_EXPIRED, INVALID_RESPONSE, Bucket
from fcmclient.waits import QUOTA_WAIT
from tests.protocol.test_v1_decode import error_body

BASE = "https://fcm.googleapis.com/v1/projects/demo/registrations"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


# -- topic names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_name", "name"),
    [
        ("news", "news"),
        ("/topics/news", "news"),
        ("a-Z_0.9~%41", "a-Z_0.9~%41"),
        ("x" * 900, "x" * 900),
        ("/topics/" + "y" * 900, "y" * 900),
    ],
)
def test_valid_topic_names_come_back_bare(given_name: str, name: str) -> None:
    assert topics.topic_name(given_name) == name


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("", "is empty"),
        ("/topics/", "is empty"),
        ("x" * 901, "901 characters, 900 at most"),
        ("breaking news", "' ' at position 8"),
        ("a/b", "'/' at position 1"),
        ("a#b", "'#' at position 1"),
        ("caf\u00e9", "'\u00e9' at position 3"),
        ("topics/news", "'/' at position 6"),
    ],
)
def test_invalid_topic_names_are_a_value_error_saying_why(bad: str, why: str) -> None:
    with pytest.raises(ValueError, match="topic .*" + why.replace("(", r"\(")):
        topics.topic_name(bad)


@pytest.mark.parametrize("bad", [None, 3, b"news", ["news"]])
def test_a_topic_that_is_not_a_str_is_a_type_error(bad: Any) -> None:
    with pytest.raises(TypeError, match="topic must be a str"):
        topics.topic_name(bad)


# -- URLs and request shapes -----------------------------------------------------------------


def test_the_registrations_are_under_the_send_urls_project() -> None:
    assert topics.registrations_url(BASE.replace("/registrations", "/messages:send")) == BASE
    assert topics.registrations_url("http://127.0.0.1:8/v1/projects/p/messages:send") == (
        "http://127.0.0.1:8/v1/projects/p/registrations"
    )
    assert topics.registrations_url("https://proxy.example/fcm") is None


@given(st.text())
def test_quoting_a_segment_is_quote_with_nothing_safe(value: str) -> None:
    assert topics.quote_segment(value) == urllib.parse.quote(value, safe="")


@pytest.mark.parametrize(
    ("token", "quoted"),
    [
        ("dX3k:APA91bF-x_y", "dX3k%3AAPA91bF-x_y"),
        ("a/b", "a%2Fb"),
        ("a%b", "a%25b"),
        ("a?b", "a%3Fb"),
        ("a#b", "a%23b"),
        ("a b+c&d=e", "a%20b%2Bc%26d%3De"),
        ("\u00e9", "%C3%A9"),
    ],
)
def test_tokens_are_one_quoted_path_segment(token: str, quoted: str) -> None:
    exchange = topics.subscribe(BASE, token, "news")
    assert exchange.url == f"{BASE}/{quoted}/topicSubscriptions?topicName=news"
    assert urllib.parse.unquote(exchange.url.split("/")[-2]) == token


def test_a_subscription_is_a_post_of_an_empty_object_naming_the_topic() -> None:
    exchange = topics.subscribe(BASE, "tok", "100%~x")
    assert (exchange.method, exchange.body) == ("POST", b"{}")
    assert exchange.url == f"{BASE}/tok/topicSubscriptions?topicName=100%25~x"
    assert exchange.decode is topics.decode_subscribe


def test_an_unsubscription_is_a_delete_of_the_subscription_allowed_to_be_missing() -> None:
    exchange = topics.unsubscribe(BASE, "a:b", "100%")
    assert (exchange.method, exchange.body) == ("DELETE", b"")
    assert exchange.url == f"{BASE}/a%3Ab/topicSubscriptions/100%25?allowMissing=true"
    assert exchange.decode is topics.decode_unsubscribe


def test_a_list_page_asks_for_the_most_and_passes_the_page_token_on() -> None:
    first = topics.list_page(BASE, "a:b", None)
    assert (first.method, first.body) == ("GET", b"")
    assert first.url == f"{BASE}/a%3Ab/topicSubscriptions?pageSize=2000"
    following = topics.list_page(BASE, "a:b", "c2/+=")
    assert following.url == f"{BASE}/a%3Ab/topicSubscriptions?pageSize=2000&pageToken=c2%2F%2B%3D"


def test_an_exchanges_repr_shows_no_token() -> None:
    assert "secret" not in repr(topics.subscribe(BASE, "secret-token", "news"))


# -- answers to a subscription and an unsubscription -------------------------------------------


SUBSCRIPTION = json.dumps(
    {"name": "projects/demo/registrations/t/topicSubscriptions/news", "topicName": "news"}
).encode()


def test_a_subscription_made_is_a_success() -> None:
    outcome = topics.decode_subscribe(200, {}, SUBSCRIPTION, 0.0)
    assert outcome.bucket is Bucket.SUCCESS
    assert outcome.message_id is None  # no message was sent


@pytest.mark.parametrize(
    "body", [error_body(409, "ALREADY_EXISTS"), b"", b"<html>Conflict</html>", b'{"error": {"code": 409}}']
)
def test_a_subscription_that_existed_is_a_success(body: bytes) -> None:
    assert topics.decode_subscribe(409, {}, body, 0.0).bucket is Bucket.SUCCESS


def test_a_conflict_that_is_not_already_exists_is_not_a_success() -> None:
    outcome = topics.decode_subscribe(409, {}, error_body(409, "ABORTED"), 0.0)
    assert (outcome.bucket, outcome.error) == (Bucket.FAILED, "ABORTED")


@pytest.mark.parametrize("decode", [topics.decode_subscribe, topics.decode_unsubscribe])
@pytest.mark.parametrize("body", [b"", b"<html>ok</html>", b"[]", b"null", b"\xff"])
def test_a_200_that_is_not_a_json_object_is_failed_not_retried(decode: Any, body: bytes) -> None:
    outcome = decode(200, {}, body, 0.0)
    assert (outcome.bucket, outcome.error) == (Bucket.FAILED, INVALID_RESPONSE)


def test_an_unsubscription_done_or_allowed_missing_is_a_success() -> None:
    assert topics.decode_unsubscribe(200, {}, b"{}", 0.0).bucket is Bucket.SUCCESS


@pytest.mark.parametrize("decode", [topics.decode_subscribe, topics.decode_unsubscribe])
@pytest.mark.parametrize(
    ("status", "body", "headers", "bucket", "error", "wait"),
    [
        (404, error_body(404, "NOT_FOUND", "UNREGISTERED"), {}, Bucket.NOT_REGISTERED, "UNREGISTERED", None),
        (404, error_body(404, "NOT_FOUND"), {}, Bucket.FAILED, "NOT_FOUND", None),
        (
            400,
            error_body(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
            {},
            Bucket.FAILED,
            "INVALID_ARGUMENT",
            None,
        ),
        (
            503,
            error_body(503, "UNAVAILABLE", "UNAVAILABLE"),
            {"Retry-After": "7"},
            Bucket.RETRY,
            "UNAVAILABLE",
            7.0,
        ),
        (500, error_body(500, "INTERNAL"), {}, Bucket.RETRY, "INTERNAL", None),
        (502, b"<html>Bad gateway</html>", {}, Bucket.RETRY, "HTTP_502", None),
        (
            429,
            error_body(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
            {},
            Bucket.RETRY,
            "QUOTA_EXCEEDED",
            QUOTA_WAIT,
        ),
        (
            429,
            error_body(429, "RESOURCE_EXHAUSTED"),
            {"retry-after": "3"},
            Bucket.RETRY,
            "RESOURCE_EXHAUSTED",
            3.0,
        ),
    ],
)
def test_errors_are_read_as_a_sends_are(
    decode: Any,
    status: int,
    body: bytes,
    headers: dict[str, str],
    bucket: Bucket,
    error: str,
    wait: float | None,
) -> None:
    outcome = decode(status, headers, body, 0.0)
    assert (outcome.bucket, outcome.error, outcome.wait) == (bucket, error, wait)


def test_too_many_topics_is_failed_with_googles_explanation() -> None:
    info = {"@type": ERROR_INFO, "reason": "TOO_MANY_TOPICS", "domain": "fcm.googleapis.com"}
    body = error_body(400, "FAILED_PRECONDITION", details=[info])
    outcome = topics.decode_subscribe(400, {}, body, 0.0)
    assert (outcome.bucket, outcome.error) == (Bucket.FAILED, "FAILED_PRECONDITION")
    assert outcome.detail == "FAILED_PRECONDITION said Google"


def test_an_expired_access_token_is_retried_at_once_and_other_rejections_raise() -> None:
    expired = error_body(
        401, "UNAUTHENTICATED", details=[{"@type": ERROR_INFO, "reason": "ACCESS_TOKEN_EXPIRED"}]
    )
    outcome = topics.decode_subscribe(401, {}, expired, 0.0)
    assert (outcome.bucket, outcome.error, outcome.wait) == (Bucket.RETRY, ACCESS_TOKEN_EXPIRED, 0.0)
    for status, name in ((401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED")):
        with pytest.raises(FCMAuthenticationError) as caught:
            topics.decode_unsubscribe(status, {}, error_body(status, name), 0.0)
        assert (caught.value.status, caught.value.code) == (status, name)


# -- a page of a list --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "page"),
    [
        (
            {"topicSubscriptions": [{"topicName": "a"}, {"topicName": "b"}], "nextPageToken": "n2"},
            (["a", "b"], "n2"),
        ),
        ({"topic_subscriptions": [{"topic_name": "a"}], "next_page_token": "n2"}, (["a"], "n2")),
        (
            {"topicSubscriptions": [{"name": "projects/p/registrations/r/topicSubscriptions/x%y"}]},
            (["x%y"], None),
        ),
        ({"topicSubscriptions": [{"topicName": "a"}], "nextPageToken": ""}, (["a"], None)),
        ({}, ([], None)),
    ],
)
def test_a_page_is_read_in_either_spelling(
    document: dict[str, Any], page: tuple[list[str], str | None]
) -> None:
    assert topics.decode_page(200, {}, json.dumps(document).encode(), 0.0) == topics.Page(*page)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'{"topicSubscriptions": {"topicName": "a"}}',
        b'{"topicSubscriptions": [{"createTime": "2026-01-01T00:00:00Z"}]}',
        b'{"topicSubscriptions": ["a"]}',
        b'{"topicSubscriptions": [], "nextPageToken": 2}',
    ],
)
def test_a_200_that_is_not_a_page_is_a_response_error(body: bytes) -> None:
    with pytest.raises(FCMResponseError):
        topics.decode_page(200, {}, body, 0.0)


def test_an_error_answer_to_a_page_is_its_outcome() -> None:
    outcome = topics.decode_page(404, {}, error_body(404, "NOT_FOUND", "UNREGISTERED"), 0.0)
    assert not isinstance(outcome, topics.Page)
    assert (outcome.bucket, outcome.error) == (Bucket.NOT_REGISTERED, "UNREGISTERED")
