"""Waiting for other threads in tests: for an event, with a bound, never by sleeping."""

from __future__ import annotations

import threading


class Arrivals:
    """Threads say they have reached a point; another waits until enough of them have.

    Unlike a :class:`threading.Barrier`, arriving never blocks: a thread says it is about to do
    something (ask for a token, send) and goes on to do it.
    """

    def __init__(self) -> None:
        self._count = 0
        self._condition = threading.Condition()

    def arrive(self) -> None:
        with self._condition:
            self._count += 1
            self._condition.notify_all()

    def wait(self, count: int, timeout: float) -> bool:
        """Whether ``count`` threads have arrived, waiting ``timeout`` seconds at most."""
        with self._condition:
            return self._condition.wait_for(lambda: self._count >= count, timeout)
