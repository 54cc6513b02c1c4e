"""Run one unit of work per target on a bounded number of threads, in bounded memory.

No future per target: ``workers`` loops pull positions from one shared counter, and the
calling thread is one of them, so a pool of ``workers - 1`` threads is enough and a send
always makes progress even when other sends hold the pool, or when the pool runs nothing at
all (shut down, or its threads lost in a fork): the calling thread then does every target,
and no wait for the helpers outlasts the caller's bound. Memory stays bounded too: the only
per-target state is the list of outcomes the result is made of.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from concurrent.futures import TimeoutError as FutureTimeout

from ..outcomes import Outcome
from .process import forks

log = logging.getLogger("fcmclient")

__all__ = ["INTERRUPTED", "NOT_SENT", "fan_out", "interrupted", "positions"]

#: Error of targets never sent: the send ran out of time (``send_timeout``), was interrupted,
#: or could not go on (credentials rejected, no access token). They are in ``retry()``.
NOT_SENT = "NOT_SENT"

#: Error of a target whose request was under way when the send was interrupted: it may or
#: may not have been delivered.
INTERRUPTED = "INTERRUPTED"


def interrupted(exc: BaseException) -> Outcome:
    """The outcome of a target whose work ``exc`` cut short: a retry with error :data:`INTERRUPTED`."""
    return Outcome.retry(
        INTERRUPTED,
        f"the send stopped ({type(exc).__name__}) during this request: it may have been delivered",
    )


def positions(count: int) -> Callable[[], int]:
    """A thread-safe source of the positions ``0 .. count - 1``, each given out once, then ``count``.

    With the GIL, ``next()`` on a range iterator is one atomic step, so 64 threads take
    positions without contending for a lock (a contended lock costs them more than the
    work they share); a free-threaded interpreter gets the lock.
    """
    remaining = iter(range(count))
    gil_enabled: Callable[[], bool] = getattr(sys, "_is_gil_enabled", lambda: True)
    if gil_enabled():
        return lambda: next(remaining, count)
    lock = threading.Lock()

    def locked() -> int:
        with lock:
            return next(remaining, count)

    return locked


def _nothing() -> None:
    pass


#: What a target's outcome is while its work is under way: what it stays if the fan-out
#: stops waiting for that work.
_UNDER_WAY = Outcome.retry(
    INTERRUPTED, "the send stopped while this request was under way: it may have been delivered"
)
_MISSING = Outcome.retry(NOT_SENT, "not sent: the send stopped before this target (see its exception)")


def _settled(outcomes: list[Outcome | None]) -> list[Outcome]:
    """The outcomes as they stand (a copy: work still under way may write more)."""
    return [outcome or _MISSING for outcome in list(outcomes)]


def _join(helpers: list[Future[bool]], until: float, clock: Callable[[], float]) -> None:
    """Wait for the helper loops that started, until ``until`` at most; cancel the others.

    The calling thread only waits once its own loop ended, so no target is left for a helper
    that has not started: it is cancelled (a pool busy with other sends, or whose threads are
    gone, never holds the caller up). Whatever a helper still runs at ``until`` keeps its
    outcome of work under way (:data:`INTERRUPTED`).
    """
    for future in helpers:
        if future.cancel():
            continue
        left = until - clock()
        try:  # running or done: it can no longer be cancelled
            future.result(timeout=None if left == math.inf else max(left, 0.0))
        except FutureTimeout:
            running = sum(not helper.done() for helper in helpers)
            log.warning("stopped waiting for %d helper thread(s) of a send: its time bound passed", running)
            return


def fan_out(
    targets: Sequence[str],
    work: Callable[[str], Outcome],
    pool: Executor | None,
    workers: int,
    deadline: float,
    clock: Callable[[], float],
    on_error: Callable[[BaseException], Outcome] = interrupted,
    done: Callable[[], None] = _nothing,
    give_up: float = math.inf,
) -> tuple[list[Outcome], BaseException | None]:
    """Apply ``work`` to every target, at most ``workers`` at a time.

    Targets not started before ``deadline`` (by ``clock``), or left when the fan-out
    stopped, get a retry outcome with error :data:`NOT_SENT`: nothing is lost.

    It stops starting new targets when a ``work`` call raises (that target's outcome is
    ``on_error(exception)``: by default a retry with error :data:`INTERRUPTED`), or when
    the calling thread is interrupted while it waits for the others (a
    ``KeyboardInterrupt``, a Celery soft time limit): then it still waits for the work under
    way, so none goes on after it returned. One more interruption stops that wait: it returns
    at once with that interruption, the targets whose work may still be under way (it goes on
    on its own) as :data:`INTERRUPTED`; when the calling thread's own ``work`` call raised,
    the first interruption while it waits does.

    :param done: called by each thread, the calling one included, once it takes no more
        targets, even when the wait for it was stopped (to let go of what the thread holds,
        such as a connection).
    :param give_up: when (by ``clock``) to stop waiting for the pool's threads, whatever they
        do: their targets under way stay :data:`INTERRUPTED`, nothing else is lost.
    :returns: one outcome per target (in order), and the first exception, if any (the last
        one when the wait was abandoned): interruptions are returned, not raised.
    """
    count = len(targets)
    outcomes: list[Outcome | None] = [None] * count
    claim = positions(count)
    stop = threading.Event()
    errors: list[BaseException] = []
    made_in = forks()  # a green thread that a fork carried into a child starts nothing there

    def loop() -> bool:
        """Work on targets until none is left or the fan-out stops; whether ``work`` raised."""
        try:
            while True:
                index = claim()
                if index >= count:
                    return False
                outcomes[index] = _UNDER_WAY  # before the check: a wait abandoned later sees it
                if stop.is_set() or forks() != made_in:
                    outcomes[index] = None
                    return False
                if clock() >= deadline:
                    outcomes[index] = Outcome.retry(
                        NOT_SENT, "send_timeout passed before this target was sent"
                    )
                    continue
                try:
                    outcomes[index] = work(targets[index])
                except BaseException as exc:  # handed to the caller, never swallowed
                    outcomes[index] = on_error(exc)
                    errors.append(exc)
                    stop.set()
                    return True
        finally:
            done()

    helpers = min(workers, count) - 1
    futures: list[Future[bool]] = []
    if pool is not None:
        for _ in range(helpers):
            try:
                futures.append(pool.submit(loop))
            except RuntimeError:  # the pool was shut down (FCM.close() from another thread)
                break  # the threads started so far, and the calling one, do the work
    stopped = False  # whether the calling thread was stopped once already
    try:
        stopped = loop()
        _join(futures, give_up, clock)
    except BaseException as exc:  # interrupted while waiting: let the work under way finish
        stop.set()
        if stopped:
            return _settled(outcomes), exc
        errors.insert(0, exc)
        try:
            _join(futures, give_up, clock)
        except BaseException as again:  # interrupted again: stop waiting
            return _settled(outcomes), again
    return _settled(outcomes), (errors[0] if errors else None)
