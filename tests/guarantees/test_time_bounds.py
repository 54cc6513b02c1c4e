"""Nothing hangs: servers that never answer or trickle bytes cannot hold send() past its bounds.

The rule (``FCM`` docstring, docs/guarantees.rst): one request takes at most the connect
timeout plus the read timeout in all (``transport.total_seconds``), whatever the server
does; a legacy send is one request; an HTTP v1 send is the token fetch plus a fan-out that
starts nothing after ``send_timeout``, so it ends within ``send_timeout + 2 * total``.

Each bound asserted is the one promised plus ``tests.timing.SLACK`` (closing the connection
and reporting), no more; the measured figures are printed in pytest's summary (``figure``
fixture).
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from fcmclient import FCM, FCMResponseError, JSONMessage
from fcmclient._http.session import make_session, post, total_seconds
from fcmclient.outcomes import TRANSPORT_ERROR, Bucket
from fcmclient.testing import Answer, FCMEmulator
from tests.loopback import RawServer, answer, hang, http_answer, trickle
from tests.timing import SLACK

TIMEOUT = 0.25  # connect and read: a request may take 0.5 s in all
TOTAL = total_seconds(TIMEOUT)
INTERVAL = 0.1  # one byte every 0.1 s: each read succeeds well within the read timeout

LEGACY_BODY = json.dumps({"multicast_id": 1, "results": [{"message_id": "0:1"}]}).encode()
V1_BODY = b'{"name": "projects/demo/messages/1"}'


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    try:
        outcome = action()
    except Exception as exc:
        outcome = exc
    return outcome, time.monotonic() - started


def test_total_is_connect_plus_read() -> None:
    assert total_seconds(10.0) == 20.0
    assert total_seconds((3.0, 27.0)) == 30.0


@pytest.mark.parametrize(
    ("case", "script", "expected"),
    [
        ("never answers", hang(), requests.Timeout),
        ("trickles the headers", trickle(http_answer(200, LEGACY_BODY), INTERVAL), requests.Timeout),
        ("trickles the body", trickle(http_answer(200, LEGACY_BODY), INTERVAL, after=120), FCMResponseError),
    ],
)
def test_legacy_send_is_bounded_by_connect_plus_read(
    figure: Callable[[str], None], case: str, script: Any, expected: type[Exception]
) -> None:
    with RawServer(script) as server, FCM("key", url=server.url(), timeout=TIMEOUT) as client:
        outcome, elapsed = timed(lambda: client.send(JSONMessage(["a"])))
    figure(f"legacy send, server {case}: {elapsed:.2f} s (bound {TOTAL:g} s = connect + read timeout)")
    assert isinstance(outcome, expected), outcome
    assert elapsed < TOTAL + SLACK


@pytest.mark.parametrize(
    ("case", "script", "bucket"),
    [
        ("never answers", hang(), Bucket.RETRY),
        ("trickles the headers", trickle(http_answer(200, V1_BODY), INTERVAL), Bucket.RETRY),
        ("trickles the body", trickle(http_answer(200, V1_BODY), INTERVAL, after=110), Bucket.FAILED),
    ],
)
def test_v1_fan_out_of_500_tokens_is_bounded(
    fcm_service_account: dict[str, str], figure: Callable[[str], None], case: str, script: Any, bucket: Bucket
) -> None:
    send_timeout = 0.5
    bound = send_timeout + 2 * TOTAL
    info = fcm_service_account
    tokens = [f"tok-{i:03d}" for i in range(500)]
    with (
        RawServer(script) as server,
        FCM.from_service_account(
            info, url=server.url("/v1/send"), timeout=TIMEOUT, send_timeout=send_timeout, max_workers=64
        ) as client,
    ):
        result, elapsed = timed(lambda: client.send(JSONMessage(tokens)))
        arrived = len(server.requests)
    sent = {t: o for t, o in result.outcomes.items() if o.error != "NOT_SENT"}
    figure(
        f"v1 fan-out of 500 tokens, server {case}: {elapsed:.2f} s (bound {bound:g} s = send_timeout "
        f"{send_timeout:g} + 2 x {TOTAL:g}); {len(sent)} sent, {500 - len(sent)} not sent"
    )
    assert elapsed < bound + SLACK
    assert 0 < len(sent) < 500
    assert arrived <= len(sent)
    if bucket is Bucket.FAILED:
        # The status decides: a 200 whose body cannot be read in time is failed. On a loaded
        # machine a request can also run out of time before its status line arrives (the
        # server's thread had not written it yet): that one is a transport error to retry.
        late = [o for o in sent.values() if o.bucket is not Bucket.FAILED]
        assert all(o.bucket is Bucket.RETRY and o.error == TRANSPORT_ERROR for o in late), late[:3]
        assert len(late) < len(sent)
    else:
        assert {o.bucket for o in sent.values()} == {bucket}
    assert result.retry() is not None
    assert set(result.retry().targets) >= set(tokens) - set(sent)  # every unsent token in retry()


@pytest.mark.parametrize("operation", ["subscribe_to_topic", "unsubscribe_from_topic"])
def test_a_topic_operation_on_500_tokens_is_bounded_as_a_send(
    fcm_service_account: dict[str, str], figure: Callable[[str], None], operation: str
) -> None:
    send_timeout = 0.5
    bound = send_timeout + 2 * TOTAL
    tokens = [f"tok-{i:03d}" for i in range(500)]
    with (
        RawServer(hang()) as server,
        FCM.from_service_account(
            fcm_service_account,
            url=server.url("/v1/projects/p/messages:send"),
            timeout=TIMEOUT,
            send_timeout=send_timeout,
            max_workers=64,
        ) as client,
    ):
        result, elapsed = timed(lambda: getattr(client, operation)(tokens, "news"))
    sent = {t: o for t, o in result.outcomes.items() if o.error != "NOT_SENT"}
    figure(f"{operation} of 500 tokens, server never answers: {elapsed:.2f} s (bound {bound:g} s)")
    assert elapsed < bound + SLACK
    assert 0 < len(sent) < 500
    assert {o.error for o in sent.values()} == {TRANSPORT_ERROR}
    assert result.retry() == tokens  # every token, to try again


def test_slow_token_endpoint_is_bounded(
    figure: Callable[[str], None], service_account_info: dict[str, Any]
) -> None:
    answer = http_answer(200, b'{"access_token": "slow", "expires_in": 3600}')
    with RawServer(trickle(answer, INTERVAL)) as server:
        info = dict(service_account_info, token_uri=server.url("/token"))
        with FCM.from_service_account(info, url=server.url("/send"), timeout=TIMEOUT) as client:
            outcome, elapsed = timed(lambda: client.send(JSONMessage(["a", "b"])))
    figure(f"v1 send, token endpoint trickles: {elapsed:.2f} s (bound {TOTAL:g} s)")
    assert isinstance(outcome, requests.Timeout)
    assert elapsed < TOTAL + SLACK


def test_google_auth_refresh_is_bounded_too(figure: Callable[[str], None]) -> None:
    from google.oauth2.credentials import Credentials

    answer = http_answer(200, b'{"access_token": "slow", "expires_in": 3600}')
    with RawServer(trickle(answer, INTERVAL)) as server:
        credentials = Credentials(  # type: ignore[no-untyped-call]
            token=None,
            refresh_token="refresh-me",
            token_uri=server.url("/token"),
            client_id="id",
            client_secret="secret",
        )
        with FCM(
            credentials=credentials, project_id="demo", url=server.url("/send"), timeout=TIMEOUT
        ) as client:
            outcome, elapsed = timed(lambda: client.send(JSONMessage(["a"])))
    figure(
        f"v1 send through google-auth refresh, token endpoint trickles: {elapsed:.2f} s (bound {TOTAL:g} s)"
    )
    assert isinstance(outcome, requests.RequestException), outcome
    assert elapsed < TOTAL + SLACK


def dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_dead_port_fails_fast_for_a_500_token_fan_out(
    fcm_service_account: dict[str, str], figure: Callable[[str], None]
) -> None:
    info = fcm_service_account
    url = f"http://127.0.0.1:{dead_port()}/v1/send"
    with FCM.from_service_account(info, url=url, max_workers=16) as client:
        result, elapsed = timed(lambda: client.send(JSONMessage([f"t{i}" for i in range(500)])))
    figure(f"v1 fan-out of 500 tokens to a dead port: {elapsed:.2f} s")
    assert elapsed < 5.0
    assert {o.error for o in result.outcomes.values()} == {"TRANSPORT_ERROR"}
    assert result.retry().targets == result.message.targets


def test_v1_send_timeout_bounds_a_slow_multicast(fcm_emulator: FCMEmulator) -> None:
    fcm_emulator.latency = 0.1
    fcm_emulator.set_token_outcome(Answer.delay(0.2))
    info = fcm_emulator.service_account_info("demo")
    tokens = [f"t{n}" for n in range(20)]
    with FCM.from_service_account(
        info, url=fcm_emulator.v1_url("demo"), max_workers=1, send_timeout=0.5
    ) as client:
        result = client.send(JSONMessage(tokens))
    sent = list(result.success)
    # send_timeout counts from the start of send(), the token fetch included: the first send
    # starts after >= 0.2 s and each takes >= 0.1 s, so a fourth cannot start before 0.5 s.
    assert 1 <= len(sent) <= 3
    retry = result.retry()
    assert retry is not None
    assert sent + retry.targets == tokens  # nothing lost: sent, or waiting in retry()
    assert {result.outcomes[token].error for token in retry.targets} == {"NOT_SENT"}
    assert fcm_emulator.stats.v1_requests == len(sent)


def test_v1_slow_token_is_bounded_by_the_timeout(fcm_emulator: FCMEmulator) -> None:
    fcm_emulator.set_outcome("slow", Answer.delay(3))
    info = fcm_emulator.service_account_info("demo")
    with FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), timeout=0.5) as client:
        started = time.monotonic()
        result = client.send(JSONMessage(["slow", "fast"]))
        elapsed = time.monotonic() - started
    assert elapsed < 2 * total_seconds(0.5) + SLACK  # the token fetch, then the two requests at once
    assert list(result.success) == ["fast"]
    assert "Timeout" in result.error_details["slow"]


def test_v1_token_fetch_is_bounded_by_the_timeout(fcm_emulator: FCMEmulator) -> None:
    # PyFCM's OAuth call ignored the timeout; here the grant request carries it too.
    fcm_emulator.set_token_outcome(Answer.delay(3))
    info = fcm_emulator.service_account_info("demo")
    with FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(requests.Timeout):
            client.send(JSONMessage(["a", "b"]))
        elapsed = time.monotonic() - started
    assert elapsed < total_seconds(0.3) + SLACK  # one request: the token fetch
    assert fcm_emulator.stats.v1_requests == 0  # nothing was sent without a token


def test_dead_port_fails_fast() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FCM("key", url=f"http://127.0.0.1:{port}/fcm/send") as client:
        started = time.monotonic()
        with pytest.raises(requests.ConnectionError):
            client.send(JSONMessage(["a"]))
        assert time.monotonic() - started < 2


def _refresh_failure(credentials: Any, server: RawServer) -> tuple[object, float]:
    with FCM(credentials=credentials, project_id="demo", url=server.url("/send"), timeout=TIMEOUT) as client:
        return timed(lambda: client.send(JSONMessage(["a"])))


@pytest.mark.parametrize(
    ("status", "body"),
    [(503, b"<html>busy</html>"), (400, b'{"error": "temporarily_unavailable"}')],
    ids=["503", "400-temporarily-unavailable"],
)
def test_regression_google_auth_retried_a_failing_token_endpoint_after_sleeping(
    status: int, body: bytes
) -> None:
    """google-auth retries a token endpoint's transient failures itself, sleeping 1 s, then
    2 s, between tries: a refresh of other credentials overran the time bound, and nothing
    may retry on its own. The first failure ends the refresh, as for a service account."""
    from google.oauth2.credentials import Credentials

    with RawServer(answer(http_answer(status, body))) as server:
        credentials = Credentials(  # type: ignore[no-untyped-call]
            token=None, refresh_token="r", token_uri=server.url("/token"), client_id="id", client_secret="s"
        )
        outcome, elapsed = _refresh_failure(credentials, server)
        assert len(server.requests) == 1
    assert isinstance(outcome, requests.HTTPError), outcome
    assert str(status) in str(outcome)
    assert elapsed < TOTAL + SLACK


#: Refreshes Compute Engine credentials through FCM in a child process whose environment
#: points google-auth at the metadata server (``GCE_METADATA_HOST``, read by some google-auth
#: versions when it is imported), behind the network guard; prints what the send raised.
_METADATA_REFRESH = """
import json, sys, time
from tests.netguard import NetworkGuard
guard = NetworkGuard(); guard.installed().__enter__()
from google.auth import compute_engine
from fcmclient import FCM, JSONMessage
started = time.monotonic()
with FCM(credentials=compute_engine.Credentials(), project_id="demo", url=sys.argv[1], timeout=float(sys.argv[2])) as fcm:
    try:
        fcm.send(JSONMessage(["a"]))
        outcome = "sent"
    except Exception as exc:
        outcome = [cls.__module__ + "." + cls.__name__ for cls in type(exc).__mro__]
