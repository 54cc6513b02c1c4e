"""The fan-out's shape, asserted structurally (never by timing): bounded work units, every target once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from fcmclient._http.executor import Plan, execute, positions
from fcmclient.outcomes import INTERRUPTED, NOT_SENT, Bucket, Outcome
from tests.timing import Arrivals

WAIT = 5.0  # bound on waiting for another thread; the tests never sleep that long


class CountingPool(ThreadPoolExecutor):
    """A thread pool that counts what is submitted to it."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def test_a_big_audience_is_a_few_loops_not_a_future_per_target() -> None:
    targets = [f"t{i}" for i in range(100_000)]
    seen: Counter[str] = Counter()
    threads: set[int] = set()

    def work(target: str) -> Outcome:
        seen[target] += 1
        threads.add(threading.get_ident())
        return Outcome.success("m/" + target)

    with CountingPool(7) as pool:
        outcomes, error = execute(targets, work, Plan(workers=8, pool=pool, clock=lambda: 0.0))
        assert pool.submitted == 7  # workers - 1: the calling thread is the eighth
    assert error is None
    assert len(threads) <= 8
    assert len(seen) == len(targets)
    assert set(seen.values()) == {1}
    assert [outcome.message_id for outcome in outcomes[:3]] == ["m/t0", "m/t1", "m/t2"]
    assert outcomes[-1].message_id == "m/t99999"


def test_few_targets_use_no_more_loops_than_targets() -> None:
    with CountingPool(63) as pool:
        outcomes, _ = execute(
            ["a", "b", "c"], Outcome.success, Plan(workers=64, pool=pool, clock=lambda: 0.0)
        )
        assert pool.submitted == 2
    assert [outcome.message_id for outcome in outcomes] == ["a", "b", "c"]


def test_each_loop_calls_done_on_its_thread_after_its_last_work() -> None:
    lock = threading.Lock()
    events: list[tuple[int, str]] = []

    def work(target: str) -> Outcome:
        with lock:
            events.append((threading.get_ident(), "work"))
        return Outcome.success(target)

    def done() -> None:
        with lock:
            events.append((threading.get_ident(), "done"))

    with ThreadPoolExecutor(3) as pool:
        execute([f"t{i}" for i in range(300)], work, Plan(workers=4, pool=pool, clock=lambda: 0.0, done=done))
    assert [what for _, what in events].count("done") == 4  # the caller's loop and 3 helpers'
    for thread in {thread for thread, _ in events}:
        assert [what for who, what in events if who == thread][-1] == "done"


@pytest.mark.parametrize("count", [0, 1, 5000])
def test_positions_hands_out_each_position_once_across_threads(count: int) -> None:
    claim = positions(count)
    taken: list[list[int]] = [[] for _ in range(8)]
    barrier = threading.Barrier(8)

    def take(mine: list[int]) -> None:
        barrier.wait()
        while (index := claim()) < count:
            mine.append(index)

    workers = [threading.Thread(target=take, args=(mine,)) for mine in taken]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    everything = sorted(index for mine in taken for index in mine)
    assert everything == list(range(count))
    assert claim() == count  # exhausted, and stays so


def test_an_error_stops_new_work_and_loses_no_target() -> None:
    started: list[str] = []

    def work(target: str) -> Outcome:
        started.append(target)
        if target == "t3":
            raise RuntimeError("boom")
        return Outcome.success(target)

    targets = [f"t{i}" for i in range(50)]
    outcomes, error = execute(targets, work, Plan(workers=1, clock=lambda: 0.0))
    assert isinstance(error, RuntimeError)
    assert started == ["t0", "t1", "t2", "t3"]
    assert [o.bucket for o in outcomes[:3]] == [Bucket.SUCCESS] * 3
    assert outcomes[3].bucket is Bucket.RETRY
    assert outcomes[3].error == INTERRUPTED  # its work was under way: it may have happened
    assert all(o.bucket is Bucket.RETRY and o.error == NOT_SENT for o in outcomes[4:])


