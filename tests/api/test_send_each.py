"""``FCM.send_each``: many different messages, one result per message, one shared fan-out."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fcmclient import (
    FCM,
    FCMAuthenticationError,
    InstallationMessage,
    JSONMessage,
    PlainTextMessage,
    TopicMessage,
)
from fcmclient._protocol import v1
from fcmclient._send.each import window_targets
from fcmclient.messages import Message
from fcmclient.outcomes import Bucket
from fcmclient.result import Result
from fcmclient.testing import Answer, FCMEmulator


def v1_client(emu: FCMEmulator, **kwargs: Any) -> FCM:
    return FCM.from_service_account(emu.service_account_info("demo"), url=emu.v1_url("demo"), **kwargs)


def legacy_client(emu: FCMEmulator, **kwargs: Any) -> FCM:
    return FCM(emu.api_key, url=emu.legacy_url, **kwargs)


def verdicts(result: Result) -> dict[str, tuple[Bucket, str | None, float | None]]:
    """What a result says of each target, without the message ids FCM makes anew each time."""
    return {t: (o.bucket, o.error, o.wait) for t, o in result.outcomes.items()}


def script(emu: FCMEmulator) -> None:
    emu.set_outcome("dead", "unregistered")
    emu.set_outcome("busy", Answer.unavailable(retry_after=7))
    emu.set_outcome("wrong", "sender_mismatch")


MIXED: list[Message] = [
    JSONMessage(["a1", "dead", "busy"], {"order": "1"}, message_title="Your order 1 shipped"),
    JSONMessage(["b1"], {"order": "2"}, message_title="Your order 2 shipped", time_to_live=60),
    TopicMessage(topic="news", message_title="Extra!"),
    JSONMessage(["wrong", "c1"], {"order": "3"}),
    PlainTextMessage("p1", {"k": 1}),
]


@pytest.mark.parametrize("protocol", ["v1", "legacy"])
def test_each_result_is_what_send_gives_that_message(fcm_emulator: FCMEmulator, protocol: str) -> None:
    messages = [*MIXED, InstallationMessage(["fid-1"], {"k": "v"})] if protocol == "v1" else MIXED
    make = v1_client if protocol == "v1" else legacy_client
    with make(fcm_emulator) as fcm:
        script(fcm_emulator)
        alone = [fcm.send(message) for message in messages]
        script(fcm_emulator)
        together = fcm.send_each(messages)
    assert [result.message for result in together] == messages  # in input order
    for one, each in zip(alone, together, strict=True):
        assert verdicts(each) == verdicts(one)
        assert each.retry() == one.retry()
        assert each.retry_after == one.retry_after
        assert (each.delay() if each.needs_retry() else None) == (7.0 if one.needs_retry() else None)


def test_an_empty_iterable_sends_nothing(fcm_emulator: FCMEmulator) -> None:
    with v1_client(fcm_emulator) as fcm:
        assert fcm.send_each([]) == []
        assert fcm.send_each(iter(())) == []
        assert list(fcm.send_each_iter([])) == []
    assert fcm_emulator.stats.requests_total == 0  # not even an access token


@pytest.mark.parametrize("bad", ["a token", None, {"registration_ids": ["t"]}, 42])
def test_a_non_message_in_a_list_is_a_type_error_before_anything_is_sent(
    fcm_emulator: FCMEmulator, bad: object
) -> None:
    with v1_client(fcm_emulator) as fcm:
        for container in (list, tuple):
            with pytest.raises(TypeError, match=type(bad).__name__):
                fcm.send_each(container([JSONMessage(["t1"]), bad]))  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                fcm.send_each_iter(container([JSONMessage(["t1"]), bad]))  # type: ignore[arg-type]
    assert fcm_emulator.stats.requests_total == 0


def test_mistakes_v1_or_legacy_would_refuse_are_found_in_a_list_before_anything_is_sent(
    fcm_emulator: FCMEmulator,
) -> None:
    with v1_client(fcm_emulator) as fcm, pytest.raises(TypeError, match="time_to_live"):
        fcm.send_each([JSONMessage(["t1"]), JSONMessage(["t2"], time_to_live="soon")])
    with legacy_client(fcm_emulator) as legacy, pytest.raises(ValueError, match="installation"):
        legacy.send_each([JSONMessage(["t1"]), InstallationMessage(["fid-1"])])
    assert fcm_emulator.stats.requests_total == 0


def test_a_non_message_from_a_generator_stops_the_call_with_the_results_before_it(
    fcm_emulator: FCMEmulator,
) -> None:
    taken: list[int] = []

    def messages() -> Iterator[object]:
        for n in range(10):
            taken.append(n)
            yield "not a message" if n == 3 else JSONMessage([f"t{n}"], {"n": str(n)})

    with v1_client(fcm_emulator) as fcm, pytest.raises(TypeError) as raised:
        fcm.send_each(messages())
    results = raised.value.results  # type: ignore[attr-defined]
    assert [r.message.targets for r in results] == [["t0"], ["t1"], ["t2"]]
    assert all(r.success for r in results)  # the messages before it were sent
    assert [t for t in ("t0", "t1", "t2", "t4") if fcm_emulator.inbox(t)] == ["t0", "t1", "t2"]
    assert taken == [0, 1, 2, 3]  # nothing read after it


def test_each_message_is_translated_once_whatever_its_targets(
    fcm_emulator: FCMEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Message] = []
    original = v1.Translation.__init__

    def counting(self: v1.Translation, message: Message, now: float) -> None:
        made.append(message)
        original(self, message, now)

    monkeypatch.setattr(v1.Translation, "__init__", counting)
    messages = [JSONMessage([f"m{n}-{t}" for t in range(5)], {"n": str(n)}) for n in range(4)]
    with v1_client(fcm_emulator) as fcm:
        results = fcm.send_each(messages)
    assert made == messages
    assert sum(len(r.success) for r in results) == 20


class CountingServer(http.server.ThreadingHTTPServer):
    """A fake v1 endpoint on 127.0.0.1 that answers each send (or topic subscription) after
    ``latency`` seconds and remembers the most requests it held at once."""

    daemon_threads = True

    def __init__(self, latency: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.latency, self.lock = latency, threading.Lock()
        self.now = self.peak = self.total = 0
        self.first = threading.Event()  # set once a first send (or subscription) arrived

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CountingServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/token":
            answer = {"access_token": "tok-" + "x" * 20, "expires_in": 3600}
        else:
            with self.server.lock:
                self.server.now += 1
                self.server.total += 1
                self.server.peak = max(self.server.peak, self.server.now)
            self.server.first.set()
            time.sleep(self.server.latency)  # the server's latency, not the test waiting
            with self.server.lock:
                self.server.now -= 1
            if "/topicSubscriptions?" in self.path:  # a topic subscription: the resource made
                answer = {"name": self.path.partition("?")[0].removeprefix("/v1/")}
            else:
                answer = {"name": "projects/p/messages/" + json.loads(body)["message"]["token"]}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def counting(service_account_info: dict[str, Any]) -> Iterator[tuple[CountingServer, dict[str, Any]]]:
    server = CountingServer(latency=0.02)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, {**service_account_info, "token_uri": server.url + "/token"}
    finally:
        server.shutdown()
        server.server_close()


def test_every_target_of_every_message_shares_one_bound_on_requests_in_flight(
    counting: tuple[CountingServer, dict[str, Any]],
) -> None:
    server, info = counting
    messages = [JSONMessage([f"m{n}-{t}" for t in range(3)]) for n in range(30)]
    with FCM.from_service_account(
        info, url=server.url + "/v1/projects/p/messages:send", max_workers=5
    ) as fcm:
        results = fcm.send_each(messages)
    assert server.total == 90
    assert server.peak == 5  # never more than max_workers at once, all messages together
    assert [len(r.success) for r in results] == [3] * 30


def send_url(server: CountingServer) -> str:
    return server.url + "/v1/projects/p/messages:send"


@pytest.mark.parametrize("engine", ["on", "off"])
def test_on_the_engine_a_windows_first_requests_leave_while_the_rest_is_read(
    counting: tuple[CountingServer, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    monkeypatch.setenv("FCMCLIENT_ENGINE", engine)
    server, info = counting
    seen: list[bool] = []

    def messages() -> Iterator[Message]:
        for n in range(12):  # one window (1,024 targets), read max_workers (4) targets at a time
            if n == 8:
                # The engine sends the first 4 while the rest is read; requests' path reads
                # the whole window first, so nothing can have been sent yet.
                seen.append(server.first.wait(10) if engine == "on" else server.first.is_set())
            yield JSONMessage([f"t{n}"], {"n": str(n)})

    with FCM.from_service_account(info, url=send_url(server), max_workers=4) as fcm:
        results = fcm.send_each(messages())
    assert seen == [engine == "on"]
    assert [r.message.targets for r in results] == [[f"t{n}"] for n in range(12)]
    assert all(r.success == {f"t{n}": f"projects/p/messages/t{n}"} for n, r in enumerate(results))
    assert server.total == 12


@pytest.mark.parametrize("engine", ["on", "off"])
@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError])
def test_a_generator_raising_mid_window_hands_back_every_message_it_gave(
    counting: tuple[CountingServer, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    engine: str,
    stop: type[BaseException],
) -> None:
    monkeypatch.setenv("FCMCLIENT_ENGINE", engine)
    server, info = counting
    given: list[Message] = []

    def messages() -> Iterator[Message]:
        for n in range(12):
            if n == 8:
                if engine == "on":
                    assert server.first.wait(10)  # requests of this window are under way
                raise stop("the generator stops")
            given.append(JSONMessage([f"t{n}"]))
            yield given[-1]

    with FCM.from_service_account(info, url=send_url(server), max_workers=4) as fcm:
        with pytest.raises(stop) as raised:
            fcm.send_each(messages())
        sent = server.total
    results: list[Result] = raised.value.results  # type: ignore[attr-defined]
    assert [r.message for r in results] == given  # every message read, in input order
    delivered = sum(len(r.success) for r in results)
    for result in results:
        retry = result.retry()
        if retry is not None:  # never started: the requests under way were waited for
            assert [result.outcomes[t].error for t in retry.targets] == ["NOT_SENT"]
    assert delivered == sent  # every request the server saw is in the results, and no other
    assert (delivered > 0) == (engine == "on")  # requests' path sends nothing of a window unread


@pytest.mark.parametrize("engine", ["on", "off"])
def test_closing_the_fcm_while_a_window_is_read_leaves_every_message_accounted_for(
    counting: tuple[CountingServer, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    monkeypatch.setenv("FCMCLIENT_ENGINE", engine)
    server, info = counting
    fcm = FCM.from_service_account(info, url=send_url(server), max_workers=4)

    def messages() -> Iterator[Message]:
        for n in range(12):
            if n == 8:
                fcm.close()  # as another thread could: the run under way stops
            yield JSONMessage([f"t{n}"])

    results = fcm.send_each(messages())
    fcm.close()
    assert [r.message.targets for r in results] == [[f"t{n}"] for n in range(12)]
    delivered = sum(len(r.success) for r in results)
    errors = [o.error for r in results for o in r.outcomes.values() if o.error is not None]
    assert set(errors) <= {"NOT_SENT", "INTERRUPTED"}
    # Every request the server saw is a success, or was cut by the close (INTERRUPTED).
    assert delivered <= server.total <= delivered + errors.count("INTERRUPTED")


def test_send_timeout_bounds_the_whole_call(fcm_emulator: FCMEmulator) -> None:
    fcm_emulator.latency = 0.1
    timeout, send_timeout = 0.5, 0.3
    messages = [JSONMessage([f"t{n}"]) for n in range(60)]
    with v1_client(fcm_emulator, max_workers=2, send_timeout=send_timeout, timeout=timeout) as fcm:
        fcm.send(JSONMessage(["warm-up"]))
        started = time.monotonic()
        results = fcm.send_each(messages)
        elapsed = time.monotonic() - started
    assert elapsed < send_timeout + 2 * (2 * timeout)  # the documented bound
    sent = [r for r in results if r.success]
    not_sent = [r for r in results if r.needs_retry()]
    assert sent
    assert not_sent
    assert len(sent) + len(not_sent) == 60
    assert {r.outcomes[r.message.targets[0]].error for r in not_sent} == {"NOT_SENT"}


def test_a_generator_is_read_a_window_ahead_at_most(fcm_emulator: FCMEmulator) -> None:
    taken = 0

    def messages() -> Iterator[Message]:
        nonlocal taken
        for n in range(3 * window_targets(4)):
            taken += 1
            yield JSONMessage([f"t{n}"])

    with v1_client(fcm_emulator, max_workers=4) as fcm:
        stream = fcm.send_each_iter(messages())
        first = next(stream)
        assert taken == window_targets(4)  # one window read, not the whole generator
        assert first.message.targets == ["t0"]
        rest = list(stream)
    assert len(rest) == 3 * window_targets(4) - 1
    assert [r.message.targets[0] for r in rest[:3]] == ["t1", "t2", "t3"]


def test_rejected_credentials_stop_the_call_with_every_message_accounted_for(
    fcm_emulator: FCMEmulator,
) -> None:
    messages = [JSONMessage([f"t{n}", f"u{n}"]) for n in range(6)]
    with v1_client(fcm_emulator, max_workers=1) as fcm:
        fcm.send(JSONMessage(["warm-up"]))
        fcm_emulator.set_outcome("t2", Answer.http_error(403))
        with pytest.raises(FCMAuthenticationError) as raised:
            fcm.send_each(messages)
    results = raised.value.results
    assert results is not None
    assert [r.message for r in results] == messages
    assert all(r.success for r in results[:2])
    for result in results[2:]:
        retry = result.retry()
        assert retry is not None
        assert retry.targets == result.message.targets
        assert {o.error for o in result.outcomes.values()} == {"NOT_SENT"}


def test_legacy_requests_failing_as_a_whole_do_not_stop_the_others(fcm_emulator: FCMEmulator) -> None:
    fcm_emulator.set_outcome("bad", Answer.http_error(400))
    fcm_emulator.set_outcome("down", Answer.http_error(503, retry_after=5))
    fcm_emulator.set_outcome("cut", "drop")
    messages = [JSONMessage([name]) for name in ("ok", "bad", "down", "cut", "ok2")]
    with legacy_client(fcm_emulator) as fcm:
        ok, bad, down, cut, ok2 = fcm.send_each(messages)
    assert list(ok.success) == ["ok"]
    assert list(ok2.success) == ["ok2"]
    assert bad.failed == {"bad": "HTTP_400"}
    assert down.retry() == JSONMessage(["down"])
    assert down.delay() == 5.0
    assert cut.outcomes["cut"].error == "TRANSPORT_ERROR"
