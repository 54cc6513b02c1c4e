"""Scripted outcomes: queues, default, random mode, delays, latency, reset and limits."""

from __future__ import annotations

import time

import pytest
import requests

from fcmclient.testing import Answer, FCMEmulator
from tests.emulator.emu_support import fetch_token, make_assertion, post_legacy, send_v1
from tests.timing import SLACK


def test_queue_fails_then_succeeds(emu: FCMEmulator, http: requests.Session, access_token: str) -> None:
    emu.set_outcome("tok", "unavailable", Answer.internal(), "delivered", "unregistered")
    statuses = [send_v1(http, emu, access_token, {"token": "tok"}).status_code for _ in range(5)]
    assert statuses == [503, 500, 200, 404, 200]  # then the default applies
    assert len(emu.inbox("tok")) == 2


def test_set_outcome_replaces_and_clears_the_queue(
    emu: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    emu.set_outcome("tok", "unavailable", "unavailable")
    emu.set_outcome("tok", "unregistered")
    assert send_v1(http, emu, access_token, {"token": "tok"}).status_code == 404
    emu.set_outcome("tok", "internal")
    emu.set_outcome("tok")
    assert send_v1(http, emu, access_token, {"token": "tok"}).status_code == 200


def test_queues_are_per_target(emu: FCMEmulator, http: requests.Session) -> None:
    emu.set_outcome("a", "unregistered")
    results = post_legacy(http, emu, {"registration_ids": ["b", "a", "a"]}).json()["results"]
    assert [r.get("error") for r in results] == [None, "NotRegistered", None]


def test_default_outcome(emu: FCMEmulator, http: requests.Session, access_token: str) -> None:
    assert emu.default_outcome == Answer.delivered()
    emu.default_outcome = "unregistered"
    assert emu.default_outcome == Answer.unregistered()
    emu.set_outcome("lucky", "delivered")
    assert send_v1(http, emu, access_token, {"token": "lucky"}).status_code == 200
    assert send_v1(http, emu, access_token, {"token": "lucky"}).status_code == 404
    assert send_v1(http, emu, access_token, {"token": "other"}).status_code == 404


def test_constructor_default_outcome(http: requests.Session) -> None:
    with FCMEmulator(default_outcome=Answer.quota_exceeded(retry_after=9)) as emu:
        response = post_legacy(http, emu, {"to": "t"})
        assert response.json()["results"] == [{"error": "DeviceMessageRateExceeded"}]
        assert response.headers["Retry-After"] == "9"
        emu.default_outcome = "delivered"
        emu.reset()
        assert emu.default_outcome.kind == "quota_exceeded"  # reset restores the constructor's


def _random_run(emu: FCMEmulator, http: requests.Session, seed: int) -> list[str]:
    emu.reset()
    emu.set_random_failures(0.5, seed=seed, outcomes=("unavailable", "internal"))
    results = post_legacy(http, emu, {"registration_ids": [f"t{i}" for i in range(40)]}).json()
    return [r.get("error", "ok") for r in results["results"]]


def test_random_failures_are_reproducible(emu: FCMEmulator, http: requests.Session) -> None:
    first = _random_run(emu, http, seed=7)
    assert first == _random_run(emu, http, seed=7)
    assert first != _random_run(emu, http, seed=8)
    assert set(first) == {"ok", "Unavailable", "InternalServerError"}


def test_random_mode_skips_scripted_targets_and_turns_off(emu: FCMEmulator, http: requests.Session) -> None:
    emu.set_random_failures(1.0, outcomes=[Answer.unavailable()])
    emu.set_outcome("scripted", "delivered")
    results = post_legacy(http, emu, {"registration_ids": ["scripted", "x"]}).json()["results"]
    assert "message_id" in results[0]
    assert results[1] == {"error": "Unavailable"}
    emu.set_random_failures(0)
    assert post_legacy(http, emu, {"to": "x"}).json()["success"] == 1


def test_random_failures_argument_checks(emu: FCMEmulator) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        emu.set_random_failures(1.5)
    with pytest.raises(ValueError, match="empty"):
        emu.set_random_failures(0.5, outcomes=())
    with pytest.raises(ValueError, match="unknown outcome"):
        emu.set_random_failures(0.5, outcomes=("explode",))


def test_reset_clears_everything_but_accounts(
    emu: FCMEmulator,
    http: requests.Session,
    access_token: str,
    fcm_service_account: dict[str, str],
) -> None:
    emu.set_outcome("q", "unregistered")
    emu.set_token_outcome("drop")
    send_v1(http, emu, access_token, {"token": "kept"})
    assert emu.inbox("kept")
    assert emu.requests
    emu.set_random_failures(1.0)
    emu.latency = 3
    emu.default_outcome = "internal"
    emu.reset()
    assert emu.latency == 0
    assert emu.default_outcome == Answer.delivered()
    assert emu.inbox("kept") == []
    assert emu.requests == []
    stats = emu.stats
    assert (stats.requests_total, stats.v1_requests, stats.messages_delivered) == (0, 0, 0)
    assert stats.connections_opened == 0
    # access tokens and service accounts survive; queues and random mode do not
    assert send_v1(http, emu, access_token, {"token": "q"}).status_code == 200
    assert fetch_token(emu, make_assertion(fcm_service_account)).status_code == 200


def test_clear_requests_keeps_counters(emu: FCMEmulator, http: requests.Session) -> None:
    post_legacy(http, emu, {"to": "a"})
    emu.clear_requests()
    assert emu.requests == []
    assert emu.stats.legacy_requests == 1


def test_delay_delays_then_delivers(emu: FCMEmulator, http: requests.Session) -> None:
    emu.set_outcome("slow", Answer.delay(0.3))
    started = time.monotonic()
    response = post_legacy(http, emu, {"registration_ids": ["slow", "fast"]})
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 0.3 + SLACK
    assert response.json()["success"] == 2
    assert len(emu.inbox("slow")) == 1


def test_delay_then_drop(emu: FCMEmulator, http: requests.Session) -> None:
    emu.set_outcome("t", Answer.delay(0.1, then="drop"))
    with pytest.raises(requests.ConnectionError):
        post_legacy(http, emu, {"to": "t"})


def test_latency_option_and_property(http: requests.Session) -> None:
    with FCMEmulator(latency=0.25) as emu:
        assert emu.latency == 0.25
        started = time.monotonic()
        assert post_legacy(http, emu, {"to": "t"}).status_code == 200
        assert 0.25 <= time.monotonic() - started < 0.25 + SLACK
        emu.latency = 0
        started = time.monotonic()
        post_legacy(http, emu, {"to": "t"})
        assert time.monotonic() - started < 0.25


def test_latency_is_not_applied_to_the_token_endpoint(
    fcm_service_account: dict[str, str],
) -> None:
    with FCMEmulator(latency=2) as emu:
        info = emu.service_account_info()
        started = time.monotonic()
        assert fetch_token(emu, make_assertion(info)).status_code == 200
        assert time.monotonic() - started < 2


def test_history_limit_caps_requests_and_inboxes(http: requests.Session) -> None:
    with FCMEmulator(history_limit=3) as emu:
        for i in range(5):
            post_legacy(http, emu, {"registration_ids": ["a", f"b{i}"]})
        assert len(emu.requests) == 3
        assert emu.requests[-1].targets == ("a", "b4")
        assert emu.inbox("a") == [{"token": "a"}]  # the 3 newest messages: b3, a, b4
        assert emu.inbox("b3") == [{"token": "b3"}]
        assert emu.inbox("b0") == []
        assert emu.stats.messages_delivered == 10


def test_inbox_returns_copies(emu: FCMEmulator, http: requests.Session) -> None:
    post_legacy(http, emu, {"to": "t", "data": {"a": "b"}})
    emu.inbox("t")[0]["data"]["a"] = "changed"
    assert emu.inbox("t")[0]["data"] == {"a": "b"}


class TestOutcomeValues:
    @pytest.mark.parametrize(
        "name",
        [
            "delivered",
            "unregistered",
            "invalid",
            "sender_mismatch",
            "unavailable",
            "internal",
            "quota_exceeded",
            "third_party_auth_error",
            "drop",
            "malformed",
        ],
    )
    def test_shorthand_names_match_constructors(self, emu: FCMEmulator, name: str) -> None:
        emu.default_outcome = name
        assert emu.default_outcome == getattr(Answer, name)()

    def test_unknown_name_lists_valid_ones(self, emu: FCMEmulator) -> None:
        with pytest.raises(ValueError, match="valid names are: delivered, unregistered"):
            emu.set_outcome("t", "explode")
        with pytest.raises(ValueError, match="unknown outcome"):
            Answer.delay(1, then="nope")

    def test_oauth_error_is_not_a_send_outcome(self, emu: FCMEmulator) -> None:
        with pytest.raises(ValueError, match="token endpoint"):
            emu.set_outcome("t", Answer.oauth_error("invalid_grant", "x"))
        with pytest.raises(ValueError, match="token endpoint"):
            emu.default_outcome = Answer.delay(1, then=Answer.oauth_error("a", "b"))

    def test_argument_checks(self) -> None:
        with pytest.raises(ValueError, match="retry_after"):
            Answer.unavailable(retry_after=-1)
        with pytest.raises(ValueError, match="seconds"):
            Answer.delay(float("nan"))
        with pytest.raises(TypeError):
            Answer.delay("1")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="status"):
            Answer.http_error(700)
        with pytest.raises(ValueError, match="new_token"):
            Answer.canonical("")

    def test_values_are_frozen_and_comparable(self) -> None:
        outcome = Answer.delay(1, then="unavailable")
        assert outcome == Answer.delay(1, then=Answer.unavailable())
        assert outcome.then == Answer.unavailable()
        with pytest.raises(AttributeError):
            outcome.seconds = 2  # type: ignore[misc]
        assert Answer.http_error() == Answer("http_error", status=502)
