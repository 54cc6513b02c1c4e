"""A fan-out on the engine whose positions are added while it runs (a ``send_each`` window):
every position sent once or reported not sent, the bound on requests in flight kept, and an
exception from the source of positions ending the run as an interruption does."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from fcmclient._http.engine.fanout import Limits, run
from fcmclient._http.engine.loop import Engine
from fcmclient._http.engine.origin import Request
from fcmclient._http.executor import Plan
from fcmclient._http.session import Reply
from fcmclient.outcomes import Bucket, Outcome

LIMITS = Limits(connect=5.0, read=5.0, total=10.0)


class FakeOrigin:
    """Answers every request after one turn of the loop; counts what it holds at once."""

    def __init__(self) -> None:
        self.requested: list[str] = []
        self.now = self.peak = self.answered = 0
        self.lock = threading.Condition()

    async def exchange(self, req: Request, deadline: float, connect: float, read: float) -> Reply:
        self.requested.append(req.target)
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(0)  # one turn: let the others start
            return Reply(200, {}, req.target.encode())
        finally:
            self.now -= 1
            with self.lock:
                self.answered += 1
                self.lock.notify_all()

    def wait_answered(self, count: int) -> bool:
        """Wait (from another thread, 10 s at most) until ``count`` requests were answered."""
        with self.lock:
            return self.lock.wait_for(lambda: self.answered >= count, timeout=10)


class Job:
    """Position ``i`` is a request to ``/i``; its answer says which it was."""

    def request(self, index: int) -> Request:
        return Request("POST", f"/{index}", (), b"")

    def outcome(self, index: int, reply: Reply) -> Outcome:
        assert reply.body == f"/{index}".encode()
        return Outcome.success(reply.body.decode())

    def failure(self, index: int, exc: Any) -> Outcome:
        return Outcome.transport_error(exc)


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = Engine(connections=8, max_body=1024)
    try:
        yield engine
    finally:
        engine.close()


def fan_out(
    engine: Engine, first: int, more: Iterator[int], workers: int, origin: FakeOrigin | None = None
) -> tuple[list[Any], Any, FakeOrigin]:
    origin = origin or FakeOrigin()
    outcomes, error = run(engine, first, lambda: origin, Job(), LIMITS, Plan(workers=workers), more)  # type: ignore[arg-type]
    return outcomes, error, origin


def test_positions_added_while_it_runs_are_each_sent_once_within_the_bound(engine: Engine) -> None:
    outcomes, error, origin = fan_out(engine, 3, iter(range(6, 61, 3)), workers=4)
    assert error is None
    assert [o.message_id for o in outcomes] == [f"/{i}" for i in range(60)]
    assert sorted(origin.requested) == sorted(f"/{i}" for i in range(60))  # each once
    assert origin.peak <= 4


def test_a_source_that_waits_between_steps_still_gets_every_position_sent(engine: Engine) -> None:
    """Each step comes once every request before it was answered, so every worker has
    ended for want of work: the step starts new ones."""
    origin = FakeOrigin()
    drained: list[bool] = []

    def steps() -> Iterator[int]:
        for before, total in ((2, 4), (4, 8), (8, 12)):
            drained.append(origin.wait_answered(before))
            yield total

    outcomes, error, _ = fan_out(engine, 2, steps(), workers=3, origin=origin)
    assert error is None
    assert drained == [True, True, True]
    assert [o.message_id for o in outcomes] == [f"/{i}" for i in range(12)]
    assert sorted(origin.requested) == sorted(f"/{i}" for i in range(12))


@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError])
def test_a_source_that_raises_ends_the_run_with_every_position_accounted_for(
    engine: Engine, stop: type[BaseException]
) -> None:
    def steps() -> Iterator[int]:
        yield 8
        raise stop("the source stops")

    outcomes, error, origin = fan_out(engine, 4, steps(), workers=2)
    assert isinstance(error, stop)
    assert len(outcomes) <= 8  # what was added, no more
    sent = {o.message_id for o in outcomes if o.bucket is Bucket.SUCCESS}
    assert sent == set(origin.requested)  # the requests under way were waited for
    assert all(o.error == "NOT_SENT" for o in outcomes if o.bucket is not Bucket.SUCCESS)


def test_an_empty_source_ends_the_run_with_the_first_positions(engine: Engine) -> None:
    outcomes, error, _ = fan_out(engine, 5, iter(()), workers=8)
    assert error is None
    assert [o.message_id for o in outcomes] == [f"/{i}" for i in range(5)]