def test_an_error_in_one_loop_stops_the_other_loops_too() -> None:
    """With several loops, the one whose work raised must stop the others: they finish the
    work they hold and start nothing new (without the shared stop they would send all)."""
    release = threading.Event()
    calls: list[str] = []
    lock = threading.Lock()

    def work(target: str) -> Outcome:
        with lock:
            calls.append(target)
            first = len(calls) == 1
        if first:
            raise RuntimeError("refused")
        release.wait(5)  # until a loop has ended: while the others are held, only the error ends one
        return Outcome.success(target)

    targets = [f"t{i}" for i in range(1000)]
    with ThreadPoolExecutor(3) as pool:
        plan = Plan(workers=4, pool=pool, clock=lambda: 0.0, done=release.set)
        outcomes, error = execute(targets, work, plan)
    assert isinstance(error, RuntimeError)
    assert len(calls) <= 8  # the failing call, the three under way, and scheduling noise
    not_sent = [o for o in outcomes if o.error == NOT_SENT]
    assert len(not_sent) == len(targets) - len(calls)
    assert sum(o.bucket is Bucket.SUCCESS for o in outcomes) == len(calls) - 1


def test_on_error_decides_the_outcome_of_the_target_that_raised() -> None:
    def work(target: str) -> Outcome:
        if target == "t1":
            raise RuntimeError("refused")
        return Outcome.success(target)

    outcomes, error = execute(
        ["t0", "t1", "t2"],
        work,
        Plan(workers=1, clock=lambda: 0.0, on_error=lambda exc: Outcome.failed(str(exc))),
    )
    assert isinstance(error, RuntimeError)
    assert outcomes == [
        Outcome.success("t0"),
        Outcome.failed("refused"),
        Outcome.retry(NOT_SENT, outcomes[2].detail),
    ]


class Interrupted(BaseException):
    """Stands in for KeyboardInterrupt or a Celery time limit, raised in the calling thread."""


class InterruptingPool(ThreadPoolExecutor):
    """A thread pool whose futures stand for the calling thread's wait on a helper: their
    ``result()`` is ``wait(future, timeout)`` (which may raise :class:`Interrupted`), their
    ``cancel()`` the real one (``False`` once the helper runs)."""

    def __init__(self, workers: int, wait: Callable[[Future[Any], float | None], Any]) -> None:
        super().__init__(workers)
        self.wait = wait

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        wait = self.wait

        class Waiting(Future[Any]):
            def cancel(self) -> bool:
                return future.cancel()

            def result(self, timeout: float | None = None) -> Any:
                return wait(future, timeout)

        return Waiting()


def test_an_interruption_while_waiting_stops_new_work_and_waits_for_work_under_way() -> None:
    """The calling thread is interrupted while the helpers still work: they start nothing
    new, the work under way finishes before fan_out returns, and no target is lost."""
    gate = threading.Event()
    waiting = threading.Event()
    helpers_at_work = Arrivals()
    done: list[str] = []
    lock = threading.Lock()

    def wait(future: Future[Any], timeout: float | None) -> Any:
        if not waiting.is_set():  # the first wait of the calling thread is interrupted
            waiting.set()
            gate.set()
            raise Interrupted
        return future.result(timeout)

    def work(target: str) -> Outcome:
        if threading.current_thread() is threading.main_thread():
            helpers_at_work.wait(3, WAIT)  # every helper takes a target of its own first
            return Outcome.success(target)
        helpers_at_work.arrive()
        gate.wait(5)
        with lock:
            done.append(target)
        return Outcome.success(target)

    targets = [f"t{i}" for i in range(200)]
    with InterruptingPool(3, wait) as pool:
        outcomes, error = execute(targets, work, Plan(workers=4, pool=pool, clock=lambda: 0.0))
        finished = len(done)
        gate.set()
    assert isinstance(error, Interrupted)
    assert len(done) == finished  # nothing ran after fan_out returned
    assert 1 <= finished <= 3  # each helper finished the one it had started, then stopped
    assert all(o is not None for o in outcomes)
    sent = [t for t, o in zip(targets, outcomes, strict=True) if o.bucket is Bucket.SUCCESS]
    not_sent = [t for t, o in zip(targets, outcomes, strict=True) if o.error == NOT_SENT]
    assert len(sent) + len(not_sent) == len(targets)
    assert set(done) <= set(sent)


