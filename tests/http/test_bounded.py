"""fcmclient._http.bounded: work through requests, waited for at most its deadline.

The work runs on a helper thread; the caller gets its result or its exception as they are,
or at the deadline a partial result or :class:`requests.ReadTimeout`, and an interruption of
the waiting thread abandons the work. Abandoned work ends on its own; its result is dropped.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fcmclient._http.bounded import _Call, given_up, run_within, start
from fcmclient._http.engine.loop import Engine
from fcmclient._http.session import MAX_RESPONSE_BYTES, make_session, post
from tests.loopback import RawServer, answer, http_answer
from tests.timing import SLACK

WAIT = 10.0  # the most any test here waits for a helper thread; none waits that long


class Stuck:
    """Work that blocks until released, and records the thread it ran on."""

    def __init__(self, result: object = "late") -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.ended = threading.Event()
        self.thread: int | None = None
        self.result = result

    def __call__(self) -> object:
        self.thread = threading.get_ident()
        self.started.set()
        try:
            self.release.wait(WAIT)
            return self.result
        finally:
            self.ended.set()

    def finish(self) -> None:
        """Release the work and wait until it has ended."""
        self.release.set()
        assert self.started.wait(WAIT)
        assert self.ended.wait(WAIT)


@pytest.fixture
def stuck() -> Iterator[Stuck]:
    work = Stuck()
    yield work
    work.finish()


def test_the_result_comes_back_from_another_thread() -> None:
    here = threading.get_ident()
    assert run_within(lambda: threading.get_ident() != here, 5.0) is True
    assert run_within(lambda: None, 5.0) is None


@pytest.mark.parametrize(
    "error", [ValueError("bad"), requests.ConnectionError("refused"), KeyboardInterrupt()]
)
def test_what_the_work_raises_is_raised_as_it_is(error: BaseException) -> None:
    def work() -> None:
        raise error

    with pytest.raises(type(error)) as raised:
        run_within(work, 5.0)
    assert raised.value is error


def test_the_wait_ends_at_the_deadline_and_the_late_result_is_dropped(stuck: Stuck) -> None:
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout, match=r"no answer within 0\.2 s"):
        run_within(stuck, 0.2)
    assert time.monotonic() - started < 0.2 + SLACK
    assert stuck.started.is_set()
    assert not stuck.ended.is_set()  # the work was under way, and still is: abandoned


def test_at_the_deadline_a_partial_result_is_taken_when_there_is_one(stuck: Stuck) -> None:
    assert run_within(stuck, 0.1, partial=lambda: "so far") == "so far"
    with pytest.raises(requests.ReadTimeout):
        run_within(stuck, 0.1, partial=lambda: None)


class SoftTimeLimitError(Exception):
    """Raised in the waiting thread by a signal handler, as a Celery soft time limit is."""


@pytest.fixture
def alarms() -> Iterator[list[float]]:
    """Timer signals raising :class:`SoftTimeLimitError` in this (the main) thread: append the
    delays (seconds from the first call of the work), in order, before the work starts."""
    delays: list[float] = []

    def interrupt(signum: int, frame: object) -> None:
        if delays:
            signal.setitimer(signal.ITIMER_REAL, delays.pop(0))
        raise SoftTimeLimitError

    previous = signal.signal(signal.SIGALRM, interrupt)
    yield delays
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def arm(delays: list[float]) -> None:
    signal.setitimer(signal.ITIMER_REAL, delays.pop(0))


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer (POSIX)")
def test_an_interruption_waits_for_the_work_under_way_then_is_raised(alarms: list[float]) -> None:
    """As an interrupted fan-out waits for its requests under way: the exception comes once
    the work is over (here the interruption itself lets it end), and nothing is left held."""
    release = threading.Event()
    ended = threading.Event()

    def work() -> str:
        release.wait(WAIT)
        ended.set()
        return "done"

    def interrupt(signum: int, frame: object) -> None:
        release.set()
        raise SoftTimeLimitError

    signal.signal(signal.SIGALRM, interrupt)  # the fixture puts the previous handler back
    signal.setitimer(signal.ITIMER_REAL, 0.1)
    with pytest.raises(SoftTimeLimitError):
        run_within(work, WAIT)
    assert ended.is_set()
    assert run_within(lambda: "next", 5.0) == "next"


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer (POSIX)")
def test_a_second_interruption_abandons_the_work_at_once(stuck: Stuck, alarms: list[float]) -> None:
    alarms.extend([0.1, 0.1])
    arm(alarms)
    started = time.monotonic()
    with pytest.raises(SoftTimeLimitError):
        run_within(stuck, WAIT)
    assert time.monotonic() - started < 0.2 + SLACK
    assert not stuck.ended.is_set()  # still under way: abandoned
    assert run_within(lambda: "next", 5.0) == "next"


def test_no_time_left_starts_nothing_and_sends_nothing() -> None:
    with RawServer(answer(http_answer(200, b"{}"))) as server, make_session(1) as session:
        with pytest.raises(requests.ConnectTimeout, match="no time left"):
            post(session, server.url(), b"{}", {}, 5.0, {}, total=0.0)
        assert server.connections == 0


def slow_lookup(monkeypatch: pytest.MonkeyPatch, seconds: float) -> threading.Event:
    """Make every host name lookup take ``seconds`` (a slow resolver); the event is set once
    one has begun."""
    real = socket.getaddrinfo
    begun = threading.Event()

    def lookup(*args: Any, **kwargs: Any) -> Any:
        begun.set()
        time.sleep(seconds)  # the slow resolver itself, not a synchronisation
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return begun


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer (POSIX)")
def test_an_interrupted_caller_waits_for_the_request_under_way(
    monkeypatch: pytest.MonkeyPatch, alarms: list[float]
) -> None:
    """A soft time limit landing while the request is still being connected: the caller
    raises only once the request is over, so nothing is sent after the exception (before, the
    helper went on and sent it afterwards)."""
    slow_lookup(monkeypatch, 0.4)
    with RawServer(answer(http_answer(200, b"{}"))) as server, make_session(1) as session:
        alarms.append(0.1)
        arm(alarms)
        with pytest.raises(SoftTimeLimitError):
            post(session, server.url().replace("127.0.0.1", "localhost"), b"{}", {}, 5.0, {})
        sent_before = len(server.requests)
    assert sent_before == 1
    assert len(server.requests) == 1


def test_at_the_deadline_a_body_under_way_is_cut_and_its_connection_shut_down() -> None:
    """The status and the body so far are the answer; the abandoned helper's connection is
    shut down at once (the server sees it close), instead of trickling on for as long as the
    server likes (a read timeout each byte)."""
    closed = threading.Event()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"

    def script(sock: socket.socket, server: RawServer) -> None:
        sock.sendall(head + b'{"multicast')
        sock.settimeout(WAIT)
        if sock.recv(1) == b"":  # the client closed its end
            closed.set()

    with RawServer(script) as server, make_session(1) as session:
        started = time.monotonic()
        reply = post(session, server.url(), b"{}", {}, 5.0, {}, total=0.3)
        assert time.monotonic() - started < 0.3 + SLACK
        assert reply.status == 200
        assert b'{"multicast'.startswith(
            reply.body
        )  # as far as whole reads went (urllib3 2 drops a torn one)
        assert closed.wait(SLACK)


def test_the_engine_waits_for_offloaded_work_at_most_its_bound(stuck: Stuck) -> None:
    engine = Engine(1, MAX_RESPONSE_BYTES)
    try:

        async def offload() -> object:
            return await engine.offload(stuck, 0.2)

        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout, match=r"no result within 0\.2 s"):
            engine.submit(offload(), lambda: None).result(WAIT)
        assert time.monotonic() - started < 0.2 + SLACK
        assert not stuck.ended.is_set()  # abandoned, not waited for

        async def quick() -> object:
            return await engine.offload(lambda: "token", 5.0)

        assert engine.submit(quick(), lambda: None).result(WAIT) == "token"  # nothing held up
    finally:
        engine.close()


def test_a_finished_call_is_not_waited_for_again() -> None:
    """An interruption landing just after the wait took the finished helper's lock must not
    wait again on that lock (held by the caller now) until the deadline."""
    call = _Call(lambda: "done")
    call.run()
    assert call.done.acquire(timeout=0)  # the caller's wait took it; then the interruption
    started = time.monotonic()
    assert call.wait(time.monotonic() + WAIT)
    assert time.monotonic() - started < SLACK


def test_each_helper_sees_whether_its_own_caller_gave_up() -> None:
    seen: dict[str, bool] = {}
    gone, recorded = threading.Event(), threading.Event()

    def helper(name: str) -> None:
        gone.wait(WAIT)
        seen[name] = given_up()

    def abandoned() -> None:
        helper("abandoned")
        recorded.set()  # nobody waits for this helper: the test does, by this event

    with pytest.raises(requests.ReadTimeout):
        run_within(abandoned, 0.05)  # its caller gives up
    result = start(lambda: run_within(lambda: helper("waited for"), WAIT))
    gone.set()
    result.result(WAIT)
    assert recorded.wait(WAIT)
    assert seen == {"abandoned": True, "waited for": False}


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer (POSIX)")
def test_an_interrupted_wait_that_reaches_the_deadline_cuts_the_request(alarms: list[float]) -> None:
    """The interrupted caller waits for the request until its deadline only: then the
    connection is shut down (the server sees it close) and the interruption goes on."""
    closed = threading.Event()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"

    def script(sock: socket.socket, server: RawServer) -> None:
        sock.sendall(head + b"{")
        sock.settimeout(WAIT)
        if sock.recv(1) == b"":
            closed.set()

    with RawServer(script) as server, make_session(1) as session:
        alarms.append(0.1)
        arm(alarms)
        started = time.monotonic()
        with pytest.raises(SoftTimeLimitError):
            post(session, server.url(), b"{}", {}, 5.0, {}, total=0.4)
        assert 0.4 - SLACK < time.monotonic() - started < 0.4 + SLACK
        assert closed.wait(SLACK)
