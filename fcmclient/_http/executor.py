"""Run one unit of work per target on a bounded number of threads, in bounded memory.

No future per target: ``workers`` loops pull positions from one shared counter, and the
calling thread is one of them, so a pool of ``workers - 1`` threads is enough and a send
always makes progress even when other sends hold the pool, or when the pool runs nothing at
all (shut down, or its threads lost in a fork): the calling thread then does every target,
and no wait for the helpers outlasts the caller's bound. Memory stays bounded too: the only
per-target state is the list of outcomes the result is made of.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from ..outcomes import Outcome
from .bounded import carried
from .process import forks

log = logging.getLogger("fcmclient")

__all__ = ["UNDER_WAY", "Ledger", "Plan", "Pool", "abandon_on", "execute", "positions"]

T = TypeVar("T")
Item = TypeVar("Item")
R = TypeVar("R")


class Pool(Protocol):
    """Where the helper loops run: :class:`~fcmclient._http.workers.Workers`, or any executor."""

    def submit(self, fn: Callable[[], T], /) -> Future[T]:
        """Run ``fn``; the future can be cancelled until it starts."""


#: Per thread: the event that abandons the sends this thread makes (see :func:`abandon_on`).
_scope = threading.local()
_NEVER = threading.Event()


@contextlib.contextmanager
def abandon_on(event: threading.Event) -> Iterator[None]:
    """Sends made in this thread inside the block start no new target once ``event`` is set.

    For a caller in another thread that has given a send up (the command line's second
    Ctrl-C): its targets not yet started stay :data:`~fcmclient.outcomes.NOT_SENT`.
    """
    outer = getattr(_scope, "event", None)
    _scope.event = event
    try:
        yield
    finally:
        _scope.event = outer


def _nothing() -> None:
    pass


@dataclass(frozen=True)
class Plan:
    """How :func:`execute` runs: with how many loops, on which threads, until when.

    :param workers: at most this many targets at a time (the calling thread is one loop).
    :param pool: where the other ``workers - 1`` loops run (``None``: the calling thread only).
    :param start_by: no target starts at or after this moment (by ``clock``): it is
        :data:`~fcmclient.outcomes.NOT_SENT`.
    :param give_up: no wait for the pool's loops lasts past this moment: their targets under
        way stay :data:`~fcmclient.outcomes.INTERRUPTED`.
    :param on_error: the outcome of the target whose ``work`` raised.
    :param done: called by each thread, the calling one included, once it takes no more
        targets (to let go of what it holds, such as a connection), even when the wait for it
        was given up.
    """

    workers: int
    pool: Pool | None = None
    start_by: float = math.inf
    give_up: float = math.inf
    clock: Callable[[], float] = field(default=time.monotonic)
    on_error: Callable[[BaseException], Outcome] = field(default=Outcome.interrupted)
    done: Callable[[], None] = field(default=_nothing)


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


class _Growing:
    """Positions ``0 .. count - 1`` for a run whose ``count`` grows, claimed from one thread
    (the engine's loop): each given out once, then ``count`` until it grows."""

    def __init__(self, count: int) -> None:
        self.taken, self.count = 0, count

    def __call__(self) -> int:
        if self.taken >= self.count:
            return self.count
        self.taken += 1
        return self.taken - 1


#: What a target's outcome is while its work is under way: what it stays if the fan-out
#: stops waiting for that work.
UNDER_WAY = Outcome.interrupted()
_MISSING = Outcome.not_sent("the send stopped before this target (see its exception)")
_LATE = Outcome.not_sent("send_timeout passed before this target was sent")


class Ledger(Generic[R]):
    """The targets of one fan-out: which is next, each one's outcome, and the stop signal.

    Shared by every loop working on the run, on threads (:func:`execute`) or on the engine's
    event loop (:mod:`fcmclient._http.engine.fanout`).

    :param growing: more positions may be added as the run goes (:meth:`grow`); then every
        position is taken, and added, on one thread.
    """

    def __init__(self, count: int, plan: Plan, *, growing: bool = False) -> None:
        self.plan = plan
        self.count = count
        self.outcomes: list[R | Outcome | None] = [None] * count
        self._growing = _Growing(count) if growing else None
        self.claim = self._growing or positions(count)
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.made_in = forks()  # a green thread that a fork carried into a child starts nothing there
        self.abandoned = getattr(_scope, "event", None) or _NEVER

    def take(self) -> int | None:
        """The next position to work on (its outcome set to :data:`UNDER_WAY`), or ``None``
        when the loop asking should end: no target left, or the run stopped."""
        plan, outcomes = self.plan, self.outcomes
        while True:
            index = self.claim()
            if index >= self.count:
                return None
            outcomes[index] = UNDER_WAY  # before the check: a wait abandoned later sees it
            if self.stop.is_set() or self.abandoned.is_set() or forks() != self.made_in:
                outcomes[index] = None
                return None
            if plan.clock() < plan.start_by:
                return index
            outcomes[index] = _LATE

    def grow(self, count: int) -> None:
        """Positions up to ``count`` exist now (a growing ledger, on the thread that takes)."""
        assert self._growing is not None, "only a growing ledger grows"
        if count > self.count:
            self.outcomes.extend([None] * (count - self.count))
            self.count = self._growing.count = count

    def failed(self, index: int, exc: BaseException) -> None:
        """The work on ``index`` raised ``exc``: it is handed to the caller, and the run stops.
        An interruption that waited for the work may carry its outcome (:func:`~.bounded.carried`)."""
        done = carried(exc)
        self.outcomes[index] = done if isinstance(done, Outcome) else self.plan.on_error(exc)
        self.errors.append(exc)
        self.stop.set()

    def settled(self) -> list[R | Outcome]:
        """The outcomes as they stand (a copy: work still under way may write more)."""
        return [outcome or _MISSING for outcome in list(self.outcomes)]

    def conclude(
        self, here: Callable[[], bool], join: Callable[[], None], abandon: Callable[[], None] = _nothing
    ) -> tuple[list[R | Outcome], BaseException | None]:
        """Run ``here`` (the calling thread's own share; whether its work raised), then
        ``join`` (wait for the others, until ``plan.give_up`` at most), with :func:`execute`'s
        promises about interruptions; ``abandon`` lets go of work still under way when the
        caller stops waiting for it."""
        stopped = False
        try:
            stopped = here()
            join()
        except BaseException as exc:  # interrupted while waiting: let the work under way finish
            self.stop.set()
            if stopped:
                abandon()
                return self.settled(), exc
            self.errors.insert(0, exc)
            try:
                join()
            except BaseException as again:  # interrupted again: stop waiting
                abandon()
                return self.settled(), again
        return self.settled(), (self.errors[0] if self.errors else None)


def _join(helpers: list[Future[bool]], until: float, clock: Callable[[], float]) -> None:
    """Wait for the helper loops that started, until ``until`` at most; cancel the others.

    The calling thread only waits once its own loop ended, so no target is left for a helper
    that has not started: it is cancelled (a pool busy with other sends, or whose threads are
    gone, never holds the caller up). Whatever a helper still runs at ``until`` keeps its
    outcome of work under way (:data:`~fcmclient.outcomes.INTERRUPTED`).
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


class _Run(Generic[Item, R]):
    """One :func:`execute` call on threads: its ledger, and what each loop does."""

    def __init__(self, items: Sequence[Item], work: Callable[[Item], R | Outcome], plan: Plan) -> None:
        self.items, self.work, self.plan = items, work, plan
        self.ledger: Ledger[R] = Ledger(len(items), plan)

    def loop(self) -> bool:
        """Work on targets until none is left or the run stops; whether ``work`` raised."""
        ledger, outcomes, items, work = self.ledger, self.ledger.outcomes, self.items, self.work
        try:
            while (index := ledger.take()) is not None:
                try:
                    outcomes[index] = work(items[index])
                except BaseException as exc:  # handed to the caller, never swallowed
                    ledger.failed(index, exc)
                    return True
            return False
        finally:
            self.plan.done()

    def start_helpers(self, futures: list[Future[bool]]) -> None:
        """Start the helper loops, each one's future in ``futures`` as soon as it exists
        (starting a thread waits for it: an interruption may land there)."""
        pool = self.plan.pool
        if pool is not None:
            for _ in range(min(self.plan.workers, self.ledger.count) - 1):
                try:
                    futures.append(pool.submit(self.loop))
                except RuntimeError:  # the pool was shut down (FCM.close() from another thread)
                    break  # the threads started so far, and the calling one, do the work

    def here(self, helpers: list[Future[bool]]) -> bool:
        """The calling thread's share: start the helpers, then work; whether its work raised."""
        self.start_helpers(helpers)
        return self.loop()


def execute(
    items: Sequence[Item], work: Callable[[Item], R | Outcome], plan: Plan
) -> tuple[list[R | Outcome], BaseException | None]:
    """Apply ``work`` to every item (a target, a message) as ``plan`` says; nothing is lost.

    Items not started before ``plan.start_by``, or left when the run stopped, get a retry
    outcome with error :data:`~fcmclient.outcomes.NOT_SENT`. It stops starting new targets
    when a ``work`` call raises, or when the calling thread is interrupted while it waits for
    the others (a ``KeyboardInterrupt``, a Celery soft time limit): then it still waits for
    the work under way, so none goes on after it returned. One more interruption stops that
    wait: it returns at once with that interruption, the targets whose work may still be under
    way as :data:`~fcmclient.outcomes.INTERRUPTED`; when the calling thread's own ``work`` call
    raised, the first interruption while it waits does.

    :returns: what ``work`` returned for each item (in order), or the outcome that stands for
        it (not sent, interrupted, ``plan.on_error``), and the first exception, if any (the
        last one when the wait was abandoned): interruptions are returned, not raised.
    """
    run = _Run(items, work, plan)
    helpers: list[Future[bool]] = []
    return run.ledger.conclude(lambda: run.here(helpers), lambda: _join(helpers, plan.give_up, plan.clock))
