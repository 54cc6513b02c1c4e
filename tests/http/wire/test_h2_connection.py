"""The HTTP/2 client state machine against the h2 package's server, in memory, and against
hand-made frames for what a correct server never sends."""

from __future__ import annotations

import struct

import h2.errors
import h2.events
import h2.settings
import pytest

from fcmclient._http.wire import frames as f
from fcmclient._http.wire.errors import ConnectionStateError
from fcmclient._http.wire.h2 import ConnectionEnded, H2Connection, ResponseReceived, StreamReset
from fcmclient._http.wire.hpack import encode_headers
from tests.http.wire.h2peer import BLOCK, REQUEST, MemoryPeer, answer

Codes = f.ErrorCode
SETTINGS = f.settings({})
PING = f.frame(f.FrameType.PING, 0, 0, b"12345678")


def ready(**kwargs: int) -> H2Connection:
    """A client that sent its preface and read an empty server SETTINGS."""
    client = H2Connection(**kwargs)
    client.preface()
    assert client.receive(SETTINGS) == (f.frame(f.FrameType.SETTINGS, f.ACK, 0), [])
    return client


def response_block(status: str = "200", **headers: str) -> bytes:
    return encode_headers([(":status", status), *headers.items()])


def headers_frame(stream_id: int, block: bytes, flags: int = f.END_HEADERS) -> bytes:
    return f.frame(f.FrameType.HEADERS, flags, stream_id, block)


def data_frame(stream_id: int, data: bytes, flags: int = f.END_STREAM) -> bytes:
    return f.frame(f.FrameType.DATA, flags, stream_id, data)


def ended(events: list) -> ConnectionEnded:
    assert isinstance(events[-1], ConnectionEnded), events
    return events[-1]


# -- against the h2 package --


def test_preface_announces_no_push_large_windows_and_our_header_list_limit() -> None:
    peer = MemoryPeer()
    (changed,) = peer.received(h2.events.RemoteSettingsChanged)
    settings = {code: change.new_value for code, change in changed.changed_settings.items()}
    assert settings[h2.settings.SettingCodes.ENABLE_PUSH] == 0
    assert settings[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] == 1 << 24
    assert settings[h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE] == 65536
    assert peer.server.outbound_flow_control_window == 1 << 24  # our connection WINDOW_UPDATE
    assert peer.client.preface().startswith(f.PREFACE)


def test_request_reaches_the_server_and_the_response_comes_back() -> None:
    peer = MemoryPeer()
    stream_id = peer.send(b'{"message": 1}')
    (request,) = peer.received(h2.events.RequestReceived)
    assert stream_id == request.stream_id == 1
    assert dict(request.headers)[b"authorization"] == b"Bearer secret"
    assert peer.received(h2.events.DataReceived)[0].data == b'{"message": 1}'
    assert peer.received(h2.events.StreamEnded)
    answer(peer.server, stream_id, b'{"name": "m/1"}')
    (response,) = peer.pump()
    assert isinstance(response, ResponseReceived)
    assert (response.stream_id, response.status, response.body, response.truncated) == (
        1,
        200,
        b'{"name": "m/1"}',
        False,
    )
    assert response.get("X-Served-By") == "h2-test"
    assert response.get("content-length") == "15"
    assert peer.client.open_streams == 0


def test_stream_ids_are_odd_and_rising() -> None:
    peer = MemoryPeer()
    assert [peer.send() for _ in range(4)] == [1, 3, 5, 7]
    assert peer.client.open_streams == 4


def test_a_request_without_body_ends_on_its_headers() -> None:
    peer = MemoryPeer()
    stream_id = peer.send(b"")
    assert [e.stream_id for e in peer.received(h2.events.StreamEnded)] == [stream_id]
    assert not peer.received(h2.events.DataReceived)


def test_trailers_and_interim_responses() -> None:
    peer = MemoryPeer()
    stream_id = peer.send()
    peer.server.send_headers(stream_id, [(":status", "103"), ("link", "</a>")])
    peer.server.send_headers(stream_id, [(":status", "200")])
    peer.server.send_data(stream_id, b"ab")
    peer.server.send_headers(stream_id, [("grpc-status", "0")], end_stream=True)
    (response,) = peer.pump()
    assert (response.status, response.body, response.trailers) == (200, b"ab", (("grpc-status", "0"),))


def test_server_dynamic_table_is_followed_across_responses() -> None:
    peer = MemoryPeer()
    for _ in range(5):
        answer(peer.server, peer.send(), b"{}")
    peer.pump()
    responses = peer.events
    assert len(responses) == 5
    assert all(r.headers == responses[0].headers for r in responses)


