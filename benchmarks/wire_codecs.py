"""Micro-benchmark of the wire codecs: microseconds of protocol work per request/response.

No socket: each exchange encodes one FCM-sized request (~290-octet body, a bearer token) and
parses one typical FCM answer, on one keep-alive connection. Ours (fcmclient._http.wire)
against h11 (HTTP/1.1) and h2 (HTTP/2), the python-hyper packages the test extra installs::

    .venv/bin/python benchmarks/wire_codecs.py            # 20 000 exchanges, best of 5
    .venv/bin/python benchmarks/wire_codecs.py --quick    # a smoke run

Prints one line per codec; compare the ratios of one run (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import h2.config
import h2.connection
import h2.events
import h11

from fcmclient._http.wire import frames
from fcmclient._http.wire.h1 import ResponseParser, request, request_head
from fcmclient._http.wire.h2 import H2Connection, ResponseReceived
from fcmclient._http.wire.hpack import encode_headers

TOKEN = "ya29." + "x" * 150
BODY = (
    b'{"message": {"token": "'
    + b"t" * 152
    + b'", "notification": {"title": "Hi", "body": "'
    + b"b" * 60
    + b'"}}}'
)
ANSWER = b'{"name": "projects/demo/messages/0:1500415314455276%31bd1c9631bd1c96"}'
FIELDS = [("content-type", "application/json; charset=UTF-8"), ("vary", "Origin"), ("vary", "X-Origin")]
FIELDS += [("vary", "Referer"), ("date", "Wed, 02 Dec 2026 12:00:00 GMT"), ("server", "ESF")]
H1_ANSWER = (
    b"HTTP/1.1 200 OK\r\n"
    + b"".join(f"{n}: {v}\r\n".encode() for n, v in FIELDS)
    + b"Content-Length: %d\r\n\r\n" % len(ANSWER)
    + ANSWER
)
PATH = "/v1/projects/demo/messages:send"
HOST = "fcm.googleapis.com"
REQUEST_FIELDS = [("authorization", f"Bearer {TOKEN}"), ("content-type", "application/json")]
H2_REQUEST = [
    (":method", "POST"),
    (":scheme", "https"),
    (":path", PATH),
    (":authority", HOST),
    *REQUEST_FIELDS,
]


def ours_h1(count: int) -> Callable[[], None]:
    head = request_head("POST", PATH, HOST, REQUEST_FIELDS)
    parser = ResponseParser()

    def run() -> None:
        for _ in range(count):
            request(head, BODY)
            (response,) = parser.feed(H1_ANSWER)
            assert response.status == 200

    return run


def h11_h1(count: int) -> Callable[[], None]:
    conn = h11.Connection(h11.CLIENT)
    headers = [("Host", HOST), *REQUEST_FIELDS, ("Content-Length", str(len(BODY)))]

    def run() -> None:
        for _ in range(count):
            conn.send(h11.Request(method="POST", target=PATH, headers=headers))
            conn.send(h11.Data(data=BODY))
            conn.send(h11.EndOfMessage())
            conn.receive_data(H1_ANSWER)
            while not isinstance(conn.next_event(), h11.EndOfMessage):
                pass
            conn.start_next_cycle()

    return run


def h2_answers(count: int) -> list[bytes]:
    """The server's bytes answering streams 1, 3, 5...: a WINDOW_UPDATE giving back the request
    body's share of the connection window, HEADERS (a stateless HPACK block) and DATA."""
    block = encode_headers([(":status", "200"), *FIELDS])
    return [
        frames.window_update(0, len(BODY))
        + frames.frame(frames.FrameType.HEADERS, frames.END_HEADERS, 2 * i + 1, block)
        + frames.frame(frames.FrameType.DATA, frames.END_STREAM, 2 * i + 1, ANSWER)
        for i in range(count)
    ]


def ours_h2(count: int) -> Callable[[], None]:
    answers = h2_answers(count)
    block = encode_headers(H2_REQUEST)
    conn = H2Connection()
    conn.preface()
    conn.receive(frames.settings({}))

    def run() -> None:
        for answer in answers:
            _, data = conn.send_request(block, BODY)
            _, events = conn.receive(answer)
            assert isinstance(events[0], ResponseReceived)
            assert data.endswith(BODY)

    return run


def hyper_h2(count: int) -> Callable[[], None]:
    answers = h2_answers(count)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.initiate_connection()
    conn.receive_data(frames.settings({}))
    conn.data_to_send()

    def run() -> None:
        for answer in answers:
            stream_id = conn.get_next_available_stream_id()
            conn.send_headers(stream_id, H2_REQUEST)
            conn.send_data(stream_id, BODY, end_stream=True)
            conn.data_to_send()
            for event in conn.receive_data(answer):
                if isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
            conn.data_to_send()

    return run


def best(make: Callable[[int], Callable[[], None]], count: int, repeat: int) -> float:
    """Microseconds per exchange: the best of ``repeat`` runs, each on a fresh connection."""
    times = []
    for _ in range(repeat):
        run = make(count)
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20_000, help="exchanges per run (default 20000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per codec; the best counts (default 5)")
    parser.add_argument("--quick", action="store_true", help="200 exchanges, 1 run: a smoke test")
    args = parser.parse_args()
    count, repeat = (200, 1) if args.quick else (args.count, args.repeat)
    results = {}
    for name, make in [("h1 ours", ours_h1), ("h1 h11", h11_h1), ("h2 ours", ours_h2), ("h2 h2", hyper_h2)]:
        results[name] = best(make, count, repeat)
    print(f"{count} exchanges, best of {repeat}: microseconds per request + response")
    for name, micros in results.items():
        protocol = name.split()[0]
        ratio = micros / results[f"{protocol} ours"]
        print(f"{name:8} {micros:8.1f} us  ({ratio:.1f}x ours)")


if __name__ == "__main__":
    main()
