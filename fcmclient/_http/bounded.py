"""A total deadline for work that goes through requests: it runs on a helper thread of its
own, and the calling thread waits for it at most the deadline.

requests (and urllib3) apply the read timeout to each socket read, so a server that sends one
byte every few seconds can hold a request for ever, and neither offers a way to bound the
whole. Rather than reach into how they read, the request runs on a daemon thread started for
it, with requests' own per-read timeouts, and the caller stops waiting at the deadline. An
abandoned request not yet handed to the session's adapter is never sent (:func:`given_up`,
which the adapter asks); once its answer began, the caller cuts its connection; otherwise it
ends at the server's next pause longer than the read timeout. What it brings back is dropped.

The helper is started with :func:`_thread.start_new_thread`, not :class:`threading.Thread`:
nothing to name, join or register, and no wait for it to start (``Thread.start`` waits on a
condition, which an asynchronous exception can leave locked). The caller waits on a plain
lock, which such an exception (a Celery soft time limit) cannot leave held. An interrupted
caller waits for the request under way (at most its deadline), as an interrupted fan-out
does, so that nothing is sent after the interruption was raised; a second interruption
abandons it. Under gevent or eventlet the thread and the lock are green ones (both patch
``_thread``).

Green threads survive a fork (gevent resumes them in the child): a helper carried over
while it was opening a connection would finish opening it, shared with the parent, and
write its request a second time from the child. So in a green-patched process a fork
first waits, at most until the latest deadline of the requests under way, for those to
end, and no new one starts until it is done (:class:`_UnderWay`). Threads do not survive a
fork: elsewhere nothing waits.
"""

from __future__ import annotations

import _thread
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

import requests

from .process import ProcessGuard, green_patched

__all__ = ["given_up", "run_within", "start"]

T = TypeVar("T")


#: Seconds the caller waits, past the deadline, for work that ``partial()`` cut short to
#: hand over what it has (a request whose connection was just shut down).
_GRACE = 0.05

#: ``call``: on a helper thread, the :class:`_Call` it runs.
_local = threading.local()


def start(action: Callable[[], T]) -> Future[T]:
    """``action()`` on a new daemon thread, for a caller that bounds its own wait for the future
    (the engine's loop, fetching a token in the middle of a fan-out). A late result is dropped
    with the future; requests made there are bounded as anywhere (:func:`run_within`)."""
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(action())
        except BaseException as exc:  # handed over through the future
            future.set_exception(exc)

    _start(run)
    return future


def given_up() -> bool:
    """Whether the caller of the work this helper thread runs has stopped waiting for it (its
    deadline passed, or a second interruption): such work must send nothing more."""
    call: _Call[object] | None = getattr(_local, "call", None)
    return call is not None and call.given_up


def _start(run: Callable[[], None]) -> None:
    try:
        _thread.start_new_thread(run, ())
    except RuntimeError as exc:  # the process has no thread to spare
        raise requests.ConnectionError(f"no thread to make the request on: {exc}") from None


def _forked() -> requests.ConnectionError:
    return requests.ConnectionError("this process was forked from the one that made this request")


