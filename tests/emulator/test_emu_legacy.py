"""The legacy ``/fcm/send`` protocol: JSON and plain text, outcomes, validation, auth."""

from __future__ import annotations

import json
import re
from http.client import HTTPConnection, RemoteDisconnected
from typing import Any

import pytest
import requests

from fcmclient.testing import Answer, FCMEmulator
from tests.emulator.emu_support import TIMEOUT, post_legacy, post_legacy_form

MESSAGE_ID = re.compile(r"0:\d+%[0-9a-f]+")


def test_multicast_mixed_outcomes_in_request_order(emu: FCMEmulator, http: requests.Session) -> None:
    scripted: dict[str, Answer | str] = {
        "ok": "delivered",
        "moved": Answer.canonical("new-token"),
        "gone": "unregistered",
        "bad": "invalid",
        "other": "sender_mismatch",
        "busy": Answer.unavailable(retry_after=5),
        "oops": Answer.internal(retry_after=2.5),
        "fast": "quota_exceeded",
        "apns": "third_party_auth_error",
    }
    for token, outcome in scripted.items():
        emu.set_outcome(token, outcome)
    response = post_legacy(http, emu, {"registration_ids": list(scripted), "data": {"k": 1}})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert response.headers["Retry-After"] == "5"
    body = response.json()
    assert isinstance(body["multicast_id"], int)
    assert (body["success"], body["failure"], body["canonical_ids"]) == (2, 7, 1)
    results = body["results"]
    assert MESSAGE_ID.fullmatch(results[0]["message_id"])
    assert results[1]["registration_id"] == "new-token"
    assert MESSAGE_ID.fullmatch(results[1]["message_id"])
    assert [r.get("error") for r in results[2:]] == [
        "NotRegistered",
        "InvalidRegistration",
        "MismatchSenderId",
        "Unavailable",
        "InternalServerError",
        "DeviceMessageRateExceeded",
        "InvalidApnsCredential",
    ]
    assert emu.inbox("ok") == [{"token": "ok", "data": {"k": "1"}}]
    assert len(emu.inbox("moved")) == 1
    assert emu.inbox("gone") == []


def test_no_retry_after_without_retryable_delay(emu: FCMEmulator, http: requests.Session) -> None:
    emu.set_outcome("a", "unavailable")
    response = post_legacy(http, emu, {"registration_ids": ["a", "b"]})
    assert "Retry-After" not in response.headers
    assert response.json()["failure"] == 1


def test_to_single_token_has_multicast_shape(emu: FCMEmulator, http: requests.Session) -> None:
    body = post_legacy(http, emu, {"to": "tok", "notification": {"title": "T"}}).json()
    assert body["success"] == 1
    assert len(body["results"]) == 1
    assert emu.inbox("tok") == [{"token": "tok", "notification": {"title": "T"}}]


def test_topic_send_answers_message_id_and_fills_topic_inbox(
    emu: FCMEmulator, http: requests.Session
) -> None:
    body = post_legacy(http, emu, {"to": "/topics/news", "data": {"a": "b"}}).json()
    assert set(body) == {"message_id"}
    assert isinstance(body["message_id"], int)
    assert emu.inbox("/topics/news") == [{"topic": "news", "data": {"a": "b"}}]
    assert emu.inbox("news") == []  # topics are keyed with their /topics/ prefix
    emu.set_outcome("/topics/news", "quota_exceeded")
    assert post_legacy(http, emu, {"to": "/topics/news"}).json() == {"error": "TopicsMessageRateExceeded"}


def test_condition_send(emu: FCMEmulator, http: requests.Session) -> None:
    condition = "'a' in topics && ('b' in topics || 'c' in topics)"
    emu.set_outcome(condition, "unavailable")
    assert post_legacy(http, emu, {"condition": condition}).json() == {"error": "Unavailable"}
    assert isinstance(post_legacy(http, emu, {"condition": condition}).json()["message_id"], int)
    assert emu.inbox(condition) == [{"condition": condition}]


def test_plain_text_delivered_canonical_and_error(emu: FCMEmulator, http: requests.Session) -> None:
    emu.set_outcome("tok", "delivered", Answer.canonical("fresh"), "unregistered")
    fields = {"registration_id": "tok", "data.score": "5", "data.who": "me", "priority": "high"}
    first = post_legacy_form(http, emu, fields)
    assert first.status_code == 200
    assert first.headers["Content-Type"].startswith("text/plain")
    assert re.fullmatch(r"id=0:\d+%[0-9a-f]+", first.text)
    lines = post_legacy_form(http, emu, fields).text.split("\n")
    assert lines[0].startswith("id=0:")
    assert lines[1] == "registration_id=fresh"
    assert post_legacy_form(http, emu, fields).text == "Error=NotRegistered"
    inbox = emu.inbox("tok")
    assert len(inbox) == 2
    assert inbox[0] == {
        "token": "tok",
        "data": {"score": "5", "who": "me"},
        "android": {"priority": "HIGH"},
    }