def test_large_header_block_goes_out_in_continuation_frames() -> None:
    peer = MemoryPeer()
    big = encode_headers([*REQUEST, ("x-big", "v" * 40000)])
    peer.send(b"", block=big)
    (request,) = peer.received(h2.events.RequestReceived)
    assert dict(request.headers)[b"x-big"] == b"v" * 40000


def test_body_larger_than_the_windows_waits_for_window_updates() -> None:
    peer = MemoryPeer()
    peer.server.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1000})
    peer.pump()
    body = bytes(range(256)) * 1000  # 256 000 octets: well past both windows
    stream_id, data = peer.client.send_request(BLOCK, body)
    assert len(data) < 2000  # only the headers and 1000 octets fit
    peer.to_server(data)  # the server acknowledges, h2 sends WINDOW_UPDATEs ...
    peer.pump()  # ... and every receive() sends what the new window allows
    received = b"".join(e.data for e in peer.received(h2.events.DataReceived))
    assert received == body
    assert [e.stream_id for e in peer.received(h2.events.StreamEnded)] == [stream_id]


def test_data_frames_respect_the_peer_max_frame_size() -> None:
    client = ready()
    _stream_id, data = client.send_request(BLOCK, b"x" * 40000)
    sizes = []
    pos = len(data) - 40000 - 9 * 3
    while pos < len(data):
        high, low, kind, _, _ = f.HEADER.unpack_from(data, pos)
        sizes.append((kind, high << 16 | low))
        pos += 9 + (high << 16 | low)
    assert sizes == [(f.FrameType.DATA, 16384), (f.FrameType.DATA, 16384), (f.FrameType.DATA, 7232)]
    big = ready()
    big.receive(f.settings({f.Setting.MAX_FRAME_SIZE: 65536, f.Setting.INITIAL_WINDOW_SIZE: 1 << 20}))
    big.receive(f.window_update(0, 1 << 20))
    _, data = big.send_request(BLOCK, b"x" * 40000)
    assert data.endswith(b"x" * 40000)
    assert len(data) == 9 + len(BLOCK) + 9 + 40000


def test_concurrency_limit_defaults_to_100_then_follows_the_server() -> None:
    client = H2Connection()
    client.preface()
    for _ in range(100):
        assert client.can_open()
        client.send_request(BLOCK)
    assert not client.can_open()
    with pytest.raises(ConnectionStateError):
        client.send_request(BLOCK)
    lowered = MemoryPeer()
    lowered.server.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 2})
    lowered.pump()
    lowered.send()
    lowered.send()
    assert not lowered.client.can_open()
    answer(lowered.server, 1, b"")
    lowered.pump()
    assert lowered.client.can_open()


def test_body_over_the_cap_is_truncated_and_the_stream_cancelled() -> None:
    peer = MemoryPeer(H2Connection(max_body=1000))
    stream_id = peer.send()
    peer.server.send_headers(stream_id, [(":status", "200")])
    peer.server.send_data(stream_id, b"a" * 800)
    peer.server.send_data(stream_id, b"b" * 800)
    (response,) = peer.pump()
    assert (response.body, response.truncated) == (b"a" * 800 + b"b" * 200, True)
    (reset,) = peer.received(h2.events.StreamReset)
    assert reset.error_code == h2.errors.ErrorCodes.CANCEL


def test_receive_windows_are_replenished() -> None:
    peer = MemoryPeer(H2Connection(initial_window_size=65535, connection_window=65535))
    stream_id = peer.send()
    peer.server.send_headers(stream_id, [(":status", "200")])
    body = b"z" * 200_000  # three times both windows: only WINDOW_UPDATEs let it through
    sent = 0
    while sent < len(body):
        size = min(peer.server.local_flow_control_window(stream_id), peer.server.max_outbound_frame_size)
        assert size > 0, "the client stopped replenishing its windows"
        size = min(size, len(body) - sent)
        peer.server.send_data(stream_id, body[sent : sent + size], end_stream=sent + size == len(body))
        sent += size
        peer.pump()
    (response,) = peer.events
    assert response.body == body
    assert not response.truncated


def test_refused_stream_is_safe_to_retry() -> None:
    peer = MemoryPeer()
    first, second = peer.send(), peer.send()
    peer.server.reset_stream(first, h2.errors.ErrorCodes.REFUSED_STREAM)
    peer.server.reset_stream(second, h2.errors.ErrorCodes.INTERNAL_ERROR)
    assert peer.pump() == [
        StreamReset(first, Codes.REFUSED_STREAM, True),
        StreamReset(second, Codes.INTERNAL_ERROR, False),
    ]
    assert peer.client.open_streams == 0


