"""HTTP v1 body validation: every rule answers 400 INVALID_ARGUMENT with a useful message."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from fcmclient.testing import FCMEmulator
from tests.emulator.emu_support import BAD_REQUEST, detail, fcm_error_code, post_v1


def _message(**fields: Any) -> dict[str, Any]:
    return {"message": {"token": "tok", **fields}}


CASES = [
    pytest.param({"message": {"token": "t"}, "extra": 1}, "extra", 'Unknown name "extra"', id="top"),
    pytest.param(_message(sound="x"), "message", "Unknown name \"sound\" at 'message'", id="msg"),
    pytest.param(
        _message(notification={"title": "t", "icon": "i"}),
        "message.notification",
        'Unknown name "icon"',
        id="notification-field",
    ),
    pytest.param(_message(android={"channel": "x"}), "message.android", 'Unknown name "channel"', id="and"),
    pytest.param(_message(apns={"aps": {}}), "message.apns", 'Unknown name "aps"', id="apns"),
    pytest.param(_message(webpush={"link": "x"}), "message.webpush", 'Unknown name "link"', id="webpush"),
    pytest.param(
        _message(fcm_options={"link": "x"}),
        "message.fcm_options",
        'Unknown name "link"',
        id="fcm-options",
    ),
    pytest.param(
        _message(data={"a": "x", "b": 1}),
        "message.data[1].value",
        "Invalid value at 'message.data[1].value' (TYPE_STRING), 1",
        id="data-int",
    ),
    pytest.param(
        _message(data={"a": True}),
        "message.data[0].value",
        "Invalid value at 'message.data[0].value' (TYPE_STRING), true",
        id="data-bool",
    ),
    pytest.param(
        _message(android={"data": {"k": {"x": 1}}}),
        "message.android.data[0].value",
        "(TYPE_STRING)",
        id="android-data",
    ),
    pytest.param(_message(data=["a"]), "message.data", "expected an object", id="data-list"),
    pytest.param(
        _message(notification={"title": 5}),
        "message.notification.title",
        "(TYPE_STRING), 5",
        id="title-int",
    ),
    pytest.param(_message(notification="hi"), "message.notification", "hi", id="notif-str"),
    pytest.param({"message": {"data": {}}}, "message", "Recipient of the message is not set", id="none"),
    pytest.param({"message": {"token": ""}}, "message", "Recipient", id="empty-token"),
    pytest.param({"message": {"token": "t", "topic": "x"}}, "message", "Oneof field 'target'", id="two"),
    pytest.param({"validate_only": True}, "message", '"message"', id="no-message"),
    pytest.param({"message": {"topic": "/topics/news"}}, "message.topic", '"/topics/" prefix', id="prefix"),
    pytest.param({"message": {"topic": "bad topic!"}}, "message.topic", "[a-zA-Z0-9-_.~%]", id="chars"),
    pytest.param(
        {"message": {"condition": "'a' in topics &&"}},
        "message.condition",
        "Invalid condition",
        id="cond-syntax",
    ),
    pytest.param(
        {"message": {"condition": " || ".join(f"'t{i}' in topics" for i in range(6))}},
        "message.condition",
        "maximum is 5",
        id="cond-6",
    ),
    pytest.param(
        _message(android={"priority": "urgent"}),
        "message.android.priority",
        "expected NORMAL or HIGH",
        id="priority",
    ),
    pytest.param(_message(android={"ttl": "60"}), "message.android.ttl", "'s' suffix", id="ttl"),
    pytest.param(_message(android={"ttl": 60}), "message.android.ttl", "Duration", id="ttl-int"),
    pytest.param(_message(android={"ttl": "1.1234567891s"}), "message.android.ttl", "Duration", id="ttl-ns"),
    pytest.param(_message(android={"ttl": "2419201s"}), "message.android.ttl", "maximum", id="ttl-big"),
    pytest.param(_message(android={"ttl": "2419200.5s"}), "message.android.ttl", "maximum", id="ttl-frac"),
    pytest.param(
        _message(android={"direct_boot_ok": "yes"}),
        "message.android.direct_boot_ok",
        "TYPE_BOOL",
        id="bool",
    ),
    pytest.param(
        _message(android={"notification": []}),
        "message.android.notification",
        "TYPE_MESSAGE",
        id="android-notification",
    ),
    pytest.param(
        _message(android={"notification": {"badge": 3}}),
        "message.android.notification",
        'Unknown name "badge"',
        id="android-notification-ios-only-field",
    ),
    pytest.param(
        _message(android={"notification": {"sticky": "yes"}}),
        "message.android.notification.sticky",
        "TYPE_BOOL",
        id="android-notification-bool",
    ),
    pytest.param(
        _message(apns={"headers": {"apns-expiration": "soon"}}),
        "message.apns.headers",
        "apns-expiration",
        id="apns-expiration",
    ),
    pytest.param(
        _message(apns={"headers": {"apns-priority": "7"}}),
        "message.apns.headers",
        "apns-priority",
        id="apns-priority",
    ),
    pytest.param(
        _message(apns={"headers": {"apns-priority": 10}}),
        "message.apns.headers[0].value",
        "TYPE_STRING",
        id="apns-header-int",
    ),
    pytest.param(_message(apns={"payload": "x"}), "message.apns.payload", "Struct", id="apns-payload"),
    pytest.param(
        _message(webpush={"headers": {"TTL": "1h"}}),
        "message.webpush.headers",
        "TTL",
        id="webpush-ttl",
    ),
    pytest.param(
        _message(fcm_options={"analytics_label": "no spaces"}),
        "message.fcm_options.analytics_label",
        "analytics_label",
        id="label",
    ),
    pytest.param(
        {"message": {"token": "t"}, "validate_only": "yes"},
        "validate_only",
        "TYPE_BOOL",
        id="validate-only",
    ),
    pytest.param(_message(fcm_options={}, fcmOptions={}), "message.fcm_options", "given twice", id="twice"),
    pytest.param([{"message": {}}], "", "TYPE_MESSAGE", id="list-body"),
    pytest.param(b"{oops", "", "Invalid JSON payload received.", id="not-json"),
]


@pytest.mark.parametrize(("body", "field", "text"), CASES)
def test_invalid_bodies_are_400_invalid_argument(
    emu: FCMEmulator,
    http: requests.Session,
    access_token: str,
    body: Any,
    field: str,
    text: str,
) -> None:
    response = post_v1(http, emu, access_token, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert text in error["message"]
    assert fcm_error_code(response) == "INVALID_ARGUMENT"
    bad_request = detail(response.json(), BAD_REQUEST)
    assert bad_request is not None
    assert bad_request["fieldViolations"] == [{"field": field, "description": error["message"]}]
    assert emu.stats.messages_delivered == 0


def test_too_big_message_has_no_fcm_error(
    emu: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    response = post_v1(http, emu, access_token, _message(data={"k": "x" * 4100}))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "Message is too big"
    assert error["status"] == "INVALID_ARGUMENT"
    assert fcm_error_code(response) is None


def test_size_limit_is_measured_without_the_target(
    emu: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    # {"data":{"k":"xxx..."}} is exactly 4096 bytes in compact JSON
    payload = "x" * (4096 - len('{"data":{"k":""}}'))
    long_token = "t" * 500
    body = {"message": {"token": long_token, "data": {"k": payload}}}
    assert post_v1(http, emu, access_token, body).status_code == 200
    body["message"]["data"]["k"] += "x"
    assert post_v1(http, emu, access_token, body).status_code == 400


VALID = [
    pytest.param(_message(android={"priority": "normal", "ttl": "3.5s"}), id="android"),
    pytest.param(_message(android={"ttl": "2419200s", "direct_boot_ok": True}), id="max-ttl"),
    pytest.param(
        _message(
            android={
                "collapse_key": "c",
                "restricted_package_name": "com.x",
                "data": {"a": "b"},
                "notification": {
                    "channel_id": "x",
                    "notificationCount": 3,
                    "vibrate_timings": ["1s"],
                    "sticky": True,
                },
                "fcm_options": {"analytics_label": "l"},
                "bandwidth_constrained_ok": False,
                "restricted_satellite_ok": True,
            }
        ),
        id="android-all",
    ),
    pytest.param(
        _message(
            apns={
                "headers": {"apns-priority": "10", "apns-expiration": "0", "apns-push-type": "x"},
                "payload": {"aps": {"content-available": 1}},
                "fcm_options": {"analytics_label": "l", "image": "https://x/i.png"},
                "live_activity_token": "lat",
            }
        ),
        id="apns-all",
    ),
    pytest.param(
        _message(
            webpush={
                "headers": {"TTL": "60", "Urgency": "high"},
                "data": {"a": "b"},
                "notification": {"title": "t", "actions": []},
                "fcm_options": {"link": "https://x", "analytics_label": "l"},
            }
        ),
        id="webpush-all",
    ),
    pytest.param(
        {"message": {"token": "t", "fcmOptions": {"analyticsLabel": "x"}}, "validateOnly": False},
        id="camel-case",
    ),
    pytest.param({"message": {"token": "t", "notification": None}}, id="null-is-unset"),
    pytest.param({"message": {"topic": "a-b_c.d~e%f"}}, id="topic-chars"),
    pytest.param({"message": {"condition": "!('a' in topics) && \"b\" in topics"}}, id="cond"),
    pytest.param({"message": {"token": "t", "name": "ignored"}}, id="name"),
]


@pytest.mark.parametrize("body", VALID)
def test_valid_bodies_are_accepted(
    emu: FCMEmulator, http: requests.Session, access_token: str, body: Any
) -> None:
    response = post_v1(http, emu, access_token, body)
    assert response.status_code == 200, response.text
