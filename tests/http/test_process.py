"""fcmclient._http.process and the transport's fork invariants, in real forked children.

- A :class:`ProcessLocal` value is made again in a child, from what ``keep`` took, and the
  inherited one is let go on a daemon thread, never used or closed.
- A child closes its copies of the sockets its parent's adapter used (never shutting them
  down), and only those: the parent's connection survives.
- ``fan_out`` given a pool whose threads a fork left behind sends everything on the
  calling thread and returns, where it used to wait for ever.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from fcmclient._http.adapter import _OPENED, close_inherited
from fcmclient._http.channel import Channel
from fcmclient._http.executor import Plan, execute
from fcmclient._http.forkgate import UNDER_WAY
from fcmclient._http.process import ProcessGuard, ProcessLocal
from fcmclient._http.session import make_session, post
from fcmclient.outcomes import Outcome
from tests.forking import FORK_WARNING, Forked, c_fork
from tests.http.servers import LoopbackServer, QuietHandler, serving

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only"),
    pytest.mark.filterwarnings(FORK_WARNING),
]

WAIT = 10.0  # bound on a child's report; the tests never wait that long
TIMEOUT = 2.0


#: The processes in which a :class:`Value` was closed.
CLOSED: list[int] = []


class Value:
    """A stand-in for what a client holds per process: it records being closed."""

    def __init__(self, kept: str | None) -> None:
        self.kept = kept
        self.pid = os.getpid()

    def close(self) -> None:
        CLOSED.append(os.getpid())


def test_a_child_gets_its_own_value_made_from_what_was_kept() -> None:
    made: list[str | None] = []

    def make(kept: str | None) -> Value:
        made.append(kept)
        return Value(kept)

    local: ProcessLocal[Value, str] = ProcessLocal(make, lambda value: f"token of {value.pid}")
    mine = local.get()
    assert local.get() is mine
    assert made == [None]

    def child() -> dict[str, Any]:
        theirs = local.get()
        return {
            "same": theirs is mine,
            "pid": theirs.pid,
            "kept": theirs.kept,
            "again": local.get() is theirs,
        }

    forked = Forked(child)
    try:
        report = forked.report(time.monotonic() + WAIT)
    finally:
        forked.kill()
    assert report == {"same": False, "pid": forked.pid, "kept": f"token of {os.getpid()}", "again": True}
    assert local.get() is mine  # the parent is unaffected
    assert made == [None]


def test_an_inherited_value_is_let_go_on_a_daemon_thread_never_closed() -> None:
    """Letting go runs urllib3's pool finalizer, which takes a lock a parent thread may have
    held at the fork: on a thread of its own, that can never block the child."""
    local: ProcessLocal[Value, str] = ProcessLocal(Value, lambda value: None)
    gone = threading.Event()
    gone_in: list[str] = []

    def collected() -> None:
        gone_in.append(threading.current_thread().name)
        gone.set()

    weakref.finalize(local.get(), collected)  # no reference kept here, nor in the child

    def child() -> dict[str, Any]:
        gone.wait(WAIT)  # the at-fork hook let go of it as the child started
        return {"gone in": gone_in, "closed": CLOSED, "fresh": local.get().pid == os.getpid()}

    forked = Forked(child)
    try:
        report = forked.report(time.monotonic() + WAIT)
    finally:
        forked.kill()
    assert report == {"gone in": ["fcmclient-release"], "closed": [], "fresh": True}
    assert gone_in == []  # the parent's value lives on
    assert local.get().pid == os.getpid()


def test_a_guard_tells_the_process_that_made_it() -> None:
    guard = ProcessGuard()
    assert guard.owned()
    forked = Forked(guard.owned)
    try:
        assert forked.report(time.monotonic() + WAIT) is False
    finally:
        forked.kill()
    assert guard.owned()


# -- the transport: a child closes its copies of the parent's sockets ------------------------


class Echo(QuietHandler):
    """Answers each POST with its body, and records which connection (client port) carried it."""

    server: EchoServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((self.client_address[1], body.decode()))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class EchoServer(LoopbackServer):
    def __init__(self) -> None:
        super().__init__(Echo)
        self.seen: list[tuple[int, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/send"


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    with serving(EchoServer()) as server:
        yield server


def ask(channel: Channel, body: str) -> str:
    return channel.post(body.encode(), channel.headers({})).body.decode()


def sockets_to(server: EchoServer) -> list[socket.socket]:
    """The open sockets to ``server`` that an adapter read answers from."""

    def peer_port(sock: socket.socket) -> int | None:
        try:
            return int(sock.getpeername()[1])
        except (OSError, IndexError, TypeError):  # not connected (any more), or not TCP
            return None

    return [sock for sock in list(_OPENED) if sock.fileno() != -1 and peer_port(sock) == server.server_port]


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """A pooled session, closed whatever the test did (its sockets must not outlive it)."""
    with make_session(4) as made:
        yield made


def test_a_child_keeps_no_usable_copy_of_its_parents_connections(
    echo: EchoServer, session: requests.Session
) -> None:
    """``os.fork()``: before any code of the child runs, each socket its parent's adapter used
    is detached from the parent's connection (the descriptor now names a pipe: no use reaches
    the network, nor reads what the parent is answered), and the parent's session refuses to
    send there. The child's own session works; the parent's next request goes out on the same
    keep-alive connection (nothing was shut down)."""
    channel = Channel(session, echo.url, {}, TIMEOUT, {})
    assert ask(channel, "parent:0") == "parent:0"
    [theirs] = sockets_to(echo)

    def child() -> dict[str, Any]:
        # As the release thread an earlier at-fork hook starts may, before or after the hook
        # that detached the sockets: closing them would read as a dropped connection (seen in
        # a full run, where leftover clients' release threads ran first).
        close_inherited()
        report: dict[str, Any] = {"open": theirs.fileno() != -1, "registered": theirs in _OPENED}
        theirs.settimeout(0.1)  # a use waits at most the socket's timeout (the request's, in a pool)
        uses = (
            ("peer", theirs.getpeername),
            ("send", lambda: theirs.send(b"POST")),
            ("recv", lambda: theirs.recv(1)),
        )
        for use, attempt in uses:
            try:
                attempt()
                report[use] = "worked"
            except TimeoutError:
                report[use] = "timed out"
            except OSError as exc:
                report[use] = errno.errorcode.get(exc.errno or 0, str(exc))
        try:
            post(session, echo.url, b"child:theirs", {}, TIMEOUT, {})
            report["parent's session"] = "sent"
        except requests.ConnectionError as exc:
            report["parent's session"] = str(exc)
        own = make_session(1)  # the child's own, as each process's FCM makes
        report["answer"] = post(own, echo.url, b"child:0", {}, TIMEOUT, {}).body.decode()
        report["own"] = len(sockets_to(echo))
        return report

    forked = Forked(child)
    try:
        report = forked.report(time.monotonic() + WAIT)
    finally:
        forked.kill()
    assert report == {
        "open": True,  # a socket object the child may still hold, its descriptor a pipe's
        "registered": False,
        "peer": "ENOTSOCK",
        "send": "timed out",  # the descriptor is a pipe's read end: never writable, nothing sent
        "recv": "timed out",  # nor readable: no answer of the parent's is taken
        "parent's session": "this process was forked from the one that made this connection pool",
        "answer": "child:0",
        "own": 1,
    }
    assert ask(channel, "parent:1") == "parent:1"
    session.close()
    ports = {body: port for port, body in echo.seen}
    assert "child:theirs" not in ports
    assert ports["parent:0"] == ports["parent:1"] != ports["child:0"]  # the parent's connection lived on


def test_a_child_forked_from_c_closes_its_copies_when_it_notices(
    echo: EchoServer, session: requests.Session
) -> None:
    """A C-level fork runs no at-fork hook: ``close_inherited`` (called once the child is
    recognised by its process id) closes its copies of the parent's sockets, and only those."""
    channel = Channel(session, echo.url, {}, TIMEOUT, {})
    assert ask(channel, "parent:0") == "parent:0"
    [theirs] = sockets_to(echo)

    def child() -> dict[str, Any]:
        before = theirs.fileno() != -1
        own = make_session(1)
        answer = post(own, echo.url, b"child:0", {}, TIMEOUT, {}).body.decode()
        close_inherited()
        return {
            "before": before,
            "after": theirs.fileno() != -1,
            "answer": answer,
            "own": len(sockets_to(echo)),
        }

    forked = Forked(child, fork=c_fork)
    try:
        report = forked.report(time.monotonic() + WAIT)
    finally:
        forked.kill()
    assert report == {"before": True, "after": False, "answer": "child:0", "own": 1}
    assert ask(channel, "parent:1") == "parent:1"
    session.close()
    ports = {body: port for port, body in echo.seen}
    assert ports["parent:0"] == ports["parent:1"] != ports["child:0"]


