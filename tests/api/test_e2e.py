"""FCM end to end through the emulator: real sockets, the real google-auth JWT flow, no mocks."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

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


def test_v1_fan_out_uses_at_most_max_workers_connections_and_keeps_them(
    fcm_emulator: FCMEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    fcm_emulator.latency = 0.02  # requests overlap, so the fan-out has to run them side by side
    info = fcm_emulator.service_account_info("demo")
    tokens = [f"t{n}" for n in range(40)]
    with (
        caplog.at_level(logging.WARNING, logger="urllib3"),
        FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), max_workers=4) as client,
    ):
        first = client.send(JSONMessage(tokens))
        opened = fcm_emulator.stats.connections_opened
        second = client.send(JSONMessage(tokens))
    assert set(first.success) == set(second.success) == set(tokens)
    assert 2 <= opened <= 4  # concurrent, but never more requests in flight than max_workers
    assert fcm_emulator.stats.connections_opened == opened  # the pool, sized to match, kept them
    assert [record.getMessage() for record in caplog.records] == []  # no "Connection pool is full"


def test_v1_send_timeout_bounds_a_slow_multicast(fcm_emulator: FCMEmulator) -> None:
    fcm_emulator.latency = 0.1
    fcm_emulator.set_token_outcome(Answer.delay(0.2))
    info = fcm_emulator.service_account_info("demo")
    tokens = [f"t{n}" for n in range(20)]
    with FCM.from_service_account(
        info, url=fcm_emulator.v1_url("demo"), max_workers=1, send_timeout=0.5
    ) as client:
        result = client.send(JSONMessage(tokens))
    sent = list(result.success)
    # send_timeout counts from the start of send(), the token fetch included: the first send
    # starts after >= 0.2 s and each takes >= 0.1 s, so a fourth cannot start before 0.5 s.
    assert 1 <= len(sent) <= 3
    retry = result.retry()
    assert retry is not None
    assert sent + retry.targets == tokens  # nothing lost: sent, or waiting in retry()
    assert {result.outcomes[token].error for token in retry.targets} == {"NOT_SENT"}
    assert fcm_emulator.stats.v1_requests == len(sent)


def test_v1_unknown_option_is_judged_by_fcm(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    result = v1.send(JSONMessage(["t"], shiny=True))
    assert result.failed == {"t": "INVALID_ARGUMENT"}
    assert "shiny" in result.error_details["t"]


def test_v1_expired_token_is_refreshed_on_the_next_send(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    v1.send(JSONMessage(["a"]))
    fcm_emulator.expire_access_tokens()
    result = v1.send(JSONMessage(["b", "c"]))
    retry = result.retry()
    assert retry is not None
    assert retry.targets == ["b", "c"]
    assert result.delay() == 0.0
    assert set(v1.send(retry).success) == {"b", "c"}
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


def test_v1_slow_token_is_bounded_by_the_timeout(fcm_emulator: FCMEmulator) -> None:
    fcm_emulator.set_outcome("slow", Answer.delay(3))
    info = fcm_emulator.service_account_info("demo")
    with FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), timeout=0.5) as client:
        started = time.monotonic()
        result = client.send(JSONMessage(["slow", "fast"]))
        elapsed = time.monotonic() - started
    assert elapsed < 2.5
    assert list(result.success) == ["fast"]
    assert "Timeout" in result.error_details["slow"]


def test_v1_token_fetch_is_bounded_by_the_timeout(fcm_emulator: FCMEmulator) -> None:
    # PyFCM's OAuth call ignored the timeout; here the grant request carries it too.
    fcm_emulator.set_token_outcome(Answer.delay(3))
    info = fcm_emulator.service_account_info("demo")
    with FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(requests.Timeout):
            client.send(JSONMessage(["a", "b"]))
        elapsed = time.monotonic() - started
    assert elapsed < 2.5
    assert fcm_emulator.stats.v1_requests == 0  # nothing was sent without a token


def test_dead_port_fails_fast() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FCM("key", url=f"http://127.0.0.1:{port}/fcm/send") as client:
        started = time.monotonic()
        with pytest.raises(requests.ConnectionError):
            client.send(JSONMessage(["a"]))
        assert time.monotonic() - started < 2


class TimeLimitError(Exception):
    """Raised in the main thread by a timer signal, as a Celery soft time limit would be."""


@contextlib.contextmanager
def time_limits(first: float, every: float = 0.0) -> Iterator[Callable[[], None]]:
    """Raise :class:`TimeLimitError` in the main thread ``first`` seconds from now (then every
    ``every`` seconds), as a Celery soft time limit does, until the block ends or the
    ``disarm()`` it yields is called."""
    armed = True

    def stop(signum: int, frame: object) -> None:
        if armed:
            raise TimeLimitError

    def disarm() -> None:
        nonlocal armed
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, first, every)
    try:
        yield disarm
    finally:
        disarm()
        signal.signal(signal.SIGALRM, previous)


def test_v1_multicast_interrupted_keeps_its_result_and_sends_nothing_afterwards(
    fcm_emulator: FCMEmulator,
) -> None:
    fcm_emulator.latency = 0.05
    info = fcm_emulator.service_account_info("demo")
    tokens = [f"t{n:03d}" for n in range(400)]

    with FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), max_workers=8) as client:
        client.send(JSONMessage(["warm-up"]))  # the access token, outside the timer
        with time_limits(0.3), pytest.raises(TimeLimitError) as info_:
            client.send(JSONMessage(tokens))
        arrived = fcm_emulator.stats.v1_requests
        time.sleep(0.3)  # long enough for a stray request to arrive
        assert fcm_emulator.stats.v1_requests == arrived  # nothing is sent after send() raised
    result = info_.value.result  # type: ignore[attr-defined]
    retry = result.retry()
    assert retry is not None
    assert sorted([*result.success, *retry.targets]) == tokens  # every target, exactly once
    assert 0 < len(result.success) < len(tokens)
    assert {result.outcomes[t].error for t in retry.targets} <= {"NOT_SENT", "INTERRUPTED"}
    delivered = {t for t in tokens if fcm_emulator.inbox(t)}
    assert set(result.success) <= delivered  # what the result calls sent was delivered
    assert delivered - set(result.success) <= {
        t for t in retry.targets if result.outcomes[t].error == "INTERRUPTED"
    }


def test_v1_multicast_interrupted_twice_still_accounts_for_every_target(
    fcm_emulator: FCMEmulator,
) -> None:
    """The second interruption stops the wait for the requests under way: send() raises at
    once, and the result it carries still holds every target: the four whose requests were
    under way as INTERRUPTED (they may yet be delivered), the rest as NOT_SENT."""
    slow = [f"slow-{n}" for n in range(4)]
    for token in slow:
        fcm_emulator.set_outcome(token, Answer.delay(0.6))
    fast = [f"fast-{n:02d}" for n in range(40)]
    info = fcm_emulator.service_account_info("demo")
    with FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), max_workers=4) as client:
        client.send(JSONMessage(["warm-up"]))  # the access token, outside the timer
        sent_before = fcm_emulator.stats.v1_requests
        started = time.monotonic()
        with time_limits(0.1, 0.1) as disarm:  # interrupt until the send gives up
            with pytest.raises(TimeLimitError) as raised:
                client.send(JSONMessage([*slow, *fast]))
            disarm()
        elapsed = time.monotonic() - started
        time.sleep(0.9)  # the abandoned requests finish on their own
        sent = fcm_emulator.stats.v1_requests - sent_before
    assert elapsed < 0.5  # it did not wait for the 0.6 s answers
    result = raised.value.result  # type: ignore[attr-defined]
    assert not result.success
    errors = {target: outcome.error for target, outcome in result.outcomes.items()}
    assert errors == {**dict.fromkeys(slow, "INTERRUPTED"), **dict.fromkeys(fast, "NOT_SENT")}
    assert result.retry().targets == [*slow, *fast]
    assert sent == len(slow)  # nothing started after the first interruption
    assert {t for t in [*slow, *fast] if fcm_emulator.inbox(t)} <= set(slow)


def test_regression_an_abandoned_wait_lent_a_busy_connection_to_the_next_send(
    fcm_emulator: FCMEmulator,
) -> None:
    """Interrupted again while it waits for the requests under way, a send stops waiting.
    Their connections were then given back to the pool while still in use: the next send
    took one and read the answer meant for the abandoned request, so a live token was
    reported UNREGISTERED (and would have been deleted)."""
    for token in ("slow-1", "slow-2"):
        fcm_emulator.set_outcome(token, Answer.delay(0.8, "unregistered"))
    info = fcm_emulator.service_account_info("demo")
    live = [f"live-{n}" for n in range(4)]
    with FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), max_workers=3) as client:
        client.send(JSONMessage(["warm-up"]))  # the access token, outside the timer
        with time_limits(0.1, 0.1) as disarm:  # interrupt until the send gives up
            with pytest.raises(TimeLimitError):  # the send was interrupted
                client.send(JSONMessage(["slow-1", "slow-2"]))
            disarm()
        result = client.send(JSONMessage(live))  # while the abandoned requests are under way
    assert sorted(result.success) == live, result.outcomes


def test_regression_concurrent_sends_logged_connection_pool_is_full(
    fcm_emulator: FCMEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Sends running side by side on one FCM (a threaded web app or Celery worker) each add
    their calling thread to the shared helpers, so more connections are in use than the
    pool keeps; giving the extra ones back logged urllib3's "Connection pool is full"
    warning (firebase-admin-python#712) at the end of every send."""
    fcm_emulator.latency = 0.02
    info = fcm_emulator.service_account_info("demo")
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def send(client: FCM, number: int) -> None:
        barrier.wait(5)
        results.append(client.send(JSONMessage([f"s{number}-t{k}" for k in range(6)])))

    with (
        caplog.at_level(logging.WARNING, logger="urllib3"),
        FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), max_workers=2) as client,
    ):
        client.send(JSONMessage(["warm-up"]))
        threads = [threading.Thread(target=send, args=(client, n)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert sorted(len(result.success) for result in results) == [6] * 4
    assert [record.getMessage() for record in caplog.records] == []