def test_goaway_reports_unprocessed_streams_and_stops_new_ones() -> None:
    peer = MemoryPeer()
    streams = [peer.send() for _ in range(4)]
    peer.server.close_connection(error_code=0, additional_data=b"server shutting down", last_stream_id=3)
    events = peer.pump()
    assert events[:2] == [StreamReset(5, 0, True), StreamReset(7, 0, True)]
    assert events[2] == ConnectionEnded(3, 0, "server shutting down", (5, 7))
    assert not peer.client.can_open()
    assert peer.client.open_streams == 2
    # Streams at or below the last stream id may still complete.
    _, events = peer.feed(headers_frame(streams[0], response_block(), f.END_HEADERS | f.END_STREAM))
    assert [(e.stream_id, e.status) for e in events] == [(1, 200)]


def test_ping_is_answered() -> None:
    peer = MemoryPeer()
    peer.server.ping(b"12345678")
    peer.pump()
    (ack,) = peer.received(h2.events.PingAckReceived)
    assert ack.ping_data == b"12345678"


def test_complete_response_before_the_request_body_cancels_the_rest() -> None:
    peer = MemoryPeer()
    stream_id, data = peer.client.send_request(BLOCK, b"x" * 200_000)  # more than the 65535 window
    peer.server.receive_data(data)  # not acknowledged: the rest of the body stays blocked
    answer(peer.server, stream_id, b"early")
    back, events = peer.client.receive(peer.server.data_to_send())
    assert [type(e) for e in events] == [ResponseReceived]
    assert events[0].body == b"early"
    assert f.rst_stream(stream_id, Codes.CANCEL) in back


def test_close_sends_goaway_and_stops_new_streams() -> None:
    peer = MemoryPeer()
    peer.to_server(peer.client.close())
    assert peer.received(h2.events.ConnectionTerminated)[0].error_code == 0
    assert not peer.client.can_open()


def test_eof_resets_open_streams() -> None:
    client = ready()
    client.send_request(BLOCK)
    events = client.eof()
    assert events[0] == StreamReset(1, Codes.INTERNAL_ERROR, False, remote=False)
    assert ended(events).remote is False
    assert client.eof() == []


# -- what a correct server never sends --


@pytest.mark.parametrize(
    ("frames", "code", "reason"),
    [
        (f.frame(f.FrameType.DATA, 0, 0, b""), Codes.PROTOCOL_ERROR, "stream 0"),
        (f.frame(f.FrameType.PING, 0, 0, b"1234567"), Codes.FRAME_SIZE_ERROR, "wrong length"),
        (f.frame(f.FrameType.PING, 0, 1, b"12345678"), Codes.PROTOCOL_ERROR, "on stream 1"),
        (f.frame(f.FrameType.SETTINGS, 0, 0, b"\x00" * 5), Codes.FRAME_SIZE_ERROR, "wrong length"),
        (f.frame(f.FrameType.SETTINGS, f.ACK, 0, b"\x00" * 6), Codes.FRAME_SIZE_ERROR, "wrong length"),
        (f.settings({f.Setting.ENABLE_PUSH: 1}), Codes.PROTOCOL_ERROR, "ENABLE_PUSH"),
        (f.settings({f.Setting.MAX_FRAME_SIZE: 100}), Codes.PROTOCOL_ERROR, "MAX_FRAME_SIZE"),
        (f.settings({f.Setting.INITIAL_WINDOW_SIZE: 2**31}), Codes.FLOW_CONTROL_ERROR, "INITIAL_WINDOW"),
        (f.window_update(0, 2**31 - 1), Codes.FLOW_CONTROL_ERROR, "WINDOW_UPDATE"),
        (f.window_update(0, 0), Codes.FLOW_CONTROL_ERROR, "WINDOW_UPDATE"),
        (f.frame(f.FrameType.GOAWAY, 0, 0, b"\x00" * 7), Codes.FRAME_SIZE_ERROR, "under 8"),
        (f.frame(f.FrameType.RST_STREAM, 0, 1, b"\x00" * 3), Codes.FRAME_SIZE_ERROR, "wrong length"),
        (f.frame(f.FrameType.PRIORITY, 0, 1, b"\x00" * 4), Codes.FRAME_SIZE_ERROR, "wrong length"),
        (
            f.frame(f.FrameType.PUSH_PROMISE, f.END_HEADERS, 1, b"\x00\x00\x00\x02\x82"),
            Codes.PROTOCOL_ERROR,
            "PUSH",
        ),
        (f.frame(f.FrameType.DATA, 0, 1, b"x" * 16385), Codes.FRAME_SIZE_ERROR, "16385"),
        (data_frame(1, b"\x05abc", f.PADDED), Codes.PROTOCOL_ERROR, "padding"),
        (headers_frame(3, response_block()), Codes.PROTOCOL_ERROR, "never opened"),
        (headers_frame(2, response_block()), Codes.PROTOCOL_ERROR, "never opened"),
        (data_frame(9, b"x"), Codes.PROTOCOL_ERROR, "never opened"),
        (f.rst_stream(5, 0), Codes.PROTOCOL_ERROR, "never opened"),
        (f.window_update(7, 1), Codes.PROTOCOL_ERROR, "never opened"),
        (headers_frame(1, b"\xbe"), Codes.COMPRESSION_ERROR, "no entry 62"),
        (headers_frame(1, b"\x82", 0) + PING, Codes.PROTOCOL_ERROR, "interrupted"),
        (f.frame(f.FrameType.CONTINUATION, f.END_HEADERS, 1, b"\x88"), Codes.PROTOCOL_ERROR, "without"),
        (headers_frame(1, b"\x20\x82", f.END_HEADERS | f.PRIORITY_FLAG), Codes.FRAME_SIZE_ERROR, "priority"),
    ],
)
def test_connection_errors_end_everything_with_goaway(frames: bytes, code: int, reason: str) -> None:
    client = ready()
    client.send_request(BLOCK)  # stream 1 is open
    back, events = client.receive(frames)
    assert back.endswith(f.goaway(0, code))
    assert events[0] == StreamReset(1, code, False, remote=False)
    end = ended(events)
    assert (end.error_code, end.remote, end.last_stream_id) == (code, False, 1)
    assert reason in end.reason
    assert not client.can_open()
    assert client.receive(PING) == (b"", [])


