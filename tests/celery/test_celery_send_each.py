"""The send_each batch task in a real Celery worker, against real Redis and the emulator.

One batch of 30 personalised messages: some delivered at once, some failing once with
``Retry-After: 1`` or ``2`` (one of them a three-token message where only one token fails),
some dead, some never getting through (given up after one retry). The retries must travel in
one task per delay, each message with only its own remaining targets, carrying its own
content; every target ends in exactly one final state.
"""

from __future__ import annotations

import collections
import json
import pathlib
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from typing import Any

import pytest

from fcmclient import JSONMessage
from fcmclient.testing import Answer, FCMEmulator

from .conftest import IN_CI, Worker

if IN_CI:
    import celery
else:
    celery = pytest.importorskip("celery", reason="the celery extra is not installed")

from fcmclient.celery import dump_message  # once Celery is known to be there


def attempts(db: pathlib.Path) -> list[dict[str, Any]]:
    if not db.exists():
        return []
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        try:
            rows = conn.execute("SELECT task, retries, kind, targets, detail FROM attempts").fetchall()
        except sqlite3.OperationalError:  # the table is not made yet
            return []
    return [
        {"task": t, "retries": r, "kind": k, "targets": json.loads(ts), "detail": json.loads(d)}
        for t, r, k, ts, d in rows
    ]


def wait_for_rows(db: pathlib.Path, count: int, worker: Worker) -> list[dict[str, Any]]:
    """The rows of ``db``, once there are ``count`` of them (within a minute)."""
    deadline = time.monotonic() + 60
    while len(attempts(db)) < count:
        assert time.monotonic() < deadline, f"{len(attempts(db))} rows\n{worker.tail()}"
        time.sleep(0.05)  # polling the file the worker writes, with a deadline
    return attempts(db)


def worker_env(redis_url: str, emu: FCMEmulator, tmp_path: pathlib.Path, db: pathlib.Path) -> dict[str, str]:
    """The environment of each_app's worker: the broker, a key file, the emulator, the file."""
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps(emu.service_account_info("demo")))
    return {
        "EACHAPP_BROKER_URL": redis_url,
        "EACHAPP_SERVICE_ACCOUNT": str(key_file),
        "EACHAPP_URL": emu.v1_url("demo"),
        "EACHAPP_DB": str(db),
        "EACHAPP_MAX_RETRIES": "1",
    }


def test_a_batch_retries_in_one_task_per_delay_each_message_with_its_own_targets(
    redis_url: str, start_worker: Callable[..., Worker], tmp_path: pathlib.Path
) -> None:
    db = tmp_path / "attempts.sqlite3"
    with FCMEmulator() as emu:
        messages = [
            JSONMessage([f"ok-{n}"], {"order": str(n)}, message_title=f"Order {n}") for n in range(12)
        ]
        for n in range(6):
            emu.set_outcome(f"once1-{n}", Answer.unavailable(retry_after=1), "delivered")
            emu.set_outcome(f"once2-{n}", Answer.unavailable(retry_after=2), "delivered")
            messages.append(JSONMessage([f"once1-{n}"], {"order": f"a{n}"}))
            messages.append(JSONMessage([f"once2-{n}"], {"order": f"b{n}"}))
        emu.set_outcome("multi-b", Answer.unavailable(retry_after=1), "delivered")
        messages.append(JSONMessage(["multi-a", "multi-b", "multi-c"], {"order": "m"}))
        for n in range(2):
            emu.set_outcome(f"dead-{n}", "unregistered")
            emu.set_outcome(f"never-{n}", *[Answer.unavailable(retry_after=1)] * 3)
            messages += [JSONMessage([f"dead-{n}"]), JSONMessage([f"never-{n}"], {"order": f"n{n}"})]
        worker = start_worker(worker_env(redis_url, emu, tmp_path, db), app="tests.celery.each_app")
        producer = celery.Celery(broker=redis_url)
        producer.send_task("each_app.send_each", args=[[dump_message(m) for m in messages]])
        rows = wait_for_rows(db, len(messages) + 6 + 6 + 1 + 2 + 2, worker)  # runs, retries, give-ups
        inboxes = {t: emu.inbox(t) for m in messages for t in m.targets}

    first = [r for r in rows if r["retries"] == 0 and r["kind"] == "result"]
    assert len(first) == len(messages)
    assert len({r["task"] for r in first}) == 1
    retried = [r for r in rows if r["retries"] == 1 and r["kind"] == "result"]
    by_task = collections.defaultdict(set)
    for row in retried:
        by_task[row["task"]].add(tuple(row["targets"]))
    assert sorted(by_task.values(), key=len) == [
        {(f"once2-{n}",) for n in range(6)},  # Retry-After 2: one task
        {*((f"once1-{n}",) for n in range(6)), ("multi-b",), ("never-0",), ("never-1",)},  # 1: another
    ]
    gave_up = sorted(tuple(r["targets"]) for r in rows if r["kind"] == "give_up")
    assert gave_up == [("never-0",), ("never-1",)]
    for n in range(6):  # delivered once, with its own content
        assert [m["data"] for m in inboxes[f"once1-{n}"]] == [{"order": f"a{n}"}]
        assert [m["data"] for m in inboxes[f"once2-{n}"]] == [{"order": f"b{n}"}]
    assert [len(inboxes[t]) for t in ("multi-a", "multi-b", "multi-c")] == [1, 1, 1]
    assert inboxes["dead-0"] == []
    assert inboxes["never-1"] == []
