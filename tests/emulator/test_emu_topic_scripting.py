"""Scripted outcomes and unregistered tokens apply to topic subscription requests."""

from __future__ import annotations

import json
import time
from http.client import HTTPConnection, RemoteDisconnected

import pytest
import requests

from fcmclient.testing import Answer, FCMEmulator
from tests.emulator.emu_support import (
    TIMEOUT,
    fcm_error_code,
    post_legacy,
    send_v1,
    subscribe_http,
    topic_request,
    topics_url,
)

TOKEN = "tok:1"


@pytest.mark.parametrize(
    ("outcome", "status", "status_name", "error_code", "retry_after"),
    [
        ("unregistered", 404, "NOT_FOUND", "UNREGISTERED", None),
        ("invalid", 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", None),
        ("sender_mismatch", 403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", None),
        (Answer.unavailable(retry_after=7), 503, "UNAVAILABLE", "UNAVAILABLE", "7"),
        (Answer.internal(), 500, "INTERNAL", "INTERNAL", None),
        (Answer.quota_exceeded(retry_after=60), 429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "60"),
    ],
)
@pytest.mark.parametrize(
    ("method", "suffix"),
    [("POST", ""), ("GET", ""), ("GET", "/news"), ("PATCH", "/news"), ("DELETE", "/news")],
)
def test_error_outcomes_answer_as_for_a_send_and_change_nothing(
    emu: FCMEmulator,
    http: requests.Session,
    access_token: str,
    outcome: Answer | str,
    status: int,
    status_name: str,
    error_code: str,
    retry_after: str | None,
    method: str,
    suffix: str,
) -> None:
    emu.subscribe(TOKEN, "news")
    emu.set_outcome(TOKEN, outcome)
    url = topics_url(emu, TOKEN) + suffix
    response = topic_request(http, access_token, method, url, params={"topicName": "sport"})
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (status, status_name)
    assert fcm_error_code(response) == error_code
    assert response.headers.get("Retry-After") == retry_after
    assert emu.subscriptions(TOKEN) == ["news"]
    # the queue is consumed: the same request now does its work
    assert topic_request(http, access_token, method, url, params={"topicName": "sport"}).status_code == 200


def test_a_queue_fails_then_succeeds(emu: FCMEmulator, http: requests.Session, access_token: str) -> None:
    emu.set_outcome(TOKEN, Answer.unavailable(retry_after=1), "internal", "delivered")
    statuses = [subscribe_http(http, emu, access_token, TOKEN, "news").status_code for _ in range(4)]
    assert statuses == [503, 500, 200, 409]
    assert emu.subscriptions(TOKEN) == ["news"]


def test_sends_and_topic_requests_share_a_tokens_queue(
    emu: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    emu.set_outcome(TOKEN, "unregistered", "unavailable")
    assert fcm_error_code(send_v1(http, emu, access_token, {"token": TOKEN})) == "UNREGISTERED"
    assert subscribe_http(http, emu, access_token, TOKEN, "news").status_code == 503
    assert subscribe_http(http, emu, access_token, TOKEN, "news").status_code == 200


def test_http_error_and_malformed_answers(
    emu: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    emu.set_outcome(TOKEN, Answer.http_error(502, retry_after=30), "malformed")
    page = subscribe_http(http, emu, access_token, TOKEN, "news")
    assert page.status_code == 502
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Retry-After"] == "30"
    malformed = subscribe_http(http, emu, access_token, TOKEN, "news")
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.text)
    assert emu.subscriptions(TOKEN) == []


def test_drop_closes_the_connection_and_subscribes_nothing(emu: FCMEmulator, access_token: str) -> None:
    emu.set_outcome(TOKEN, "drop")
    conn = HTTPConnection(emu.host, emu.port, timeout=TIMEOUT)
    try:
        target = "/v1/projects/demo/registrations/tok:1/topicSubscriptions?topicName=news"
        conn.request("POST", target, b"{}", {"Authorization": f"Bearer {access_token}"})
        with pytest.raises(RemoteDisconnected):
            conn.getresponse()
    finally:
        conn.close()
    assert emu.subscriptions(TOKEN) == []
    assert emu.stats.topic_requests == 1


def test_delay_then_outcome_and_latency(emu: FCMEmulator, http: requests.Session, access_token: str) -> None:
    emu.set_outcome(TOKEN, Answer.delay(0.2, then="unregistered"), Answer.delay(0.2))
    response = subscribe_http(http, emu, access_token, TOKEN, "news")
    assert (response.status_code, fcm_error_code(response)) == (404, "UNREGISTERED")
    assert response.elapsed.total_seconds() >= 0.2
    assert subscribe_http(http, emu, access_token, TOKEN, "news").status_code == 200
    emu.latency = 0.2
    started = time.monotonic()
    assert topic_request(http, access_token, "GET", topics_url(emu, TOKEN)).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_invalid_requests_and_auth_failures_consume_no_outcome(
    emu: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    emu.set_outcome(TOKEN, "unavailable")
    assert subscribe_http(http, emu, access_token, TOKEN, "bad topic").status_code == 400
    assert subscribe_http(http, emu, "wrong", TOKEN, "news").status_code == 401
    assert subscribe_http(http, emu, access_token, TOKEN, "news").status_code == 503


def test_default_outcome_and_random_failures_apply(
    emu: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    emu.default_outcome = "unregistered"
    assert fcm_error_code(subscribe_http(http, emu, access_token, TOKEN, "news")) == "UNREGISTERED"
    emu.default_outcome = "delivered"
    emu.set_random_failures(1.0, outcomes=["internal"])
    assert subscribe_http(http, emu, access_token, TOKEN, "news").status_code == 500
    emu.set_random_failures(0)
    assert subscribe_http(http, emu, access_token, TOKEN, "news").status_code == 200


class TestUnregister:
    def test_a_dead_token_fails_sends_and_topic_requests_alike(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        emu.subscribe(TOKEN, "news")
        emu.unregister(TOKEN)
        assert emu.subscriptions(TOKEN) == []
        for _ in range(2):  # for good, not once
            assert fcm_error_code(send_v1(http, emu, access_token, {"token": TOKEN})) == "UNREGISTERED"
            assert post_legacy(http, emu, {"to": TOKEN}).json()["results"] == [{"error": "NotRegistered"}]
            response = subscribe_http(http, emu, access_token, TOKEN, "news")
            assert (response.status_code, fcm_error_code(response)) == (404, "UNREGISTERED")
            listed = topic_request(http, access_token, "GET", topics_url(emu, TOKEN))
            assert fcm_error_code(listed) == "UNREGISTERED"
        assert emu.inbox(TOKEN) == []

    def test_it_outranks_random_failures_but_not_a_scripted_outcome(
        self, emu: FCMEmulator, http: requests.Session, access_token: str
    ) -> None:
        emu.unregister(TOKEN)
        emu.set_random_failures(1.0, outcomes=["internal"])
        assert fcm_error_code(send_v1(http, emu, access_token, {"token": TOKEN})) == "UNREGISTERED"
        emu.set_outcome(TOKEN, "unavailable")
        assert send_v1(http, emu, access_token, {"token": TOKEN}).status_code == 503
        assert fcm_error_code(send_v1(http, emu, access_token, {"token": TOKEN})) == "UNREGISTERED"

    def test_only_the_named_tokens_die_in_every_project(self, emu: FCMEmulator) -> None:
        emu.subscribe("a", "news")
        emu.subscribe("a", "news", project_id="other")
        emu.subscribe("b", "news")
        emu.unregister("a")
        assert emu.subscribers("news") == ["b"]
        assert emu.subscribers("news", project_id="other") == []
        with pytest.raises(ValueError, match="unregister"):
            emu.subscribe("a", "sport")

    @pytest.mark.parametrize(
        ("topic", "explanation"),
        [("bad topic", "use only"), ("", "use only"), ("x" * 901, "maximum is 900")],
    )
    def test_subscribe_helper_checks_names(self, emu: FCMEmulator, topic: str, explanation: str) -> None:
        with pytest.raises(ValueError, match=explanation):
            emu.subscribe(TOKEN, "fine", topic)
        assert emu.subscriptions(TOKEN) == []
