"""Which process an object belongs to: what keeps sockets, threads and locks out of a forked child.

After ``fork()`` the child is a copy of its parent with one thread: it holds the parent's
sockets (the same connections, so whichever process reads first takes the other's answer),
thread pools whose threads it does not have, and locks that a parent thread may have held at
that instant and nobody will release. Such things must never be used by the child.

Two signals tell a child apart, and both are needed:

- ``os.register_at_fork(after_in_child=...)`` runs in every child that ``os.fork()`` makes
  (multiprocessing's fork start method, Celery's billiard, gunicorn): here it counts forks
  and lets go of what each :class:`ProcessLocal` held;
- the process id, for children forked by C code that runs no Python hooks (uWSGI without
  ``py-call-osafterfork``): :meth:`ProcessGuard.owned` compares it on every call, one
  ``getpid()`` system call (figures in docs/guarantees.rst, "Processes and threads").

What a child lets go of is never shut down, which would cut the parent's connection: it is
handed to a short-lived daemon thread, which closes the child's copies of its sockets (so
that the parent's close really closes them) and drops the rest. Dropping an urllib3 pool
takes the pool's lock, which a parent thread may have held at the fork: that must never
happen on a thread the child needs.
"""

from __future__ import annotations

import _thread
import logging
import os
import socket
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["ProcessGuard", "ProcessLocal", "forks", "green_patched", "snapshot"]

log = logging.getLogger("fcmclient")

T = TypeVar("T")
K = TypeVar("K")

#: Forks this process descends from, as counted by the at-fork hook (0 in the first process).
_forks = 0

#: Every live :class:`ProcessLocal`, for the at-fork hook.
_LOCALS: weakref.WeakSet[ProcessLocal[Any, Any]] = weakref.WeakSet()

#: What a child must never let go of, or could not hand to a releasing thread (see
#: :func:`_release`): kept, never collected.
_KEPT: list[object] = []


_ORIGINAL_SOCKET = socket.socket
_ORIGINAL_THREAD = _thread.start_new_thread


def green_patched() -> bool:
    """Whether gevent or eventlet replaced the socket or thread primitives of this process
    (its green threads then survive a fork: see :func:`forks`)."""
    return (
        socket.socket is not _ORIGINAL_SOCKET
        or socket.socket.__module__ != "socket"
        or _thread.start_new_thread is not _ORIGINAL_THREAD
        or getattr(_thread.start_new_thread, "__module__", "_thread") != "_thread"
    )


def snapshot(registry: weakref.WeakKeyDictionary[K, T]) -> list[tuple[K, T]]:
    """The live entries of ``registry``, read without a lock (another thread may add one
    meanwhile: then it is read again). For a forked child, where a lock a parent thread held
    would never be released."""
    while True:
        try:
            return list(registry.items())
        except RuntimeError:  # changed while being read: look again
            continue


def forks() -> int:
    """How many ``os.fork()`` calls this process descends from: a cheap stamp (a global read).

    Threads do not survive a fork, but green threads (gevent, eventlet) do: work under way
    in one when the process forked goes on in both processes. Comparing this stamp before
    and after tells such work that it now runs in a child. It counts the forks that run
    Python's hooks (``os.fork()``, which gevent and eventlet use); :class:`ProcessGuard`
    also sees the others.
    """
    return _forks


class ProcessGuard:
    """Remembers the process it was made in; :meth:`owned` tells whether that is this one.

    Any transport can keep one beside what it must not share with a forked child (a
    connection, a thread pool) and ask it before each use.

    >>> guard = ProcessGuard()
    >>> guard.owned()
    True
    """

    __slots__ = ("_forks", "_pid")

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._forks = _forks

    def owned(self) -> bool:
        """Whether the current process is the one that made this guard (not a forked child)."""
        return self._forks == _forks and self._pid == os.getpid()

    def __repr__(self) -> str:
        return f"<ProcessGuard pid={self._pid} owned={self.owned()}>"


class ProcessLocal(Generic[T, K]):
    """A value each process has its own of, as :class:`threading.local` gives one per thread.

    :meth:`get` returns the value made in this process. In a forked child, the inherited value
    is never used or closed: ``keep`` picks from it what the child may reuse (a plain value
    such as a cached access token; reading it must take no lock), the rest is let go, and the
    child's first :meth:`get` calls ``make`` with what was kept. Two threads of a child may
    both make one at first; one of them is kept and the other let go, each made in this process.

    :param make: builds a value for the current process from what was kept (``None`` the
        first time).
    :param keep: what a forked child may take over from an inherited value.
    :param hold: the part of an inherited value the child must never let go of either: a
        thread pool, whose collection wakes its workers to exit, and under gevent or eventlet
        those workers are green threads the fork copied (they would fail, loudly, in the child).
    :param let_go: what to do with an inherited value before it is dropped, on the releasing
        thread (close the child's copies of its sockets).
    """

    __slots__ = ("__weakref__", "_hold", "_keep", "_let_go", "_make", "_state")

    def __init__(
        self,
        make: Callable[[K | None], T],
        keep: Callable[[T], K | None],
        hold: Callable[[T], object] | None = None,
        let_go: Callable[[T], object] | None = None,
    ) -> None:
        self._make = make
        self._keep = keep
        self._hold = hold
        self._let_go = let_go
        self._state: tuple[ProcessGuard, T | None, K | None] = (ProcessGuard(), make(None), None)
        _LOCALS.add(self)

    def get(self) -> T:
        """This process's value, made now if the current one was inherited through a fork."""
        guard, value, kept = self._state
        if value is not None and guard.owned():
            return value
        if value is not None:  # forked by C code, with no hook run: the pid told
            kept = self._inherit(value)
        fresh = self._make(kept)
        self._state = (ProcessGuard(), fresh, None)
        if value is not None:
            inherited: list[tuple[object, Callable[[Any], object] | None]] = [(value, self._let_go)]
            del value  # the releasing thread must hold the last reference
            _release(inherited)
        return fresh

    def _inherit(self, value: T) -> K | None:
        if self._hold is not None:
            _KEPT.append(self._hold(value))
        return self._keep(value)

    def _forget(self) -> tuple[object, Callable[[Any], object] | None]:
        """In a forked child: keep what may be kept, hand back the rest to be let go."""
        guard, value, kept = self._state
        if value is not None:
            kept = self._inherit(value)
        self._state = (guard, None, kept)
        return value, self._let_go


def _release(values: list[tuple[object, Callable[[Any], object] | None]]) -> None:
    """Let go of each value, after ``let_go(value)``, on a daemon thread (see the module
    documentation). ``values`` is emptied: the caller keeps no reference.

    When no thread can be started, they are kept for good instead: their copies of the
    descriptors stay open in this process, which is harmless, where a finalizer blocked on
    an orphaned lock would not be.
    """
    pending = [(value, let_go) for value, let_go in values if value is not None]
    values.clear()  # the releasing thread must hold the last reference
    if not pending:
        return

    def release() -> None:
        while pending:
            value, let_go = pending.pop()
            try:
                if let_go is not None:
                    let_go(value)
            except Exception:  # a daemon thread reports it, nobody waits for it
                log.exception("letting go of what a fork inherited failed")
            del value

    try:
        threading.Thread(target=release, name="fcmclient-release", daemon=True).start()
    except RuntimeError:  # no thread can be started (interpreter shutting down, limits)
        _KEPT.append(pending)


def _after_fork_in_child() -> None:
    global _forks
    _forks += 1
    _release([local._forget() for local in list(_LOCALS)])


if hasattr(os, "register_at_fork"):  # every POSIX system; Windows cannot fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
