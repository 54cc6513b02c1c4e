"""Fork safety (issue 17): an FCM used before fork() works in the children and in the parent,
each process getting exactly its own verdicts within the send's bound.

Real forked processes (``os.fork``, ``multiprocessing`` and a C-level fork that runs no Python
hooks, as uWSGI forks) against the emulator running in this process. Each child reports its
verdicts through a pipe; one that does not report by its deadline is killed and fails the
test as hung (what every child did before the fix: its worker threads do not exist after a
fork, and the wait for them had no bound).
"""

from __future__ import annotations

import functools
import gc
import io
import multiprocessing
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from fcmclient import FCM, JSONMessage
from fcmclient._http.session import total_seconds
from fcmclient.testing import FCMEmulator
from tests.forking import (
    FORK_WARNING,
    Forked,
    audience,
    buckets,
    c_fork,
    expected,
    send_from_forked,
    send_from_spawned,
    timed_send,
    timed_subscribe,
)

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only"),
    pytest.mark.filterwarnings(FORK_WARNING),
]

TIMEOUT = 2.0  # connect and read: a request takes at most 4 s in all
SEND_TIMEOUT = 10.0
BOUND = SEND_TIMEOUT + 2 * total_seconds(TIMEOUT)  # the documented bound of a v1 send: 18 s
REPORTING = 1.0  # beyond its bound, what a child may take to write its report and exit

ROUNDS = 50
TOKENS = 200  # the experiment: 200 tokens, 20 of them dead
DEAD_EVERY = 10
REPEAT_TOKENS = 40  # the rounds after the first two: the same experiment, smaller, to take seconds


def client_for(emu: FCMEmulator, info: dict[str, str], max_workers: int) -> FCM:
    return FCM.from_service_account(
        info, url=emu.v1_url("demo"), timeout=TIMEOUT, send_timeout=SEND_TIMEOUT, max_workers=max_workers
    )


def script_dead(emu: FCMEmulator, *audiences: tuple[list[str], list[str]]) -> None:
    for _, dead in audiences:
        for token in dead:
            emu.set_outcome(token, "unregistered")


def size(round_: int) -> int:
    return TOKENS if round_ < 2 else REPEAT_TOKENS


def warm_up(emu: FCMEmulator, client: FCM, name: str) -> None:
    """One multicast, so the pool's threads, keep-alive connections and token are all live.

    Slow answers keep every helper busy at once, so the pool starts all its threads (a
    child that found fewer would start the missing ones itself and hide the bug).
    """
    emu.latency = 0.05
    try:
        result = client.send(JSONMessage([f"{name}-warm-{i}" for i in range(100)]))
    finally:
        emu.latency = 0.0
    assert len(result.success) == 100


