"""The fan-out's two ways on real loopback sockets: the engine (pooled connections, bounds,
errors, options) and requests' path, which test doubles, custom adapters and proxies get
(``fcmclient/_http/route.py``). The engine's connections alone: ``tests/http/engine/``."""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from fcmclient import FCM, JSONMessage
from fcmclient._http.channel import Channel
from fcmclient._http.engine.loop import Engine
from fcmclient._http.engine.origin import Request
from fcmclient._http.route import engine_address
from fcmclient._http.session import MAX_RESPONSE_BYTES, make_session
from fcmclient._send.on_engine import request_target
from fcmclient.testing import Answer, FCMEmulator
from tests.emulator.emu_support import self_signed_certificate
from tests.http.servers import LoopbackServer, QuietHandler, serving

WAIT = 5.0


@pytest.fixture
def v1(fcm_emulator: FCMEmulator) -> Iterator[FCM]:
    info = fcm_emulator.service_account_info("demo")
    with FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), max_workers=4) as client:
        yield client


def fcmclient_threads() -> int:
    return sum(thread.name.startswith("fcmclient") for thread in threading.enumerate())


def test_a_second_multicast_opens_no_new_connections(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    fcm_emulator.latency = 0.02  # every worker gets to hold a request in flight
    tokens = [f"tok-{i}" for i in range(40)]
    first = v1.send(JSONMessage(tokens, {"k": "v"}))
    opened = fcm_emulator.stats.connections_opened
    second = v1.send(JSONMessage(tokens, {"k": "w"}))
    assert len(first.success) == len(second.success) == 40
    assert 1 <= opened <= 4 + 1  # max_workers on the engine, and the token fetch's own
    assert fcm_emulator.stats.connections_opened == opened


def test_threads_and_connections_stay_within_max_workers(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    fcm_emulator.latency = 0.02
    before = fcmclient_threads()
    result = v1.send(JSONMessage([f"tok-{i}" for i in range(60)]))
    assert len(result.success) == 60
    assert fcm_emulator.stats.connections_opened <= 4 + 1  # the engine's, and the token fetch's
    assert fcmclient_threads() - before <= 2  # the engine's loop, and (host names only) its resolver


def test_v1_requests_carry_the_session_and_send_headers(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    v1.send(JSONMessage(["tok-1", "tok-2"], {"k": "v"}, message_title="T"))
    sends = [request for request in fcm_emulator.requests if request.protocol == "v1"]
    assert sorted(request.targets[0] for request in sends) == ["tok-1", "tok-2"]
    headers = sends[0].headers
    assert headers["authorization"] == "Bearer <redacted>"
    assert headers["content-type"] == "application/json; charset=UTF-8"
    assert headers["user-agent"].startswith("fcm-client/")
    assert headers["accept-encoding"] == "identity"
    assert sends[0].body["message"]["notification"] == {"title": "T"}


def test_a_slow_answer_times_out_into_retry(fcm_emulator: FCMEmulator) -> None:
    fcm_emulator.set_outcome("slow", Answer.delay(2.0))
    info = fcm_emulator.service_account_info("demo")
    with FCM.from_service_account(info, url=fcm_emulator.v1_url("demo"), timeout=0.3) as client:
        result = client.send(JSONMessage(["slow", "fast"]))
    assert list(result.success) == ["fast"]
    assert result.failed == {}
    assert "ReadTimeout" in result.error_details["slow"]


def test_a_refused_connection_puts_every_target_in_retry(fcm_emulator: FCMEmulator) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    info = fcm_emulator.service_account_info("demo")
    url = f"http://127.0.0.1:{dead}/v1/projects/demo/messages:send"
    with FCM.from_service_account(info, url=url) as client:
        result = client.send(JSONMessage(["a", "b"]))
    retry = result.retry()
    assert retry is not None
    assert retry.targets == ["a", "b"]
    assert all("ConnectionError" in detail for detail in result.error_details.values())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


def test_tls_verify_option_is_honoured(certificate: tuple[Path, Path]) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with FCMEmulator(ssl_context=context) as emu:
        info = emu.service_account_info("demo")
        # The token endpoint is on the same server: verify= covers both.
        with FCM.from_service_account(info, url=emu.v1_url("demo"), verify=str(certificate[0])) as client:
            assert client.send(JSONMessage(["a", "b"])).success.keys() == {"a", "b"}
            assert client.send(JSONMessage(["c"])).success.keys() == {"c"}
        assert emu.stats.connections_opened <= 3  # the token fetch's, and the engine's (2 at most)


class ScriptedHandler(QuietHandler):
    server: ScriptedServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.paths.append(self.path)
        self.server.methods.append(self.command)
        body = self.server.answer
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_DELETE = do_GET = do_POST  # noqa: N815 - http.server's names


class ScriptedServer(LoopbackServer):
    def __init__(self, answer: bytes) -> None:
        super().__init__(ScriptedHandler)
        self.answer = answer
        self.paths: list[str] = []
        self.methods: list[str] = []
        self.accepted = 0
        self.errors: list[BaseException] = []

    def get_request(self) -> Any:
        self.accepted += 1
        return super().get_request()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, ConnectionError):
            self.errors.append(error)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def serve(answer: bytes) -> Iterator[ScriptedServer]:
    with serving(ScriptedServer(answer)) as server:
        yield server
    assert server.errors == []


@pytest.fixture
def huge() -> Iterator[ScriptedServer]:
    yield from serve(b'{"name":"' + b"x" * MAX_RESPONSE_BYTES + b'"}')


@pytest.fixture
def named() -> Iterator[ScriptedServer]:
    yield from serve(b'{"name":"projects/p/messages/1"}')


def session_channel(url: str, **options: Any) -> tuple[requests.Session, Channel]:
    session = make_session(4)
    return session, Channel(session, url, {"Content-Type": "application/json"}, 5.0, options)


def engine_takes(session: requests.Session, url: str, **options: Any) -> bool:
    return engine_address(session, url, options) is not None


def test_a_proxy_gets_every_request_through_the_adapter(named: ScriptedServer) -> None:
    url = "http://fcm.invalid/v1/projects/p/messages:send"  # resolvable by the proxy only
    session, channel = session_channel(url, proxies={"http": named.base})
    assert not engine_takes(session, url, proxies={"http": named.base})
    assert engine_takes(session, url)
    reply = channel.post(b"{}", channel.headers({}))
    session.close()
    assert json.loads(reply.body) == {"name": "projects/p/messages/1"}
    assert named.paths == [url]  # absolute form: the request went to the proxy


def test_a_v1_fan_out_behind_a_proxy_goes_through_it(
    named: ScriptedServer, service_account_info: dict[str, Any]
) -> None:
    url = "http://fcm.invalid/v1/projects/p/messages:send"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:  # the token only
        mock.add(
            responses.POST, service_account_info["token_uri"], json={"access_token": "t", "expires_in": 3600}
        )
        mock.add_passthru(url)
        with FCM.from_service_account(service_account_info, url=url, proxies={"http": named.base}) as client:
            result = client.send(JSONMessage([f"t{i}" for i in range(5)]))
    assert len(result.success) == 5
    assert named.paths == [url] * 5


def test_a_proxy_gets_requests_below_the_channels_url_with_their_method(named: ScriptedServer) -> None:
    base = "http://fcm.invalid/v1/projects/p/registrations"  # resolvable by the proxy only
    session, channel = session_channel(base, proxies={"http": named.base})
    headers = channel.headers({})
    for method in ("DELETE", "GET", "POST"):
        channel.request(method, base + "/a%3Ab/topicSubscriptions/news", b"", headers)
    session.close()
    assert named.methods == ["DELETE", "GET", "POST"]
    assert named.paths == [base + "/a%3Ab/topicSubscriptions/news"] * 3


def test_responses_sees_every_v1_request(service_account_info: dict[str, Any]) -> None:
    url = "https://fcm.googleapis.com/v1/projects/demo-project/messages:send"
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST, service_account_info["token_uri"], json={"access_token": "t", "expires_in": 3600}
        )
        mock.add(responses.POST, url, json={"name": "n"})
        assert not engine_takes(make_session(4), url)
        with FCM.from_service_account(service_account_info) as client:
            result = client.send(JSONMessage([f"t{i}" for i in range(10)]))
        assert len(mock.calls) == 11
    assert len(result.success) == 10
    assert engine_takes(make_session(4), url)  # outside the mock: the engine again


def test_a_custom_adapter_is_honoured(named: ScriptedServer) -> None:
    calls: list[str] = []

    class Recording(requests.adapters.HTTPAdapter):
        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            calls.append(str(request.url))
            return super().send(request, *args, **kwargs)

    session = make_session(4)
    session.mount("http://", Recording())
    channel = Channel(session, named.base + "/send", {}, 5.0, {})
    assert not engine_takes(session, named.base + "/send")
    assert json.loads(channel.post(b"{}", channel.headers({})).body)["name"] == "projects/p/messages/1"
    session.close()
    assert calls == [named.base + "/send"]


@pytest.mark.parametrize("value", ["0", "off", "no", "false"])
def test_the_engine_can_be_switched_off(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://fcm.googleapis.com/v1/projects/p/messages:send"
    monkeypatch.setenv("FCMCLIENT_ENGINE", value)
    assert not engine_takes(make_session(4), url)


def raw_head(request: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    head, _, body = request.partition(b"\r\n\r\n")
    line, *fields = head.decode("latin-1").split("\r\n")
    return (
        line,
        [(name.lower(), value.strip()) for name, _, value in (f.partition(":") for f in fields)],
        body,
    )


def engine_post(
    url: str, headers: dict[str, str], body: bytes, *, method: str = "POST", target: str | None = None
) -> Any:
    """One request through a fresh engine (as a v1 fan-out sends it): the reply or the exception."""
    session = make_session(4)
    address = engine_address(session, url, {})
    assert address is not None
    engine = Engine(4, MAX_RESPONSE_BYTES)
    target = target or "/" + url.split("/", 3)[3]
    payload = None if not body and method in ("GET", "HEAD") else body

    async def one() -> Any:
        loop = asyncio.get_running_loop()
        request = Request(method, target, tuple(headers.items()), payload)
        try:
            return await engine.origin(address).exchange(request, loop.time() + WAIT, WAIT, WAIT)
        except requests.RequestException as exc:
            return exc

    try:
        return engine.submit(one(), lambda: None).result(WAIT)
    finally:
        engine.close()
        session.close()


def test_the_engine_writes_the_same_request_as_session_post() -> None:
    """The request line, Host, Content-Length and headers the engine writes match what
    requests (through http.client) writes for the same POST."""
    from tests.loopback import RawServer, answer, http_answer

    body = b'{"message": {"token": "t"}}'
    with RawServer(answer(http_answer(200, b'{"name": "n"}'))) as server:
        url = server.url("/v1/projects/p/messages:send")
        session, channel = session_channel(url)
        headers = channel.headers({"Authorization": "Bearer abc", "Content-Type": "application/json"})
        reply = engine_post(url, headers, body)
        session.post(url, data=body, headers=headers, timeout=WAIT)
        session.close()
        engine, through_requests = server.requests
        port = server.port
    assert reply.status == 200
    assert reply.body == b'{"name": "n"}'
    line, fields, sent = raw_head(engine)
    expected_line, expected_fields, expected_sent = raw_head(through_requests)
    assert line == expected_line == "POST /v1/projects/p/messages:send HTTP/1.1"
    assert sent == expected_sent == body
    assert sorted(fields) == sorted(expected_fields)
    assert dict(fields)["host"] == f"127.0.0.1:{port}"
    assert [name for name, _ in fields].count("host") == 1


@pytest.mark.parametrize(
    ("method", "rest", "body"),
    [
        ("DELETE", "/a%3Ab%2Fc/topicSubscriptions/100%25?allowMissing=true", b""),
        ("GET", "/a%3Ab/topicSubscriptions?pageSize=2000&pageToken=p%2F2", b""),
        ("POST", "/tok%23x%3F/topicSubscriptions?topicName=news", b"{}"),
        ("GET", "/caf\u00e9 x/topicSubscriptions", b""),  # not quoted yet: quoted as requests does
    ],
)
def test_a_request_of_any_method_is_written_by_the_engine_as_session_request_writes_it(
    method: str, rest: str, body: bytes
) -> None:
    """Another method, to another URL of the host (a topic subscription's): the request line
    (its quoting included), the headers and the body are what requests writes."""
    from tests.loopback import RawServer, answer, http_answer

    with RawServer(answer(http_answer(200, b"{}"))) as server:
        base = server.url("/v1/projects/p/registrations")
        session, channel = session_channel(base)
        headers = channel.headers({"Authorization": "Bearer abc"})
        target = request_target(f"http://127.0.0.1:{server.port}", base + rest)
        reply = engine_post(base, headers, body, method=method, target=target)
        session.request(method, base + rest, data=body, headers=headers, timeout=WAIT)
        session.close()
        direct, through_requests = server.requests
    assert reply.status == 200
    line, fields, sent = raw_head(direct)
    expected_line, expected_fields, expected_sent = raw_head(through_requests)
    assert line == expected_line
    assert line.startswith(f"{method} /v1/projects/p/registrations/")
    assert sent == expected_sent == body
    assert sorted(fields) == sorted(expected_fields)


def test_a_channel_sends_nowhere_but_below_its_url() -> None:
    session = make_session(1)
    channel = Channel(session, "http://127.0.0.1:9/v1/projects/p/registrations", {}, WAIT, {})
    with pytest.raises(ValueError, match="below"):
        channel.request("GET", "http://127.0.0.1:9/v1/projects/other/registrations/t", b"", {})
    session.close()


@pytest.mark.parametrize(
    "headers",
    [{"X-Injected": "a\r\nX-Evil: 1"}, {"X-Null": "a\x00b"}, {"Bad Name": "v"}, {"X-Euro": "\u20ac"}],
    ids=["crlf", "nul", "space-in-name", "not-latin-1"],
)
def test_a_header_that_cannot_be_sent_is_refused_not_written(headers: dict[str, str]) -> None:
    from tests.loopback import RawServer, answer, http_answer

    with RawServer(answer(http_answer(200, b"{}"))) as server:
        reply = engine_post(server.url("/v1/send"), headers, b"{}")
        assert server.requests == []
    assert isinstance(reply, requests.exceptions.InvalidHeader)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://fcm.invalid/v1/send", "fcm.invalid"),
        ("http://fcm.invalid:8080/v1/send", "fcm.invalid:8080"),
        ("https://fcm.invalid:443/v1/send", "fcm.invalid"),
        ("http://[2001:db8::1]/v1/send", "[2001:db8::1]"),
        ("http://bücher.invalid/v1/send", "xn--bcher-kva.invalid"),
    ],
    ids=["default-port", "other-port", "https-default-port", "ipv6", "idna"],
)
def test_the_host_header_is_the_one_requests_writes(url: str, host: str) -> None:
    """The hosts are what http.client writes for these URLs through requests (checked on the
    wire when the channel wrote requests itself)."""
    address = engine_address(make_session(4), url, {})
    assert address is not None
    assert address.authority == host


def _compressed(encoding: str, data: bytes) -> bytes:
    import gzip
    import zlib

    return gzip.compress(data) if encoding == "gzip" else zlib.compress(data)


def _chunked(data: bytes) -> bytes:
    return b"".join(
        b"%x\r\n%s\r\n" % (len(data[i : i + 7]), data[i : i + 7]) for i in range(0, len(data), 7)
    ) + (b"0\r\n\r\n")


@pytest.mark.parametrize("framing", ["length", "chunked"])
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_regression_a_compressed_legacy_answer_was_not_decoded(encoding: str, framing: str) -> None:
    """Legacy requests ask for ``Accept-Encoding: gzip, deflate`` (requests' default, which
    Session.post honoured by inflating the answer), but once they went through the channel's
    direct path the compressed bytes reached the decoder as they came: every compressed
    answer was an FCMResponseError ("not JSON"), and the connection was kept as if all was
    well. Now the direct path decodes the body as urllib3 does, and reuses the connection."""
    from tests.loopback import RawServer, keep_alive

    def legacy_answer(message_id: str) -> bytes:
        document = {"multicast_id": 7, "success": 1, "failure": 0, "results": [{"message_id": message_id}]}
        body = _compressed(encoding, json.dumps(document).encode())
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: {encoding}\r\n"
        if framing == "chunked":
            return head.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(body)
        return head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body

    with (
        RawServer(keep_alive(legacy_answer("m1"), legacy_answer("m2"))) as server,
        FCM("key", url=server.url(), timeout=WAIT) as client,
    ):
        first = client.send(JSONMessage(["a"]))
        second = client.send(JSONMessage(["b"]))
        assert server.connections == 1  # the connection was kept, and reused, after each answer
        assert b"gzip" in server.requests[0].lower()  # what Session.post asked for, still asked for
    assert (first.success, first.multicast_id) == ({"a": "m1"}, 7)
    assert second.success == {"b": "m2"}
