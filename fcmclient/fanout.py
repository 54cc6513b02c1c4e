"""Run one unit of work per target on a bounded number of threads, in bounded memory.

No future per target: ``workers`` loops pull positions from one shared counter, and the
calling thread is one of them, so a pool of ``workers - 1`` threads is enough and a send
always makes progress even when other sends hold the pool.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

from .outcomes import Outcome

__all__ = ["NOT_SENT", "fan_out"]

#: Error of targets never sent: the send was interrupted or ran out of time.
NOT_SENT = "NOT_SENT"


def fan_out(
    targets: Sequence[str],
    work: Callable[[str], Outcome],
    pool: Executor | None,
    workers: int,
    deadline: float,
    clock: Callable[[], float],
) -> tuple[list[Outcome], BaseException | None]:
    """Apply ``work`` to every target, at most ``workers`` at a time.

    Targets not started before ``deadline`` (by ``clock``), or left when a ``work`` call
    raised, get a retry outcome with error :data:`NOT_SENT`: nothing is lost.

    :returns: one outcome per target (in order), and the first exception a ``work`` call
        raised, if any (the fan-out stops starting new targets after it).
    """
    count = len(targets)
    outcomes: list[Outcome | None] = [None] * count
    lock = threading.Lock()
    position = 0
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        nonlocal position
        while not stop.is_set():
            with lock:
                index = position
                position += 1
            if index >= count:
                return
            if clock() >= deadline:
                outcomes[index] = Outcome.retry(NOT_SENT, "send_timeout passed before this target was sent")
                continue
            try:
                outcomes[index] = work(targets[index])
            except BaseException as exc:  # handed to the caller, never swallowed
                errors.append(exc)
                stop.set()
                return

    helpers = min(workers, count) - 1
    futures = [pool.submit(loop) for _ in range(helpers)] if pool is not None and helpers > 0 else []
    loop()
    for future in futures:
        future.result()
    missing = Outcome.retry(NOT_SENT, "not sent: the send was interrupted")
    return [outcome or missing for outcome in outcomes], (errors[0] if errors else None)
