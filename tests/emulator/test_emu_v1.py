"""HTTP v1 sends: outcomes, auth failures, inboxes and validate_only."""

from __future__ import annotations

import json
import re
from http.client import HTTPConnection, RemoteDisconnected

import pytest
import requests

from fcmclient.testing import Answer, FCMEmulator
from tests.emulator.emu_support import (
    APNS_ERROR,
    ERROR_INFO,
    FCM_ERROR,
    TIMEOUT,
    detail,
    fcm_error_code,
    fetch_token,
    make_assertion,
    post_v1,
    send_v1,
)

NAME = re.compile(r"projects/demo/messages/0:\d+%[0-9a-f]+")


def test_delivered_returns_name_and_fills_inbox(
    emu: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    message = {
        "token": "tok",
        "data": {"k": "v"},
        "notification": {"title": "T", "body": "B"},
        "android": {"priority": "high", "ttl": "60s"},
    }
    response = send_v1(http, emu, access_token, message)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert NAME.fullmatch(response.json()["name"])
    assert emu.inbox("tok") == [message]
    assert emu.stats.messages_delivered == 1


@pytest.mark.parametrize(
    ("outcome", "status", "status_name", "error_code", "message"),
    [
        ("unregistered", 404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
        (
            "invalid",
            400,
            "INVALID_ARGUMENT",
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
        ),
        ("sender_mismatch", 403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"),
        ("unavailable", 503, "UNAVAILABLE", "UNAVAILABLE", "unavailable"),
        ("internal", 500, "INTERNAL", "INTERNAL", "Internal error"),
        ("quota_exceeded", 429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded"),
        (
            "third_party_auth_error",
            401,
            "UNAUTHENTICATED",
            "THIRD_PARTY_AUTH_ERROR",
            "Auth error from APNS or Web Push Service",
        ),
    ],
)
def test_error_outcomes(
    emu: FCMEmulator,
    http: requests.Session,
    access_token: str,
    outcome: str,
    status: int,
    status_name: str,
    error_code: str,
    message: str,
) -> None:
    emu.set_outcome("tok", outcome)
    response = send_v1(http, emu, access_token, {"token": "tok"})
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (status, status_name)
    assert message in error["message"]
    assert fcm_error_code(response) == error_code
    assert "Retry-After" not in response.headers
    assert emu.inbox("tok") == []


def test_third_party_auth_error_has_apns_detail(
    emu: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    emu.set_outcome("tok", Answer.third_party_auth_error())
    body = send_v1(http, emu, access_token, {"token": "tok"}).json()
    assert detail(body, APNS_ERROR) == {
        "@type": APNS_ERROR,
        "statusCode": 403,
        "reason": "InvalidProviderToken",
    }


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (Answer.unavailable(retry_after=30), 503),
        (Answer.internal(retry_after=30), 500),
        (Answer.quota_exceeded(retry_after=30), 429),
        (Answer.http_error(503, retry_after=30), 503),
        (Answer.unavailable(retry_after=29.2), 503),  # rounded up
    ],
)
def test_retry_after_header(
    emu: FCMEmulator, http: requests.Session, access_token: str, outcome: Answer, status: int
) -> None:
    emu.set_outcome("tok", outcome)
    response = send_v1(http, emu, access_token, {"token": "tok"})
    assert response.status_code == status
    assert response.headers["Retry-After"] == "30"


def test_canonical_is_plain_success_on_v1(
    emu: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    emu.set_outcome("tok", Answer.canonical("new"))
    response = send_v1(http, emu, access_token, {"token": "tok"})
    assert response.status_code == 200
    assert set(response.json()) == {"name"}
    assert len(emu.inbox("tok")) == 1


def test_http_error_is_an_html_page(emu: FCMEmulator, http: requests.Session, access_token: str) -> None:
    emu.set_outcome("tok", Answer.http_error())
    response = send_v1(http, emu, access_token, {"token": "tok"})
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Error 502" in response.text
    assert emu.inbox("tok") == []


def test_malformed_is_200_without_json(emu: FCMEmulator, http: requests.Session, access_token: str) -> None:
    emu.set_outcome("tok", "malformed")
    response = send_v1(http, emu, access_token, {"token": "tok"})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    assert emu.inbox("tok") == []


def test_drop_closes_without_answer(emu: FCMEmulator, access_token: str) -> None:
    emu.set_outcome("tok", "drop")
    conn = HTTPConnection(emu.host, emu.port, timeout=TIMEOUT)
    try:
        body = json.dumps({"message": {"token": "tok"}})
        conn.request(
            "POST", "/v1/projects/demo/messages:send", body, {"Authorization": f"Bearer {access_token}"}
        )
        with pytest.raises(RemoteDisconnected):
            conn.getresponse()
    finally:
        conn.close()
    assert emu.inbox("tok") == []


def test_delay_then_outcome(emu: FCMEmulator, http: requests.Session, access_token: str) -> None:
    emu.set_outcome("tok", Answer.delay(0.2, then="unregistered"))
    response = send_v1(http, emu, access_token, {"token": "tok"})
    assert response.status_code == 404
    assert response.elapsed.total_seconds() >= 0.2


def test_validate_only_answers_but_delivers_nothing(
    emu: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    body = {"message": {"token": "tok", "data": {"a": "b"}}, "validate_only": True}
    response = post_v1(http, emu, access_token, body)
    assert response.status_code == 200
    assert response.json() == {"name": "projects/demo/messages/fake_message_id"}
    assert emu.inbox("tok") == []
    assert emu.stats.messages_delivered == 0
    emu.set_outcome("tok", "unregistered")  # validation still checks the token
    assert post_v1(http, emu, access_token, body).status_code == 404


def test_topic_and_condition_targets(emu: FCMEmulator, http: requests.Session, access_token: str) -> None:
    emu.set_outcome("/topics/news", "quota_exceeded", "delivered")
    assert send_v1(http, emu, access_token, {"topic": "news"}).status_code == 429
    assert send_v1(http, emu, access_token, {"topic": "news"}).status_code == 200
    assert emu.inbox("/topics/news") == [{"topic": "news"}]
    condition = "'a' in topics || 'b' in topics"
    emu.set_outcome(condition, "internal")
    assert send_v1(http, emu, access_token, {"condition": condition}).status_code == 500
    assert send_v1(http, emu, access_token, {"condition": condition}).status_code == 200
    assert emu.inbox(condition) == [{"condition": condition}]


def test_fid_target(emu: FCMEmulator, http: requests.Session, access_token: str) -> None:
    assert send_v1(http, emu, access_token, {"fid": "install-1"}).status_code == 200
    assert emu.inbox("install-1") == [{"fid": "install-1"}]


def test_missing_credentials(emu: FCMEmulator, http: requests.Session) -> None:
    response = send_v1(http, emu, None, {"token": "tok"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["status"] == "UNAUTHENTICATED"
    assert "missing required authentication credential" in error["message"]
    assert error["details"][0]["reason"] == "CREDENTIALS_MISSING"
    assert fcm_error_code(response) is None


@pytest.mark.parametrize("header", ["Bearer garbage", "Basic dXNlcjpwYXNz", "Bearer"])
def test_unknown_token(emu: FCMEmulator, http: requests.Session, header: str) -> None:
    response = http.post(
        emu.v1_url(),
        json={"message": {"token": "tok"}},
        headers={"Authorization": header},
        timeout=TIMEOUT,
    )
    assert response.status_code == 401
    assert response.json()["error"]["details"][0]["reason"] == "ACCESS_TOKEN_TYPE_UNSUPPORTED"
    assert emu.inbox("tok") == []


def test_expired_token_after_expire_access_tokens(
    emu: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    assert send_v1(http, emu, access_token, {"token": "tok"}).status_code == 200
    emu.expire_access_tokens()
    response = send_v1(http, emu, access_token, {"token": "tok"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (401, "UNAUTHENTICATED")
    assert error["details"] == [
        {
            "@type": ERROR_INFO,
            "reason": "ACCESS_TOKEN_EXPIRED",
            "domain": "googleapis.com",
            "metadata": {"service": "fcm.googleapis.com"},
        }
    ]
    assert len(emu.inbox("tok")) == 1


def test_token_expires_after_its_lifetime(fcm_service_account: dict[str, str]) -> None:
    with FCMEmulator(token_lifetime=0) as emu, requests.Session() as http:
        info = emu.service_account_info("demo")
        token_response = fetch_token(emu, make_assertion(info))
        assert token_response.json()["expires_in"] == 1  # announced as at least a second
        response = send_v1(http, emu, token_response.json()["access_token"], {"token": "t"})
        assert response.json()["error"]["details"][0]["reason"] == "ACCESS_TOKEN_EXPIRED"


def test_token_of_another_project_is_403(emu: FCMEmulator, http: requests.Session, access_token: str) -> None:
    response = post_v1(http, emu, access_token, {"message": {"token": "tok"}}, project_id="other")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["status"] == "PERMISSION_DENIED"
    assert error["message"] == (
        "Permission 'cloudmessaging.messages.create' denied on resource "
        "'//cloudresourcemanager.googleapis.com/projects/other' (or it may not exist)."
    )
    assert error["details"][0]["reason"] == "IAM_PERMISSION_DENIED"


def test_recorded_v1_request_redacts_the_token(
    emu: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    send_v1(http, emu, access_token, {"topic": "news"})
    (recorded,) = emu.requests
    assert recorded.protocol == "v1"
    assert recorded.path == "/v1/projects/demo/messages:send"
    assert recorded.targets == ("/topics/news",)
    assert recorded.body == {"message": {"topic": "news"}}
    assert recorded.headers["authorization"] == "Bearer <redacted>"
    assert access_token not in repr(recorded)
    assert emu.stats.v1_requests == 1


def test_fcm_error_detail_type(emu: FCMEmulator, http: requests.Session, access_token: str) -> None:
    emu.set_outcome("tok", "unregistered")
    body = send_v1(http, emu, access_token, {"token": "tok"}).json()
    assert detail(body, FCM_ERROR) == {"@type": FCM_ERROR, "errorCode": "UNREGISTERED"}