def test_first_frame_must_be_settings() -> None:
    client = H2Connection()
    client.preface()
    back, events = client.receive(PING)
    assert back == f.goaway(0, Codes.PROTOCOL_ERROR)
    assert "preface" in ended(events).reason
    http1 = H2Connection()
    http1.preface()
    assert "HTTP/1.x" in ended(http1.receive(b"HTTP/1.1 400 Bad Request\r\n\r\n")[1]).reason


def test_frames_before_a_bad_one_are_acted_on() -> None:
    client = ready()
    client.send_request(BLOCK)
    _, events = client.receive(headers_frame(1, response_block(), f.END_HEADERS | f.END_STREAM) + b"\x00" * 9)
    assert isinstance(events[0], ResponseReceived)
    assert ended(events).error_code == Codes.PROTOCOL_ERROR


@pytest.mark.parametrize(
    "frames",
    [
        headers_frame(1, encode_headers([("content-type", "x")]), f.END_HEADERS | f.END_STREAM),  # no :status
        headers_frame(1, b"\x88\x00\x01X\x01y", f.END_HEADERS | f.END_STREAM),  # upper-case name
        headers_frame(1, b"\x88\x00\x0aconnection\x05close", f.END_HEADERS | f.END_STREAM),
        headers_frame(
            1, encode_headers([("x", "1")]) + b"\x88", f.END_HEADERS | f.END_STREAM
        ),  # :status late
        headers_frame(1, b"\x88\x00\x01x\x02 y", f.END_HEADERS | f.END_STREAM),  # leading space
        headers_frame(1, response_block("100"), f.END_HEADERS | f.END_STREAM),  # interim that ends
        data_frame(1, b"early"),  # DATA before HEADERS
        headers_frame(1, response_block(**{"content-length": "5"})) + data_frame(1, b"abc"),
        headers_frame(1, response_block(**{"content-length": "1"})) + data_frame(1, b"abc", 0),
        headers_frame(1, response_block()) + headers_frame(1, encode_headers([("t", "1")])),  # open trailers
        headers_frame(1, response_block()) + f.window_update(1, 0),
    ],
)
def test_malformed_responses_reset_the_stream_only(frames: bytes) -> None:
    client = ready()
    client.send_request(BLOCK)
    back, events = client.receive(frames)
    assert events == [StreamReset(1, Codes.PROTOCOL_ERROR, False, remote=False)]
    assert back.endswith(f.rst_stream(1, Codes.PROTOCOL_ERROR))
    assert client.can_open()  # the connection goes on
    client.send_request(BLOCK)
    _, events = client.receive(headers_frame(3, response_block(), f.END_HEADERS | f.END_STREAM))
    assert [e.status for e in events] == [200]