def test_plain_text_missing_registration_is_a_200_error(emu: FCMEmulator, http: requests.Session) -> None:
    response = post_legacy_form(http, emu, {"data.a": "b"})
    assert (response.status_code, response.text) == (200, "Error=MissingRegistration")


@pytest.mark.parametrize(
    ("fields", "answer"),
    [
        ({"time_to_live": "-5"}, "Error=InvalidTtl"),
        ({"time_to_live": "2419201"}, "Error=InvalidTtl"),
        ({"data.from": "x"}, "Error=InvalidDataKey"),
        ({"data.google.x": "x"}, "Error=InvalidDataKey"),
        ({"data.big": "x" * 5000}, "Error=MessageTooBig"),
    ],
)
def test_plain_text_field_errors(
    emu: FCMEmulator, http: requests.Session, fields: dict[str, str], answer: str
) -> None:
    response = post_legacy_form(http, emu, {"registration_id": "tok", **fields})
    assert (response.status_code, response.text) == (200, answer)
    assert emu.inbox("tok") == []


@pytest.mark.parametrize("flag", ["1", "true", "TRUE"])
def test_plain_text_dry_run_booleans(emu: FCMEmulator, http: requests.Session, flag: str) -> None:
    response = post_legacy_form(http, emu, {"registration_id": "tok", "dry_run": flag})
    assert response.text == "id=fake_message_id"
    assert emu.inbox("tok") == []


def test_plain_text_bad_boolean_is_400(emu: FCMEmulator, http: requests.Session) -> None:
    response = post_legacy_form(http, emu, {"registration_id": "tok", "dry_run": "maybe"})
    assert response.status_code == 400
    assert "dry_run" in response.text


def test_json_dry_run_delivers_nothing(emu: FCMEmulator, http: requests.Session) -> None:
    emu.set_outcome("b", "unregistered")
    body = post_legacy(http, emu, {"registration_ids": ["a", "b"], "dry_run": True}).json()
    assert body["results"] == [{"message_id": "fake_message_id"}, {"error": "NotRegistered"}]
    assert emu.inbox("a") == []


def test_reserved_data_key_and_big_payload_fail_every_token(emu: FCMEmulator, http: requests.Session) -> None:
    body = post_legacy(http, emu, {"registration_ids": ["a", "b"], "data": {"from": "x"}}).json()
    assert body["results"] == [{"error": "InvalidDataKey"}] * 2
    big = {"to": "/topics/t", "data": {"k": "x" * 2100}}  # over the 2048-byte topic limit
    assert post_legacy(http, emu, big).json() == {"error": "MessageTooBig"}
    assert emu.inbox("a") == []


def test_legacy_message_becomes_v1_shape_in_inbox(emu: FCMEmulator, http: requests.Session) -> None:
    post_legacy(
        http,
        emu,
        {
            "to": "tok",
            "data": {"n": 1, "s": "x", "o": {"a": [1]}},
            "notification": {"title": "T", "body": "B", "icon": "i", "android_channel_id": "c"},
            "collapse_key": "ck",
            "priority": "normal",
            "time_to_live": 60,
            "restricted_package_name": "com.example",
            "content_available": True,
            "mutable_content": True,
            "unknown_field": "ignored",
        },
    )
    assert emu.inbox("tok") == [
        {
            "token": "tok",
            "data": {"n": "1", "s": "x", "o": '{"a":[1]}'},
            "notification": {"title": "T", "body": "B"},
            "android": {
                "notification": {"icon": "i", "channel_id": "c"},
                "collapse_key": "ck",
                "restricted_package_name": "com.example",
                "priority": "NORMAL",
                "ttl": "60s",
            },
            "apns": {"payload": {"aps": {"content-available": 1, "mutable-content": 1}}},
        }
    ]