print(json.dumps({"outcome": outcome, "elapsed": time.monotonic() - started, "network": guard.take()}))
"""


def test_regression_google_auth_retried_an_unreachable_metadata_server_after_sleeping() -> None:
    """Compute Engine credentials try the metadata server five times, sleeping 1, 2, 4 and
    8 s between tries, when it cannot be reached (and report it as a rejection of the
    credentials): the first network failure ends the refresh, as a network problem."""
    root = pathlib.Path(__file__).resolve().parents[2]
    with RawServer(answer(b"")) as server:  # accepts, then closes without an answer
        env = {**os.environ, "GCE_METADATA_HOST": f"127.0.0.1:{server.port}"}
        done = subprocess.run(
            [sys.executable, "-c", _METADATA_REFRESH, server.url("/send"), str(TIMEOUT)],
            capture_output=True,
            text=True,
            env=env,
            cwd=root,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert len(server.requests) == 1
    assert "requests.exceptions.ConnectionError" in report["outcome"], report
    assert report["network"] == []
    assert report["elapsed"] < TOTAL + SLACK


def test_a_read_never_waits_past_the_deadline_even_within_its_read_timeout() -> None:
    """The wait for an answer ends at the request's total, not at the (longer) read timeout."""
    with RawServer(hang()) as server, make_session(1) as session:
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout):
            post(session, server.url(), b"{}", {}, (5.0, 5.0), {}, total=0.3)
        elapsed = time.monotonic() - started
    assert elapsed < 0.3 + SLACK  # the read timeout alone would have waited 5 s