@pytest.mark.slow
def test_regression_children_forked_after_a_send_hung_or_took_each_others_answers(
    fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str], figure: Callable[[str], None]
) -> None:
    """Issue 17's experiment, 50 times in a row: fork two children from a process whose FCM
    has sent, then the parent and both children send 200 tokens (20 scripted dead) at once
    (the first two rounds; the other 48 send 40 tokens, 4 dead, so the loop takes seconds).

    Before the fix, children of the 64-worker FCM hung in ``fan_out`` (its pool's threads
    are not in the child), and through the one-connection FCM the three processes shared one
    keep-alive socket: answers were read by the wrong process (a dead token reported
    delivered, a live one not registered). Rounds alternate between the two.
    """
    emu = fcm_emulator
    clients = [client_for(emu, fcm_service_account, workers) for workers in (64, 1)]
    for number, client in enumerate(clients):
        warm_up(emu, client, f"c{number}")
    fetched = emu.token_requests
    elapsed: dict[str, list[float]] = {"parent": [], "child": []}
    started = time.monotonic()
    for round_ in range(ROUNDS):
        client = clients[round_ % 2]
        plans = {name: audience(f"r{round_}-{name}", size(round_), DEAD_EVERY) for name in "pab"}
        script_dead(emu, *plans.values())
        gate, go = os.pipe()
        children = {
            name: Forked(functools.partial(timed_send, client, plans[name][0]), gate) for name in "ab"
        }
        try:
            os.write(go, b"go")  # both children and the parent send at once
            released = time.monotonic()
            mine = timed_send(client, plans["p"][0])
            reports = {name: child.report(released + BOUND + REPORTING) for name, child in children.items()}
        finally:
            for child in children.values():
                child.kill()
            os.close(gate)
            os.close(go)
        for name, report in [("p", mine), *reports.items()]:
            assert buckets(report) == expected(*plans[name]), f"round {round_}, process {name}"
            assert report["elapsed"] <= BOUND
        assert {report["pid"] for report in reports.values()} & {os.getpid()} == set()
        elapsed["parent"].append(mine["elapsed"])
        elapsed["child"] += [report["elapsed"] for report in reports.values()]
    total = time.monotonic() - started

    for client in clients:
        client.close()
    assert emu.token_requests == fetched  # the children kept the parent's access token
    for round_ in range(ROUNDS):
        for name in "pab":
            tokens, dead = audience(f"r{round_}-{name}", size(round_), DEAD_EVERY)
            delivered = [t for t in tokens if emu.inbox(t)]
            assert delivered == [t for t in tokens if t not in dead]
            assert all(len(emu.inbox(t)) == 1 for t in delivered)
    figure(
        f"{ROUNDS} rounds of parent + 2 forked children sending at once: {total:.1f} s; send "
        f"median {sorted(elapsed['parent'])[ROUNDS // 2]:.3f} s in the parent, "
        f"{sorted(elapsed['child'])[ROUNDS]:.3f} s in a child (bound {BOUND:g} s)"
    )


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_children_send_with_exact_verdicts(
    method: str, fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str]
) -> None:
    """multiprocessing's fork start method (Linux's default before Python 3.14) hands the
    used FCM to the children; spawn hands them nothing (an FCM cannot be pickled), so they
    build their own. Either way, each process gets exactly its own verdicts."""
    emu = fcm_emulator
    context = multiprocessing.get_context(method)
    plans = {name: audience(f"{method}-{name}", TOKENS, DEAD_EVERY) for name in ("p", "a", "b")}
    script_dead(emu, *plans.values())
    options: dict[str, Any] = {"timeout": TIMEOUT, "send_timeout": SEND_TIMEOUT}
    with client_for(emu, fcm_service_account, 64) as client:
        warm_up(emu, client, method)
        results = context.Queue()
        processes = {}
        for name in ("a", "b"):
            if method == "fork":
                args: tuple[Any, ...] = (client, plans[name][0], results)
                processes[name] = context.Process(target=send_from_forked, args=args)
            else:
                args = (fcm_service_account, emu.v1_url("demo"), plans[name][0], options, results)
                processes[name] = context.Process(target=send_from_spawned, args=args)
        for process in processes.values():
            process.start()
        try:
            mine = timed_send(client, plans["p"][0])
            startup = 30.0 if method == "spawn" else 0.0  # a spawned child imports everything anew
            deadline = time.monotonic() + startup + BOUND + REPORTING
            reports = [results.get(timeout=max(deadline - time.monotonic(), 0.0)) for _ in processes]
            for process in processes.values():
                process.join(max(deadline - time.monotonic(), 0.0))
        finally:
            for process in processes.values():
                if process.is_alive():  # it hangs: the wait for its report failed the test
                    process.kill()
                    process.join()
    assert [report.get("error") for report in reports] == [None, None]
    by_pid = {report["value"]["pid"]: report["value"] for report in reports}
    assert set(by_pid) == {process.pid for process in processes.values()}
    for name, process in processes.items():
        assert process.exitcode == 0
        assert buckets(by_pid[process.pid]) == expected(*plans[name])
        assert by_pid[process.pid]["elapsed"] <= BOUND
    assert buckets(mine) == expected(*plans["p"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the C library's fork() via ctypes")
def test_a_fork_that_runs_no_python_hooks_is_told_apart_by_the_pid(
    fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str]
) -> None:
    """uWSGI forks its workers from C without running Python's at-fork hooks (unless
    ``py-call-osafterfork`` is set): the process id alone must keep the child off the
    parent's threads and sockets."""
    emu = fcm_emulator
    plans = {name: audience(f"c-{name}", TOKENS, DEAD_EVERY) for name in ("p", "a")}
    script_dead(emu, *plans.values())
    with client_for(emu, fcm_service_account, 64) as client:
        warm_up(emu, client, "c")
        child = Forked(lambda: timed_send(client, plans["a"][0]), fork=c_fork)
        try:
            report = child.report(time.monotonic() + BOUND + REPORTING)
        finally:
            child.kill()
        mine = timed_send(client, plans["p"][0])
    assert buckets(report) == expected(*plans["a"])
    assert report["elapsed"] <= BOUND
    assert buckets(mine) == expected(*plans["p"])


def test_a_child_forked_after_a_subscription_manages_topics_with_exact_verdicts(
    fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str]
) -> None:
    """Topic operations share the send's per-process resources: a child forked after the
    parent subscribed (threads, connections and token live) subscribes on its own, while the
    parent does too, each getting exactly its own verdicts."""
    emu = fcm_emulator
    plans = {name: audience(f"topic-{name}", 60, DEAD_EVERY) for name in ("p", "c")}
    script_dead(emu, *plans.values())
    with client_for(emu, fcm_service_account, 8) as client:
        emu.latency = 0.02  # every helper thread busy at once: the pool starts them all
        client.subscribe_to_topic([f"warm-{i}" for i in range(40)], "warm")
        emu.latency = 0.0
        child = Forked(lambda: timed_subscribe(client, plans["c"][0], "child-topic"))
        try:
            mine = timed_subscribe(client, plans["p"][0], "parent-topic")
            report = child.report(time.monotonic() + BOUND + REPORTING)
        finally:
            child.kill()
    assert buckets(report) == expected(*plans["c"])
    assert buckets(mine) == expected(*plans["p"])
    assert report["pid"] != os.getpid()
    for name, topic in (("c", "child-topic"), ("p", "parent-topic")):
        tokens, dead = plans[name]
        assert emu.subscribers(topic) == sorted(set(tokens) - set(dead))


