"""The topic task without a broker: run eagerly (``apply``) against the emulator.

As in test_celery.py, ``Task.apply`` follows the retry chain in-process, ignoring
``countdown``; a spy on ``task.retry`` records the countdowns and arguments asked for.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

if os.environ.get("CI") == "true":
    import celery
else:
    celery = pytest.importorskip("celery", reason="the celery extra is not installed")

from fcmclient import FCM, FCMAuthenticationError, TopicResult
from fcmclient.celery import TRANSPORT_ERROR, FCMTopicTask, TopicChange, register_topic_task
from fcmclient.testing import Answer, FCMEmulator


class Recorder:
    """What the hooks were given, and the retries the task asked for."""

    def __init__(self) -> None:
        self.results: list[tuple[TopicResult, TopicChange]] = []
        self.give_ups: list[tuple[TopicChange, TopicResult | None, BaseException | None]] = []
        self.retries: list[dict[str, Any]] = []

    def on_result(self, result: TopicResult, change: TopicChange) -> None:
        self.results.append((result, change))

    def on_give_up(
        self, change: TopicChange, result: TopicResult | None, error: BaseException | None
    ) -> None:
        self.give_ups.append((change, result, error))


@pytest.fixture
def emu() -> Iterator[FCMEmulator]:
    with FCMEmulator() as emulator:
        yield emulator


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def app() -> Any:
    return celery.Celery("test-fcmclient-topics", broker="memory://", set_as_current=False)


def topic_task(
    app: Any,
    emu: FCMEmulator,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    project: str = "demo",
    **options: Any,
) -> Any:
    info = emu.service_account_info(project)
    task = register_topic_task(
        app,
        lambda: FCM.from_service_account(info, url=emu.v1_url("demo")),
        recorder.on_result,
        on_give_up=recorder.on_give_up,
        **options,
    )
    original = task.retry

    def retry(*args: Any, **kwargs: Any) -> Any:
        recorder.retries.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(task, "retry", retry)
    return task


def run(task: Any, *args: Any) -> Any:
    try:
        return task.apply(args=args).get()  # no throw=True: apply() follows the retries
    finally:
        task.close_fcm()


def test_only_the_tokens_to_retry_come_back_with_retry_after_as_countdown(
    app: Any, emu: FCMEmulator, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.unregister("dead")
    emu.set_outcome("flaky", Answer.unavailable(retry_after=3), "delivered")
    emu.set_outcome("quota", Answer.quota_exceeded(retry_after=2), "delivered")
    task = topic_task(app, emu, recorder, monkeypatch)

    summary = run(task, "subscribe", ["ok", "dead", "flaky", "quota"], "/topics/news")

    assert [(r["countdown"], r["args"], r["kwargs"]) for r in recorder.retries] == [
        (3.0, ("subscribe", ["flaky", "quota"], "/topics/news"), {})
    ]
    (first, first_change), (second, second_change) = recorder.results
    assert first_change == TopicChange("subscribe", ["ok", "dead", "flaky", "quota"], "/topics/news")
    assert (first.success, first.not_registered, first.retry()) == (["ok"], ["dead"], ["flaky", "quota"])
    assert second_change.tokens == second.success == ["flaky", "quota"]
    assert summary == {"success": 2, "not_registered": 0, "failed": 0, "gave_up": 0}
    assert emu.subscribers("news") == ["flaky", "ok", "quota"]
    assert recorder.give_ups == []


def test_unsubscribing_retries_with_backoff_and_gives_up_at_max_retries(
    app: Any, emu: FCMEmulator, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.subscribe("member", "news")
    emu.subscribe("doomed", "news")
    emu.set_outcome("doomed", "internal", "internal", "internal")
    task = topic_task(app, emu, recorder, monkeypatch, max_retries=2)

    summary = run(task, "unsubscribe", ["member", "doomed"], "news")

    countdowns = [retry["countdown"] for retry in recorder.retries]
    assert len(countdowns) == 2
    for retry, countdown in enumerate(countdowns):  # backoff 1 s, doubled, +/- 0.5 s
        assert 2**retry - 0.5 <= countdown <= 2**retry + 0.5
    [(change, result, error)] = recorder.give_ups
    assert change == TopicChange("unsubscribe", ["doomed"], "news")
    assert error is None
    assert result is not None
    assert result.outcomes["doomed"].error == "INTERNAL"
    assert summary == {"success": 0, "not_registered": 0, "failed": 0, "gave_up": 1}
    assert emu.subscribers("news") == ["doomed"]
    assert len(recorder.results) == 3  # the app saw every attempt


def test_a_network_failure_before_anything_was_sent_retries_the_whole_batch(
    app: Any, emu: FCMEmulator, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.set_token_outcome("drop")  # the first access token cannot be fetched
    task = topic_task(app, emu, recorder, monkeypatch)

    run(task, "subscribe", ["a", "b"], "news")

    (retry,) = recorder.retries
    assert retry["args"] == ("subscribe", ["a", "b"], "news")
    assert 0.5 <= retry["countdown"] <= 1.5
    first, _ = recorder.results[0]
    assert {o.error for o in first.outcomes.values()} == {TRANSPORT_ERROR}
    assert emu.subscribers("news") == ["a", "b"]


def test_rejected_credentials_hand_settled_and_unsent_tokens_to_the_hooks(
    app: Any, emu: FCMEmulator, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = topic_task(app, emu, recorder, monkeypatch, project="other")  # may not manage demo's topics

    with pytest.raises(FCMAuthenticationError):
        task.apply(args=("subscribe", ["a", "b", "c"], "news"), throw=True)
    task.close_fcm()

    assert recorder.retries == []
    [(result, change)] = recorder.results
    assert change.tokens == result.tokens == ["a", "b", "c"]
    [(unsent, settled, error)] = recorder.give_ups
    assert settled is result
    assert isinstance(error, FCMAuthenticationError)
    assert unsent == TopicChange("subscribe", result.retry() or [], "news")
    assert {result.outcomes[t].error for t in unsent.tokens} == {"NOT_SENT"}


def test_bad_input_fails_the_task_with_everything_given_up(
    app: Any, emu: FCMEmulator, recorder: Recorder
) -> None:
    task = register_topic_task(
        app,
        lambda: FCM.from_service_account(emu.service_account_info("demo"), url=emu.v1_url("demo")),
        on_give_up=recorder.on_give_up,
    )
    with pytest.raises(ValueError, match="position"):
        task.apply(args=("subscribe", ["a"], "bad topic"), throw=True)
    with pytest.raises(ValueError, match="operation"):
        task.apply(args=("rename", ["a"], "news"), throw=True)
    task.close_fcm()
    assert [(c.tokens, type(e).__name__) for c, _, e in recorder.give_ups] == [(["a"], "ValueError")]
    assert emu.stats.topic_requests == 0


def test_celery_checks_the_arguments_a_topic_task_is_called_with(app: Any, emu: FCMEmulator) -> None:
    task = register_topic_task(app, lambda: FCM.from_service_account(emu.service_account_info("demo")))
    with pytest.raises(TypeError):
        task.delay("subscribe", ["a"])  # no topic: refused before anything is queued
    assert isinstance(task, FCMTopicTask)
    assert (task.name, task.max_retries) == ("fcmclient.topics", 5)


def test_the_default_give_up_logs_token_prefixes_only(
    app: Any, emu: FCMEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    secret_token = "abcdefgh-the-rest-of-a-long-token"
    emu.set_outcome(secret_token, "unavailable")
    info = emu.service_account_info("demo")
    task = register_topic_task(
        app, lambda: FCM.from_service_account(info, url=emu.v1_url("demo")), max_retries=0
    )
    with caplog.at_level(logging.WARNING, logger="fcmclient.celery"):
        run(task, "subscribe", [secret_token], "news")
    [record] = [r for r in caplog.records if r.name == "fcmclient.celery"]
    assert "giving up on 1 target(s) after 0 retries (UNAVAILABLE): abcdefgh..." in record.getMessage()
    assert secret_token not in record.getMessage()