def test_regression_an_interruption_while_starting_helpers_escaped_and_they_sent_on() -> None:
    """An interruption can land while the calling thread starts the helpers (Thread.start
    waits for the new thread): it escaped ``execute`` without the outcomes, and the helpers
    already started went on sending after the caller had its exception. Now it is handled
    as while waiting: nothing new starts, the work under way ends, every target is there."""
    started: list[Future[Any]] = []
    done: list[str] = []
    lock = threading.Lock()
    gate = threading.Event()

    class StartingPool(ThreadPoolExecutor):
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            if len(started) == 2:  # the third helper's start is interrupted
                gate.set()
                raise Interrupted
            future = super().submit(fn, *args, **kwargs)
            started.append(future)
            return future

    def work(target: str) -> Outcome:
        gate.wait(5)
        with lock:
            done.append(target)
        return Outcome.success(target)

    targets = [f"t{i}" for i in range(200)]
    with StartingPool(3) as pool:
        outcomes, error = execute(targets, work, Plan(workers=4, pool=pool, clock=lambda: 0.0))
        finished = len(done)
    assert isinstance(error, Interrupted)
    assert len(done) == finished  # nothing ran after execute returned
    assert 1 <= finished <= 2  # each started helper finished the one it had, then stopped
    sent = [t for t, o in zip(targets, outcomes, strict=True) if o.bucket is Bucket.SUCCESS]
    not_sent = [t for t, o in zip(targets, outcomes, strict=True) if o.error == NOT_SENT]
    assert len(sent) + len(not_sent) == len(targets)
    assert set(done) == set(sent)


def test_regression_a_second_interruption_did_not_stop_the_wait_when_the_first_hit_the_callers_work() -> None:
    """The calling thread is a worker too, so an interruption most often lands in its own
    request; the wait that follows must then end at the next interruption, as documented,
    instead of absorbing it and waiting on (a third Ctrl-C was needed)."""
    helper_busy = threading.Event()
    gate = threading.Event()
    finished: list[str] = []

    waits: list[float | None] = []

    def wait(future: Future[Any], timeout: float | None) -> Any:
        waits.append(timeout)
        if len(waits) == 1:  # the second interruption, while waiting
            raise Interrupted
        return future.result(timeout)

    def work(target: str) -> Outcome:
        if threading.current_thread() is threading.main_thread():
            helper_busy.wait(WAIT)
            raise Interrupted  # the first interruption, in the caller's own work
        helper_busy.set()
        gate.wait(WAIT)
        finished.append(target)
        return Outcome.success(target)

    with InterruptingPool(1, wait) as pool:
        try:
            outcomes, error = execute(["t0", "t1", "t2"], work, Plan(workers=2, pool=pool, clock=lambda: 0.0))
            assert finished == []  # it stopped waiting while the helper's work was under way
        finally:
            gate.set()
    assert isinstance(error, Interrupted)
    assert [(o.bucket, o.error) for o in outcomes] == [
        (Bucket.RETRY, INTERRUPTED),  # cut by the first interruption
        (Bucket.RETRY, INTERRUPTED),  # still under way when the wait was abandoned
        (Bucket.RETRY, NOT_SENT),
    ]


