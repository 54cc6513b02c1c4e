"""The engine's threads: one runs an asyncio loop; helpers resolve names and fetch tokens.

All are daemons, started on first use, and belong to the process that started them (a
forked child makes its own engine, see :mod:`fcmclient._send.resources`). Nothing here blocks
the loop: a name lookup runs on a resolver thread, anything else that blocks (an
access-token fetch) on a thread of its own, through :meth:`Engine.offload`, which the loop
waits for at most its deadline. Four threads serve a send: the caller's (which waits, or
reads the rest of a ``send_each`` window), the loop's and these two; while a token that
expired mid-send is fetched, its request has a short-lived helper of its own, as every
request through requests has (:mod:`fcmclient._http.bounded`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import threading
import weakref
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

import requests

from ..bounded import start
from ..workers import Workers
from .origin import Address, Origin

__all__ = ["Engine"]

T = TypeVar("T")

#: Seconds :meth:`Engine.close` waits for the loop to wind down.
CLOSE_WAIT = 5.0


class _Running:
    """One start of the engine: its loop and thread, helpers, connections and runs."""

    def __init__(self, connections: int, max_body: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.resolver = Workers(1, "fcmclient-resolver")
        self.origins: dict[Address, Origin] = {}
        #: Each run under way: its future, and what stops it from starting more requests.
        self.runs: dict[Future[Any], Callable[[], None]] = {}
        self.runs_lock = threading.Lock()
        self.finalizer: weakref.finalize[Any, Any] | None = None
        self.connections, self.max_body = connections, max_body
        self.thread = threading.Thread(target=_run, args=(self.loop,), name="fcmclient-engine", daemon=True)
        self.thread.start()

    async def resolve(self, host: str, port: int) -> Sequence[tuple[int, str]]:
        lookup = functools.partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        infos = await asyncio.wrap_future(self.resolver.submit(lookup))
        return [(family, str(sockaddr[0])) for family, _, _, _, sockaddr in infos]

    def stop_soon(self) -> None:
        """Shut down from any thread, without waiting (a no-op once the loop is closed)."""
        if not self.loop.is_closed():
            shutting = self.shut_down()
            try:
                asyncio.run_coroutine_threadsafe(shutting, self.loop)
            except RuntimeError:  # closed meanwhile
                shutting.close()
        self.resolver.shutdown()

    async def shut_down(self) -> None:
        """Cancel every task, close every connection, then stop the loop (on the loop)."""
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        for origin in self.origins.values():
            origin.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.loop.call_soon(self.loop.stop)  # after the closing connections' own callbacks


class Engine:
    """An asyncio loop in a daemon thread, and the :class:`Origin` of each address it sends to.

    :param connections: the most connections open to one origin (``max_workers``).
    :param max_body: the most bytes of an answer's body kept.
    """

    def __init__(self, connections: int, max_body: int) -> None:
        self._connections = connections
        self._max_body = max_body
        self._lock = threading.Lock()
        self._running: _Running | None = None

    def submit(self, coroutine: Coroutine[Any, Any, T], stop: Callable[[], None]) -> Future[T]:
        """Run ``coroutine`` on the loop (started if need be).

        Cancelling the future cancels it there. :meth:`close` calls ``stop`` (so that the
        run starts no more requests), then cancels it.
        """
        with self._lock:  # never onto a loop being closed
            running = self._running
            if running is None:
                running = self._running = _Running(self._connections, self._max_body)
                # An engine dropped without close() (an FCM never closed) stops its threads.
                running.finalizer = weakref.finalize(self, running.stop_soon)
                running.finalizer.atexit = False  # at exit its daemon threads just end
            future = asyncio.run_coroutine_threadsafe(coroutine, running.loop)
            with running.runs_lock:
                running.runs[future] = stop
        future.add_done_callback(functools.partial(_forget, running))
        return future

    def call_soon(self, run: Future[Any], callback: Callable[[], object]) -> None:
        """Call ``callback`` soon on the loop's thread (from any thread), for the run
        :meth:`submit` gave ``run`` for; nothing once that run is over or the engine closed."""
        running = self._running
        if running is None:
            return
        with running.runs_lock:
            if run not in running.runs:
                return
        with contextlib.suppress(RuntimeError):  # closed meanwhile
            running.loop.call_soon_threadsafe(callback)

    def origin(self, address: Address) -> Origin:
        """The connections to ``address`` (on the loop's thread only, inside a run).

        :raises RuntimeError: the engine was closed meanwhile.
        """
        running = self._running
        if running is None or running.loop is not asyncio.get_running_loop():
            raise RuntimeError("the fan-out engine was closed")
        found = running.origins.get(address)
        if found is None:
            found = Origin(running.loop, address, running.resolve, self._connections, self._max_body)
            running.origins[address] = found
        return found

    async def offload(self, work: Callable[[], T], seconds: float) -> T:
        """``work()`` run on a thread of its own (:func:`~fcmclient._http.bounded.start`),
        awaited on the loop for at most ``seconds``.

        :raises requests.ReadTimeout: no result within ``seconds`` (the work is abandoned).
        """
        running = self._running
        if running is None or running.loop is not asyncio.get_running_loop():
            raise RuntimeError("the fan-out engine was closed")
        try:
            return await asyncio.wait_for(asyncio.wrap_future(start(work)), seconds)
        except asyncio.TimeoutError:
            raise requests.ReadTimeout(f"no result within {seconds:g} s") from None

    def close(self) -> None:
        """Stop every run (its requests under way end, the rest are not sent), close every
        connection and stop the threads; they start again on next use."""
        with self._lock:
            running, self._running = self._running, None
            if running is None:
                return
            with running.runs_lock:
                runs = list(running.runs.items())
        if running.finalizer is not None:
            running.finalizer.detach()
        for future, stop in runs:
            stop()  # before the cancel: no request starts once the caller stops waiting
            future.cancel()
        shut = asyncio.run_coroutine_threadsafe(running.shut_down(), running.loop)
        if running.thread is not threading.current_thread():
            with contextlib.suppress(Exception):  # closing goes on regardless
                shut.result(CLOSE_WAIT)
            running.thread.join(CLOSE_WAIT)
        running.resolver.shutdown()


def _forget(running: _Running, future: Future[Any]) -> None:
    with running.runs_lock:
        running.runs.pop(future, None)


def _run(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()