def test_stream_window_overflow_resets_the_stream() -> None:
    client = ready()
    client.send_request(BLOCK)
    _back, events = client.receive(f.window_update(1, 2**31 - 1))
    assert events == [StreamReset(1, Codes.FLOW_CONTROL_ERROR, False, remote=False)]


def test_data_beyond_the_connection_window_is_a_connection_error() -> None:
    client = ready(connection_window=65535, initial_window_size=1 << 20)
    client.send_request(BLOCK)
    client.receive(headers_frame(1, response_block()))
    chunk = data_frame(1, b"x" * 16384, 0)
    _, events = client.receive(chunk * 3 + data_frame(1, b"x" * 16384, 0))  # WINDOW_UPDATE came too late
    assert [type(e) for e in events] == [StreamReset, ConnectionEnded]
    assert ended(events).error_code == Codes.FLOW_CONTROL_ERROR


def test_stream_window_is_topped_up_once_half_is_used() -> None:
    client = ready(initial_window_size=65535)
    client.send_request(BLOCK)
    client.receive(headers_frame(1, response_block()))
    chunk = data_frame(1, b"x" * 16384, 0)
    back, events = client.receive(chunk * 3)
    assert events == []
    assert back.count(f.window_update(1, 2 * 16384)) == 1


def test_padding_and_priority_are_stripped() -> None:
    client = ready()
    client.send_request(BLOCK)
    block = response_block()
    padded_headers = bytes([3]) + b"\x00\x00\x00\x00\x10" + block + b"\x00" * 3
    frames = f.frame(f.FrameType.HEADERS, f.END_HEADERS | f.PADDED | f.PRIORITY_FLAG, 1, padded_headers)
    frames += f.frame(f.FrameType.PRIORITY, 0, 1, b"\x00\x00\x00\x00\x10")
    frames += f.frame(f.FrameType.DATA, f.PADDED | f.END_STREAM, 1, b"\x02ok\x00\x00")
    _, events = client.receive(frames)
    assert [(e.status, e.body) for e in events] == [(200, b"ok")]


def test_unknown_frame_types_and_settings_are_ignored() -> None:
    client = ready()
    client.send_request(BLOCK)
    frames = (
        f.frame(0xFA, 0xFF, 1, b"anything")
        + struct.pack(">BHBBL", 0, 6, 4, 0, 0)
        + b"\x00\x99\x00\x00\x00\x01"
    )
    frames += headers_frame(1, response_block(), f.END_HEADERS | f.END_STREAM)
    back, events = client.receive(frames)
    assert [e.status for e in events] == [200]
    assert back == f.frame(f.FrameType.SETTINGS, f.ACK, 0)


def test_frames_on_streams_we_reset_are_ignored_but_decoded() -> None:
    client = ready(max_body=2)
    client.send_request(BLOCK)
    client.receive(headers_frame(1, response_block()))
    _, events = client.receive(data_frame(1, b"abc", 0))  # over the cap: truncated, cancelled
    assert events[0].truncated
    indexed = encode_headers([(":status", "200")])[:0] + b"\x48\x03201"  # adds ":status: 201" to the table
    client.send_request(BLOCK)
    _, events = client.receive(
        data_frame(1, b"late") + headers_frame(1, indexed, f.END_HEADERS | f.END_STREAM)
    )
    assert events == []
    _, events = client.receive(headers_frame(3, b"\xbe", f.END_HEADERS | f.END_STREAM))  # uses that entry
    assert [e.status for e in events] == [201]


def test_settings_change_moves_open_send_windows() -> None:
    client = ready()
    _stream_id, data = client.send_request(BLOCK, b"x" * 70000)
    assert data.count(b"x") == 65535
    back, _ = client.receive(
        f.settings({f.Setting.INITIAL_WINDOW_SIZE: 65535 + 100}) + f.window_update(0, 1000)
    )
    assert back.count(b"x") == 100  # the stream window grew by 100; the connection's by 1000


def test_eof_after_goaway_reports_only_the_streams_left() -> None:
    client = ready()
    client.send_request(BLOCK)
    client.send_request(BLOCK)
    _, events = client.receive(f.goaway(1, 0))
    assert events == [StreamReset(3, 0, True), ConnectionEnded(1, 0, "", (3,))]
    assert client.eof() == [StreamReset(1, Codes.INTERNAL_ERROR, False, remote=False)]
