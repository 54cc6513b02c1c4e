"""Connections on a real loopback server: one pooled keep-alive connection per FCM, real timeouts.

fcm-client 0.2 called the module-level ``requests.post`` for every send: a new TCP (and TLS)
connection each time. The server below counts accepted connections; the emulator counts
those of the v1 fan-out, which keeps at most ``max_workers`` of them.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fcmclient import FCM, JSONMessage, PlainTextMessage, TopicMessage
from fcmclient.testing import FCMEmulator
from tests.http.servers import LoopbackServer, QuietHandler, serving

API_KEY = "AAAA-loopback-key-51d2"
WAIT = 5.0  # upper bound for waiting on the server's events; tests never sleep


class Handler(QuietHandler):
    server: CountingServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.record(self.headers, body)
        script = self.server.next_answer()
        if script == "hang":
            self.server.release.wait(WAIT)
            self.close_connection = True
            return
        if script == "503":
            self.answer(503, b"<html>busy</html>", "text/html", {"Retry-After": "7"})
        elif self.headers["Content-Type"].startswith("application/x-www-form-urlencoded"):
            self.answer(200, b"id=0:plain\n", "text/plain")
        else:
            document = json.loads(body)
            if "registration_ids" in document:
                results = [{"message_id": f"0:{i}"} for i, _ in enumerate(document["registration_ids"])]
                answer: dict[str, Any] = {"multicast_id": 1, "success": len(results), "results": results}
            else:
                answer = {"message_id": 99}
            self.answer(200, json.dumps(answer).encode(), "application/json")

    def answer(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def finish(self) -> None:
        super().finish()
        self.server.closed.release()


class CountingServer(LoopbackServer):
    """A loopback HTTP/1.1 server that counts the TCP connections it accepts."""

    def __init__(self) -> None:
        super().__init__(Handler)
        self.lock = threading.Lock()
        self.accepted = 0
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.script: list[str] = []
        self.errors: list[BaseException] = []
        self.closed = threading.Semaphore(0)
        self.release = threading.Event()

    def get_request(self) -> Any:
        connection = super().get_request()
        with self.lock:
            self.accepted += 1
        return connection

    def record(self, headers: Any, body: bytes) -> None:
        with self.lock:
            self.requests.append((dict(headers), body))

    def next_answer(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else "ok"

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None:
            self.errors.append(error)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/fcm/send"


@pytest.fixture
def server() -> Iterator[CountingServer]:
    with serving(CountingServer()) as srv:
        try:
            yield srv
        finally:
            srv.release.set()  # a handler told to hang stops waiting
    assert srv.errors == [], "the loopback server failed while answering"


def test_two_sends_use_one_connection(server: CountingServer) -> None:
    with FCM(API_KEY, url=server.url) as fcm:
        first = fcm.send(JSONMessage(["a", "b"], {"k": "v"}))
        second = fcm.send(JSONMessage(["c"], message_title="T"))
    assert first.success == {"a": "0:0", "b": "0:1"}
    assert second.success == {"c": "0:0"}
    assert len(server.requests) == 2
    assert server.accepted == 1


def test_every_message_kind_shares_the_connection(server: CountingServer) -> None:
    with FCM(API_KEY, url=server.url) as fcm:
        assert fcm.send(JSONMessage(["a"])).success == {"a": "0:0"}
        assert fcm.send(PlainTextMessage("p", {"k": "v"})).success == {"p": "0:plain"}
        assert fcm.send(TopicMessage(topic="news")).success == {"news": "99"}
        assert fcm.send(JSONMessage(["b"])).success == {"b": "0:0"}
    assert server.accepted == 1
    headers, body = server.requests[1]
    assert headers["Content-Type"] == "application/x-www-form-urlencoded;charset=UTF-8"
    assert urllib.parse.parse_qsl(body.decode()) == [("registration_id", "p"), ("data.k", "v")]
    assert all(h["Authorization"] == f"key={API_KEY}" for h, _ in server.requests)


def test_an_error_answer_does_not_cost_the_connection(server: CountingServer) -> None:
    server.script = ["503", "ok"]
    with FCM(API_KEY, url=server.url) as fcm:
        busy = fcm.send(JSONMessage(["a"]))
        assert busy.needs_retry()
        assert busy.delay() == 7.0
        retry = busy.retry()
        assert retry is not None
        assert fcm.send(retry).success == {"a": "0:0"}
    assert server.accepted == 1


def test_each_fcm_has_its_own_pool(server: CountingServer) -> None:
    with FCM(API_KEY, url=server.url) as one, FCM(API_KEY, url=server.url) as two:
        for _ in range(3):
            one.send(JSONMessage(["a"]))
            two.send(JSONMessage(["b"]))
    assert len(server.requests) == 6
    assert server.accepted == 2


def test_close_releases_the_pooled_connection(server: CountingServer) -> None:
    fcm = FCM(API_KEY, url=server.url)
    fcm.send(JSONMessage(["a"]))
    assert not server.closed.acquire(timeout=0.2)  # kept alive while the FCM is open
    fcm.close()
    assert server.closed.acquire(timeout=WAIT)
    fcm.close()  # idempotent


def test_a_closed_fcm_sends_again_on_a_new_connection_and_closes_it_again(server: CountingServer) -> None:
    fcm = FCM(API_KEY, url=server.url)
    fcm.send(JSONMessage(["a"]))
    fcm.close()
    assert server.closed.acquire(timeout=WAIT)
    assert fcm.send(JSONMessage(["b"])).success == {"b": "0:0"}  # as a closed requests.Session
    assert server.accepted == 2
    fcm.close()
    assert server.closed.acquire(timeout=WAIT)


def test_context_manager_closes(server: CountingServer) -> None:
    with FCM(API_KEY, url=server.url) as fcm:
        fcm.send(JSONMessage(["a"]))
    assert server.closed.acquire(timeout=WAIT)


def test_a_silent_server_times_out(server: CountingServer) -> None:
    server.script = ["hang"]
    with FCM(API_KEY, url=server.url, timeout=0.3) as fcm, pytest.raises(requests.Timeout) as info:
        fcm.send(JSONMessage(["a"]))
    assert API_KEY not in repr(info.value)
    assert len(server.requests) == 1


def test_v1_fan_out_uses_at_most_max_workers_connections_and_keeps_them(
    fcm_emulator: FCMEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    fcm_emulator.latency = 0.02  # requests overlap, so the fan-out has to run them side by side
    info = fcm_emulator.service_account_info("demo")
    tokens = [f"t{n}" for n in range(40)]
    with (
        caplog.at_level(logging.WARNING, logger="urllib3"),
        FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), max_workers=4) as client,
    ):
        first = client.send(JSONMessage(tokens))
        opened = fcm_emulator.stats.connections_opened
        second = client.send(JSONMessage(tokens))
    assert set(first.success) == set(second.success) == set(tokens)
    assert 2 <= opened <= 4 + 1  # never more in flight than max_workers; and the token fetch
    assert fcm_emulator.stats.connections_opened == opened  # the pool, sized to match, kept them
    assert [record.getMessage() for record in caplog.records] == []  # no "Connection pool is full"


def test_regression_concurrent_sends_logged_connection_pool_is_full(
    fcm_emulator: FCMEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Sends running side by side on one FCM (a threaded web app or Celery worker) each add
    their calling thread to the shared helpers, so more connections are in use than the
    pool keeps; giving the extra ones back logged urllib3's "Connection pool is full"
    warning (firebase-admin-python#712) at the end of every send."""
    fcm_emulator.latency = 0.02
    info = fcm_emulator.service_account_info("demo")
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def send(client: FCM, number: int) -> None:
        barrier.wait(5)
        results.append(client.send(JSONMessage([f"s{number}-t{k}" for k in range(6)])))

    with (
        caplog.at_level(logging.WARNING, logger="urllib3"),
        FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), max_workers=2) as client,
    ):
        client.send(JSONMessage(["warm-up"]))
        threads = [threading.Thread(target=send, args=(client, n)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert sorted(len(result.success) for result in results) == [6] * 4
    assert [record.getMessage() for record in caplog.records] == []
