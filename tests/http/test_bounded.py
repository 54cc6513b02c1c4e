"""fcmclient._http.bounded: work through requests, waited for at most its deadline.

The work runs on a helper thread; the caller gets its result or its exception as they are,
or at the deadline a partial result or :class:`requests.ReadTimeout`, and an interruption of
the waiting thread abandons the work. Abandoned work ends on its own; its result is dropped.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from fcmclient._http.bounded import run_within, start
from fcmclient._http.engine.loop import Engine
from fcmclient._http.session import MAX_RESPONSE_BYTES
from tests.timing import SLACK

WAIT = 10.0  # the most any test here waits for a helper thread; none waits that long


class Stuck:
    """Work that blocks until released, and records the thread it ran on."""

    def __init__(self, result: object = "late") -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.ended = threading.Event()
        self.thread: int | None = None
        self.result = result

    def __call__(self) -> object:
        self.thread = threading.get_ident()
        self.started.set()
        try:
            self.release.wait(WAIT)
            return self.result
        finally:
            self.ended.set()

    def finish(self) -> None:
        """Release the work and wait until it has ended."""
        self.release.set()
        assert self.started.wait(WAIT)
        assert self.ended.wait(WAIT)


@pytest.fixture
def stuck() -> Iterator[Stuck]:
    work = Stuck()
    yield work
    work.finish()


def test_the_result_comes_back_from_another_thread() -> None:
    here = threading.get_ident()
    assert run_within(lambda: threading.get_ident() != here, 5.0) is True
    assert run_within(lambda: None, 5.0) is None


@pytest.mark.parametrize(
    "error", [ValueError("bad"), requests.ConnectionError("refused"), KeyboardInterrupt()]
)
def test_what_the_work_raises_is_raised_as_it_is(error: BaseException) -> None:
    def work() -> None:
        raise error

    with pytest.raises(type(error)) as raised:
        run_within(work, 5.0)
    assert raised.value is error


def test_the_wait_ends_at_the_deadline_and_the_late_result_is_dropped(stuck: Stuck) -> None:
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout, match=r"no answer within 0\.2 s"):
        run_within(stuck, 0.2)
    assert time.monotonic() - started < 0.2 + SLACK
    assert stuck.started.is_set()
    assert not stuck.ended.is_set()  # the work was under way, and still is: abandoned


def test_at_the_deadline_a_partial_result_is_taken_when_there_is_one(stuck: Stuck) -> None:
    assert run_within(stuck, 0.1, partial=lambda: "so far") == "so far"
    with pytest.raises(requests.ReadTimeout):
        run_within(stuck, 0.1, partial=lambda: None)


class SoftTimeLimitError(Exception):
    """Raised in the waiting thread by a signal handler, as a Celery soft time limit is."""


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer (POSIX)")
def test_an_interruption_of_the_waiting_thread_ends_the_wait_at_once(stuck: Stuck) -> None:
    def interrupt(signum: int, frame: object) -> None:
        raise SoftTimeLimitError

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        started = time.monotonic()
        with pytest.raises(SoftTimeLimitError):
            run_within(stuck, WAIT)
        assert time.monotonic() - started < 0.2 + SLACK
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    # Nothing is left held: the next piece of work runs and returns at once.
    assert run_within(lambda: "next", 5.0) == "next"


def test_requests_on_a_thread_of_start_are_made_right_there() -> None:
    """A thread made by ``start`` is one its waiter bounds: a request made on it takes no
    helper of its own (the engine's token fetch is one thread, not two)."""

    def where() -> tuple[int, int]:
        return threading.get_ident(), run_within(threading.get_ident, 5.0)

    outer, inner = start(where).result(WAIT)
    assert outer == inner != threading.get_ident()


def test_the_engine_waits_for_offloaded_work_at_most_its_bound(stuck: Stuck) -> None:
    engine = Engine(1, MAX_RESPONSE_BYTES)
    try:

        async def offload() -> object:
            return await engine.offload(stuck, 0.2)

        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout, match=r"no result within 0\.2 s"):
            engine.submit(offload(), lambda: None).result(WAIT)
        assert time.monotonic() - started < 0.2 + SLACK
        assert not stuck.ended.is_set()  # abandoned, not waited for

        async def quick() -> object:
            return await engine.offload(lambda: "token", 5.0)

        assert engine.submit(quick(), lambda: None).result(WAIT) == "token"  # nothing held up
    finally:
        engine.close()
