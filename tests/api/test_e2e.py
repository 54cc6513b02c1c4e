"""FCM end to end through the emulator: real sockets, the real google-auth JWT flow, no mocks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from fcmclient import (
    FCM,
    FCMAuthenticationError,
    FCMRequestError,
    InstallationMessage,
    JSONMessage,
    PlainTextMessage,
    TopicMessage,
)
from fcmclient.testing import Answer, FCMEmulator


@pytest.fixture
def v1(fcm_emulator: FCMEmulator) -> Iterator[FCM]:
    info = fcm_emulator.service_account_info("demo")
    with FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), max_workers=8) as client:
        yield client


@pytest.fixture
def legacy(fcm_emulator: FCMEmulator) -> Iterator[FCM]:
    with FCM(fcm_emulator.api_key, url=fcm_emulator.legacy_url) as client:
        yield client


def test_legacy_json_multicast_with_mixed_outcomes(fcm_emulator: FCMEmulator, legacy: FCM) -> None:
    fcm_emulator.set_outcome("dead", "unregistered")
    fcm_emulator.set_outcome("moved", Answer.canonical("moved-v2"))
    fcm_emulator.set_outcome("bad", "invalid")
    fcm_emulator.set_outcome("busy", Answer.unavailable(retry_after=4))
    message = JSONMessage(
        ["ok", "dead", "moved", "bad", "busy"], {"n": 1}, message_title="T", message_body="B"
    )
    result = legacy.send(message)
    assert set(result.success) == {"ok", "moved"}
    assert result.canonical == {"moved": "moved-v2"}
    assert result.not_registered == ["dead"]
    assert result.failed == {"bad": "InvalidRegistration"}
    assert result.retry() == JSONMessage(["busy"], {"n": 1}, message_title="T", message_body="B")
    assert result.delay() == 4.0
    assert isinstance(result.multicast_id, int)
    (delivered,) = fcm_emulator.inbox("ok")
    assert delivered["notification"] == {"title": "T", "body": "B"}


def test_legacy_plain_text_unicast(fcm_emulator: FCMEmulator, legacy: FCM) -> None:
    fcm_emulator.set_outcome("moved", Answer.canonical("moved-v2"))
    result = legacy.send(PlainTextMessage("moved", {"k": "v", "n": 2}, collapse_key="c"))
    assert result.canonical == {"moved": "moved-v2"}
    (request,) = fcm_emulator.requests
    assert request.body["data.n"] == "2"
    assert request.body["collapse_key"] == "c"
    assert fcm_emulator.inbox("moved")[0]["data"] == {"k": "v", "n": "2"}


def test_legacy_topic_and_condition(fcm_emulator: FCMEmulator, legacy: FCM) -> None:
    assert list(legacy.send(TopicMessage(topic="news")).success) == ["news"]
    condition = "'a' in topics && 'b' in topics"
    assert list(legacy.send(TopicMessage(condition=condition)).success) == [condition]


def test_legacy_bad_key_is_an_authentication_error(fcm_emulator: FCMEmulator) -> None:
    with FCM("wrong-key", url=fcm_emulator.legacy_url) as client, pytest.raises(FCMAuthenticationError):
        client.send(JSONMessage(["a"]))


def test_legacy_400_carries_the_explanation(fcm_emulator: FCMEmulator, legacy: FCM) -> None:
    with pytest.raises(FCMRequestError, match="time_to_live") as caught:
        legacy.send(JSONMessage(["a"], time_to_live=-5))
    assert caught.value.status == 400


def test_two_sends_reuse_one_connection(fcm_emulator: FCMEmulator, legacy: FCM, v1: FCM) -> None:
    legacy.send(JSONMessage(["a"]))
    legacy.send(JSONMessage(["b"]))
    assert fcm_emulator.stats.connections_opened == 1
    v1.send(JSONMessage(["a"]))  # token fetch + send on v1's own pool
    opened = fcm_emulator.stats.connections_opened
    v1.send(JSONMessage(["b"]))
    v1.send(JSONMessage(["c"]))
    assert fcm_emulator.stats.connections_opened == opened


def test_v1_unicast_through_the_real_jwt_flow(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    result = v1.send(
        JSONMessage(["tok"], {"n": 1, "s": "x"}, message_title="Hi", time_to_live=60, priority="high")
    )
    (name,) = result.success.values()
    assert name.startswith("projects/demo/messages/")
    (delivered,) = fcm_emulator.inbox("tok")
    assert delivered["data"] == {"n": "1", "s": "x"}
    assert delivered["android"] == {"ttl": "60s", "priority": "HIGH"}
    assert fcm_emulator.token_requests == 1


def test_v1_multicast_with_every_outcome(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    scripted: dict[str, Any] = {
        "dead": "unregistered",
        "bad": "invalid",
        "other": "sender_mismatch",
        "apns": "third_party_auth_error",
        "busy": Answer.unavailable(retry_after=2),
        "oops": "internal",
        "quota": Answer.quota_exceeded(retry_after=3),
        "dropped": "drop",
        "garbled": "malformed",
        "gateway": Answer.http_error(502),
        "moved": Answer.canonical("moved-v2"),  # v1 has no canonical ids: a plain success
    }
    for token, outcome in scripted.items():
        fcm_emulator.set_outcome(token, outcome)
    tokens = ["ok-1", "ok-2", *scripted]
    result = v1.send(JSONMessage(tokens, {"k": "v"}))
    assert set(result.success) == {"ok-1", "ok-2", "moved"}
    assert result.not_registered == ["dead"]
    assert result.failed == {
        "bad": "INVALID_ARGUMENT",
        "other": "SENDER_ID_MISMATCH",
        "apns": "THIRD_PARTY_AUTH_ERROR",
        "garbled": "INVALID_RESPONSE",
    }
    retry = result.retry()
    assert retry is not None
    assert retry.targets == ["busy", "oops", "quota", "dropped", "gateway"]
    assert result.retry_after == 3.0
    assert result.canonical == {}
    second = v1.send(retry)  # the queues are empty now: everything is delivered
    assert set(second.success) == set(retry.targets)


def test_v1_topics_and_conditions(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    assert list(v1.send(TopicMessage(topic="/topics/news", message_title="x")).success) == ["/topics/news"]
    condition = "'a' in topics || 'b' in topics"
    assert list(v1.send(TopicMessage(condition=condition)).success) == [condition]


def test_v1_translation_passes_the_emulators_validation(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    message = JSONMessage(
        ["t"],
        {"nested": {"a": [1, 2]}, "flag": True},
        message_title="x",
        message_body="y",
        payload={"notification": {"image": "https://e.test/i.png", "icon": "ic", "android_channel_id": "c"}},
        collapse_key="k",
        priority="normal",
        time_to_live=0,
        restricted_package_name="com.example",
        content_available=True,
        mutable_content=True,
        delay_while_idle=True,
        dry_run=True,
        fcm_options={"analytics_label": "l"},
    )
    result = v1.send(message)
    assert list(result.success) == ["t"], result.error_details
    assert fcm_emulator.inbox("t") == []  # validate_only


def test_v1_legacy_ios_alert_keys_are_accepted_and_reach_ios(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    """A legacy notification with iOS alert keys: before the fix, the emulator (as FCM)
    refused every token with INVALID_ARGUMENT, 'Unknown name "subtitle"'."""
    notification = {"subtitle": "s", "click_action": "C", "body_loc_key": "K", "body_loc_args": '["a"]'}
    result = v1.send(JSONMessage(["t"], message_body="B", payload={"notification": notification}))
    assert list(result.success) == ["t"], result.error_details
    (delivered,) = fcm_emulator.inbox("t")
    assert delivered["apns"]["payload"]["aps"] == {
        "alert": {"body": "B", "subtitle": "s", "loc-key": "K", "loc-args": ["a"]},
        "category": "C",
    }
    assert delivered["android"]["notification"] == {
        "click_action": "C",
        "body_loc_key": "K",
        "body_loc_args": ["a"],
    }


def test_v1_every_legacy_option_reaches_the_device_translated(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    before = int(time.time())
    message = JSONMessage(
        ["t"],
        {"n": 1, "s": "x"},
        message_title="T",
        message_body="B",
        payload={
            "notification": {
                "image": "https://e.test/i.png",
                "icon": "ic",
                "android_channel_id": "ch",
                "sound": "default",
                "badge": "2",
            }
        },
        collapse_key="k",
        priority="high",
        time_to_live=600,
        restricted_package_name="com.example",
        content_available=True,
        mutable_content=True,
        delay_while_idle=True,
        android={"direct_boot_ok": True},
        fcm_options={"analytics_label": "launch"},
    )
    result = v1.send(message)
    after = int(time.time())
    assert list(result.success) == ["t"], result.error_details
    (delivered,) = fcm_emulator.inbox("t")
    expiration = int(delivered["apns"]["headers"].pop("apns-expiration"))
    assert before + 600 <= expiration <= after + 600  # absolute on APNs, relative elsewhere
    assert delivered == {
        "token": "t",
        "data": {"n": "1", "s": "x"},
        "notification": {"title": "T", "body": "B", "image": "https://e.test/i.png"},
        "android": {
            "notification": {"icon": "ic", "channel_id": "ch", "sound": "default"},
            "collapse_key": "k",
            "priority": "HIGH",
            "ttl": "600s",
            "restricted_package_name": "com.example",
            "direct_boot_ok": True,
        },
        "apns": {
            "headers": {"apns-collapse-id": "k", "apns-priority": "10"},
            "payload": {
                "aps": {"badge": 2, "sound": "default", "content-available": 1, "mutable-content": 1}
            },
        },
        "webpush": {"headers": {"Topic": "k", "Urgency": "high", "TTL": "600"}},
        "fcm_options": {"analytics_label": "launch"},
    }


def test_a_legacy_send_and_a_v1_send_reach_the_device_alike(
    fcm_emulator: FCMEmulator, legacy: FCM, v1: FCM
) -> None:
    def message(token: str) -> JSONMessage:
        return JSONMessage(
            [token],
            {"n": 1, "nested": {"a": [1]}},
            message_title="T",
            payload={"notification": {"badge": "3", "sound": "s", "icon": "i", "android_channel_id": "c"}},
            restricted_package_name="com.example",
            content_available=True,
        )

    assert list(legacy.send(message("via-legacy")).success) == ["via-legacy"]
    assert list(v1.send(message("via-v1")).success) == ["via-v1"]
    (through_legacy,) = fcm_emulator.inbox("via-legacy")
    (through_v1,) = fcm_emulator.inbox("via-v1")
    assert through_legacy.pop("token") == "via-legacy"
    assert through_v1.pop("token") == "via-v1"
    assert through_legacy == through_v1


def test_v1_installation_ids(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    fcm_emulator.set_outcome("fid-dead", "unregistered")
    result = v1.send(InstallationMessage(["fid-1", "fid-dead"], {"k": "v"}))
    assert list(result.success) == ["fid-1"]
    assert result.not_registered == ["fid-dead"]
    assert fcm_emulator.inbox("fid-1") == [{"fid": "fid-1", "data": {"k": "v"}}]
    assert [request.body["message"].get("token") for request in fcm_emulator.requests[1:]] == [None, None]


def test_v1_unknown_option_is_judged_by_fcm(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    result = v1.send(JSONMessage(["t"], shiny=True))
    assert result.failed == {"t": "INVALID_ARGUMENT"}
    assert "shiny" in result.error_details["t"]


def test_v1_expired_token_is_refreshed_on_the_next_send(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    v1.send(JSONMessage(["a"]))
    fcm_emulator.expire_access_tokens()
    result = v1.send(JSONMessage(["b", "c"]))
    retry = result.retry()
    # The first request goes out with the refused token; one started after that answer may
    # already carry the new one (how the two overlap depends on the machine's timing).
    assert retry is not None
    assert set(retry.targets) | set(result.success) == {"b", "c"}
    assert result.delay() == 0.0
    assert set(v1.send(retry).success) == set(retry.targets)
    assert v1.token_fetches == 2


def test_v1_wrong_project_is_an_authentication_error(fcm_emulator: FCMEmulator) -> None:
    info = fcm_emulator.service_account_info("demo")
    with (
        FCM.from_service_account(info, url=fcm_emulator.v1_url("elsewhere")) as client,
        pytest.raises(FCMAuthenticationError, match="PERMISSION_DENIED"),
    ):
        client.send(JSONMessage(["a"]))


def test_v1_token_endpoint_rejection(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    fcm_emulator.set_token_outcome(Answer.oauth_error("invalid_grant", "Invalid JWT Signature."))
    with pytest.raises(FCMAuthenticationError, match="Invalid JWT Signature"):
        v1.send(JSONMessage(["a"]))
    assert fcm_emulator.stats.v1_requests == 0
