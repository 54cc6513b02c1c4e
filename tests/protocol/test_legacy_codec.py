"""The legacy codec as pure functions: message -> body, (status, headers, body) -> outcomes."""

from __future__ import annotations

import calendar
import json
import urllib.parse
from typing import Any

import pytest

from fcmclient import (
    FCMAuthenticationError,
    FCMRequestError,
    FCMResponseError,
    InstallationMessage,
    JSONMessage,
    PlainTextMessage,
    TopicMessage,
)
from fcmclient._protocol.legacy import (
    FORM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    RETRY_ERRORS,
    classify,
    decode,
    encode,
)
from fcmclient.outcomes import Bucket, Outcome

NOW = 1_700_000_000.0


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


def multicast(*results: dict[str, Any], multicast_id: int | None = 5708) -> bytes:
    document: dict[str, Any] = {"results": list(results)}
    if multicast_id is not None:
        document["multicast_id"] = multicast_id
    return body(document)


# -- encode -------------------------------------------------------------------------------------


def test_json_message_encodes_its_payload_compactly() -> None:
    msg = JSONMessage(["a", "b"], {"k": "v"}, message_title="T", time_to_live=0, android={"x": 1})
    content_type, wire = encode(msg)
    assert content_type == JSON_CONTENT_TYPE == "application/json"
    assert json.loads(wire) == msg.payload
    assert wire == (
        b'{"registration_ids":["a","b"],"data":{"k":"v"},"notification":{"title":"T"},"time_to_live":0}'
    )


def test_json_body_is_utf8_not_escaped() -> None:
    _, wire = encode(JSONMessage(["a"], {"city": "Zürich"}))
    assert "Zürich".encode() in wire


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        (TopicMessage(topic="news"), {"to": "/topics/news"}),
        (TopicMessage(topic="/topics/news"), {"to": "/topics/news"}),
        (
            TopicMessage(condition="'a' in topics || 'b' in topics"),
            {"condition": "'a' in topics || 'b' in topics"},
        ),
    ],
)
def test_topic_message_encodes_to_or_condition(msg: TopicMessage, expected: dict[str, str]) -> None:
    content_type, wire = encode(msg)
    assert content_type == JSON_CONTENT_TYPE
    assert json.loads(wire) == expected


def test_plain_text_message_is_form_encoded() -> None:
    msg = PlainTextMessage(
        "tok:1",
        {"text": "hello world", "n": 3, "flag": True, "obj": {"a": 1}},
        collapse_key="c",
        time_to_live=0,
        dry_run=True,
        delay_while_idle=False,
        android={"priority": "HIGH"},
    )
    content_type, wire = encode(msg)
    assert content_type == FORM_CONTENT_TYPE == "application/x-www-form-urlencoded;charset=UTF-8"
    assert urllib.parse.parse_qsl(wire.decode("ascii"), keep_blank_values=True, strict_parsing=True) == [
        ("registration_id", "tok:1"),
        ("data.text", "hello world"),
        ("data.n", "3"),
        ("data.flag", "true"),
        ("data.obj", '{"a":1}'),
        ("collapse_key", "c"),
        ("time_to_live", "0"),
        ("dry_run", "1"),
        ("delay_while_idle", "0"),
    ]


def test_plain_text_body_is_utf8_percent_encoded() -> None:
    _, wire = encode(PlainTextMessage("tok", {"city": "Zürich"}))
    assert wire == b"registration_id=tok&data.city=Z%C3%BCrich"


def test_installation_message_cannot_go_legacy() -> None:
    with pytest.raises(ValueError, match="HTTP v1"):
        encode(InstallationMessage(["fid-1"]))


# -- classify -----------------------------------------------------------------------------------


def test_retry_errors_are_googles_two() -> None:
    assert frozenset({"Unavailable", "InternalServerError"}) == RETRY_ERRORS


@pytest.mark.parametrize(
    ("code", "bucket"),
    [
        ("Unavailable", Bucket.RETRY),
        ("InternalServerError", Bucket.RETRY),
        ("NotRegistered", Bucket.NOT_REGISTERED),
        ("InvalidRegistration", Bucket.FAILED),
        ("MismatchSenderId", Bucket.FAILED),
        ("MessageTooBig", Bucket.FAILED),
        ("DeviceMessageRateExceeded", Bucket.FAILED),
        ("SomethingNew", Bucket.FAILED),
    ],
)
def test_classify(code: str, bucket: Bucket) -> None:
    outcome = classify(code, 7.0)
    assert outcome.bucket is bucket
    assert outcome.error == code
    assert outcome.wait == (7.0 if bucket is Bucket.RETRY else None)


# -- decode: 200 multicast ----------------------------------------------------------------------


