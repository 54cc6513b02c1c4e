"""The v1 fan-out's transport on real loopback sockets: pooled connections, bounds, errors, options.

HTTP v1 sends skip ``Session.post`` (see ``fcmclient/channel.py``); these tests drive that
direct path through the emulator and small servers, and check that transport-level doubles
(``responses``), custom adapters and proxies still get every request through the adapter.
"""

from __future__ import annotations

import json
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from fcmclient import FCM, JSONMessage
from fcmclient._http.channel import Channel
from fcmclient._http.session import MAX_RESPONSE_BYTES, make_session
from fcmclient.testing import Answer, FCMEmulator
from tests.emulator.emu_support import self_signed_certificate
from tests.http.servers import LoopbackServer, QuietHandler, serving
from tests.timing import SLACK

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
    assert 1 <= opened <= 4  # max_workers, the token fetch included
    assert fcm_emulator.stats.connections_opened == opened


def test_threads_and_connections_stay_within_max_workers(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    fcm_emulator.latency = 0.02
    before = fcmclient_threads()
    result = v1.send(JSONMessage([f"tok-{i}" for i in range(60)]))
    assert len(result.success) == 60
    assert fcm_emulator.stats.connections_opened <= 4
    assert fcmclient_threads() - before <= 3  # the caller is the fourth worker


def test_the_direct_path_sends_what_session_post_sent(fcm_emulator: FCMEmulator, v1: FCM) -> None:
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
        assert emu.stats.connections_opened <= 2
        session = make_session(4)
        session.trust_env = False  # no REQUESTS_CA_BUNDLE: the system CAs do not know this certificate
        untrusted = Channel(session, emu.v1_url("demo"), {}, 5.0, {})
        assert untrusted.direct
        with pytest.raises(requests.exceptions.SSLError):
            untrusted.post(b"{}", untrusted.headers({}))
        untrusted.release()
        session.close()


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


def direct_channel(url: str, **options: Any) -> tuple[requests.Session, Channel]:
    session = make_session(4)
    return session, Channel(session, url, {"Content-Type": "application/json"}, 5.0, options)


def test_an_oversized_answer_is_cut_and_its_connection_dropped(huge: ScriptedServer) -> None:
    session, channel = direct_channel(huge.base + "/v1/projects/p/messages:send")
    assert channel.direct
    headers = channel.headers({"Authorization": "Bearer t"})
    first = channel.post(b"{}", headers)
    second = channel.post(b"{}", headers)
    channel.release()
    session.close()
    assert len(first.body) == len(second.body) == MAX_RESPONSE_BYTES
    assert huge.accepted == 2  # the cut answer's connection was not reused


def test_a_proxy_gets_every_request_through_the_adapter(named: ScriptedServer) -> None:
    url = "http://fcm.invalid/v1/projects/p/messages:send"  # resolvable by the proxy only
    session, channel = direct_channel(url, proxies={"http": named.base})
    assert not channel.direct
    reply = channel.post(b"{}", channel.headers({}))
    channel.release()
    session.close()
    assert json.loads(reply.body) == {"name": "projects/p/messages/1"}
    assert named.paths == [url]  # absolute form: the request went to the proxy


def test_a_proxy_gets_requests_below_the_channels_url_with_their_method(named: ScriptedServer) -> None:
    base = "http://fcm.invalid/v1/projects/p/registrations"  # resolvable by the proxy only
    session, channel = direct_channel(base, proxies={"http": named.base})
    assert not channel.direct
    headers = channel.headers({})
    for method in ("DELETE", "GET", "POST"):
        channel.request(method, base + "/a%3Ab/topicSubscriptions/news", b"", headers)
    channel.release()
    session.close()
    assert named.methods == ["DELETE", "GET", "POST"]
    assert named.paths == [base + "/a%3Ab/topicSubscriptions/news"] * 3


def test_responses_sees_every_v1_request(service_account_info: dict[str, Any]) -> None:
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST, service_account_info["token_uri"], json={"access_token": "t", "expires_in": 3600}
        )
        mock.add(
            responses.POST,
            "https://fcm.googleapis.com/v1/projects/demo-project/messages:send",
            json={"name": "n"},
        )
        with FCM.from_service_account(service_account_info) as client:
            result = client.send(JSONMessage([f"t{i}" for i in range(10)]))
        assert len(mock.calls) == 11
    assert len(result.success) == 10
    session = make_session(4)
    channel = Channel(session, "https://fcm.googleapis.com/x", {}, 5.0, {})
    assert channel.direct  # outside the mock: the direct path again
    session.close()