@pytest.mark.parametrize(
    ("body", "explanation"),
    [
        pytest.param(b"{not json", "JSON_PARSING_ERROR", id="not-json"),
        pytest.param([1, 2], "JSON object", id="not-object"),
        pytest.param({"data": {"a": "b"}}, "Missing target", id="no-target"),
        pytest.param({"to": "a", "registration_ids": ["b"]}, "only one", id="two-targets"),
        pytest.param({"registration_ids": []}, "non-empty", id="empty-ids"),
        pytest.param({"registration_ids": "abc"}, "array", id="ids-not-list"),
        pytest.param(
            {"registration_ids": [f"t{i}" for i in range(1001)]},
            "exceeds maximum allowed (1000)",
            id="too-many-ids",
        ),
        pytest.param({"registration_ids": ["a", 5]}, "non-empty strings", id="id-not-string"),
        pytest.param({"registration_ids": ["a", ""]}, "non-empty strings", id="empty-id"),
        pytest.param({"to": ""}, '"to" must be a non-empty string', id="empty-to"),
        pytest.param({"to": 12}, '"to" must be a non-empty string', id="to-number"),
        pytest.param({"to": "/topics/bad name"}, "Invalid topic name", id="bad-topic"),
        pytest.param({"condition": "nonsense"}, "Invalid condition", id="bad-condition"),
        pytest.param({"to": "a", "data": [1]}, '"data" must be a JSON object', id="data-list"),
        pytest.param({"to": "a", "notification": "hi"}, '"notification" must be', id="notification-str"),
        pytest.param({"to": "a", "time_to_live": -1}, '"time_to_live"', id="ttl-negative"),
        pytest.param({"to": "a", "time_to_live": 2419201}, '"time_to_live"', id="ttl-large"),
        pytest.param({"to": "a", "time_to_live": "60"}, '"time_to_live"', id="ttl-string"),
        pytest.param({"to": "a", "time_to_live": True}, '"time_to_live"', id="ttl-bool"),
        pytest.param({"to": "a", "priority": "urgent"}, '"priority"', id="priority"),
        pytest.param({"to": "a", "priority": "HIGH"}, '"priority"', id="priority-case"),
        pytest.param({"to": "a", "dry_run": "yes"}, '"dry_run"', id="dry-run"),
        pytest.param({"to": "a", "delay_while_idle": 1}, '"delay_while_idle"', id="idle"),
        pytest.param({"to": "a", "content_available": "true"}, '"content_available"', id="ca"),
        pytest.param({"to": "a", "mutable_content": 0}, '"mutable_content"', id="mc"),
    ],
)
def test_json_validation_errors_are_400_with_explanation(
    emu: FCMEmulator, http: requests.Session, body: Any, explanation: str
) -> None:
    response = post_legacy(http, emu, body)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert explanation in response.text
    assert emu.stats.messages_delivered == 0


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_missing_or_wrong_key_is_401_html(emu: FCMEmulator, http: requests.Session, key: str | None) -> None:
    response = post_legacy(http, emu, {"to": "a"}, key=key)
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Error 401" in response.text
    assert emu.inbox("a") == []


def test_bearer_token_is_not_a_legacy_key(emu: FCMEmulator, http: requests.Session) -> None:
    response = http.post(
        emu.legacy_url,
        json={"to": "a"},
        headers={"Authorization": f"Bearer {emu.api_key}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 401


def test_http_error_outcome_applies_to_whole_request(emu: FCMEmulator, http: requests.Session) -> None:
    emu.set_outcome("b", Answer.http_error(503, retry_after=7))
    response = post_legacy(http, emu, {"registration_ids": ["a", "b", "c"]})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert response.headers["Content-Type"].startswith("text/html")
    assert emu.inbox("a") == []  # nothing is delivered by a failed request


def test_first_request_level_outcome_wins(emu: FCMEmulator, http: requests.Session) -> None:
    emu.set_outcome("a", "malformed")
    emu.set_outcome("b", Answer.http_error(502))
    response = post_legacy(http, emu, {"registration_ids": ["a", "b"]})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    # both queued outcomes were consumed
    assert post_legacy(http, emu, {"registration_ids": ["a", "b"]}).json()["success"] == 2


def test_malformed_plain_text(emu: FCMEmulator, http: requests.Session) -> None:
    emu.set_outcome("tok", "malformed")
    response = post_legacy_form(http, emu, {"registration_id": "tok"})
    assert response.status_code == 200
    assert not response.text.startswith(("id=", "Error="))


def test_drop_closes_the_connection(emu: FCMEmulator) -> None:
    emu.set_outcome("b", "drop")
    conn = HTTPConnection(emu.host, emu.port, timeout=TIMEOUT)
    try:
        body = json.dumps({"registration_ids": ["a", "b"]})
        headers = {"Authorization": f"key={emu.api_key}", "Content-Type": "application/json"}
        conn.request("POST", "/fcm/send", body, headers)
        with pytest.raises(RemoteDisconnected):
            conn.getresponse()
    finally:
        conn.close()
    assert emu.inbox("a") == []
    assert emu.stats.legacy_requests == 1


def test_requests_are_recorded_with_the_key_redacted(emu: FCMEmulator, http: requests.Session) -> None:
    post_legacy(http, emu, {"registration_ids": ["a", "b"], "data": {"x": "y"}})
    post_legacy_form(http, emu, {"registration_id": "c"})
    first, second = emu.requests
    assert first.protocol == "legacy"
    assert (first.method, first.path) == ("POST", "/fcm/send")
    assert first.targets == ("a", "b")
    assert first.body == {"registration_ids": ["a", "b"], "data": {"x": "y"}}
    assert first.headers["authorization"] == "key=<redacted>"
    assert emu.api_key not in repr(first)
    assert second.body == {"registration_id": "c"}
    assert second.received_at >= first.received_at