def test_multicast_answer_decodes_per_token_in_order() -> None:
    msg = JSONMessage(["t1", "t2", "t3", "t4", "t5", "t6"])
    decoded = decode(
        msg,
        200,
        {"Content-Type": "application/json"},
        multicast(
            {"message_id": "0:1"},
            {"message_id": "0:2", "registration_id": "t2-new"},
            {"error": "NotRegistered"},
            {"error": "InvalidRegistration"},
            {"error": "Unavailable"},
            {"error": "InternalServerError"},
        ),
        NOW,
    )
    assert decoded.multicast_id == 5708
    assert decoded.outcomes == [
        Outcome.success("0:1"),
        Outcome.success("0:2", "t2-new"),
        Outcome.not_registered("NotRegistered"),
        Outcome.failed("InvalidRegistration"),
        Outcome.retry("Unavailable"),
        Outcome.retry("InternalServerError"),
    ]


def test_an_answer_where_every_target_was_delivered_is_read_in_one_pass() -> None:
    ids = [f"0:{n}" for n in range(1000)]
    decoded = decode(
        JSONMessage([f"t{n}" for n in range(1000)]),
        200,
        {},
        multicast(*({"message_id": i} for i in ids)),
        NOW,
    )
    assert decoded.outcomes == [Outcome.success(i) for i in ids]


@pytest.mark.parametrize(
    ("entry", "outcome"),
    [
        ({"message_id": "0:2", "registration_id": "new"}, Outcome.success("0:2", "new")),
        ({"message_id": "0:2", "unknown": 1}, Outcome.success("0:2")),
        ({"message_id": 7}, Outcome.success("7")),
        ({"error": "NotRegistered"}, Outcome.not_registered("NotRegistered")),
    ],
    ids=["canonical", "extra-key", "integer-id", "error"],
)
def test_one_entry_other_than_a_bare_message_id_is_read_in_full(
    entry: dict[str, Any], outcome: Outcome
) -> None:
    """The one-pass reading of an all-delivered answer must not drop a canonical id (or
    miss an error) in an entry that has more, or other, than a string message_id."""
    decoded = decode(
        JSONMessage(["a", "b", "c"]),
        200,
        {},
        multicast({"message_id": "0:1"}, entry, {"message_id": "0:3"}),
        NOW,
    )
    assert decoded.outcomes == [Outcome.success("0:1"), outcome, Outcome.success("0:3")]


@pytest.mark.parametrize("entry", [[], "0:2", None, 5, {"message_id": True}, {"message_id": None}, {}])
def test_an_entry_of_the_wrong_shape_among_delivered_ones_is_a_response_error(entry: Any) -> None:
    with pytest.raises(FCMResponseError, match="result 1"):
        decode(
            JSONMessage(["a", "b", "c"]),
            200,
            {},
            multicast({"message_id": "0:1"}, entry, {"message_id": "0:3"}),
            NOW,
        )


def test_integer_message_id_is_read_as_text() -> None:
    decoded = decode(JSONMessage(["t"]), 200, {}, multicast({"message_id": 12}), NOW)
    assert decoded.outcomes == [Outcome.success("12")]


def test_multicast_id_is_optional() -> None:
    decoded = decode(JSONMessage(["t"]), 200, {}, multicast({"message_id": "1"}, multicast_id=None), NOW)
    assert decoded.multicast_id is None
    assert decoded.outcomes == [Outcome.success("1")]


def test_retry_after_on_a_200_applies_to_retryable_entries() -> None:
    decoded = decode(
        JSONMessage(["t1", "t2"]),
        200,
        {"retry-after": "30"},
        multicast({"error": "Unavailable"}, {"message_id": "1"}),
        NOW,
    )
    assert decoded.outcomes == [Outcome.retry("Unavailable", wait=30.0), Outcome.success("1")]


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ([{"message_id": "1"}], "not an object"),
        ("results", "not an object"),
        ({"multicast_id": 1}, "'results'"),
        ({"results": {"0": {"message_id": "1"}}}, "'results'"),
        ({"results": []}, "0 results for 1"),
        ({"results": [{"message_id": "1"}, {"message_id": "2"}]}, "2 results for 1"),
        ({"results": [{}]}, "neither message_id nor error"),
        ({"results": [{"error": ""}]}, "neither message_id nor error"),
        ({"results": [{"error": 3}]}, "neither message_id nor error"),
        ({"results": ["0:1"]}, "not an object"),
        ({"results": [{"message_id": ["0:1"]}]}, "message_id"),
        ({"results": [{"message_id": True}]}, "message_id"),
        ({"results": [{"message_id": "1", "registration_id": 42}]}, "registration_id"),
        ({"results": [{"message_id": "1", "registration_id": ""}]}, "registration_id"),
        ({"multicast_id": "5708", "results": [{"message_id": "1"}]}, "multicast_id"),
        ({"multicast_id": 1.5, "results": [{"message_id": "1"}]}, "multicast_id"),
    ],
)
def test_malformed_multicast_answer(document: Any, complaint: str) -> None:
    with pytest.raises(FCMResponseError, match=complaint):
        decode(JSONMessage(["t"]), 200, {}, body(document), NOW)


@pytest.mark.parametrize("raw", [b"", b"<html>oops</html>", b"\xff\xfe\x00garbage", b"{"])
def test_200_that_is_not_json(raw: bytes) -> None:
    with pytest.raises(FCMResponseError, match="not JSON") as info:
        decode(JSONMessage(["t"]), 200, {}, raw, NOW)
    assert "b'" not in str(info.value)


