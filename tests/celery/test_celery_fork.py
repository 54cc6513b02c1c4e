"""A real Celery prefork worker whose module-level FCM sent in the main process before the fork.

The worker (prefork, 2 processes, ``tests/celery/fork_app.py``) sends a multicast from
its main process while it starts, with slow answers so that the FCM's pool starts all its
threads; then the pool forks, and each task sends 200 tokens (20 scripted dead) from a child
with that same FCM. Every task must get exactly its own verdicts within the send's bound,
and the children keep the access token the main process fetched.
"""

from __future__ import annotations

import json
import pathlib
import time
from collections.abc import Callable

import pytest

from fcmclient._http.session import total_seconds
from fcmclient.testing import FCMEmulator
from tests.celery.conftest import IN_CI, Worker
from tests.forking import audience, buckets, expected

if IN_CI:
    import celery
else:
    celery = pytest.importorskip("celery", reason="the celery extra is not installed")

TASKS = 8
BOUND = 10.0 + 2 * total_seconds(2.0)  # fork_app's send_timeout and timeout


def test_a_prefork_worker_sends_with_the_fcm_its_main_process_used_before_forking(
    redis_url: str, start_worker: Callable[..., Worker], tmp_path: pathlib.Path
) -> None:
    with FCMEmulator() as emu:
        key_file = tmp_path / "service-account.json"
        key_file.write_text(json.dumps(emu.service_account_info("demo")))
        env = {
            "FORKAPP_BROKER_URL": redis_url,
            "FORKAPP_SERVICE_ACCOUNT": str(key_file),
            "FORKAPP_URL": emu.v1_url("demo"),
        }
        plans = [audience(f"celery-{n}", 200, 10) for n in range(TASKS)]
        for _, dead in plans:
            for token in dead:
                emu.set_outcome(token, "unregistered")
        emu.latency = 0.05  # the main process's send keeps its connections busy: all are opened
        worker = start_worker(env, app="tests.celery.fork_app")
        emu.latency = 0.0
        producer = celery.Celery(broker=redis_url, backend=redis_url)
        try:
            pending = [producer.send_task("fork_app.send", args=[tokens]) for tokens, _ in plans]
            deadline = time.monotonic() + TASKS // 2 * BOUND  # two at a time, each within its bound
            try:
                reports = [result.get(timeout=max(deadline - time.monotonic(), 0.1)) for result in pending]
            except Exception as exc:
                raise AssertionError(f"the tasks did not finish: {exc!r}\n{worker.tail()}") from exc
        finally:
            producer.close()
        token_requests = emu.token_requests

    main = reports[0]["used_before_fork"]
    assert main["delivered"] == 100
    assert main["threads"] >= 1  # the engine's loop thread was live at the fork
    for (tokens, dead), report in zip(plans, reports, strict=True):
        assert report["used_before_fork"] == main  # in memory before this child was forked
        assert report["ppid"] == main["pid"] != report["pid"]
        assert buckets(report) == expected(tokens, dead)
        assert report["elapsed"] <= BOUND
    assert len({report["pid"] for report in reports}) == 2  # both pool processes sent
    assert token_requests == 1  # the children kept the token the main process fetched
