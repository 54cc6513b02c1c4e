"""A fixed set of daemon threads that run the helper loops of fan-outs.

Like a :class:`~concurrent.futures.ThreadPoolExecutor` with ``submit`` and ``shutdown``, but
its threads are daemons: a send its caller abandoned (a second Ctrl-C in the command line)
never holds the interpreter at exit, and ``shutdown`` never waits for one.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["Workers"]

T = TypeVar("T")

_Job = tuple[Future[Any], Callable[[], Any]] | None


class Workers:
    """Up to ``count`` daemon threads named ``name``, started as work arrives.

    :param count: the most threads.
    :param name: their name prefix.
    """

    def __init__(self, count: int, name: str) -> None:
        self._count, self._name = count, name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self._closed = False
        self._made = itertools.count()

    def submit(self, work: Callable[[], T]) -> Future[T]:
        """Run ``work`` on one of the threads; its future can be cancelled until it starts.

        :raises RuntimeError: after :meth:`shutdown`.
        """
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the workers were shut down")
            self._jobs.put((future, work))
            if self._idle:
                self._idle -= 1
                return future
            # A thread whose start an interruption cut short may have died before its first
            # job (Thread.start is not safe against asynchronous exceptions): not counted.
            self._threads = [thread for thread in self._threads if thread.is_alive()]
            if len(self._threads) < self._count:
                name = f"{self._name}_{next(self._made)}"
                thread = threading.Thread(target=self._run, name=name, daemon=True)
                self._threads.append(thread)
                thread.start()
        return future

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, work = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(work())
                except BaseException as exc:  # handed over through the future
                    future.set_exception(exc)
            # An idle thread holds nothing of the work it did (a send's messages, say).
            del job, future, work
            with self._lock:
                self._idle += 1

    def shutdown(self, wait: bool = False) -> None:
        """Start nothing more; the threads end once their current work is done.

        :param wait: wait for them to end (never from one of them).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(None)
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()