def test_a_pool_whose_threads_a_fork_left_behind_costs_a_send_nothing() -> None:
    """A pool forked with its threads started has none of them in the child: what is
    submitted to it never runs. The calling thread sends every target, cancels the helpers
    that never started, and returns (before, it waited for them for ever)."""
    pool = ThreadPoolExecutor(3)
    started = threading.Barrier(3)
    for future in [pool.submit(started.wait, WAIT) for _ in range(3)]:
        future.result(WAIT)  # three threads, all started

    def child() -> dict[str, Any]:
        threads: set[str] = set()

        def work(target: str) -> Outcome:
            threads.add(threading.current_thread().name)
            return Outcome.success(target)

        begun = time.monotonic()
        targets = [f"t{i}" for i in range(100)]
        outcomes, error = execute(
            targets,
            work,
            Plan(workers=4, pool=pool, start_by=begun + 1.0, clock=time.monotonic, give_up=begun + 2.0),
        )
        return {
            "all sent": outcomes == [Outcome.success(t) for t in targets],
            "error": repr(error),
            "threads": sorted(threads),
            "within the bound": time.monotonic() - begun <= 2.0,
        }

    forked = Forked(child)
    try:
        report = forked.report(time.monotonic() + WAIT)
    finally:
        forked.kill()
        pool.shutdown()
    assert report == {
        "all sent": True,
        "error": "None",
        "threads": [threading.main_thread().name],
        "within the bound": True,
    }


def test_a_fork_while_another_thread_holds_the_fork_gates_lock_never_hangs_the_child() -> None:
    """The gate a green-patched process's fork closes (:mod:`fcmclient._http.forkgate`) has a
    lock that any sending thread takes for a moment: a child forked right then makes a new
    one instead of waiting for a thread it does not have."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with UNDER_WAY.lock:
            holding.set()
            release.wait(WAIT)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(WAIT)
        forked = Forked(lambda: UNDER_WAY.lock.acquire(timeout=WAIT))
        try:
            assert forked.report(time.monotonic() + WAIT) is True
        finally:
            forked.kill()
    finally:
        release.set()
        holder.join(WAIT)