def test_a_connect_never_waits_past_the_deadline_even_within_its_connect_timeout() -> None:
    """A listener whose accept queue is full drops new connection attempts (they hang, as to
    a black-holed host): connecting is cut at what is left of the deadline."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    queued: list[socket.socket] = []
    try:
        while True:  # fill the accept queue until a connection attempt hangs
            attempt = socket.socket()
            queued.append(attempt)
            attempt.settimeout(0.05)
            try:
                attempt.connect(listener.getsockname())
            except TimeoutError:
                break
            assert len(queued) < 16, "the accept queue never filled"
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/fcm/send"
        with make_session(1) as session:
            started = time.monotonic()
            with pytest.raises(requests.Timeout):
                post(session, url, b"{}", {}, (5.0, 5.0), {}, total=0.3)
            elapsed = time.monotonic() - started
    finally:
        for attempt in queued:
            attempt.close()
        listener.close()
    assert elapsed < 0.3 + SLACK  # the connect timeout alone would have waited 5 s


def test_closing_the_fcm_under_a_multicast_keeps_its_bound_and_every_target(
    fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str], figure: Callable[[str], None]
) -> None:
    """FCM.close() from another thread shuts the worker pool down and closes the pooled
    connections while a multicast runs: the send still returns within its bound, with every
    target in exactly one bucket."""
    emu = fcm_emulator
    emu.latency = 0.005
    send_timeout = 2.0
    bound = send_timeout + 2 * TOTAL
    tokens = [f"closed-{i:03d}" for i in range(400)]
    closed = threading.Event()
    with FCM.from_service_account(
        fcm_service_account, url=emu.v1_url("demo"), timeout=TIMEOUT, send_timeout=send_timeout, max_workers=8
    ) as client:

        def close_when_under_way() -> None:
            deadline_ = time.monotonic() + bound
            while emu.stats.v1_requests < 50 and time.monotonic() < deadline_:  # polling, bounded
                time.sleep(0.001)
            client.close()
            closed.set()

        closer = threading.Thread(target=close_when_under_way)
        closer.start()
        result, elapsed = timed(lambda: client.send(JSONMessage(tokens)))
        closer.join(bound)
    figure(f"v1 multicast of 400 tokens closed under way: {elapsed:.2f} s (bound {bound:g} s)")
    assert closed.is_set()
    assert elapsed <= bound
    retry = result.retry()
    placed = [*result.success, *result.not_registered, *result.failed, *(retry.targets if retry else [])]
    assert sorted(placed) == sorted(tokens)


def test_a_token_fetch_cut_off_at_its_deadline_holds_up_no_later_send(
    fcm_emulator: FCMEmulator, figure: Callable[[str], None]
) -> None:
    """The access token is revoked between sends; the refresh meets a token endpoint that
    trickles that one answer (a stuck connection) and is fine again after. That send ends
    within one request's bound, and the sends after it fetch a token and deliver at once:
    the abandoned request, still trickling on its helper, holds no lock they wait for."""
    emu = fcm_emulator

    def relay(sock: socket.socket, server: RawServer) -> None:
        body = server.requests[-1].partition(b"\r\n\r\n")[2]
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        token = requests.post(emu.token_uri, data=body, headers=form, timeout=5)
        data = http_answer(token.status_code, token.content, {"Content-Type": "application/json"})
        if len(server.requests) == 2:  # the refresh after the revocation
            trickle(data, INTERVAL)(sock, server)
        else:
            sock.sendall(data)

    with RawServer(relay) as tokens:
        info = {**emu.service_account_info("demo"), "token_uri": tokens.url("/token")}
        with FCM.from_service_account(info, url=emu.v1_url("demo"), timeout=TIMEOUT) as client:
            assert client.send(JSONMessage(["warm"])).success
            emu.expire_access_tokens()
            revoked = client.send(JSONMessage(["revoked"]))  # FCM refuses the token: 401, retry
            cut, elapsed = timed(functools.partial(client.send, JSONMessage(["cut"])))
            later = [timed(functools.partial(client.send, JSONMessage([f"b{i}"]))) for i in range(3)]
    assert revoked.retry() is not None
    assert isinstance(cut, requests.Timeout), cut
    assert elapsed < TOTAL + SLACK
    for result, took in later:
        assert not isinstance(result, Exception), result
        assert len(result.success) == 1
        assert took < TOTAL
    slowest = max(took for _, took in later)
    figure(f"v1 send whose token refresh trickles: {elapsed:.2f} s; the next three: {slowest:.2f} s at most")
