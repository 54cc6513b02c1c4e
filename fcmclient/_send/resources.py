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

from .._http.adapter import close_inherited
from .._http.engine.loop import Engine
from .._http.engine.origin import close_inherited as close_inherited_engine_sockets
from .._http.process import ProcessLocal
from .._http.session import MAX_RESPONSE_BYTES, make_session
from .._http.workers import Workers
from .auth import Grant
from .tokens import AccessToken, TokenSource

__all__ = ["MAX_THREADS", "Inherited", "Resources", "per_process"]

#: The most threads a fan-out on requests' path uses (a test double, a proxy, gevent):
#: more only contend for the GIL (``docs/architecture.rst``).
MAX_THREADS = 64


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

    __slots__ = (
        "_engine",
        "_max_workers",
        "_own_adapters",
        "_pool",
        "_pool_lock",
        "rng",
        "session",
        "tokens",
    )

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
        self._engine: Engine | None = None

    def engine(self) -> Engine:
        """The fan-out engine of this process (its threads start on first use)."""
        with self._pool_lock:
            if self._engine is None:
                self._engine = Engine(self._max_workers, MAX_RESPONSE_BYTES)
            return self._engine

    def worker_pool(self) -> Workers | None:
        """The helper threads of fan-outs on requests' path, started on first use (``None``
        for one worker): at most :data:`MAX_THREADS` of them."""
        if self._max_workers < 2:
            return None
        with self._pool_lock:
            if self._pool is None:
                self._pool = Workers(min(self._max_workers, MAX_THREADS) - 1, "fcmclient")
            return self._pool

    def close(self) -> None:
        """Stop the helper threads and close the pooled connections (they reopen on use)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
            engine, self._engine = self._engine, None
        if pool is not None:
            pool.shutdown()
        if engine is not None:
            engine.close()
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
    # The parent's engine is never touched in a child: its loop's selector is shared with the
    # parent (an epoll instance survives fork), so even closing a transport would change it.
    return (resources._pool, resources._engine)


def _close_copies(resources: Resources) -> None:
    close_inherited()  # every inherited connection: this value's among them
    close_inherited_engine_sockets()


def per_process(max_workers: int, grant: Grant | None, wait: float) -> ProcessLocal[Resources, Inherited]:
    """:class:`Resources` made in each process that uses them, the access token and the
    application's adapters carried over (and the inherited worker pool never collected, see
    :class:`~fcmclient._http.process.ProcessLocal`)."""
    return ProcessLocal(
        functools.partial(Resources, max_workers, grant, wait), _inherited, _held_pool, _close_copies
    )
