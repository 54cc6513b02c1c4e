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
does, and the interruption carries its result (:func:`carried`); a second interruption
abandons it. Under gevent or eventlet the thread and the lock are green ones (both patch
``_thread``).

In a process with green threads, a fork waits for the helpers under way
(:mod:`~fcmclient._http.forkgate`).
"""

from __future__ import annotations

import _thread
import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

import requests

from .forkgate import UNDER_WAY
from .process import ProcessGuard

__all__ = ["carried", "carry", "given_up", "run_within", "start"]

T = TypeVar("T")

#: Seconds the caller waits, past the deadline, for work that ``partial()`` cut short to
#: hand over what it has (a request whose connection was just shut down).
_GRACE = 0.05

#: The call each helper thread runs, by thread id (looked up when asked, so that it is the
#: green thread's id under gevent, even when gevent patched after this module was imported).
_CALLS: dict[int, _Call[object]] = {}

if hasattr(os, "register_at_fork"):  # a thread of the child may get the id of a parent's helper
    os.register_at_fork(after_in_child=_CALLS.clear)

#: The attribute by which an interruption carries the result of the work it waited for.
_CARRIED = "fcmclient_result"


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
    call = _CALLS.get(threading.get_ident())
    return call is not None and call.given_up


def carry(interruption: BaseException, result: object) -> None:
    """Let ``interruption`` carry ``result``, the work it waited for (see :func:`carried`)."""
    with contextlib.suppress(AttributeError, TypeError):  # one that takes no attribute: nothing carried
        setattr(interruption, _CARRIED, result)


def carried(interruption: BaseException) -> object | None:
    """The result of the work an interruption waited for before it went on, if any: a caller
    that knows what a request came to records it rather than calling it interrupted."""
    return getattr(interruption, _CARRIED, None)


def _start(run: Callable[[], None]) -> None:
    try:
        _thread.start_new_thread(run, ())
    except RuntimeError as exc:  # the process has no thread to spare
        raise requests.ConnectionError(f"no thread to make the request on: {exc}") from None


def _forked() -> requests.ConnectionError:
    return requests.ConnectionError("this process was forked from the one that made this request")


class _Call(Generic[T]):
    """One piece of work on its helper thread, and what it came to."""

    __slots__ = ("_action", "counted", "done", "error", "finished", "given_up", "made_in", "value")

    def __init__(self, action: Callable[[], T]) -> None:
        self._action: Callable[[], T] | None = action
        self.made_in = ProcessGuard()
        #: Set by the caller once it stops waiting (see :func:`given_up`).
        self.given_up = False
        #: Whether the fork gate counts it (a green-patched process).
        self.counted = False
        #: Set by the helper, before it releases ``done``, once ``value`` or ``error`` is.
        self.finished = False
        self.done = threading.Lock()
        self.done.acquire()  # released by the helper once finished
        self.value: T | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        action, self._action = self._action, None
        me = threading.get_ident()
        _CALLS[me] = self  # type: ignore[assignment]  # read back as a _Call of anything
        try:
            if not self.made_in.owned():  # a green helper a fork carried into a child before it began
                raise _forked()
            assert action is not None
            self.value = action()
        except BaseException as exc:  # handed to the caller, who raises it
            self.error = exc
        finally:
            _CALLS.pop(me, None)
            if self.counted and self.made_in.owned():
                UNDER_WAY.leave()
            self.finished = True
            self.done.release()

    def wait(self, until: float) -> bool:
        """Wait for the helper until ``until`` (at once if it finished); whether it did."""
        return self.finished or self.done.acquire(timeout=max(until - time.monotonic(), 0.0))


def run_within(action: Callable[[], T], seconds: float, partial: Callable[[], T | None] | None = None) -> T:
    """``action()``, run on a helper thread, waited for at most ``seconds``.

    Whatever ``action`` raises is raised here. When the caller gives up on it (the deadline,
    a second interruption), ``partial()`` (if given) cuts the work short and may provide a
    result (a request whose status already arrived: its connection shut down, its body so
    far); at the deadline, the work's own result is taken instead if it comes within a short
    grace. An interruption of the waiting thread waits for the work at most until the
    deadline, then is raised carrying its result (:func:`carried`); a second one is raised at
    once.

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
    entered = UNDER_WAY.enter(until)
    if entered is False:
        raise requests.ConnectTimeout("no request could start within its deadline: the process was forking")
    call.counted = entered is True
    try:
        _start(call.run)
    except BaseException:
        if call.counted:
            UNDER_WAY.leave()
        raise
    try:
        finished = call.wait(until)
    except BaseException as interruption:
        _interrupted(call, until, interruption, partial)
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
        if call.wait(time.monotonic() + _GRACE) and call.error is None:
            return call.value  # type: ignore[return-value]  # set when no error was
        call.error = None
        return late
    return _outcome(call)


def _interrupted(
    call: _Call[T], until: float, interruption: BaseException, partial: Callable[[], T | None] | None
) -> None:
    """The caller was interrupted while waiting: the work under way ends first (at most at
    the deadline; a second interruption stops this wait), its result carried."""
    try:
        if call.wait(until) and call.error is None and call.made_in.owned():
            carry(interruption, call.value)
    finally:
        if not call.finished:
            call.given_up = True
            if partial is not None:
                partial()  # cut short: its thread ends, its late result is dropped
        call.error = None


def _outcome(call: _Call[T]) -> T:
    if call.error is not None:
        error, call.error = call.error, None
        raise error
    return call.value  # type: ignore[return-value]  # set when no error was
