"""The topic task in a real Celery worker, against real Redis and the emulator.

One batch of tokens subscribed to a topic: most at once, some answered ``UNAVAILABLE`` or
``QUOTA_EXCEEDED`` with ``Retry-After: 1`` first, some dead, some never getting through
(given up after one retry). Only the tokens to retry travel in the retry, which comes after
the countdown; then a second batch unsubscribes some of them, a token never subscribed
among them. Every token ends in exactly one final state, and the emulator's subscriptions
are what the task reported.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import pytest

from fcmclient.testing import Answer, FCMEmulator

from .conftest import IN_CI, Worker
from .test_celery_send_each import wait_for_rows, worker_env

if IN_CI:
    import celery
else:
    celery = pytest.importorskip("celery", reason="the celery extra is not installed")


def test_a_batch_subscription_retries_only_its_tokens_to_retry_after_the_countdown(
    redis_url: str, start_worker: Callable[..., Worker], tmp_path: pathlib.Path
) -> None:
    db = tmp_path / "attempts.sqlite3"
    with FCMEmulator() as emu:
        ok = [f"ok:{n}" for n in range(20)]
        emu.set_outcome("busy:1", Answer.unavailable(retry_after=1), "delivered")
        emu.set_outcome("quota:1", Answer.quota_exceeded(retry_after=1), "delivered")
        emu.set_outcome("never:1", *[Answer.unavailable(retry_after=1)] * 3)
        emu.unregister("dead:1")
        tokens = [*ok, "busy:1", "quota:1", "never:1", "dead:1"]
        worker = start_worker(worker_env(redis_url, emu, tmp_path, db), app="tests.celery.each_app")
        producer = celery.Celery(broker=redis_url)
        producer.send_task("each_app.topics", args=["subscribe", tokens, "news"])
        rows = wait_for_rows(db, 3, worker)  # the first run, its retry, the give-up
        subscribed = emu.subscribers("news")
        retry_sent = [
            r.received_at for r in emu.requests if r.protocol == "topics" and r.targets == ("busy:1",)
        ]

        producer.send_task("each_app.topics", args=["unsubscribe", [*ok[:5], "stranger", "dead:1"], "news"])
        rows = wait_for_rows(db, 4, worker)
        after = emu.subscribers("news")

    first, retried, gave_up = rows[:3]
    assert (first["retries"], first["kind"], first["targets"]) == (0, "result", tokens)
    buckets = first["detail"]
    assert [t for t in tokens if buckets[t] == "success"] == ok
    assert (buckets["dead:1"], buckets["busy:1"], buckets["never:1"]) == ("not_registered", "retry", "retry")
    assert (retried["retries"], retried["targets"], retried["task"]) == (
        1,
        ["busy:1", "quota:1", "never:1"],
        first["task"],
    )
    assert [retried["detail"][t] for t in retried["targets"]] == ["success", "success", "retry"]
    assert (gave_up["kind"], gave_up["targets"], gave_up["detail"]) == (
        "give_up",
        ["never:1"],
        {"error": None},
    )
    assert subscribed == sorted([*ok, "busy:1", "quota:1"])
    assert retry_sent[1] - retry_sent[0] >= 1.0  # the retry waited for its countdown, Retry-After: 1
    unsubscribed = rows[3]
    assert unsubscribed["detail"]["operation"] == "unsubscribe"
    assert [unsubscribed["detail"][t] for t in [*ok[:5], "stranger", "dead:1"]] == [
        *["success"] * 6,
        "not_registered",
    ]
    assert after == sorted([*ok[5:], "busy:1", "quota:1"])
