"""HTTP/2 in the engine, against an h2 server over TLS on 127.0.0.1: many requests share a
connection, the server's stream limit holds, a refused or timed-out stream costs only its own
request, and an answer only ever reaches the request whose stream it ends."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h2.errors
import h2.settings
import pytest
import requests

from fcmclient import FCM, JSONMessage
from fcmclient._http.engine.h2 import NotProcessed
from fcmclient._http.engine.loop import Engine
from fcmclient._http.engine.origin import Request
from fcmclient._http.route import engine_address
from fcmclient._http.session import MAX_RESPONSE_BYTES, Reply
from fcmclient.outcomes import NOT_SENT, TRANSPORT_ERROR
from fcmclient.testing import FCMEmulator
from tests.emulator.emu_support import self_signed_certificate
from tests.forking import FORK_WARNING, Forked, timed_send
from tests.http.engine.h2server import H2Server, Served, mark

WAIT = 20.0
HEADERS = (("Content-Type", "application/json"), ("Authorization", "Bearer secret"))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def engine() -> Iterator[Engine]:
    made = Engine(8, MAX_RESPONSE_BYTES)
    yield made
    made.close()


def marked(name: str, size: int = 0) -> Request:
    return Request(
        "POST",
        "/v1/projects/p/messages:send",
        HEADERS,
        json.dumps({"mark": name, "pad": "x" * size}).encode(),
    )


def sent_mark(reply: Reply | BaseException) -> Any:
    if isinstance(reply, BaseException):
        return type(reply).__name__
    return json.loads(reply.body)["name"].rsplit("/", 1)[1] if reply.status == 200 else reply.status


def exchange_all(
    engine: Engine,
    server: H2Server,
    requests_: list[Request],
    *,
    read: float = 5.0,
    total: float = 10.0,
    verify: Any = None,
) -> tuple[list[Reply | BaseException], str | None]:
    """Send every request at once on the server's origin: each reply or exception, and the
    protocol the origin settled on."""
    session = requests.Session()
    session.trust_env = False
    address = engine_address(session, server.url(), {"verify": verify})
    assert address is not None

    async def run() -> tuple[list[Reply | BaseException], str | None]:
        loop = asyncio.get_running_loop()
        origin = engine.origin(address)
        replies = await asyncio.gather(
            *(origin.exchange(request, loop.time() + total, 5, read) for request in requests_),
            return_exceptions=True,
        )
        return list(replies), origin.protocol

    return engine.submit(run(), lambda: None).result(WAIT)


def in_batches(size: int) -> Any:
    """A policy holding requests until ``size`` are open on the connection, then answering all."""

    def policy(served: Served, stream_id: int, headers: dict[str, str], body: bytes) -> None:
        served.held.append(stream_id)
        if len(served.held) >= size:
            for held in served.held:
                served.answer(held)
            served.held.clear()

    return policy


def test_many_requests_share_one_connection(engine: Engine, certificate: tuple[Path, Path]) -> None:
    names = [f"m{i}" for i in range(60)]
    with H2Server(certificate, in_batches(20)) as server:
        replies, protocol = exchange_all(
            engine, server, [marked(n) for n in names], verify=str(certificate[0])
        )
    assert protocol == "h2"
    assert [sent_mark(reply) for reply in replies] == names  # each answer reached its own request
    assert server.connections == 1
    assert server.peak_streams >= 20  # answered only in batches of 20: they were in flight together
    (_, headers, _) = server.requests[0]
    assert headers[":authority"] == f"127.0.0.1:{server.port}"
    assert headers[":path"] == "/v1/projects/p/messages:send"
    assert headers["authorization"] == "Bearer secret"
    assert headers["content-length"] == str(len(marked("m0").body or b""))


def test_the_servers_stream_limit_is_honoured(engine: Engine, certificate: tuple[Path, Path]) -> None:
    names = [f"s{i}" for i in range(48)]

    def flush_once_all_arrived(served: Served) -> None:  # the last requests may not fill a batch
        if len(served.server.requests) == len(names):
            for held in served.held:
                served.answer(held)
            served.held.clear()

    with H2Server(
        certificate, in_batches(4), max_concurrent_streams=4, tick=flush_once_all_arrived
    ) as server:
        replies, _ = exchange_all(engine, server, [marked(n) for n in names], verify=str(certificate[0]))
    assert [sent_mark(reply) for reply in replies] == names
    assert server.peak_streams == 4  # never more than the server allows on a connection
    assert 1 < server.connections <= 8  # more connections once one is full, within the limit


def test_bodies_beyond_the_flow_control_windows_arrive_whole(
    engine: Engine, certificate: tuple[Path, Path]
) -> None:
    requests_ = [marked(f"b{i}", size=20_000) for i in range(30)]  # 600 kB: nine initial windows
    with H2Server(certificate, in_batches(10)) as server:
        replies, _ = exchange_all(engine, server, requests_, verify=str(certificate[0]))
        received = sorted(body for _, _, body in server.requests)
    assert [sent_mark(reply) for reply in replies] == [f"b{i}" for i in range(30)]
    assert received == sorted(request.body or b"" for request in requests_)


def test_a_refused_stream_is_not_processed_and_the_connection_carries_on(
    engine: Engine, certificate: tuple[Path, Path]
) -> None:
    def policy(served: Served, stream_id: int, headers: dict[str, str], body: bytes) -> None:
        if mark(body) == "refuse":
            served.reset(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
        elif mark(body) == "cancel":
            served.reset(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
        else:
            served.answer(stream_id)

    with H2Server(certificate, policy) as server:
        replies, _ = exchange_all(
            engine,
            server,
            [marked("a"), marked("refuse"), marked("cancel"), marked("b")],
            verify=str(certificate[0]),
        )
        again, _ = exchange_all(engine, server, [marked("c")], verify=str(certificate[0]))
    assert isinstance(replies[1], NotProcessed)
    assert "(REFUSED_STREAM)" in str(replies[1])  # the code by its name, for the outcome's detail
    assert isinstance(replies[2], requests.ConnectionError)
    assert "(INTERNAL_ERROR)" in str(replies[2])
    assert not isinstance(replies[2], NotProcessed)  # reset after it was taken: it may have been processed
    assert [sent_mark(replies[0]), sent_mark(replies[3]), sent_mark(again[0])] == ["a", "b", "c"]
    assert server.connections == 1


def test_a_goaway_leaves_unprocessed_requests_not_processed_and_new_ones_open_a_connection(
    engine: Engine, certificate: tuple[Path, Path]
) -> None:
    def policy(served: Served, stream_id: int, headers: dict[str, str], body: bytes) -> None:
        served.held.append(stream_id)
        if served.index == 1 and len(served.held) == 3:  # the first connection winds down
            first = min(served.held)
            served.answer(first)
            served.h2.close_connection(last_stream_id=first)
            served.hang_up = True
        elif served.index > 1:
            served.answer(stream_id)

    with H2Server(certificate, policy) as server:
        replies, _ = exchange_all(
            engine, server, [marked("x"), marked("y"), marked("z")], verify=str(certificate[0])
        )
        after, _ = exchange_all(engine, server, [marked("next")], verify=str(certificate[0]))
    assert [type(reply) for reply in replies].count(NotProcessed) == 2
    assert [sent_mark(reply) for reply in replies if not isinstance(reply, BaseException)] in (
        ["x"],
        ["y"],
        ["z"],
    )
    assert [sent_mark(reply) for reply in after] == ["next"]
    assert server.connections == 2


def test_a_stream_out_of_time_is_reset_and_the_others_go_on(
    engine: Engine, certificate: tuple[Path, Path]
) -> None:
    def policy(served: Served, stream_id: int, headers: dict[str, str], body: bytes) -> None:
        if mark(body) != "slow":
            served.answer(stream_id)

    with H2Server(certificate, policy) as server:
        replies, _ = exchange_all(
            engine, server, [marked("slow"), marked("quick")], read=0.3, verify=str(certificate[0])
        )
        later, _ = exchange_all(engine, server, [marked("later")], verify=str(certificate[0]))
        resets = list(server.resets)
    assert isinstance(replies[0], requests.ReadTimeout)
    assert [sent_mark(replies[1]), sent_mark(later[0])] == ["quick", "later"]
    assert resets == [(1, h2.errors.ErrorCodes.CANCEL)]  # the slow one's stream, and only it
    assert server.connections == 1


def test_a_connection_lost_fails_only_the_requests_it_carried(
    engine: Engine, certificate: tuple[Path, Path]
) -> None:
    def policy(served: Served, stream_id: int, headers: dict[str, str], body: bytes) -> None:
        served.held.append(stream_id)
        if served.index == 1 and len(served.held) == 2:
            served.hang_up = True  # gone, without an answer or a GOAWAY
        elif served.index > 1:
            served.answer(stream_id)

    with H2Server(certificate, policy) as server:
        replies, _ = exchange_all(engine, server, [marked("p"), marked("q")], verify=str(certificate[0]))
        after, _ = exchange_all(engine, server, [marked("r")], verify=str(certificate[0]))
    assert all(type(reply) is requests.ConnectionError for reply in replies)
    assert [sent_mark(reply) for reply in after] == ["r"]


def test_a_server_choosing_http_1_1_gets_http_1_1(engine: Engine, certificate: tuple[Path, Path]) -> None:
    with H2Server(certificate, alpn=("http/1.1",)) as server:
        replies, protocol = exchange_all(engine, server, [marked("one")], verify=str(certificate[0]))
    assert protocol == "http/1.1"
    assert [sent_mark(reply) for reply in replies] == ["one"]
    assert server.protocols == ["http/1.1"]


def test_fcmclient_http2_off_offers_http_1_1_only(
    engine: Engine, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FCMCLIENT_HTTP2", "off")
    with H2Server(certificate) as server:
        replies, protocol = exchange_all(engine, server, [marked("one")], verify=str(certificate[0]))
    assert protocol == "http/1.1"
    assert [sent_mark(reply) for reply in replies] == ["one"]


def test_a_multicast_over_http2_puts_each_token_in_its_own_bucket(certificate: tuple[Path, Path]) -> None:
    tokens = [f"tok-{i:03d}" for i in range(300)]

    def policy(served: Served, stream_id: int, headers: dict[str, str], body: bytes) -> None:
        token = mark(body)
        if token.endswith("7"):
            error = {
                "error": {
                    "code": 404,
                    "status": "NOT_FOUND",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                            "errorCode": "UNREGISTERED",
                        }
                    ],
                }
            }
            served.answer(stream_id, 404, json.dumps(error).encode())
        elif token.endswith("3"):
            served.reset(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
        else:
            served.answer(stream_id)

    with FCMEmulator() as emu, H2Server(certificate, policy, max_concurrent_streams=50) as server:
        client = FCM.from_service_account(
            emu.service_account_info("p"), url=server.url(), verify=str(certificate[0])
        )
        try:
            result = client.send(JSONMessage(tokens, data={"k": "v"}))
        finally:
            client.close()
        peak, connections = server.peak_streams, server.connections
    assert sorted(result.not_registered) == [t for t in tokens if t.endswith("7")]
    refused = [t for t, outcome in result.outcomes.items() if outcome.error == NOT_SENT]
    assert sorted(refused) == [t for t in tokens if t.endswith("3")]
    assert sorted(result.success) == [t for t in tokens if not t.endswith(("3", "7"))]
    assert all(result.success[t] == f"projects/p/messages/{t}" for t in result.success)
    assert not any(outcome.error == TRANSPORT_ERROR for outcome in result.outcomes.values())
    assert peak <= 50  # the server's limit, though 256 requests may be in flight
    assert connections <= 256 // 50 + 1


def test_regression_a_server_ending_the_connection_at_once_was_reconnected_to_until_the_deadline(
    engine: Engine, certificate: tuple[Path, Path]
) -> None:
    """A draining server (GOAWAY in its first flight) was connected to again and again, some
    forty times a second, until the request's deadline (review of the HTTP/2 engine). The
    request is now not processed, after one connection."""
    with H2Server(certificate, goaway_at_once=True) as server:
        replies, _ = exchange_all(engine, server, [marked("a")], total=2.0, verify=str(certificate[0]))
        connections = server.connections
    assert isinstance(replies[0], NotProcessed)
    assert connections == 1


def test_regression_a_server_allowing_no_stream_raised_a_value_error(
    engine: Engine, certificate: tuple[Path, Path]
) -> None:
    """SETTINGS_MAX_CONCURRENT_STREAMS = 0 made the codec refuse the stream with a ValueError,
    which stopped the whole send (review of the HTTP/2 engine); then it cost every connection
    of the pool, each kept open with no stream (second review). A server allowing no stream
    now takes no request: those waiting are not processed, after one connection."""
    with H2Server(certificate, max_concurrent_streams=0) as server:
        replies, _ = exchange_all(
            engine, server, [marked("a"), marked("b"), marked("c")], verify=str(certificate[0])
        )
        requests_seen, connections = len(server.requests), server.connections
    assert [type(reply) for reply in replies] == [NotProcessed] * 3
    assert requests_seen == 0
    assert connections == 1


def test_an_invalid_header_costs_no_connection(engine: Engine, certificate: tuple[Path, Path]) -> None:
    bad = Request("POST", "/v1/projects/p/messages:send", (("X-Bad", "a\r\nb"),), b"{}")
    with H2Server(certificate) as server:
        replies, _ = exchange_all(engine, server, [bad], verify=str(certificate[0]))
        connections = server.connections
    assert isinstance(replies[0], requests.exceptions.InvalidHeader)
    assert connections == 0


def test_requests_beyond_a_full_connection_open_another_and_all_are_in_flight_together(
    engine: Engine, certificate: tuple[Path, Path]
) -> None:
    """25 requests, 10 streams a connection: the server answers none until all 25 are open,
    so this ends only if the engine opens a third connection for the last five."""
    names = [f"w{i}" for i in range(25)]

    def hold(served: Served, stream_id: int, headers: dict[str, str], body: bytes) -> None:
        served.held.append(stream_id)

    def answer_once_all_arrived(served: Served) -> None:
        if len(served.server.requests) == len(names):
            for held in served.held:
                served.answer(held)
            served.held.clear()

    with H2Server(certificate, hold, max_concurrent_streams=10, tick=answer_once_all_arrived) as server:
        replies, _ = exchange_all(engine, server, [marked(n) for n in names], verify=str(certificate[0]))
        connections, peak = server.connections, server.peak_streams
    assert [sent_mark(reply) for reply in replies] == names
    assert connections == 3
    assert peak == 10


@pytest.mark.filterwarnings(FORK_WARNING)
def test_a_forked_child_sends_on_its_own_http2_connection_and_leaves_the_parents_alone(
    certificate: tuple[Path, Path],
) -> None:
    parent_tokens = [f"p-{i:03d}" for i in range(100)]
    child_tokens = [f"c-{i:03d}" for i in range(100)]
    with FCMEmulator() as emu, H2Server(certificate) as server:
        client = FCM.from_service_account(
            emu.service_account_info("p"), url=server.url(), verify=str(certificate[0])
        )
        try:
            assert sorted(client.send(JSONMessage(["warm-1", "warm-2"])).success) == ["warm-1", "warm-2"]
            child = Forked(lambda: timed_send(client, child_tokens))
            report = child.report(time.monotonic() + WAIT)
            mine = timed_send(client, parent_tokens)
        finally:
            client.close()
        connections, protocols = server.connections, set(server.protocols)
    assert report["pid"] != os.getpid()
    assert report["success"] == child_tokens
    assert mine["success"] == parent_tokens
    assert connections == 2  # the parent's, kept across the fork, and the child's own
    assert protocols == {"h2"}


def test_streams_the_server_allows_later_are_used_at_once(certificate: tuple[Path, Path]) -> None:
    """Requests waiting for a stream are woken when the server's SETTINGS raise its limit, not
    only when a stream ends (second review): here no stream ends until all three are open."""
    one_connection = Engine(1, MAX_RESPONSE_BYTES)

    def hold(served: Served, stream_id: int, headers: dict[str, str], body: bytes) -> None:
        served.held.append(stream_id)
        if len(served.held) == 1:
            served.h2.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 10})
        if len(served.held) == 3:
            for held in served.held:
                served.answer(held)
            served.held.clear()

    try:
        with H2Server(certificate, hold, max_concurrent_streams=1) as server:
            replies, _ = exchange_all(
                one_connection, server, [marked("a"), marked("b"), marked("c")], verify=str(certificate[0])
            )
            connections = server.connections
    finally:
        one_connection.close()
    assert [sent_mark(reply) for reply in replies] == ["a", "b", "c"]
    assert connections == 1


def test_connection_specific_headers_are_left_out_of_http2(
    engine: Engine, certificate: tuple[Path, Path]
) -> None:
    headers = (*HEADERS, ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5"), ("TE", "gzip"))
    request = Request("POST", "/v1/projects/p/messages:send", headers, b'{"mark": "k"}')
    with H2Server(certificate) as server:
        replies, _ = exchange_all(engine, server, [request], verify=str(certificate[0]))
        (_, seen, _) = server.requests[0]
    assert [sent_mark(reply) for reply in replies] == ["k"]
    assert {"connection", "keep-alive", "te"}.isdisjoint(seen)
    assert seen["authorization"] == "Bearer secret"


def test_a_draining_server_fails_every_waiting_request_not_processed(
    engine: Engine, certificate: tuple[Path, Path]
) -> None:
    """A server ending each new connection at once: the requests that waited for the first
    one are not processed with it, rather than each trying its own connection in turn
    until its deadline (second review)."""
    with H2Server(certificate, goaway_at_once=True) as server:
        replies, _ = exchange_all(
            engine, server, [marked(str(i)) for i in range(40)], total=5.0, verify=str(certificate[0])
        )
        connections = server.connections
    assert [type(reply) for reply in replies] == [NotProcessed] * 40
    assert connections == 1
