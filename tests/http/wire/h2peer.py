"""HTTP/2 servers built on the h2 package, to test our client against a real implementation.

:class:`MemoryPeer` exchanges bytes in memory (one test, one thread); :class:`SocketServer`
serves one connection on 127.0.0.1 from a thread, reacting to each h2 event through a
handler, and stops on its own when the test ends.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings

from fcmclient._http.wire import frames as f
from fcmclient._http.wire.h2 import Event, H2Connection
from fcmclient._http.wire.hpack import encode_headers

REQUEST = [(":method", "POST"), (":scheme", "http"), (":path", "/v1/send"), (":authority", "127.0.0.1")]
BLOCK = encode_headers([*REQUEST, ("authorization", "Bearer secret"), ("content-type", "application/json")])

# Called for each h2 event; a true result hangs up once the pending bytes are sent.
Handler = Callable[[h2.connection.H2Connection, Any], object]


def server_connection(max_concurrent_streams: int = 100) -> h2.connection.H2Connection:
    """An h2 server whose first SETTINGS frame allows ``max_concurrent_streams``."""
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    server.local_settings = h2.settings.Settings(
        client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: max_concurrent_streams}
    )
    server.initiate_connection()
    return server


def answer(server: h2.connection.H2Connection, stream_id: int, body: bytes, status: int = 200) -> None:
    """Send a complete response on ``stream_id``."""
    headers = [(":status", str(status)), ("content-type", "application/json"), ("x-served-by", "h2-test")]
    server.send_headers(stream_id, [*headers, ("content-length", str(len(body)))])
    server.send_data(stream_id, body, end_stream=True)


class MemoryPeer:
    """Our client and an h2 server joined in memory: every call moves all pending bytes."""

    def __init__(self, client: H2Connection | None = None, **settings: int) -> None:
        self.client = client or H2Connection()
        self.server = server_connection(**settings)
        self.server_events: list[Any] = []
        self.events: list[Event] = []
        self.to_server(self.client.preface())
        self.pump()

    def to_server(self, data: bytes) -> None:
        for event in self.server.receive_data(data):
            self.server_events.append(event)
            if isinstance(event, h2.events.DataReceived):
                self.server.acknowledge_received_data(event.flow_controlled_length, event.stream_id)

    def send(self, body: bytes = b"{}", block: bytes = BLOCK) -> int:
        stream_id, data = self.client.send_request(block, body)
        self.to_server(data)
        self.pump()
        return stream_id

    def pump(self) -> list[Event]:
        """Move bytes both ways until neither side has anything to say; the new client events."""
        new: list[Event] = []
        while data := self.server.data_to_send():
            back, events = self.client.receive(data)
            new += events
            if back:
                self.to_server(back)
        self.events += new
        return new

    def feed(self, data: bytes) -> tuple[bytes, list[Event]]:
        """Hand-made bytes to the client, as if from the server."""
        back, events = self.client.receive(data)
        self.events += events
        return back, events

    def received(self, kind: type) -> list[Any]:
        return [event for event in self.server_events if isinstance(event, kind)]


class SocketServer:
    """One HTTP/2 connection served by the h2 package on 127.0.0.1, from a thread."""

    def __init__(self, handler: Handler, **settings: int) -> None:
        self.handler = handler
        self.settings = settings
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> SocketServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(10)
        self.listener.close()
        if self.failure is not None:
            raise self.failure

    def _serve(self) -> None:
        try:
            self.listener.settimeout(10)
            sock, _ = self.listener.accept()
            with sock:
                self._loop(sock)
        except BaseException as exc:  # reported by __exit__ in the test's thread
            self.failure = exc

    def _loop(self, sock: socket.socket) -> None:
        server = server_connection(**self.settings)
        sock.sendall(server.data_to_send())
        while not self.stopping.is_set():
            readable, _, _ = select.select([sock], [], [], 0.05)
            if not readable:
                continue
            data = sock.recv(65536)
            if not data:
                return
            stop = False
            for event in server.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    server.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                stop = bool(self.handler(server, event)) or stop
            if out := server.data_to_send():
                sock.sendall(out)
            if stop:  # the handler closed the connection: hang up after the last bytes
                return


@contextlib.contextmanager
def connected(server: SocketServer) -> Iterator[socket.socket]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        yield sock


def exchange(
    sock: socket.socket,
    client: H2Connection,
    requests: list[tuple[bytes, bytes]],
    done: Callable[[list[Event]], bool],
    *,
    raw: bytearray | None = None,
    on_open: Callable[[H2Connection], None] | None = None,
    deadline: float = 20.0,
) -> list[Event]:
    """The test's socket loop: open streams while allowed, feed what arrives, until ``done``."""
    events: list[Event] = []
    queue = list(requests)
    sock.sendall(client.preface())
    end = time.monotonic() + deadline
    sock.settimeout(deadline)
    while f.frame(f.FrameType.SETTINGS, f.ACK, 0) not in (back := client.receive(sock.recv(65536))[0]):
        pass  # the server's SETTINGS (and its limits) come before our first request
    sock.sendall(back)
    while not done(events):
        while queue and client.can_open():
            _, data = client.send_request(*queue.pop(0))
            sock.sendall(data)
            if on_open is not None:
                on_open(client)
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no end after {deadline} s; events so far: {events}")
        readable, _, _ = select.select([sock], [], [], remaining)
        if not readable:
            continue
        data = sock.recv(65536)
        if not data:
            return events + client.eof()
        if raw is not None:
            raw += data
        back, new = client.receive(data)
        events += new
        if back:
            sock.sendall(back)
    return events
