"""Lifecycle and the HTTP/1.1 layer: keep-alive, framing, limits and routing."""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
from http.client import HTTPConnection

import pytest
import requests

from fcmclient.testing import FCMEmulator
from tests.emulator.emu_support import TIMEOUT, post_legacy


def _connect(emu: FCMEmulator) -> HTTPConnection:
    return HTTPConnection(emu.host, emu.port, timeout=TIMEOUT)


def _raw_exchange(emu: FCMEmulator, data: bytes) -> bytes:
    """Send raw bytes, return everything the server answers until it closes."""
    with socket.create_connection((emu.host, emu.port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _legacy_body(to: str = "t") -> bytes:
    return json.dumps({"to": to}).encode()


def _auth(emu: FCMEmulator) -> dict[str, str]:
    return {"Authorization": f"key={emu.api_key}", "Content-Type": "application/json"}


def test_context_manager_serves_and_stops() -> None:
    with FCMEmulator() as emu:
        assert emu.running
        assert emu.url == f"http://127.0.0.1:{emu.port}"
        assert emu.legacy_url == f"{emu.url}/fcm/send"
        assert emu.v1_url() == f"{emu.url}/v1/projects/demo/messages:send"
        assert emu.v1_url("p-1") == f"{emu.url}/v1/projects/p-1/messages:send"
        assert emu.token_uri == f"{emu.url}/token"
        with requests.Session() as session:
            assert post_legacy(session, emu, {"to": "t"}).status_code == 200
    assert not emu.running


def test_stop_is_idempotent_and_frees_the_port() -> None:
    emu = FCMEmulator()
    emu.stop()  # never started: nothing to do
    emu.start()
    port = emu.port
    with requests.Session() as session:
        assert post_legacy(session, emu, {"to": "t"}).status_code == 200
    emu.stop()
    emu.stop()
    assert emu.port == port  # still readable after stop
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_stop_closes_open_keep_alive_connections() -> None:
    emu = FCMEmulator().start()
    conn = _connect(emu)
    try:
        conn.request("POST", "/fcm/send", _legacy_body(), _auth(emu))
        assert conn.getresponse().read()
        assert emu.stats.connections_active == 1
        emu.stop()
        assert conn.sock is not None
        assert conn.sock.recv(1) == b""  # the server closed its end
    finally:
        conn.close()


def test_port_before_start_is_an_error_and_restart_works() -> None:
    emu = FCMEmulator()
    with pytest.raises(RuntimeError, match="start"):
        _ = emu.port
    assert "unbound" in repr(emu)
    with emu:
        first = emu.port
    with emu:
        assert emu.running
        assert emu.port > 0
    assert first > 0


def test_busy_port_fails_to_start(emu: FCMEmulator) -> None:
    other = FCMEmulator(port=emu.port)
    with pytest.raises(OSError, match="in use"):
        other.start()
    assert not other.running
    other.stop()


def test_service_account_needs_a_started_emulator() -> None:
    with pytest.raises(RuntimeError, match="start"):
        FCMEmulator().service_account_info()


def test_public_names_are_pinned() -> None:
    import fcmclient.testing

    assert fcmclient.testing.__all__ == ["FCMEmulator", "Answer", "RecordedRequest", "EmulatorStats"]


def test_repr_and_api_key_do_not_leak(emu: FCMEmulator) -> None:
    assert emu.api_key not in repr(emu)
    assert repr(emu) == f"<FCMEmulator {emu.url} running>"
    given = FCMEmulator(api_key="my-server-key")
    assert given.api_key == "my-server-key"
    assert "my-server-key" not in repr(given)


def test_keep_alive_reuses_one_connection(emu: FCMEmulator) -> None:
    conn = _connect(emu)
    try:
        for token in ("a", "b", "c"):
            conn.request("POST", "/fcm/send", _legacy_body(token), _auth(emu))
            response = conn.getresponse()
            assert response.status == 200
            assert response.getheader("Content-Length") == str(len(response.read()))
    finally:
        conn.close()
    stats = emu.stats
    assert stats.connections_opened == 1
    assert stats.requests_total == 3
    assert stats.legacy_requests == 3


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [(None, False), ("identity", False), ("gzip, deflate", True), ("gzip;q=0, identity", False), ("*", True)],
)
def test_answers_are_gzipped_when_the_request_accepts_it(
    emu: FCMEmulator, accept: str | None, gzipped: bool
) -> None:
    """As Google's front ends do: a client that asks for gzip must be able to read it."""
    conn = _connect(emu)
    try:
        headers = {**_auth(emu), **({"Accept-Encoding": accept} if accept is not None else {})}
        conn.request("POST", "/fcm/send", _legacy_body("a"), headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    assert response.status == 200
    assert response.getheader("Content-Length") == str(len(raw))
    assert (response.getheader("Content-Encoding") == "gzip") is gzipped
    document = json.loads(gzip.decompress(raw) if gzipped else raw)
    assert document["results"][0]["message_id"]


def test_connection_close_is_honoured(emu: FCMEmulator) -> None:
    request = (
        f"POST /fcm/send HTTP/1.1\r\nHost: x\r\nAuthorization: key={emu.api_key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"
        '{"to":"t"}'
    ).encode()
    answer = _raw_exchange(emu, request)  # returns only because the server closed
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in answer


def test_http10_closes_by_default(emu: FCMEmulator) -> None:
    answer = _raw_exchange(emu, b"GET /nothing HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404 ")


def test_chunked_body_is_read(emu: FCMEmulator) -> None:
    body = b'{"to": "chunky"}'
    request = (
        f"POST /fcm/send HTTP/1.1\r\nHost: x\r\nAuthorization: key={emu.api_key}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    request += b"5\r\n" + body[:5] + b"\r\n" + f"{len(body) - 5:x}\r\n".encode()
    request += body[5:] + b"\r\n0\r\n\r\n"
    assert _raw_exchange(emu, request).startswith(b"HTTP/1.1 200 ")
    assert len(emu.inbox("chunky")) == 1


def test_expect_100_continue(emu: FCMEmulator) -> None:
    head = (
        f"POST /fcm/send HTTP/1.1\r\nHost: x\r\nAuthorization: key={emu.api_key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 10\r\nExpect: 100-continue\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((emu.host, emu.port), timeout=TIMEOUT) as sock:
        sock.sendall(head)
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b'{"to":"t"}')
        assert sock.recv(100).startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        pytest.param(b"POST /fcm/send HTTP/1.1\r\nHost: x\r\n\r\n", 411, id="no-length"),
        pytest.param(b"POST /fcm/send HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 413, id="too-big"),
        pytest.param(b"POST /fcm/send HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, id="bad-length"),
        pytest.param(b"NONSENSE\r\n\r\n", 400, id="bad-request-line"),
        pytest.param(b"GET / HTTP/2.0\r\n\r\n", 505, id="bad-version"),
        pytest.param(b"GET / HTTP/1.1\r\nBroken header\r\n\r\n", 400, id="bad-header"),
        pytest.param(b"POST /token HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, id="gzip-te"),
        pytest.param(b"POST /token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, id="chunk"),
    ],
)
def test_unreadable_requests_get_an_error_and_close(
    emu: FCMEmulator, request_bytes: bytes, status: int
) -> None:
    answer = _raw_exchange(emu, request_bytes)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"\r\nContent-Length: " in answer
    assert b"\r\nConnection: close\r\n" in answer


def test_huge_header_block_gets_431(emu: FCMEmulator) -> None:
    answer = _raw_exchange(emu, b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_chunked_body_over_the_limit_gets_413(emu: FCMEmulator) -> None:
    request = b"POST /token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    request += b"100001\r\n" + b"a" * 0x100001 + b"\r\n0\r\n\r\n"
    with socket.create_connection((emu.host, emu.port), timeout=TIMEOUT) as sock:
        with contextlib.suppress(OSError):  # the server may close before reading it all
            sock.sendall(request)
        assert sock.recv(100).startswith(b"HTTP/1.1 413 ")


@pytest.mark.parametrize("path", ["/", "/fcm/sendx", "/v1/projects/demo/messages:list"])
def test_unknown_paths_are_404(emu: FCMEmulator, http: requests.Session, path: str) -> None:
    response = http.post(emu.url + path, data=b"{}", timeout=TIMEOUT)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/fcm/send", "/token", "/v1/projects/demo/messages:send"])
def test_wrong_methods_are_405(emu: FCMEmulator, http: requests.Session, path: str) -> None:
    response = http.get(emu.url + path, timeout=TIMEOUT)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_head_gets_headers_without_body(emu: FCMEmulator) -> None:
    conn = _connect(emu)
    try:
        conn.request("HEAD", "/fcm/send")
        response = conn.getresponse()
        assert response.status == 405
        assert int(response.getheader("Content-Length", "0")) > 0
        assert response.read() == b""
        conn.request("POST", "/fcm/send", _legacy_body(), _auth(emu))
        assert conn.getresponse().status == 200  # the connection is still in sync
    finally:
        conn.close()


def test_many_concurrent_connections(emu: FCMEmulator) -> None:
    conns = [_connect(emu) for _ in range(64)]
    try:
        for conn in conns:
            conn.request("POST", "/fcm/send", _legacy_body(), _auth(emu))
        for conn in conns:
            response = conn.getresponse()
            assert response.status == 200
            response.read()
        assert emu.stats.connections_active >= 64  # earlier tests may still be closing
    finally:
        for conn in conns:
            conn.close()
    assert emu.stats.connections_opened == 64
