"""The engine's connections, request by request, against raw loopback servers: keep-alive,
deadlines, caps, and that an answer only ever reaches the request it answers."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from fcmclient._http.engine.loop import Engine
from fcmclient._http.engine.origin import Request
from fcmclient._http.route import engine_address
from fcmclient._http.session import MAX_RESPONSE_BYTES, Reply
from tests.emulator.emu_support import self_signed_certificate
from tests.loopback import RawServer, answer, hang, http_answer, keep_alive, read_request, trickle
from tests.timing import SLACK

WAIT = 10.0
POST = Request("POST", "/v1/send", (("Content-Type", "application/json"),), b"{}")


@pytest.fixture
def engine() -> Iterator[Engine]:
    made = Engine(4, MAX_RESPONSE_BYTES)
    yield made
    made.close()


def named(name: str, **headers: str) -> bytes:
    return http_answer(200, json.dumps({"name": name}).encode(), {"Connection": "keep-alive", **headers})


def name_of(reply: Reply | BaseException) -> Any:
    if isinstance(reply, BaseException):
        return type(reply).__name__
    return json.loads(reply.body)["name"] if reply.status == 200 else reply.status


def send(
    engine: Engine,
    url: str,
    *requests_: Request,
    total: float = 5.0,
    connect: float = 5.0,
    read: float = 5.0,
    between: threading.Event | None = None,
    options: dict[str, Any] | None = None,
) -> list[Reply | BaseException]:
    """Send the requests one after the other on ``url``'s origin; each reply or exception.

    ``between``: waited for (off the loop) after the first request's answer.
    """
    session = requests.Session()
    session.trust_env = False
    address = engine_address(session, url, options or {})
    assert address is not None

    async def run() -> list[Reply | BaseException]:
        loop = asyncio.get_running_loop()
        origin = engine.origin(address)
        out: list[Reply | BaseException] = []
        for index, request in enumerate(requests_):
            if index == 1 and between is not None:
                assert await loop.run_in_executor(None, between.wait, WAIT)
            try:
                out.append(await origin.exchange(request, loop.time() + total, connect, read))
            except requests.RequestException as exc:
                out.append(exc)
        return out

    return engine.submit(run(), lambda: None).result(WAIT)


def test_a_keep_alive_connection_carries_every_request(engine: Engine) -> None:
    with RawServer(keep_alive(named("a"), named("b"), named("c"))) as server:
        replies = send(engine, server.url("/v1/send"), POST, POST, POST)
        assert server.connections == 1
    assert [name_of(reply) for reply in replies] == ["a", "b", "c"]


def test_concurrent_requests_open_at_most_the_limit(engine: Engine) -> None:
    with RawServer(keep_alive(*[named(str(i)) for i in range(40)])) as server:
        address = engine_address(requests.Session(), server.url("/v1/send"), {})
        assert address is not None

        async def many() -> list[Reply]:
            loop = asyncio.get_running_loop()
            origin = engine.origin(address)
            return await asyncio.gather(*(origin.exchange(POST, loop.time() + 5, 5, 5) for _ in range(40)))

        replies = engine.submit(many(), lambda: None).result(WAIT)
        assert server.connections <= 4
    assert all(reply.status == 200 for reply in replies)


def test_the_request_is_written_as_requests_writes_it(engine: Engine) -> None:
    with RawServer(answer(named("n"))) as server:
        send(engine, server.url("/v1/send?x=1"), Request("POST", "/v1/send?x=1", POST.headers, b'{"a":1}'))
        (raw,) = server.requests
        port = server.port
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "POST /v1/send?x=1 HTTP/1.1"
    fields = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
    assert ("Host", f"127.0.0.1:{port}") in fields
    assert ("Content-Length", "7") in fields
    assert body == b'{"a":1}'


def test_a_connection_the_server_closed_while_idle_is_not_reused(engine: Engine) -> None:
    closed = threading.Event()

    def answer_then_close(sock: socket.socket, server: RawServer) -> None:
        sock.sendall(named("n"))
        sock.close()
        closed.set()

    with RawServer(answer_then_close) as server:
        replies = send(engine, server.url("/v1/send"), POST, POST, between=closed)
        assert server.connections == 2
    assert [name_of(reply) for reply in replies] == ["n", "n"]


def test_a_stray_answer_on_an_idle_connection_never_reaches_the_next_request(engine: Engine) -> None:
    stray_sent = threading.Event()

    def script(sock: socket.socket, server: RawServer) -> None:
        if server.connections > 1:  # a fresh connection: answer it properly
            sock.sendall(named("second"))
            return
        sock.sendall(named("first"))
        time.sleep(0.05)  # the server's misbehaviour: a second answer, a moment later
        sock.sendall(named("stray"))
        stray_sent.set()
        request = read_request(sock)
        if request is not None:  # the client sent the second request on this connection
            server.record(request)
            sock.sendall(named("second"))

    with RawServer(script) as server:
        replies = send(engine, server.url("/v1/send"), POST, POST, between=stray_sent)
    assert [name_of(reply) for reply in replies] == ["first", "second"]


def test_two_answers_to_one_request_close_the_connection(engine: Engine) -> None:
    def script(sock: socket.socket, server: RawServer) -> None:
        if server.connections > 1:
            sock.sendall(named("second"))
            return
        sock.sendall(named("first") + named("stray"))
        request = read_request(sock)
        if request is not None:
            server.record(request)
            sock.sendall(named("second"))

    with RawServer(script) as server:
        replies = send(engine, server.url("/v1/send"), POST, POST)
        assert server.connections == 2
    assert [name_of(reply) for reply in replies] == ["first", "second"]


def test_an_informational_answer_is_skipped_for_the_final_one(engine: Engine) -> None:
    def script(sock: socket.socket, server: RawServer) -> None:
        sock.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n" + named("first"))
        request = read_request(sock)
        if request is not None:
            server.record(request)
            sock.sendall(named("second"))

    with RawServer(script) as server:
        replies = send(engine, server.url("/v1/send"), POST, POST)
        assert server.connections == 1
    assert [name_of(reply) for reply in replies] == ["first", "second"]


def test_a_late_answer_never_reaches_the_next_request(engine: Engine) -> None:
    """The first request times out; its answer comes later on the same connection; the next
    request must get its own answer, never that one."""
    timed_out = threading.Event()

    def script(sock: socket.socket, server: RawServer) -> None:
        if server.connections > 1:
            sock.sendall(named("second"))
            return
        timed_out.wait(WAIT)
        sock.sendall(named("late"))
        request = read_request(sock)
        if request is not None:
            server.record(request)
            sock.sendall(named("second"))

    with RawServer(script) as server:
        replies = send(engine, server.url("/v1/send"), POST, total=0.3, read=0.3)
        timed_out.set()
        replies += send(engine, server.url("/v1/send"), POST)
    assert [name_of(reply) for reply in replies] == ["ReadTimeout", "second"]


@pytest.mark.parametrize("after", [0, 40])  # silent; the head and part of the body, then a trickle
def test_a_trickling_server_is_cut_off_at_the_total_bound(engine: Engine, after: int) -> None:
    data = http_answer(200, b'{"name": "' + b"x" * 200 + b'"}')
    with RawServer(trickle(data, 0.05, after=after)) as server:
        started = time.monotonic()
        (reply,) = send(engine, server.url("/v1/send"), POST, total=0.5, read=5.0)
        elapsed = time.monotonic() - started
    assert isinstance(reply, requests.ReadTimeout)
    assert elapsed < 0.5 + SLACK


def test_the_read_timeout_bounds_the_answer_on_a_new_connection(engine: Engine) -> None:
    with RawServer(hang()) as server:
        started = time.monotonic()
        (reply,) = send(engine, server.url("/v1/send"), POST, total=5.3, connect=5.0, read=0.3)
        elapsed = time.monotonic() - started
    assert isinstance(reply, requests.ReadTimeout)
    assert elapsed < 0.3 + SLACK


def test_an_answer_announcing_a_gigabyte_is_cut_at_the_cap(engine: Engine) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % 2**30

    def script(sock: socket.socket, server: RawServer) -> None:
        sock.sendall(head + b"x" * (MAX_RESPONSE_BYTES + 65536))
        server.stopping.wait()

    with RawServer(script) as server:
        (reply,) = send(engine, server.url("/v1/send"), POST)
    assert isinstance(reply, Reply)
    assert reply.status == 200
    assert len(reply.body) == MAX_RESPONSE_BYTES


def test_a_gzip_bomb_is_inflated_no_further_than_the_cap(engine: Engine) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))
    with RawServer(answer(http_answer(200, bomb, {"Content-Encoding": "gzip"}))) as server:
        (reply,) = send(engine, server.url("/v1/send"), POST)
    assert isinstance(reply, Reply)
    assert reply.status == 200
    assert len(reply.body) == MAX_RESPONSE_BYTES


def test_a_gzip_answer_is_decoded(engine: Engine) -> None:
    body = gzip.compress(b'{"name": "zipped"}')
    with RawServer(answer(http_answer(200, body, {"Content-Encoding": "gzip"}))) as server:
        (reply,) = send(engine, server.url("/v1/send"), POST)
    assert name_of(reply) == "zipped"


def test_a_refused_connection_is_a_connection_error(engine: Engine) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: connecting is refused
        (reply,) = send(engine, f"http://127.0.0.1:{port}/v1/send", POST)
    assert isinstance(reply, requests.ConnectionError)
    assert not isinstance(reply, requests.ConnectTimeout)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


class TLSServer(RawServer):
    def __init__(self, certificate: tuple[Path, Path], script: Any) -> None:
        super().__init__(script)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certificate)
        self._listener = context.wrap_socket(self._listener, server_side=True)

    def url(self, path: str = "/v1/send") -> str:
        return f"https://127.0.0.1:{self.port}{path}"


def test_tls_verifies_with_the_given_ca_and_refuses_without(
    engine: Engine, certificate: tuple[Path, Path]
) -> None:
    with TLSServer(certificate, keep_alive(named("a"), named("b"))) as server:
        trusted = send(engine, server.url(), POST, POST, options={"verify": str(certificate[0])})
        untrusted = send(engine, server.url(), POST, options={"verify": True})
    assert [name_of(reply) for reply in trusted] == ["a", "b"]
    assert isinstance(untrusted[0], requests.exceptions.SSLError)


def test_tls_without_verification_warns(engine: Engine, certificate: tuple[Path, Path]) -> None:
    from urllib3.exceptions import InsecureRequestWarning

    with (
        TLSServer(certificate, keep_alive(named("a"))) as server,
        pytest.warns(InsecureRequestWarning, match="127.0.0.1"),
    ):
        replies = send(engine, server.url(), POST, options={"verify": False})
    assert [name_of(reply) for reply in replies] == ["a"]


def test_regression_part_of_a_stray_answer_left_a_kept_connection_to_the_next_request(engine: Engine) -> None:
    """Bytes after an answer that did not make a whole answer stayed in the parser; the
    connection was reused, and the next request's answer completed the stray one, which the
    next request then got (review of issue 16)."""
    stray = named("stray")

    def script(sock: socket.socket, server: RawServer) -> None:
        if server.connections > 1:
            sock.sendall(named("second"))
            return
        sock.sendall(named("first") + stray[:20])
        request = read_request(sock)
        if request is not None:
            server.record(request)
            sock.sendall(stray[20:] + named("second"))

    with RawServer(script) as server:
        replies = send(engine, server.url("/v1/send"), POST, POST)
        assert server.connections == 2
    assert [name_of(reply) for reply in replies] == ["first", "second"]


def test_regression_a_connection_closed_while_being_handed_over_failed_the_send(engine: Engine) -> None:
    """A kept connection handed to a waiting request could be closed by the server in the
    same turn of the loop; the request then used it anyway and the send raised
    AssertionError (review of issue 16). Three requests, one connection allowed, a server
    that closes after each answer: each gets its answer or a network error."""

    def answer_then_close(sock: socket.socket, server: RawServer) -> None:
        sock.sendall(named(f"n{server.connections}"))

    with RawServer(answer_then_close) as server:
        address = engine_address(requests.Session(), server.url("/v1/send"), {})
        assert address is not None

        async def three() -> list[Any]:
            loop = asyncio.get_running_loop()
            origin = engine.origin(address)
            origin.limit = 1
            calls = (origin.exchange(POST, loop.time() + 5, 5, 5) for _ in range(3))
            return await asyncio.gather(*calls, return_exceptions=True)

        replies = engine.submit(three(), lambda: None).result(WAIT)
    assert all(isinstance(reply, (Reply, requests.RequestException)) for reply in replies), replies
    assert sum(isinstance(reply, Reply) for reply in replies) >= 1


def test_regression_a_waiter_cancelled_as_it_was_handed_a_connection_lost_it(engine: Engine) -> None:
    """A request waiting for a connection, cancelled in the turn of the loop that handed it
    one, kept it: the pool shrank for good (review of issue 16)."""
    with RawServer(keep_alive(named("a"), named("b"))) as server:
        address = engine_address(requests.Session(), server.url("/v1/send"), {})
        assert address is not None

        async def scenario() -> tuple[bool, int]:
            loop = asyncio.get_running_loop()
            origin = engine.origin(address)
            origin.limit = 1
            deadline = loop.time() + 5
            held = await origin._acquire(deadline, 5)
            waiting = asyncio.ensure_future(origin._acquire(deadline, 5))
            await asyncio.sleep(0)  # it waits for the one connection
            origin._release(held)  # handed to the waiter...
            waiting.cancel()  # ...which is cancelled before it runs again
            await asyncio.gather(waiting, return_exceptions=True)
            again = await asyncio.wait_for(origin._acquire(deadline, 5), 1.0)
            return again is held, origin.open_connections

        same, open_connections = engine.submit(scenario(), lambda: None).result(WAIT)
    assert same
    assert open_connections == 1


def test_a_name_is_looked_up_once_for_every_connection_opened_meanwhile(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[str] = []
    real = socket.getaddrinfo

    def counting(host: str, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        return real("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    with RawServer(keep_alive(*[named(str(i)) for i in range(20)])) as server:
        url = f"http://fcm.invalid:{server.port}/v1/send"
        address = engine_address(requests.Session(), url, {})
        assert address is not None

        async def many() -> list[Reply]:
            loop = asyncio.get_running_loop()
            origin = engine.origin(address)
            return await asyncio.gather(*(origin.exchange(POST, loop.time() + 5, 5, 5) for _ in range(20)))

        replies = engine.submit(many(), lambda: None).result(WAIT)
    assert all(reply.status == 200 for reply in replies)
    assert lookups == ["fcm.invalid"]


def test_a_name_lookup_that_hangs_is_bounded_by_the_connect_timeout_and_sends_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop = threading.Event()

    def hanging(*args: Any, **kwargs: Any) -> Any:
        stop.wait(WAIT)
        raise OSError("no answer")

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    try:
        with RawServer(answer(named("n"))) as server:
            started = time.monotonic()
            (reply,) = send(engine, f"http://fcm.invalid:{server.port}/v1/send", POST, connect=0.3)
            elapsed = time.monotonic() - started
            assert server.requests == []
    finally:
        stop.set()
    assert isinstance(reply, requests.ConnectTimeout)
    assert elapsed < 0.3 + SLACK


def test_regression_a_server_closing_each_new_connection_at_once_raised_an_assertion_error(
    engine: Engine,
) -> None:
    """A new HTTP/1.1 connection the server closed (or wrote to) before its first request was
    handed out anyway, and an AssertionError stopped the whole send (second review of the
    HTTP/2 engine). Each such request now fails as a connection error."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stopping = threading.Event()

    def answer_before_asked() -> None:
        listener.settimeout(0.05)  # looks at ``stopping`` between accepts
        while not stopping.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with sock, contextlib.suppress(OSError):
                sock.sendall(http_answer(408, b"", {"Connection": "close"}))

    serving = threading.Thread(target=answer_before_asked, daemon=True)
    serving.start()
    address = engine_address(requests.Session(), f"http://127.0.0.1:{port}/v1/send", {})
    assert address is not None

    async def rounds() -> list[Reply | BaseException]:
        loop = asyncio.get_running_loop()
        origin = engine.origin(address)
        out: list[Reply | BaseException] = []
        for _ in range(20):
            exchanges = (origin.exchange(POST, loop.time() + 5, 5, 5) for _ in range(4))
            out += await asyncio.gather(*exchanges, return_exceptions=True)
        return out

    try:
        replies = engine.submit(rounds(), lambda: None).result(WAIT * 3)
    finally:
        stopping.set()
        serving.join(WAIT)
        listener.close()
    assert all(isinstance(reply, (Reply, requests.RequestException)) for reply in replies), {
        type(reply).__name__ for reply in replies
    }
