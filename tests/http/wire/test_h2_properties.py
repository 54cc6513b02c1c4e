"""HTTP/2 client properties: any chunking of what a server sends gives the same events, and
no input makes it raise."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fcmclient._http.wire import frames as f
from fcmclient._http.wire.h2 import ConnectionEnded, H2Connection, ResponseReceived, StreamReset
from tests.http.wire.h2peer import BLOCK, MemoryPeer, answer, server_connection


def server_bytes() -> tuple[list[bytes], bytes, list]:
    """What an h2 server sends for three requests (responses, a ping, a reset), and the events."""
    peer = MemoryPeer()
    requests = [(BLOCK, b'{"n": %d}' % i) for i in range(3)]
    before = peer.server.data_to_send()
    assert not before
    for block, body in requests:
        _, data = peer.client.send_request(block, body)
        peer.to_server(data)
    answer(peer.server, 1, b'{"name": "one"}')
    peer.server.ping(b"pingpong")
    peer.server.send_headers(3, [(":status", "503"), ("retry-after", "10")])
    for _ in range(4):
        peer.server.send_data(3, b"x" * 10000)
    peer.server.send_headers(3, [("grpc-status", "14")], end_stream=True)
    peer.server.reset_stream(5, 7)
    stream = peer.server.data_to_send()
    _, events = peer.client.receive(stream)
    return [body for _, body in requests], stream, events


BODIES, STREAM, EVENTS = server_bytes()


def fresh_client() -> H2Connection:
    client = H2Connection()
    client.preface()
    client.receive(server_connection().data_to_send())  # an h2 server's SETTINGS, as the recording's
    for body in BODIES:
        client.send_request(BLOCK, body)
    return client


def test_the_recorded_exchange_has_every_kind_of_end() -> None:
    kinds = [(type(e).__name__, e.stream_id) for e in EVENTS]
    assert kinds == [("ResponseReceived", 1), ("ResponseReceived", 3), ("StreamReset", 5)]
    assert EVENTS[1].trailers == (("grpc-status", "14"),)
    assert len(EVENTS[1].body) == 40000


@given(st.lists(st.integers(0, len(STREAM)), max_size=20))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_any_chunking_gives_the_same_events(cuts: list[int]) -> None:
    client = fresh_client()
    bounds = sorted(cuts)
    events = []
    for start, end in zip([0, *bounds], [*bounds, len(STREAM)], strict=False):
        events += client.receive(STREAM[start:end])[1]
    assert events == EVENTS


def test_every_split_point() -> None:
    for cut in range(0, len(STREAM), 97):
        client = fresh_client()
        assert client.receive(STREAM[:cut])[1] + client.receive(STREAM[cut:])[1] == EVENTS


def check(events: list, client: H2Connection) -> None:
    for event in events:
        assert isinstance(event, ResponseReceived | StreamReset | ConnectionEnded)
    if any(isinstance(e, ConnectionEnded) and not e.remote for e in events):
        assert client.receive(f.settings({})) == (b"", [])


@given(st.binary(max_size=300), st.integers(1, 50))
@settings(max_examples=300)
def test_random_bytes_after_the_preface_never_raise(noise: bytes, step: int) -> None:
    client = fresh_client()
    events = []
    for i in range(0, len(noise), step):
        back, new = client.receive(noise[i : i + step])
        assert isinstance(back, bytes)
        events += new
    check(events, client)
    check(client.eof(), client)


FRAME = st.builds(
    f.frame,
    st.integers(0, 11),
    st.integers(0, 255),
    st.sampled_from([0, 1, 2, 3, 5, 7, 2**31 - 1]),
    st.binary(max_size=40),
)


@given(st.lists(FRAME, max_size=12))
@settings(max_examples=500)
def test_random_frames_never_raise(frames: list[bytes]) -> None:
    client = fresh_client()
    events = []
    for frame in frames:
        events += client.receive(frame)[1]
    check(events, client)
    ends = [e.stream_id for e in events if not isinstance(e, ConnectionEnded)]
    assert len(ends) == len(set(ends))  # a stream ends once
