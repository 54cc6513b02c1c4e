"""A minimal, fast fake FCM for benchmarks: HTTP/1.1 keep-alive (and HTTP/2 over TLS) on loopback.

Why not :class:`fcmclient.testing.FCMEmulator`: the emulator validates every message and
records it, and tops out near 10,000 requests/s; at 0 ms latency the fastest clients get
close to that, so the server, not the client, would set the pace. This server does only
what a benchmark needs, from one asyncio event loop (uvloop when installed):

* ``POST /token`` answers an access token (the JWT is not checked),
* ``POST /v1/projects/<p>/messages:send`` answers ``{"name": ...}`` for a body that is
  JSON with a ``message``, and 401 without a bearer token,
* ``POST /fcm/send`` answers one legacy result per ``registration_ids`` entry,
* ``POST /v1/projects/<p>/registrations/<token>/topicSubscriptions?topicName=T`` answers
  the subscription (and 401 without a bearer token),

each after an injected latency. It speaks HTTP/1.1 with keep-alive, and HTTP/2 when a TLS
client offers ``h2`` by ALPN (firebase-admin's async client does). Clients that send
requests one at a time per connection are all this needs to serve (no pipelining).

Run as a child process: it prints ``{"port": .., "tls_port": .., "control_port": ..}`` on
one line, then serves until stdin closes. The control port answers ``GET /stats`` (and
resets the counters) and ``GET /latency?s=0.02``; its connections are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import ssl
import sys
from typing import Any

JSON = b"application/json; charset=UTF-8"
_REASONS = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found"}


class Stats:
    """What the server saw since the last ``GET /stats``."""

    def __init__(self) -> None:
        self.latency = 0.0
        self.reset()

    def reset(self) -> None:
        self.connections = 0
        self.requests = 0
        self.open = getattr(self, "open", 0)
        self.peak_open = self.open

    def opened(self) -> None:
        self.connections += 1
        self.open += 1
        self.peak_open = max(self.peak_open, self.open)

    def snapshot(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "requests": self.requests,
            "peak_open": self.peak_open,
            "open": self.open,
        }


STATS = Stats()
_legacy_bodies: dict[int, bytes] = {}
_SUBSCRIBED = b'{"name":"projects/bench/registrations/r/topicSubscriptions/bench","topicName":"bench"}'
_counter = 0


def answer(path: bytes, authorization: bytes | None, body: bytes) -> tuple[int, bytes]:
    """(status, JSON body) for one request."""
    global _counter
    STATS.requests += 1
    if path.endswith(b"/messages:send"):
        if authorization is None or not authorization.startswith(b"Bearer "):
            return 401, b'{"error":{"code":401,"status":"UNAUTHENTICATED","message":"no token"}}'
        try:
            message = json.loads(body)["message"]
        except (ValueError, KeyError, TypeError):
            return 400, b'{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"bad body"}}'
        _counter += 1
        project = path.split(b"/")[3]
        del message
        return 200, b'{"name":"projects/' + project + b"/messages/" + str(_counter).encode() + b'"}'
    if b"/topicSubscriptions" in path:
        if authorization is None or not authorization.startswith(b"Bearer "):
            return 401, b'{"error":{"code":401,"status":"UNAUTHENTICATED","message":"no token"}}'
        return 200, _SUBSCRIBED
    if path == b"/fcm/send":
        try:
            count = len(json.loads(body)["registration_ids"])
        except (ValueError, KeyError, TypeError):
            return 400, b"registration_ids missing"
        cached = _legacy_bodies.get(count)
        if cached is None:
            results = [{"message_id": f"0:{index}"} for index in range(count)]
            document = {"multicast_id": 1, "success": count, "failure": 0, "canonical_ids": 0}
            cached = json.dumps({**document, "results": results}).encode()
            _legacy_bodies[count] = cached
        return 200, cached
    if path == b"/token":
        return 200, b'{"access_token":"bench-access-token","expires_in":3599,"token_type":"Bearer"}'
    return 404, b'{"error":{"code":404,"status":"NOT_FOUND"}}'


def http1_response(status: int, body: bytes) -> bytes:
    return b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s" % (
        status,
        _REASONS.get(status, b"Other"),
        JSON,
        len(body),
        body,
    )


class Http1(asyncio.Protocol):
    """HTTP/1.1 requests with a Content-Length body, answered in order."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        STATS.opened()

    def connection_lost(self, exc: Exception | None) -> None:
        STATS.open -= 1
        self.transport = None

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(buffer[:end]).split(b"\r\n")
            path = lines[0].split(b" ", 2)[1]
            length = 0
            authorization = None
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"authorization":
                    authorization = value.strip()
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
            total = end + 4 + length
            if len(buffer) < total:
                return
            body = bytes(buffer[end + 4 : total])
            del buffer[:total]
            status, content = answer(path, authorization, body)
            self.reply(http1_response(status, content), close)

    def reply(self, data: bytes, close: bool) -> None:
        if STATS.latency > 0:
            asyncio.get_running_loop().call_later(STATS.latency, self.write, data, close)
        else:
            self.write(data, close)

    def write(self, data: bytes, close: bool) -> None:
        if self.transport is not None:
            self.transport.write(data)
            if close:
                self.transport.close()


