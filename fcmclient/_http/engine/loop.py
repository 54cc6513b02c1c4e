"""The engine's threads: one runs an asyncio loop, one resolves names and fetches tokens.

Both are daemons, started on first use, and belong to the process that started them (a
forked child makes its own engine, see :mod:`fcmclient._send.resources`). Nothing here blocks
the loop: a name lookup, or anything else that blocks (an access-token fetch), runs on the
second thread through :meth:`Engine.offload`.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
import weakref
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from ..workers import Workers
from .origin import Address, Origin

__all__ = ["Engine"]

T = TypeVar("T")


class Engine:
    """An asyncio loop in a daemon thread, and the :class:`Origin` of each address it sends to.

    :param connections: the most connections open to one origin (``max_workers``).
    :param max_body: the most bytes of an answer's body kept.
    """

    def __init__(self, connections: int, max_body: int) -> None:
        self._connections = connections
        self._max_body = max_body
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._helper = Workers(1, "fcmclient-engine-resolver")
        self._origins: dict[Address, Origin] = {}
        self._runs: weakref.WeakSet[Future[Any]] = weakref.WeakSet()

    @property
    def running(self) -> bool:
        """Whether the loop's thread was started and not closed."""
        return self._loop is not None

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Run ``coroutine`` on the loop; cancelling the future cancels it there (and
        :meth:`close` cancels it)."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._started())
        self._runs.add(future)
        return future

    def origin(self, address: Address) -> Origin:
        """The connections to ``address`` (call on the loop's thread only)."""
        found = self._origins.get(address)
        if found is None:
            assert self._loop is not None
            found = Origin(self._loop, address, self._resolve, self._connections, self._max_body)
            self._origins[address] = found
        return found

    async def offload(self, work: Callable[[], T]) -> T:
        """``work()`` run on the helper thread, awaited on the loop."""
        return await asyncio.wrap_future(self._helper.submit(work))

    def close(self) -> None:
        """Close every connection and stop both threads (they start again on next use)."""
        with self._lock:
            loop, self._loop = self._loop, None
            thread, self._thread = self._thread, None
        if loop is None:
            return
        for run in list(self._runs):
            run.cancel()  # its caller stops waiting now; its requests end with the loop
        origins = list(self._origins.values())
        self._origins = {}

        def stop() -> None:
            for origin in origins:
                origin.close()
            loop.call_soon(loop.stop)  # after the closing connections' own callbacks

        loop.call_soon_threadsafe(stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        self._helper.shutdown()
        self._helper = Workers(1, "fcmclient-engine-resolver")

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=_run, args=(loop,), name="fcmclient-engine", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    async def _resolve(self, host: str, port: int) -> Sequence[tuple[int, str]]:
        infos = await self.offload(functools.partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM))
        return [(family, str(sockaddr[0])) for family, _, _, _, sockaddr in infos]


def _run(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()
