"""Many requests on the engine with the executor's promises: nothing lost, every wait bounded.

A run is ``workers`` coroutines on the engine's loop taking positions from one
:class:`~fcmclient._http.executor.Ledger`; the calling thread only waits (once it has added
the positions of a ``send_each`` window as it read them), and a first interruption lets the
requests under way finish while no new one starts, a second returns at once. Requests still
under way when the caller stops waiting are cancelled, and their connections closed: an
answer can never reach a later request.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import CancelledError as FutureCancelled
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import requests

from ...outcomes import Outcome
from ..executor import Ledger, Plan
from ..session import Reply
from .loop import Engine
from .origin import Origin, Request

__all__ = ["Job", "Limits", "run"]

log = logging.getLogger("fcmclient")

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Job(Protocol[R_co]):
    """What one fan-out asks of the engine, position by position (called on the loop's thread)."""

    def request(self, index: int) -> Awaitable[Request] | Request:
        """The request for ``index`` (awaitable when it has to wait, e.g. for an access token).

        :raises requests.RequestException: it cannot be made; :meth:`failure` judges it.
        """

    def outcome(self, index: int, reply: Reply) -> R_co | Outcome:
        """What the answer means; raising stops the run and hands the exception to the caller."""

    def failure(self, index: int, exc: requests.RequestException) -> R_co | Outcome:
        """What a request that failed in the network (or could not be made) means."""


@dataclass(frozen=True)
class Limits:
    """Per request, in seconds: to connect, for the whole answer once the request is written,
    and in all (requests' ``(connect, read)`` timeout and fcm-client's total bound)."""

    connect: float
    read: float
    total: float


class _Run(Generic[R]):
    """One fan-out on the loop: at most ``plan.workers`` coroutines taking positions from the
    ledger, more started as positions are added (:meth:`grow`). It ends once no worker is
    left and either no position will be added (:meth:`close`) or the ledger stopped."""

    def __init__(
        self, ledger: Ledger[R], origin: Callable[[], Origin], job: Job[R], limits: Limits, closed: bool
    ) -> None:
        self.ledger, self.origin, self.job, self.limits = ledger, origin, job, limits
        self.closed = closed
        self._tasks: set[asyncio.Task[None]] = set()
        #: The positions given to workers that have not started yet.
        self._unstarted: set[int] = set()
        self._origin: Origin | None = None
        self._finished: asyncio.Future[None] | None = None

    async def main(self) -> None:
        self._origin = self.origin()
        self._finished = asyncio.get_running_loop().create_future()
        self._spawn()
        try:
            await self._finished
        except asyncio.CancelledError:  # the caller stopped waiting: so do the requests under way
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            raise

    def grow(self, count: int) -> None:
        """Positions up to ``count`` are ready (on the loop's thread)."""
        self.ledger.grow(count)
        self._spawn()

    def close(self) -> None:
        """No position is added any more (on the loop's thread; again is harmless)."""
        self.closed = True
        self._spawn()

    def _spawn(self) -> None:
        """A worker for each position ready, up to ``plan.workers`` in all, each given its
        first position here; the end of the run once it is over (see the class)."""
        finished, origin, ledger = self._finished, self._origin, self.ledger
        if finished is None or origin is None or finished.done():  # not started, or over
            return
        while len(self._tasks) < ledger.plan.workers and (index := ledger.take()) is not None:
            self._unstarted.add(index)  # before the task exists: it may start at once
            task = asyncio.ensure_future(self._worker(origin, index))
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._ended, index))
        if (self.closed or ledger.stop.is_set()) and not self._tasks:
            finished.set_result(None)

    def _ended(self, first: int, task: asyncio.Task[None]) -> None:
        """A worker ended: if it never started, its first position was not sent."""
        self._tasks.discard(task)
        if first in self._unstarted:
            self._unstarted.discard(first)
            self.ledger.outcomes[first] = None
        self._spawn()

    async def _worker(self, origin: Origin, index: int | None) -> None:
        """Send ``index``, then each position the ledger gives, until it gives none."""
        ledger, job, limits = self.ledger, self.job, self.limits
        outcomes = ledger.outcomes
        loop = asyncio.get_running_loop()
        self._unstarted.discard(index)
        while index is not None:
            try:
                try:
                    request = job.request(index)
                    if not isinstance(request, Request):
                        request = await request
                    reply = await origin.exchange(
                        request, loop.time() + limits.total, limits.connect, limits.read
                    )
                except requests.RequestException as exc:
                    outcomes[index] = job.failure(index, exc)
                else:
                    outcomes[index] = job.outcome(index, reply)
            except asyncio.CancelledError:
                raise  # the caller stopped waiting: the outcome stays that of work under way
            except BaseException as exc:  # handed to the caller, never swallowed
                ledger.failed(index, exc)
                return
            index = ledger.take()


def run(
    engine: Engine,
    count: int,
    origin: Callable[[], Origin],
    job: Job[R],
    limits: Limits,
    plan: Plan,
    more: Iterator[int] | None = None,
) -> tuple[list[R | Outcome], BaseException | None]:
    """Send ``count`` requests made by ``job`` to ``origin()``, at most ``plan.workers`` at a time.

    With ``more``, the calling thread adds requests while the first ones are under way: each
    ``next(more)`` makes ``job`` ready for more positions and gives their new count, until it
    ends (or raises: that stops the run as an interruption would). It is not read on once
    the run stopped.

    Same contract as :func:`~fcmclient._http.executor.execute` (``plan.pool`` and
    ``plan.done`` unused): every position gets an outcome, not-started ones
    :data:`~fcmclient.outcomes.NOT_SENT`, and no wait outlasts ``plan.give_up``. Whenever the
    caller stops waiting (an interruption, the bound, :meth:`Engine.close`), the run is told
    to start nothing more before it is cancelled: what it reports as not sent was not sent.
    """
    ledger: Ledger[R] = Ledger(count, plan, growing=more is not None)
    if count == 0:
        return [], None
    fan_out = _Run(ledger, origin, job, limits, closed=more is None)
    submitted: list[Future[None]] = []

    def start() -> bool:
        future = engine.submit(fan_out.main(), ledger.stop.set)
        submitted.append(future)
        if more is not None:
            future.add_done_callback(lambda _: ledger.stop.set())  # over, however: read no more
            try:
                for total in more:
                    if ledger.stop.is_set():
                        break
                    engine.call_soon(future, functools.partial(fan_out.grow, total))
            finally:
                engine.call_soon(future, fan_out.close)
        return False

    def join() -> None:
        if more is not None:  # an interruption may have cut start() before it closed the run
            if submitted:
                engine.call_soon(submitted[0], fan_out.close)
            else:  # cut before it kept the future: the run ends with its last worker
                fan_out.closed = True
        if submitted:
            _wait(submitted[0], plan.give_up, plan.clock, ledger.stop.set)

    def abandon() -> None:
        ledger.stop.set()
        if submitted:
            submitted[0].cancel()  # the requests under way end now, their connections closed

    return ledger.conclude(start, join, abandon)


def _wait(done: Future[None], until: float, clock: Callable[[], float], stop: Callable[[], None]) -> None:
    left = until - clock()
    try:
        done.result(timeout=None if left == math.inf else max(left, 0.0))
    except FutureTimeout:
        log.warning("stopped waiting for the requests of a send under way: its time bound passed")
        stop()
        done.cancel()
    except FutureCancelled:
        pass