class Http2(asyncio.Protocol):
    """HTTP/2 (negotiated by ALPN over TLS), with the ``h2`` package."""

    def __init__(self) -> None:
        import h2.config
        import h2.connection

        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        self.streams: dict[int, tuple[dict[bytes, bytes], bytearray]] = {}
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        STATS.opened()
        self.conn.initiate_connection()
        self.conn.update_settings({0x3: 1000})  # SETTINGS_MAX_CONCURRENT_STREAMS, as large servers allow
        transport.write(self.conn.data_to_send())

    def connection_lost(self, exc: Exception | None) -> None:
        STATS.open -= 1
        self.transport = None

    def data_received(self, data: bytes) -> None:
        import h2.events

        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                headers = {bytes(k): bytes(v) for k, v in event.headers}
                self.streams[event.stream_id] = (headers, bytearray())
            elif isinstance(event, h2.events.DataReceived):
                self.streams[event.stream_id][1].extend(event.data)
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                headers, body = self.streams.pop(event.stream_id)
                status, content = answer(
                    headers.get(b":path", b""), headers.get(b"authorization"), bytes(body)
                )
                if STATS.latency > 0:
                    loop = asyncio.get_running_loop()
                    loop.call_later(STATS.latency, self.respond, event.stream_id, status, content)
                else:
                    self.respond(event.stream_id, status, content)
        self.flush()

    def respond(self, stream_id: int, status: int, content: bytes) -> None:
        if self.transport is None:
            return
        headers = [
            (":status", str(status)),
            ("content-type", JSON.decode()),
            ("content-length", str(len(content))),
        ]
        self.conn.send_headers(stream_id, headers)
        self.conn.send_data(stream_id, content, end_stream=True)
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None:
            self.transport.write(data)


def tls_protocol() -> asyncio.Protocol:
    """Pick the protocol after the handshake: asyncio calls this once per accepted socket."""
    return _Negotiated()


class _Negotiated(asyncio.Protocol):
    """Hands the connection to HTTP/1.1 or HTTP/2, by what ALPN selected."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        chosen = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        self.inner: asyncio.Protocol = Http2() if chosen == "h2" else Http1()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)


class Control(asyncio.Protocol):
    """``GET /stats`` and ``GET /latency?s=SECONDS``, one request per connection."""

    def __init__(self) -> None:
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if b"\r\n\r\n" not in self.buffer:
            return
        path = self.buffer.split(b" ", 2)[1].decode()
        if path.startswith("/latency?s="):
            STATS.latency = float(path.split("=", 1)[1])
            body = json.dumps({"latency": STATS.latency}).encode()
        else:
            body = json.dumps(STATS.snapshot()).encode()
            STATS.reset()
        self.transport.write(
            http1_response(200, body).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
        )
        self.transport.close()


async def serve(cert: str | None, key: str | None) -> None:
    loop = asyncio.get_running_loop()
    plain = await loop.create_server(Http1, "127.0.0.1", 0, backlog=4096)
    control = await loop.create_server(Control, "127.0.0.1", 0)
    tls_port = None
    if cert and key:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        context.set_alpn_protocols(["h2", "http/1.1"])
        tls = await loop.create_server(tls_protocol, "127.0.0.1", 0, ssl=context, backlog=4096)
        tls_port = tls.sockets[0].getsockname()[1]
    ports = {
        "port": plain.sockets[0].getsockname()[1],
        "tls_port": tls_port,
        "control_port": control.sockets[0].getsockname()[1],
    }
    print(json.dumps(ports), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", help="PEM certificate chain, to serve TLS too")
    parser.add_argument("--key", help="PEM private key for --cert")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(serve(args.cert, args.key))


if __name__ == "__main__":
    main()