def test_a_second_interruption_returns_at_once_with_every_target_accounted_for() -> None:
    """Abandoning the wait is the one case where work goes on after fan_out returned: the
    outcomes say which targets that may be (INTERRUPTED: they may yet be delivered), and
    no other target is started."""
    under_way = threading.Barrier(4)  # three helpers and the caller
    gate = threading.Event()
    calls: list[str] = []
    lock = threading.Lock()

    def wait(future: Future[Any], timeout: float | None) -> Any:
        raise Interrupted  # the second interruption, as soon as the caller waits

    def work(target: str) -> Outcome:
        with lock:
            calls.append(target)
        under_way.wait(WAIT)  # each helper holds a target, and so does the caller
        if threading.current_thread() is threading.main_thread():
            raise Interrupted  # the first interruption cuts the caller's own request
        gate.wait(WAIT)
        return Outcome.success(target)

    targets = [f"t{i}" for i in range(50)]
    with InterruptingPool(3, wait) as pool:
        try:
            outcomes, error = execute(targets, work, Plan(workers=4, pool=pool, clock=lambda: 0.0))
            started = list(calls)
        finally:
            gate.set()
    assert isinstance(error, Interrupted)
    assert len(started) == 4  # the caller's target and one per helper
    by_target = dict(zip(targets, outcomes, strict=True))
    assert {t for t, o in by_target.items() if o.error == INTERRUPTED} == set(started)
    assert {t for t, o in by_target.items() if o.error == NOT_SENT} == set(targets) - set(started)
    assert all(o.bucket is Bucket.RETRY for o in outcomes)
    assert calls == started  # the helpers, once done, took nothing more


def test_regression_a_pool_shut_down_by_another_thread_made_the_fan_out_raise() -> None:
    """FCM.close() in one thread while another sends shuts the worker pool down under the
    send: submitting to it raised RuntimeError out of send(), before any target was sent.
    The calling thread now does the work the pool cannot take."""
    pool = ThreadPoolExecutor(3)
    pool.shutdown()
    targets = [f"t{i}" for i in range(20)]
    outcomes, error = execute(targets, Outcome.success, Plan(workers=4, pool=pool, clock=lambda: 0.0))
    assert error is None
    assert outcomes == [Outcome.success(t) for t in targets]


def test_a_helper_stuck_past_the_bound_is_given_up_on_with_its_target_interrupted() -> None:
    """No wait for the pool outlasts ``give_up``: a helper whose work never ends keeps its
    target as INTERRUPTED (it may yet happen), every other target is settled, and fan_out
    returns while that work is still under way."""
    release = threading.Event()
    stuck: list[str] = []

    def work(target: str) -> Outcome:
        if threading.current_thread() is not threading.main_thread() and not stuck:
            stuck.append(target)
            release.wait(WAIT)
        return Outcome.success(target)

    targets = [f"t{i}" for i in range(50)]
    with ThreadPoolExecutor(1) as pool:
        try:
            give_up = time.monotonic() + 0.2
            outcomes, error = execute(
                targets, work, Plan(workers=2, pool=pool, clock=time.monotonic, give_up=give_up)
            )
            still_stuck = not release.is_set()
            returned = time.monotonic()
        finally:
            release.set()
    assert error is None
    assert still_stuck
    assert returned >= give_up  # it waited for the helper, up to the bound
    by_target = dict(zip(targets, outcomes, strict=True))
    assert [(t, o.error) for t, o in by_target.items() if o.bucket is not Bucket.SUCCESS] == [
        (stuck[0], INTERRUPTED)
    ]


def test_helpers_that_never_started_are_cancelled_once_the_caller_is_done() -> None:
    """A pool busy with other work (other sends, or no threads at all) cannot hold a send
    up: once the calling thread has taken every target, the helpers still queued are
    cancelled and never run."""
    busy = threading.Event()
    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        blocker = pool.submit(lambda: (busy.set(), release.wait(WAIT)))
        busy.wait(WAIT)
        try:
            outcomes, error = execute(
                [f"t{i}" for i in range(20)],
                Outcome.success,
                Plan(workers=4, pool=pool, clock=time.monotonic),
            )
            blocked = not release.is_set()
        finally:
            release.set()
        blocker.result(WAIT)
    assert error is None
    assert blocked  # returned while the pool's only thread was still busy
    assert [o.bucket for o in outcomes] == [Bucket.SUCCESS] * 20