def test_a_custom_adapter_is_honoured(named: ScriptedServer) -> None:
    calls: list[str] = []

    class Recording(requests.adapters.HTTPAdapter):
        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            calls.append(str(request.url))
            return super().send(request, *args, **kwargs)

    session = make_session(4)
    session.mount("http://", Recording())
    channel = Channel(session, named.base + "/send", {}, 5.0, {})
    assert not channel.direct
    assert json.loads(channel.post(b"{}", channel.headers({})).body)["name"] == "projects/p/messages/1"
    session.close()
    assert calls == [named.base + "/send"]


def raw_head(request: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    head, _, body = request.partition(b"\r\n\r\n")
    line, *fields = head.decode("latin-1").split("\r\n")
    return (
        line,
        [(name.lower(), value.strip()) for name, _, value in (f.partition(":") for f in fields)],
        body,
    )


def test_the_direct_path_writes_the_same_request_as_session_post() -> None:
    """The request line, Host, Content-Length and headers the channel writes itself match
    what requests (through http.client) writes for the same POST."""
    from tests.loopback import RawServer, answer, http_answer

    body = b'{"message": {"token": "t"}}'
    with RawServer(answer(http_answer(200, b'{"name": "n"}'))) as server:
        session, channel = direct_channel(server.url("/v1/projects/p/messages:send"))
        headers = channel.headers({"Authorization": "Bearer abc", "Content-Type": "application/json"})
        reply = channel.post(body, headers)
        channel.release()
        session.post(server.url("/v1/projects/p/messages:send"), data=body, headers=headers, timeout=WAIT)
        session.close()
        direct, through_requests = server.requests
        port = server.port
    assert reply.status == 200
    assert reply.body == b'{"name": "n"}'
    line, fields, sent = raw_head(direct)
    expected_line, expected_fields, expected_sent = raw_head(through_requests)
    assert line == expected_line == "POST /v1/projects/p/messages:send HTTP/1.1"
    assert sent == expected_sent == body
    assert sorted(fields) == sorted(expected_fields)
    assert dict(fields)["host"] == f"127.0.0.1:{port}"
    assert dict(fields)["content-length"] == str(len(body))
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
def test_a_request_below_the_channels_url_is_written_as_session_request_writes_it(
    method: str, rest: str, body: bytes
) -> None:
    """Another method, to a URL below the channel's (a topic subscription's): the request
    line (its quoting included), the headers and the body are what requests writes."""
    from tests.loopback import RawServer, answer, http_answer

    with RawServer(answer(http_answer(200, b"{}"))) as server:
        base = server.url("/v1/projects/p/registrations")
        session, channel = direct_channel(base)
        assert channel.direct
        headers = channel.headers({"Authorization": "Bearer abc"})
        reply = channel.request(method, base + rest, body, headers)
        channel.release()
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
        session, channel = direct_channel(server.url("/v1/send"))
        assert channel.direct
        with pytest.raises(requests.exceptions.InvalidHeader):
            channel.post(b"{}", channel.headers(headers))
        channel.release()
        session.close()
        assert server.requests == []


def named_answer(name: str, **headers: str) -> bytes:
    """A keep-alive 200 answer carrying ``{"name": name}``."""
    from tests.loopback import http_answer

    return http_answer(200, json.dumps({"name": name}).encode(), {"Connection": "keep-alive", **headers})


def names(replies: list[Any]) -> list[Any]:
    return [json.loads(reply.body)["name"] if reply.status == 200 else reply.status for reply in replies]


def test_regression_a_kept_connection_the_server_had_closed_failed_the_next_request() -> None:
    """A server that closes a keep-alive connection without saying so (an idle timeout, a
    limit of requests per connection) cost the next request on it a TRANSPORT_ERROR: the
    channel reused it blindly, where urllib3 checks a pooled connection before each use."""
    from tests.loopback import RawServer

    closed = threading.Event()

    def answer_then_close(sock: Any, server: RawServer) -> None:
        sock.sendall(named_answer("n"))
        sock.close()
        closed.set()

    with RawServer(answer_then_close) as server:
        session, channel = direct_channel(server.url("/v1/send"))
        headers = channel.headers({})
        first = channel.post(b"{}", headers)
        assert closed.wait(WAIT)
        second = channel.post(b"{}", headers)
        channel.release()
        session.close()
        assert server.connections == 2
    assert names([first, second]) == ["n", "n"]


def test_regression_a_stray_answer_on_a_kept_connection_was_taken_for_the_next_ones() -> None:
    """Bytes that arrive on a kept connection before the next request is sent (a second
    answer to one request, a late final answer) were read as the answer to the next request:
    every later target on that connection got the verdict of the one before it."""
    from tests.loopback import RawServer, read_request

    stray_sent = threading.Event()
    first_read = threading.Event()

    def script(sock: Any, server: RawServer) -> None:
        if server.connections > 1:  # a fresh connection: answer it properly
            sock.sendall(named_answer("second"))
            return
        sock.sendall(named_answer("first"))
        first_read.wait(WAIT)
        sock.sendall(named_answer("stray"))
        stray_sent.set()
        request = read_request(sock)
        if request is not None:  # the channel sent the second request on this connection
            server.record(request)
            sock.sendall(named_answer("second"))

    with RawServer(script) as server:
        session, channel = direct_channel(server.url("/v1/send"))
        headers = channel.headers({})
        first = channel.post(b"{}", headers)
        first_read.set()
        assert stray_sent.wait(WAIT)
        second = channel.post(b"{}", headers)
        channel.release()
        session.close()
    assert names([first, second]) == ["first", "second"]


def test_regression_a_connection_was_kept_after_an_informational_answer() -> None:
    """http.client takes a 1xx other than 100 (103 Early Hints) for the final answer; the
    connection was then kept, and the real answer to that request, still on its way, became
    the answer to the next request sent on it."""
    from tests.loopback import RawServer, read_request

    def script(sock: Any, server: RawServer) -> None:
        if server.connections > 1:
            sock.sendall(named_answer("second"))
            return
        sock.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n")
        request = read_request(sock)  # the next request, if the channel sent it here
        if request is not None:
            server.record(request)
            sock.sendall(named_answer("first") + named_answer("second"))

    with RawServer(script) as server:
        session, channel = direct_channel(server.url("/v1/send"))
        headers = channel.headers({})
        first = channel.post(b"{}", headers)
        second = channel.post(b"{}", headers)
        channel.release()
        session.close()
    assert first.status == 103
    assert names([second]) == ["second"]


def test_regression_verify_false_gave_no_warning_on_the_direct_path(certificate: tuple[Path, Path]) -> None:
    """``verify=False`` is documented to warn on every request, as urllib3 does through
    ``Session.post``; the channel's own connections never warned."""
    from urllib3.exceptions import InsecureRequestWarning

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with FCMEmulator(ssl_context=context) as emu:
        session = make_session(4)
        channel = Channel(session, emu.v1_url("demo"), {}, 5.0, {"verify": False})
        assert channel.direct
        for _ in range(2):  # a new connection, then a kept one
            with pytest.warns(InsecureRequestWarning, match="127.0.0.1"):
                assert channel.post(b"{}", channel.headers({})).status == 401
        channel.release()
        verified = Channel(session, emu.v1_url("demo"), {}, 5.0, {"verify": str(certificate[0])})
        assert verified.post(b"{}", verified.headers({})).status == 401  # filterwarnings=error: none
        verified.release()
        session.close()


def test_each_direct_request_is_one_write_of_head_and_body(monkeypatch: pytest.MonkeyPatch) -> None:
    """Request line, headers and body leave in one ``sendall``: http.client's two writes would
    cost a second packet (and, with Nagle on either side, a delayed-ACK stall) per request."""
    from fcmclient._http import deadline
    from tests.loopback import RawServer, answer, http_answer

    writes: list[bytes] = []

    class RecordingSocket:
        def __init__(self, sock: Any) -> None:
            self._sock = sock

        def __getattr__(self, name: str) -> Any:
            return getattr(self._sock, name)

        def sendall(self, data: bytes) -> None:
            writes.append(bytes(data))
            self._sock.sendall(data)

        def send(self, data: bytes) -> int:
            writes.append(bytes(data))
            sent: int = self._sock.send(data)
            return sent

    connect = deadline.HTTPConnection.connect

    def recording_connect(self: Any) -> None:
        connect(self)
        self.sock = RecordingSocket(self.sock)

    monkeypatch.setattr(deadline.HTTPConnection, "connect", recording_connect)
    keep_alive = http_answer(200, b'{"name": "n"}', {"Connection": "keep-alive"})
    with RawServer(answer(keep_alive)) as server:
        session, channel = direct_channel(server.url("/v1/send"))
        headers = channel.headers({"Authorization": "Bearer abc"})
        assert channel.post(b'{"message": 1}', headers).status == 200
        channel.release()
        session.close()
        requests_seen = server.requests
    assert writes == requests_seen  # every byte of the request, in a single write
    assert len(writes) == 1
    assert writes[0].startswith(b"POST /v1/send HTTP/1.1\r\n")
    assert writes[0].endswith(b'\r\n\r\n{"message": 1}')


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://fcm.invalid/v1/send", "fcm.invalid"),
        ("http://fcm.invalid:8080/v1/send", "fcm.invalid:8080"),
        ("http://[2001:db8::1]/v1/send", "[2001:db8::1]"),
        ("http://bücher.invalid/v1/send", "xn--bcher-kva.invalid"),
    ],
    ids=["default-port", "other-port", "ipv6", "idna"],
)
def test_the_host_header_is_written_as_requests_writes_it(
    url: str, host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the URL names, the connection goes to a loopback server (as ``curl --resolve``
    would); the Host header the channel writes is the one requests writes."""
    import urllib3.util.connection

    from tests.loopback import RawServer, answer, http_answer

    create_connection = urllib3.util.connection.create_connection
    with RawServer(answer(http_answer(200, b'{"name": "n"}'))) as server:
        here = ("127.0.0.1", server.port)
        monkeypatch.setattr(
            urllib3.util.connection,
            "create_connection",
            lambda address, *args, **kwargs: create_connection(here, *args, **kwargs),
        )
        session, channel = direct_channel(url)
        assert channel.direct
        channel.post(b"{}", channel.headers({}))
        channel.release()
        session.post(url, data=b"{}", timeout=WAIT)
        session.close()
        direct, through_requests = server.requests
    assert dict(raw_head(direct)[1])["host"] == dict(raw_head(through_requests)[1])["host"] == host


def test_host_and_content_length_are_written_once_by_the_channel_itself() -> None:
    from tests.loopback import RawServer, answer, http_answer

    with RawServer(answer(http_answer(200, b"{}"))) as server:
        session, channel = direct_channel(server.url("/v1/send"))
        channel.post(b"{}", channel.headers({"Host": "elsewhere.invalid", "Content-Length": "999"}))
        channel.release()
        session.close()
        (request,) = server.requests
        port = server.port
    fields = raw_head(request)[1]
    assert [value for name, value in fields if name == "host"] == [f"127.0.0.1:{port}"]
    assert [value for name, value in fields if name == "content-length"] == ["2"]


def test_an_answer_announcing_a_gigabyte_is_cut_at_the_cap_without_waiting_for_the_rest() -> None:
    """The cap bounds memory even when the server announces more: the body is read in
    pieces and cut once past the cap, never read (or allocated) whole."""
    from tests.loopback import RawServer

    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % 2**30

    def script(sock: Any, server: RawServer) -> None:
        sock.sendall(head + b"x" * (MAX_RESPONSE_BYTES + 65536))
        server.stopping.wait()  # the rest of the gigabyte never comes

    with RawServer(script) as server:
        session = make_session(4)
        channel = Channel(session, server.url("/v1/send"), {}, 1.0, {})
        reply = channel.post(b"{}", channel.headers({}))
        channel.release()
        session.close()
    assert reply.status == 200
    assert len(reply.body) == MAX_RESPONSE_BYTES  # not b"": the read did not wait for a gigabyte


def test_on_a_new_connection_the_read_timeout_not_the_connect_timeout_bounds_the_answer() -> None:
    from tests.loopback import RawServer, hang

    with RawServer(hang()) as server:
        session = make_session(4)
        channel = Channel(session, server.url("/v1/send"), {}, (5.0, 0.3), {})
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout):
            channel.post(b"{}", channel.headers({}))
        elapsed = time.monotonic() - started
        channel.release()
        session.close()
    assert elapsed < 0.3 + SLACK  # the read timeout; the connect timeout would have allowed 5 s


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