# -- decode: topics -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "outcome"),
    [
        ({"message_id": 6177533290716483012}, Outcome.success("6177533290716483012")),
        ({"message_id": "m-1"}, Outcome.success("m-1")),
        ({"error": "TopicsMessageRateExceeded"}, Outcome.failed("TopicsMessageRateExceeded")),
        ({"error": "InvalidParameters"}, Outcome.failed("InvalidParameters")),
        ({"error": "Unavailable"}, Outcome.retry("Unavailable", wait=12.0)),
    ],
)
def test_topic_answers(document: dict[str, Any], outcome: Outcome) -> None:
    decoded = decode(TopicMessage(topic="news"), 200, {"Retry-After": "12"}, body(document), NOW)
    assert decoded.outcomes == [outcome]
    assert decoded.multicast_id is None


@pytest.mark.parametrize("document", [{}, {"results": [{"message_id": "1"}]}, [], {"message_id": [1]}])
def test_malformed_topic_answer(document: Any) -> None:
    with pytest.raises(FCMResponseError):
        decode(TopicMessage(condition="'a' in topics"), 200, {}, body(document), NOW)


# -- decode: plain text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        (b"id=0:1516\n", Outcome.success("0:1516")),
        (b"id=0:1516", Outcome.success("0:1516")),
        (b"id=0:1516\nregistration_id=tok-new\n", Outcome.success("0:1516", "tok-new")),
        (b"id=0:1516\r\nregistration_id=tok-new\r\n", Outcome.success("0:1516", "tok-new")),
        (b"Error=NotRegistered\n", Outcome.not_registered("NotRegistered")),
        (b"Error=InvalidRegistration", Outcome.failed("InvalidRegistration")),
        (b"Error=MismatchSenderId", Outcome.failed("MismatchSenderId")),
        (b"Error=Unavailable\n", Outcome.retry("Unavailable", wait=5.0)),
        (b"Error=InternalServerError", Outcome.retry("InternalServerError", wait=5.0)),
    ],
)
def test_plain_text_answers(raw: bytes, outcome: Outcome) -> None:
    decoded = decode(PlainTextMessage("tok"), 200, {"Retry-After": "5"}, raw, NOW)
    assert decoded.outcomes == [outcome]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\n\n",
        b"garbage",
        b"Error=",
        b"id=",
        b"ID=0:1",
        b"id=0:1\nfoo=bar",
        b"id=0:1\nregistration_id=",
        b"\xff\xfe",
        b'{"results":[{"message_id":"1"}]}',
    ],
)
def test_malformed_plain_text_answer(raw: bytes) -> None:
    with pytest.raises(FCMResponseError) as info:
        decode(PlainTextMessage("tok"), 200, {}, raw, NOW)
    assert isinstance(info.value, ValueError)


# -- decode: statuses ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_5xx_puts_every_target_in_retry(status: int) -> None:
    decoded = decode(JSONMessage(["a", "b"]), status, {}, b"<html>busy</html>", NOW)
    assert decoded.outcomes == [Outcome.retry(f"HTTP_{status}", detail="<html>busy</html>")] * 2


@pytest.mark.parametrize(
    "value", ["Tue, 14 Nov 2023 22:14:20 GMT", "Tuesday, 14-Nov-23 22:14:20 GMT", "Tue Nov 14 22:14:20 2023"]
)
def test_5xx_reads_an_http_date_retry_after_against_now(value: str) -> None:
    now = calendar.timegm((2023, 11, 14, 22, 13, 20))
    decoded = decode(TopicMessage(topic="news"), 503, {"Retry-After": value}, b"", now)
    assert [outcome.wait for outcome in decoded.outcomes] == [60.0]


def test_400_raises_with_fcms_explanation() -> None:
    explanation = 'Field "time_to_live" must be a JSON number: abc'
    with pytest.raises(FCMRequestError) as info:
        decode(JSONMessage(["t"]), 400, {}, explanation.encode(), NOW)
    assert isinstance(info.value, ValueError)
    assert info.value.status == 400
    assert info.value.explanation == explanation
    assert explanation in str(info.value)


def test_400_without_body_says_so() -> None:
    with pytest.raises(FCMRequestError, match="no explanation given"):
        decode(JSONMessage(["t"]), 400, {}, b"", NOW)


def test_401_raises_authentication_error() -> None:
    with pytest.raises(FCMAuthenticationError) as info:
        decode(JSONMessage(["t"]), 401, {}, b"<HTML>Unauthorized</HTML>", NOW)
    assert isinstance(info.value, ValueError)
    assert info.value.status == 401


@pytest.mark.parametrize("status", [201, 204, 301, 302, 403, 404, 418, 429])
def test_unexpected_status_is_a_value_error_naming_it(status: int) -> None:
    with pytest.raises(FCMRequestError, match=f"unexpected HTTP status {status}") as info:
        decode(JSONMessage(["t"]), status, {}, b"nope", NOW)
    assert isinstance(info.value, ValueError)
    assert info.value.status == status
