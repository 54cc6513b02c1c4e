"""HTTP/2 over TLS on 127.0.0.1 for the engine's tests: the h2 package serves each connection
from its own thread, as a server offering "h2" by ALPN does (Google's does).

Each complete request goes to the server's ``policy``, which answers it (:meth:`Served.answer`),
holds it for later, resets it or ends the connection. The server records every request, the
connections it accepted and the most streams open at once on one connection.
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings


class Served:
    """One connection being served: its h2 state and the requests it holds unanswered."""

    def __init__(self, server: H2Server, index: int, conn: h2.connection.H2Connection) -> None:
        self.server, self.index, self.h2 = server, index, conn
        self.open: dict[int, tuple[dict[str, str], bytearray]] = {}  # streams not yet answered
        self.held: list[int] = []
        self.hang_up = False

    def answer(self, stream_id: int, status: int = 200, body: bytes | None = None) -> None:
        """Answer ``stream_id`` with ``body`` (default: the v1 answer naming its request's mark)."""
        _, request = self.open.pop(stream_id)
        if body is None:
            body = json.dumps({"name": f"projects/p/messages/{mark(bytes(request))}"}).encode()
        fields = [
            (":status", str(status)),
            ("content-type", "application/json"),
            ("content-length", str(len(body))),
        ]
        self.h2.send_headers(stream_id, fields)
        self.h2.send_data(stream_id, body, end_stream=True)

    def reset(self, stream_id: int, code: int = h2.errors.ErrorCodes.REFUSED_STREAM) -> None:
        self.open.pop(stream_id)
        self.h2.reset_stream(stream_id, code)


#: Called with each complete request: the connection, its stream id, headers and body.
Policy = Callable[[Served, int, dict[str, str], bytes], None]
#: Called on each turn of a connection's loop (at least every 50 ms), on its thread.
Tick = Callable[[Served], None]


def mark(body: bytes) -> str:
    """What a test's request says about itself: its ``mark`` (or FCM message's token)."""
    try:
        data = json.loads(body)
    except ValueError:
        return "?"
    if "mark" in data:
        return str(data["mark"])
    return str(data.get("message", {}).get("token", "?"))


def answer_at_once(served: Served, stream_id: int, headers: dict[str, str], body: bytes) -> None:
    served.answer(stream_id)


class H2Server:
    """TLS on 127.0.0.1 offering ``alpn`` (HTTP/2 served; a connection that chose HTTP/1.1
    gets one v1 answer and is closed); ``max_concurrent_streams`` is sent in its SETTINGS."""

    def __init__(
        self,
        certificate: tuple[Path, Path],
        policy: Policy = answer_at_once,
        *,
        max_concurrent_streams: int = 100,
        alpn: tuple[str, ...] = ("h2", "http/1.1"),
        tick: Tick | None = None,
        goaway_at_once: bool = False,
    ) -> None:
        self.goaway_at_once = goaway_at_once
        self.policy, self.tick = policy, tick
        self.max_concurrent_streams = max_concurrent_streams
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(*certificate)
        self.context.set_alpn_protocols(list(alpn))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.connections = 0
        self.protocols: list[str | None] = []
        self.peak_streams = 0
        self.requests: list[tuple[int, dict[str, str], bytes]] = []  # (connection, headers, body)
        self.resets: list[tuple[int, int]] = []  # (stream id, error code) the client reset
        self.failures: list[BaseException] = []
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def url(self, path: str = "/v1/projects/p/messages:send") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> H2Server:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        for thread in list(self._threads):
            thread.join(10)
        self.listener.close()
        if self.failures:
            raise self.failures[0]

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            if not select.select([self.listener], [], [], 0.05)[0]:
                continue
            sock, _ = self.listener.accept()
            with self.lock:
                self.connections += 1
                index = self.connections
            self._spawn(self._serve, sock, index)

    def _serve(self, raw: socket.socket, index: int) -> None:
        try:
            raw.settimeout(10)
            with raw, self.context.wrap_socket(raw, server_side=True) as sock:
                protocol = sock.selected_alpn_protocol()
                with self.lock:
                    self.protocols.append(protocol)
                if protocol == "h2":
                    self._h2(sock, index)
                else:
                    self._h1(sock)
        except (ssl.SSLError, ConnectionError, TimeoutError):
            pass  # the client went away or refused the certificate: its test says what it expects
        except BaseException as exc:  # reported by __exit__ in the test's thread
            self.failures.append(exc)

    def _h1(self, sock: ssl.SSLSocket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += sock.recv(65536)
        with self.lock:
            self.requests.append((0, {}, body))
        answer = json.dumps({"name": f"projects/p/messages/{mark(body)}"}).encode()
        sock.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(answer), answer)
        )

    def _h2(self, sock: ssl.SSLSocket, index: int) -> None:
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.max_concurrent_streams},
        )
        conn.initiate_connection()
        if self.goaway_at_once:  # draining: SETTINGS and GOAWAY in the first flight, then no more
            conn.close_connection()
            sock.sendall(conn.data_to_send())
            while sock.recv(65536):
                pass
            return
        sock.sendall(conn.data_to_send())
        served = Served(self, index, conn)
        while not self._stopping.is_set() and not served.hang_up:
            if sock.pending() or select.select([sock], [], [], 0.05)[0]:
                data = sock.recv(65536)
                if not data:
                    return
                for event in conn.receive_data(data):
                    self._on(served, event)
            if self.tick is not None:
                self.tick(served)
            if out := conn.data_to_send():
                sock.sendall(out)

    def _on(self, served: Served, event: Any) -> None:
        if isinstance(event, h2.events.RequestReceived):
            served.open[event.stream_id] = (dict(event.headers), bytearray())
            with self.lock:
                self.peak_streams = max(self.peak_streams, len(served.open))
        elif isinstance(event, h2.events.DataReceived):
            served.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            served.open[event.stream_id][1].extend(event.data)
        elif isinstance(event, h2.events.StreamEnded):
            headers, body = served.open[event.stream_id]
            with self.lock:
                self.requests.append((served.index, headers, bytes(body)))
            self.policy(served, event.stream_id, headers, bytes(body))
        elif isinstance(event, h2.events.StreamReset):
            served.open.pop(event.stream_id, None)
            with self.lock:
                self.resets.append((event.stream_id, event.error_code))