class _UnderWay:
    """The helpers under way in this process, and the gate a fork in a green-patched process
    closes: it waits for them to end, and holds new ones back until it is done.

    Its lock is held only for a few assignments, never across a wait.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.latest = 0.0  # the latest deadline (monotonic) among them
        self.gate: threading.Event | None = None  # set when the fork is done; None: open
        self.drained: threading.Event | None = None  # set when the count reaches 0

    def enter(self, until: float) -> bool:
        """Count one more helper, once no fork is pending; ``False`` if that is not by ``until``."""
        while True:
            with self.lock:
                gate = self.gate
                if gate is None:
                    self.count += 1
                    self.latest = max(self.latest, until)
                    return True
            if not gate.wait(until - time.monotonic()):
                return False

    def leave(self) -> None:
        """Count one helper fewer; the last one out wakes a waiting fork."""
        with self.lock:
            self.count -= 1
            drained = self.drained if self.count == 0 else None
        if drained is not None:
            drained.set()

    def before_fork(self) -> None:
        if not green_patched():
            return
        with self.lock:
            if self.count == 0:
                return
            self.gate, self.drained = threading.Event(), threading.Event()
            drained, latest = self.drained, self.latest
        drained.wait(max(latest - time.monotonic(), 0.0))

    def after_fork(self, child: bool) -> None:
        with self.lock:
            gate, self.gate, self.drained = self.gate, None, None
            if child:
                self.count = 0  # a helper carried over (a fork that waited in vain) counts in its parent
        if gate is not None:
            gate.set()


_UNDER_WAY = _UnderWay()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_UNDER_WAY.before_fork,
        after_in_parent=lambda: _UNDER_WAY.after_fork(False),
        after_in_child=lambda: _UNDER_WAY.after_fork(True),
    )


class _Call(Generic[T]):
    """One piece of work on its helper thread, and what it came to."""

    __slots__ = ("_action", "done", "error", "given_up", "made_in", "value")

    def __init__(self, action: Callable[[], T]) -> None:
        self._action: Callable[[], T] | None = action
        self.made_in = ProcessGuard()
        #: Set by the caller once it stops waiting (see :func:`given_up`).
        self.given_up = False
        self.done = threading.Lock()
        self.done.acquire()  # released by the helper once ``value`` or ``error`` is set
        self.value: T | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        action, self._action = self._action, None
        _local.call = self
        try:
            if not self.made_in.owned():  # a green helper a fork carried into a child before it began
                raise _forked()
            assert action is not None
            self.value = action()
        except BaseException as exc:  # handed to the caller, who raises it
            self.error = exc
        finally:
            _local.call = None
            if self.made_in.owned():
                _UNDER_WAY.leave()
            self.done.release()


def run_within(action: Callable[[], T], seconds: float, partial: Callable[[], T | None] | None = None) -> T:
    """``action()``, run on a helper thread, waited for at most ``seconds``.

    Whatever ``action`` raises is raised here. At the deadline, ``partial()`` (if given) may
    cut the work short and provide a result (a request whose status already arrived: its
    connection shut down, its body so far); the work's own result is taken instead if it
    comes within a short grace. Otherwise the work is abandoned. An interruption of the
    waiting thread waits for the work at most until the deadline, then is raised; a second
    one is raised at once.

    :raises requests.ConnectTimeout: no time left to start it in.
    :raises requests.ReadTimeout: no result within ``seconds``.
    :raises requests.ConnectionError: no thread could be started; or the process forked
        while a green thread waited here (gevent carries green threads into a child): the
        result belongs to the parent.
    """
    until = time.monotonic() + seconds
    if seconds <= 0:
        raise requests.ConnectTimeout("no time left to send the request in")
    call = _Call(action)
    if not _UNDER_WAY.enter(until):
        raise requests.ConnectTimeout("no request could start within its deadline: the process was forking")
    try:
        _start(call.run)
    except BaseException:
        _UNDER_WAY.leave()
        raise
    try:
        finished = call.done.acquire(timeout=max(until - time.monotonic(), 0.0))
    except BaseException:
        try:  # interrupted: the request under way ends first (a second interruption abandons it)
            call.done.acquire(timeout=max(until - time.monotonic(), 0.0))
        finally:
            call.given_up = True
        raise
    if not call.made_in.owned():
        raise _forked()
    if not finished:
        call.given_up = True
        late = partial() if partial is not None else None
        if late is None:
            raise requests.ReadTimeout(f"no answer within {seconds:g} s (connect + read timeout)")
        # Cut short by partial(), the work ends at once: what it read by then, if it says so
        # within the grace, else the partial result.
        if call.done.acquire(timeout=_GRACE) and call.error is None:
            return call.value  # type: ignore[return-value]  # set when no error was
        call.error = None
        return late
    if call.error is not None:
        error, call.error = call.error, None
        raise error
    return call.value  # type: ignore[return-value]  # set when no error was
