"""fcmclient._http.process and the transport's fork invariants, in real forked children.

- A :class:`ProcessLocal` value is made again in a child, from what ``keep`` took, and the
  inherited one is let go on a daemon thread, never used or closed.
- A pooled connection is only ever used by the process that opened it: a child reconnects,
  and the parent's connection survives (an answer is read only by the process that sent
  the request on that connection).
- ``fan_out`` given a pool whose threads a fork left behind sends everything on the
  calling thread and returns, where it used to wait for ever.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from fcmclient._http.channel import Channel
from fcmclient._http.deadline import close_inherited
from fcmclient._http.executor import Plan, execute
from fcmclient._http.process import ProcessGuard, ProcessLocal
from fcmclient._http.session import make_session, post
from fcmclient.outcomes import Outcome
from tests.forking import FORK_WARNING, Forked
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


# -- the transport: a connection serves only the process that opened it ----------------------


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


def test_regression_a_child_sent_on_its_parents_keep_alive_connection(echo: EchoServer) -> None:
    """The pool lent a child the connection its parent had opened and kept alive, so the two
    processes wrote to one socket and each could read the other's answer. A connection now
    serves only the process that opened it, through the channel's direct path and through
    ``adapter.send`` alike; the child's copy is closed, never shut down."""
    session = make_session(4)
    channel = Channel(session, echo.url, {}, TIMEOUT, {})
    assert ask(channel, "parent:0") == "parent:0"

    def child() -> list[str]:
        answers = [post(session, echo.url, b"child:adapter", {}, TIMEOUT, {}).body.decode()]
        theirs = Channel(session, echo.url, {}, TIMEOUT, {})
        answers += [ask(theirs, f"child:{i}") for i in range(3)]
        return answers

    forked = Forked(child)
    try:
        assert forked.report(time.monotonic() + WAIT) == ["child:adapter", "child:0", "child:1", "child:2"]
    finally:
        forked.kill()
    channel = Channel(session, echo.url, {}, TIMEOUT, {})
    assert ask(channel, "parent:1") == "parent:1"
    session.close()

    processes: dict[int, set[str]] = {}
    for port, body in echo.seen:
        processes.setdefault(port, set()).add(body.split(":")[0])
    # One process per connection (the child may open more than one: its copy of the parent's
    # connection reads as dropped, and a kept connection can be closed by the server).
    assert all(len(who) == 1 for who in processes.values())
    assert {"child", "parent"} == set().union(*processes.values())
    parent = [port for port, body in echo.seen if body.startswith("parent")]
    assert parent[0] == parent[1]  # the parent's connection survived the child


def test_regression_the_childs_release_thread_closed_a_connection_the_child_had_reopened(
    echo: EchoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a child, the daemon thread that closes the inherited sockets could find a pooled
    connection still the parent's, then close the connection itself after the child's own
    request had reopened it: the child's request failed (``ResponseNotReady``, seen in a full run)
    or lost its connection. The thread now closes only the inherited socket object. Here it
    is held between looking and closing until the child's first request is over."""
    session = make_session(4)
    assert post(session, echo.url, b"parent:0", {}, TIMEOUT, {}).body == b"parent:0"

    def child() -> list[str]:
        first_done = threading.Event()
        really_owned = ProcessGuard.owned

        def owned(guard: ProcessGuard) -> bool:
            answer = really_owned(guard)
            if threading.current_thread().name == "release":
                first_done.wait(WAIT)  # looked; closes once the child's request is over
            return answer

        monkeypatch.setattr(ProcessGuard, "owned", owned)
        release = threading.Thread(target=close_inherited, name="release")
        release.start()
        answers = [post(session, echo.url, b"child:0", {}, TIMEOUT, {}).body.decode()]
        first_done.set()
        release.join(WAIT)
        answers.append(post(session, echo.url, b"child:1", {}, TIMEOUT, {}).body.decode())
        return answers

    forked = Forked(child)
    try:
        assert forked.report(time.monotonic() + WAIT) == ["child:0", "child:1"]
    finally:
        forked.kill()
    assert post(session, echo.url, b"parent:1", {}, TIMEOUT, {}).body == b"parent:1"
    session.close()
    ports = {body: port for port, body in echo.seen}
    assert ports["child:0"] == ports["child:1"]  # the child kept the connection it opened
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
