"""What one :class:`~fcmclient.FCM` holds in one process, made again in each forked child.

The pooled session (its keep-alive sockets), the access-token cache (its lock), the worker
threads and the jitter source all belong to the process that made them: a child forked from
it gets a fresh set on its first send (:class:`~fcmclient._http.process.ProcessLocal`), keeping
only the cached access token, a plain value that is as valid in the child as in the parent,
and the transport adapters the application mounted on the session (``FCM.session``: a test
double, a recorder, an adapter of its own), so that they still see every request.
"""

from __future__ import annotations

import functools
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from requests.adapters import BaseAdapter

from .._http.deadline import close_inherited
from .._http.process import ProcessLocal
from .._http.session import make_session
from .._http.workers import Workers
from .auth import Grant
from .tokens import AccessToken, TokenSource

__all__ = ["Inherited", "Resources", "per_process"]


@dataclass(frozen=True)
class Inherited:
    """What a forked child takes over from its parent's :class:`Resources`."""

    #: The cached access token, if any.
    token: AccessToken | None = None
    #: The adapters the application mounted on the session, by prefix.
    adapters: Mapping[str, BaseAdapter] = field(default_factory=dict)


class Resources:
    """One process's session, token cache, worker threads and random source for one ``FCM``.

    :param max_workers: connections kept per host, and helper threads (``max_workers - 1``).
    :param grant: how to fetch access tokens (HTTP v1), or ``None`` (legacy).
    :param wait: the most a thread waits for another thread's token fetch, in seconds.
    :param inherited: what a forked child keeps from its parent's (nothing the first time).
    """

    __slots__ = ("_max_workers", "_own_adapters", "_pool", "_pool_lock", "rng", "session", "tokens")

    def __init__(
        self, max_workers: int, grant: Grant | None, wait: float, inherited: Inherited | None
    ) -> None:
        inherited = inherited or Inherited()
        token = inherited.token
        self._max_workers = max_workers
        #: The pooled session every request of this process goes through.
        self.session = make_session(max_workers)
        self._own_adapters = tuple(self.session.adapters.values())
        for prefix, adapter in inherited.adapters.items():
            self.session.mount(prefix, adapter)
        #: The access-token cache (HTTP v1), fetching through :attr:`session`.
        self.tokens = (
            None
            if grant is None
            else TokenSource(functools.partial(grant, self.session), wait=wait, token=token)
        )
        #: Where backoff jitter comes from: reseeded in each process, so a parent and its
        #: children never draw the same delays.
        self.rng = random.Random()
        self._pool: Workers | None = None
        self._pool_lock = threading.Lock()

    def worker_pool(self) -> Workers | None:
        """The helper threads of v1 multicasts, started on first use (``None`` for one worker)."""
        if self._max_workers < 2:
            return None
        with self._pool_lock:
            if self._pool is None:
                self._pool = Workers(self._max_workers - 1, "fcmclient")
            return self._pool

    def close(self) -> None:
        """Stop the helper threads and close the pooled connections (they reopen on use)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()
        self.session.close()


def _inherited(resources: Resources) -> Inherited:
    """What a child keeps: read without taking a lock (a parent thread may have held one)."""
    own = resources._own_adapters
    mounted = resources.session.adapters
    return Inherited(
        resources.tokens.cached if resources.tokens is not None else None,
        {prefix: adapter for prefix, adapter in mounted.items() if not any(adapter is o for o in own)},
    )


def _held_pool(resources: Resources) -> object:
    return resources._pool


def _close_copies(resources: Resources) -> None:
    close_inherited()  # every inherited connection: this value's among them


def per_process(max_workers: int, grant: Grant | None, wait: float) -> ProcessLocal[Resources, Inherited]:
    """:class:`Resources` made in each process that uses them, the access token and the
    application's adapters carried over (and the inherited worker pool never collected, see
    :class:`~fcmclient._http.process.ProcessLocal`)."""
    return ProcessLocal(
        functools.partial(Resources, max_workers, grant, wait), _inherited, _held_pool, _close_copies
    )
