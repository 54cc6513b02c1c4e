"""Time in the tests: how far an asserted time bound may be overrun, and waiting for threads.

A time bound a test asserts is one the library promises (a request's connect + read timeout,
a v1 send's ``send_timeout + 2 x (connect + read)``, a deadline, a second interruption that
ends the wait at once, the emulator's scripted delay) plus :data:`SLACK`, nothing more: a
bound that a broken promise would still meet proves nothing. Speed is measured by
``benchmarks/run.py``, never asserted.

A test waits for another thread by an event, a join or polling, always with a deadline,
never by sleeping for long enough.
"""

from __future__ import annotations

import threading

#: Seconds a bounded wait may overrun its promise by: closing the connection, ending the
#: threads and reporting, on the shared and busy 2-core machine. The overruns measured there
#: with a load average of 10 were at most 0.02 s.
SLACK = 0.25


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
