"""fcmclient._http.workers: the daemon threads that run the helper loops of fan-outs."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from fcmclient._http.workers import Workers

WAIT = 5.0  # bound on any wait here; the tests never wait that long


def test_a_thread_that_died_before_its_first_job_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """An interruption landing in ``Thread.start`` can leave a thread that dies before it runs
    anything (Python loses track of it). It used to keep its place among the ``count``
    threads, so the jobs queued for it waited for ever once every place was taken."""
    real_run = Workers._run
    first = threading.Event()

    def run(self: Workers) -> None:
        if not first.is_set():
            first.set()
            return  # dies before its first job
        real_run(self)

    monkeypatch.setattr(Workers, "_run", run)
    workers = Workers(1, "test-workers")
    try:
        before = workers.submit(lambda: "queued for the thread that died")
        for thread in threading.enumerate():
            if thread.name.startswith("test-workers"):
                thread.join(WAIT)
        after = workers.submit(lambda: "the next job")
        assert before.result(WAIT) == "queued for the thread that died"
        assert after.result(WAIT) == "the next job"
    finally:
        workers.shutdown()


def test_no_more_threads_than_count_however_many_jobs() -> None:
    workers = Workers(3, "test-bounded")
    gate = threading.Event()
    try:
        futures: list[Any] = [workers.submit(lambda: gate.wait(WAIT)) for _ in range(10)]
        running = [t for t in threading.enumerate() if t.name.startswith("test-bounded")]
        assert len(running) == 3
        gate.set()
        assert all(future.result(WAIT) for future in futures)
    finally:
        workers.shutdown()
