"""Sends through the fan-out engine, end to end: what the review of issue 16 found, each a
regression test, on the emulator or a raw loopback server."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from fcmclient import FCM, FCMAuthenticationError, JSONMessage
from fcmclient.outcomes import NOT_SENT, TRANSPORT_ERROR
from fcmclient.testing import FCMEmulator
from tests.loopback import RawServer, http_answer
from tests.timing import SLACK

WAIT = 10.0


def test_regression_a_token_stale_as_soon_as_fetched_was_fetched_for_ever() -> None:
    """The engine asked again whether a token it had just fetched was fresh; one that lives
    less than the refresh margin never was, so it fetched until the send gave up, sending
    nothing. It now sends with the token it fetched (requests' path always did)."""
    with FCMEmulator(token_lifetime=0.001) as emu:
        client = FCM.from_service_account(
            emu.service_account_info("demo"), url=emu.v1_url("demo"), send_timeout=5.0
        )
        started = time.monotonic()
        try:
            with pytest.raises(FCMAuthenticationError, match="clock"):
                client.send(JSONMessage([f"t{i}" for i in range(20)]))
        finally:
            client.close()
        elapsed = time.monotonic() - started
        token_requests = emu.token_requests
    assert elapsed < 1.0 + SLACK  # not the send's bound: it stops at FCM's first refusal
    assert token_requests <= 3


def test_regression_targets_reported_not_sent_were_sent_after_a_close(fcm_emulator: FCMEmulator) -> None:
    """FCM.close() from another thread woke the send at once, which reported the targets
    not yet started as NOT_SENT, while the engine's loop went on starting requests until the
    cancellation reached it: a retry() then sent those twice (review of issue 16)."""
    emu = fcm_emulator
    emu.latency = 0.005
    tokens = [f"close-{i:04d}" for i in range(2000)]
    client = FCM.from_service_account(
        emu.service_account_info("demo"), url=emu.v1_url("demo"), max_workers=16
    )
    client.send(JSONMessage(["warm"]))

    def close_when_under_way() -> None:
        deadline = time.monotonic() + WAIT
        while emu.stats.v1_requests < 200 and time.monotonic() < deadline:  # polling, bounded
            time.sleep(0.001)
        client.close()

    closer = threading.Thread(target=close_when_under_way)
    closer.start()
    result = client.send(JSONMessage(tokens))
    closer.join(WAIT)
    received = {request.targets[0] for request in emu.requests if request.protocol == "v1"}
    not_sent = [token for token, outcome in result.outcomes.items() if outcome.error == NOT_SENT]
    assert not_sent, "the close came after the send: nothing to check"
    assert received.isdisjoint(not_sent)
    assert len(result.outcomes) == 2000


def test_a_server_that_closes_after_each_answer_costs_few_targets(fcm_emulator: FCMEmulator) -> None:
    """A kept connection the server has already closed is noticed before it is reused (one
    turn of the loop, as urllib3 polls a pooled connection), so a server that closes every
    connection after one keep-alive answer costs only the targets that raced its close."""
    answer = http_answer(200, b'{"name": "projects/p/messages/1"}', {"Connection": "keep-alive"})

    def answer_then_close(sock: socket.socket, server: RawServer) -> None:
        sock.sendall(answer)

    with RawServer(answer_then_close) as server:
        account = fcm_emulator.service_account_info("p")  # its token endpoint: the emulator's
        client = FCM.from_service_account(account, url=server.url("/v1/projects/p/messages:send"))
        try:
            result = client.send(JSONMessage([f"t{i}" for i in range(200)]))
        finally:
            client.close()
    transport_errors = [
        token for token, outcome in result.outcomes.items() if outcome.error == TRANSPORT_ERROR
    ]
    assert len(result.success) + len(transport_errors) == 200
    assert len(transport_errors) <= 20
