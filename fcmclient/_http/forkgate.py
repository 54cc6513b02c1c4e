"""In a process whose green threads survive a fork (gevent), a fork waits for the requests
under way on helper threads (:mod:`fcmclient._http.bounded`) and holds new ones back.

A green helper carried into the child while it was opening a connection would finish opening
it, shared with the parent, and write its request a second time from the child: no public
API of urllib3 or requests shows a connect, so the fork waits instead, at most until the
latest deadline of those requests. Threads do not survive a fork: elsewhere nothing is
counted and nothing waits.
"""

from __future__ import annotations

import os
import threading
import time

from .process import green_patched

__all__ = ["UNDER_WAY"]


class _UnderWay:
    """The helpers under way in a green-patched process, and the gate a fork closes: it waits
    for them to end, and holds new ones back until it is done.

    Its lock is held only for a few assignments, with no green switch in between, never
    across a wait; a child makes a new one.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.latest = 0.0  # the latest deadline (monotonic) among them
        self.gate: threading.Event | None = None  # set when the fork is done; None: open
        self.drained: threading.Event | None = None  # set when the count reaches 0

    def enter(self, until: float) -> bool | None:
        """Count one more helper, once no fork is pending (``True``); ``False`` if that is not
        by ``until``; ``None`` (not counted) in a process without green threads."""
        if not green_patched():
            return None
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
        if child:  # the parent's lock may have been held by one of its threads at the fork
            gate, self.gate, self.drained = self.gate, None, None
            self.lock, self.count = threading.Lock(), 0  # a helper carried over counts in its parent
        else:
            with self.lock:
                gate, self.gate, self.drained = self.gate, None, None
        if gate is not None:
            gate.set()


UNDER_WAY = _UnderWay()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=UNDER_WAY.before_fork,
        after_in_parent=lambda: UNDER_WAY.after_fork(False),
        after_in_child=lambda: UNDER_WAY.after_fork(True),
    )