def test_a_child_closing_its_fcm_leaves_the_parents_connection_open(
    fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str]
) -> None:
    """A child drops what it inherited and never shuts a socket down: the parent's next send
    goes out on the keep-alive connection it had before the fork."""
    emu = fcm_emulator
    with client_for(emu, fcm_service_account, 1) as client:
        warm_up(emu, client, "close")
        opened = emu.stats.connections_opened
        child = Forked(client.close)
        try:
            assert child.report(time.monotonic() + BOUND) is None
        finally:
            child.kill()
        tokens, dead = audience("close-p", 20, DEAD_EVERY)
        script_dead(emu, (tokens, dead))
        assert buckets(timed_send(client, tokens)) == expected(tokens, dead)
    assert emu.stats.connections_opened == opened


def test_a_forked_child_keeps_the_adapters_mounted_on_the_session() -> None:
    """A child's new session carries the adapters the application mounted on
    ``FCM.session`` (a test double, a recorder): they still see every request there."""
    url = "https://fcm.example.test/fcm/send"
    answer = b'{"multicast_id": 1, "success": 1, "failure": 0, "canonical_ids": 0, "results": [{"message_id": "0:1"}]}'

    class Canned(requests.adapters.BaseAdapter):
        """Answers every request with one legacy success, never touching a socket."""

        def __init__(self) -> None:
            super().__init__()
            self.seen: list[int] = []

        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            self.seen.append(os.getpid())
            response = requests.Response()
            response.status_code = 200
            response.headers["Content-Type"] = "application/json"
            response.raw = io.BytesIO(answer)
            response.url = str(request.url)
            response.request = request
            return response

        def close(self) -> None:
            pass

    canned = Canned()
    with FCM("AAAA-fork-adapter-key", url=url) as client:
        client.session.mount("https://", canned)
        parent_session = client.session

        def child() -> dict[str, Any]:
            result = client.send(JSONMessage(["t"]))
            return {
                "success": result.success,
                "seen": canned.seen,
                "own session": client.session is not parent_session,
                "same adapter": client.session.get_adapter(url) is canned,
            }

        forked = Forked(child)
        try:
            report = forked.report(time.monotonic() + BOUND)
        finally:
            forked.kill()
        assert client.session is parent_session
    assert report == {
        "success": {"t": "0:1"},
        "seen": [forked.pid],
        "own session": True,
        "same adapter": True,
    }
    assert canned.seen == []  # the parent sent nothing


def open_sockets_to(port: int) -> int:
    """How many open socket objects of this process are connected to ``port`` on 127.0.0.1."""

    def peer_port(sock: socket.socket) -> int | None:
        try:
            return int(sock.getpeername()[1]) if sock.family == socket.AF_INET else None
        except OSError:
            return None

    return sum(
        1
        for thing in gc.get_objects()
        if isinstance(thing, socket.socket) and thing.fileno() != -1 and peer_port(thing) == port
    )


def test_a_child_closes_its_copies_of_the_inherited_connections(
    fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str]
) -> None:
    """Soon after the fork, without sending and without the collector, a child holds no
    copy of its parent's connections (a copy would keep them open after the parent closed
    them); the parent's stay open."""
    emu = fcm_emulator
    with client_for(emu, fcm_service_account, 8) as client:
        warm_up(emu, client, "copies")
        assert open_sockets_to(emu.port) > 1
        opened = emu.stats.connections_opened

        def child() -> int:
            deadline = time.monotonic() + BOUND
            while (left := open_sockets_to(emu.port)) and time.monotonic() < deadline:  # polling, bounded
                time.sleep(0.01)
            return left

        forked = Forked(child)
        try:
            assert forked.report(time.monotonic() + BOUND + REPORTING) == 0
        finally:
            forked.kill()
        tokens, dead = audience("copies-p", 100, DEAD_EVERY)
        script_dead(emu, (tokens, dead))
        assert buckets(timed_send(client, tokens)) == expected(tokens, dead)
    assert emu.stats.connections_opened == opened  # the parent's connections were all still open
