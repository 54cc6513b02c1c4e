"""Our HTTP/2 client over real TCP on 127.0.0.1, against a server built on the h2 package
(prior knowledge, no TLS)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import h2.connection
import h2.errors
import h2.events

from fcmclient._http.wire import frames as f
from fcmclient._http.wire.h2 import ConnectionEnded, Event, H2Connection, ResponseReceived, StreamReset
from fcmclient._http.wire.hpack import encode_headers
from tests.http.wire.h2peer import BLOCK, REQUEST, SocketServer, answer, connected, exchange


class Echo:
    """Answers each complete request with the SHA-256 and length of its body, as JSON."""

    def __init__(self) -> None:
        self.bodies: dict[int, bytearray] = {}

    def __call__(self, server: h2.connection.H2Connection, event: Any) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self.bodies[event.stream_id] = bytearray()
        elif isinstance(event, h2.events.DataReceived):
            self.bodies[event.stream_id] += event.data
        elif isinstance(event, h2.events.StreamEnded):
            body = bytes(self.bodies.pop(event.stream_id))
            reply = {
                "sha256": hashlib.sha256(body).hexdigest(),
                "length": len(body),
                "stream": event.stream_id,
            }
            answer(server, event.stream_id, json.dumps(reply).encode())


def ends(count: int):
    return lambda events: sum(not isinstance(e, ConnectionEnded) for e in events) >= count


def responses(events: list[Event]) -> dict[int, dict[str, Any]]:
    return {e.stream_id: json.loads(e.body) for e in events if isinstance(e, ResponseReceived)}


def test_concurrent_streams_each_get_their_own_response() -> None:
    bodies = [json.dumps({"token": f"t{i}", "pad": "x" * i}).encode() for i in range(50)]
    with SocketServer(Echo()) as server, connected(server) as sock:
        events = exchange(sock, H2Connection(), [(BLOCK, b) for b in bodies], ends(50))
    got = responses(events)
    assert sorted(got) == list(range(1, 100, 2))
    for index, body in enumerate(bodies):
        assert got[2 * index + 1] == {
            "sha256": hashlib.sha256(body).hexdigest(),
            "length": len(body),
            "stream": 2 * index + 1,
        }


def test_bodies_larger_than_the_windows_arrive_whole() -> None:
    bodies = [bytes([i]) * (300_000 + i) for i in range(3)]  # each far past the 65535 windows
    with SocketServer(Echo()) as server, connected(server) as sock:
        events = exchange(sock, H2Connection(), [(BLOCK, b) for b in bodies], ends(3))
    got = responses(events)
    assert [got[s]["sha256"] for s in (1, 3, 5)] == [hashlib.sha256(b).hexdigest() for b in bodies]


def test_a_server_allowing_three_streams_never_sees_a_fourth() -> None:
    echo = Echo()
    peak = 0

    def watch(client: H2Connection) -> None:
        nonlocal peak
        peak = max(peak, client.open_streams)

    with SocketServer(echo, max_concurrent_streams=3) as server, connected(server) as sock:
        client = H2Connection()
        events = exchange(sock, client, [(BLOCK, b"{}")] * 10, ends(10), on_open=watch, deadline=20)
    assert peak == 3
    assert len(responses(events)) == 10  # none refused: the limit was honoured


def test_goaway_reports_the_streams_the_server_never_processed() -> None:
    def handler(server: h2.connection.H2Connection, event: Any) -> bool:
        if isinstance(event, h2.events.StreamEnded) and event.stream_id <= 3:
            answer(server, event.stream_id, b"{}")
        if isinstance(event, h2.events.StreamEnded) and event.stream_id == 9:
            server.close_connection(error_code=h2.errors.ErrorCodes.NO_ERROR, last_stream_id=3)
            return True  # hang up once the GOAWAY is out
        return False

    with SocketServer(handler) as server, connected(server) as sock:
        client = H2Connection()
        events = exchange(
            sock, client, [(BLOCK, b"{}")] * 5, lambda events: False
        )  # until the server hangs up
    assert {e.stream_id for e in events if isinstance(e, ResponseReceived)} == {1, 3}
    assert [e for e in events if isinstance(e, StreamReset)] == [
        StreamReset(s, 0, refused=True) for s in (5, 7, 9)
    ]
    (end,) = [e for e in events if isinstance(e, ConnectionEnded)]
    assert (end.last_stream_id, end.unprocessed, end.remote) == (3, (5, 7, 9), True)
    assert not client.can_open()


def test_refused_stream_is_reported_safe_to_retry() -> None:
    def handler(server: h2.connection.H2Connection, event: Any) -> None:
        if isinstance(event, h2.events.StreamEnded):
            if event.stream_id == 3:
                server.reset_stream(3, h2.errors.ErrorCodes.REFUSED_STREAM)
            else:
                answer(server, event.stream_id, b"{}")

    with SocketServer(handler) as server, connected(server) as sock:
        events = exchange(sock, H2Connection(), [(BLOCK, b"{}")] * 3, ends(3))
    assert StreamReset(3, f.ErrorCode.REFUSED_STREAM, refused=True) in events
    assert {e.stream_id for e in events if isinstance(e, ResponseReceived)} == {1, 5}


def test_server_ping_is_acknowledged_with_its_data() -> None:
    acks: list[bytes] = []

    def handler(server: h2.connection.H2Connection, event: Any) -> None:
        if isinstance(event, h2.events.RequestReceived):
            server.ping(b"fcm-ping")
        elif isinstance(event, h2.events.PingAckReceived):
            acks.append(event.ping_data)
            answer(server, 1, b"{}")

    with SocketServer(handler) as server, connected(server) as sock:
        events = exchange(sock, H2Connection(), [(BLOCK, b"{}")], ends(1))
    assert acks == [b"fcm-ping"]
    assert [e.status for e in events if isinstance(e, ResponseReceived)] == [200]


def test_server_hpack_dynamic_table_shrinks_later_header_blocks() -> None:
    def handler(server: h2.connection.H2Connection, event: Any) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.send_headers(
                event.stream_id,
                [
                    (":status", "200"),
                    ("content-type", "application/json; charset=UTF-8"),
                    ("x-goog-id", "abc" * 20),
                ],
                end_stream=True,
            )

    raw = bytearray()
    block = encode_headers([*REQUEST, ("authorization", "Bearer s")])
    with SocketServer(handler) as server, connected(server) as sock:
        events = exchange(sock, H2Connection(), [(block, b"")] * 4, ends(4), raw=raw)
    assert all(e.get("x-goog-id") == "abc" * 20 for e in events if isinstance(e, ResponseReceived))
    sizes = header_block_sizes(bytes(raw))
    assert len(sizes) == 4
    assert sizes[0] > 60
    assert max(sizes[1:]) < 10


def header_block_sizes(stream: bytes) -> list[int]:
    pos, sizes = 0, []
    while pos + 9 <= len(stream):
        high, low, kind, _, _ = f.HEADER.unpack_from(stream, pos)
        length = high << 16 | low
        if kind == f.FrameType.HEADERS:
            sizes.append(length)
        pos += 9 + length
    return sizes
