"""The fan-out's shape, asserted structurally (never by timing): bounded work units, every target once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from fcmclient.fanout import NOT_SENT, fan_out, positions
from fcmclient.outcomes import Bucket, Outcome


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
        outcomes, error = fan_out(targets, work, pool, 8, float("inf"), lambda: 0.0)
        assert pool.submitted == 7  # workers - 1: the calling thread is the eighth
    assert error is None
    assert len(threads) <= 8
    assert len(seen) == len(targets)
    assert set(seen.values()) == {1}
    assert [outcome.message_id for outcome in outcomes[:3]] == ["m/t0", "m/t1", "m/t2"]
    assert outcomes[-1].message_id == "m/t99999"


def test_few_targets_use_no_more_loops_than_targets() -> None:
    with CountingPool(63) as pool:
        outcomes, _ = fan_out(["a", "b", "c"], Outcome.success, pool, 64, float("inf"), lambda: 0.0)
        assert pool.submitted == 2
    assert [outcome.message_id for outcome in outcomes] == ["a", "b", "c"]


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
    outcomes, error = fan_out(targets, work, None, 1, float("inf"), lambda: 0.0)
    assert isinstance(error, RuntimeError)
    assert started == ["t0", "t1", "t2", "t3"]
    assert [o.bucket for o in outcomes[:3]] == [Bucket.SUCCESS] * 3
    assert all(o.bucket is Bucket.RETRY and o.error == NOT_SENT for o in outcomes[3:])
