"""Every HTTP test double a user may put in a test sees every request fcm-client makes.

The matrix: each double (``responses``, ``requests-mock`` as context manager, decorator and
pytest fixture, vcrpy cassettes, pytest-recording, betamax, an application's own adapter)
times each kind of exchange (a legacy JSON send, a plain-text send, a v1 multicast with its
JWT-grant token fetch, a token fetch through a google-auth refresh, and the topic operations:
a subscription (POST), an unsubscription (DELETE) and a list of two pages (GET), to tokens
whose ``:`` and ``/`` are quoted in the path). The double answers from
one table of exchanges; the test checks that the result is made of the double's answers, that
the double saw each request with its real method, URL, headers and body, and (the autouse
``no_network`` guard) that nothing was looked up or reached beyond the loopback.
"""

from __future__ import annotations

import json
import pathlib
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import betamax
import pytest
import requests
import requests_mock
import responses
import vcr
from google.oauth2 import credentials as user_credentials

from fcmclient import FCM, JSONMessage, PlainTextMessage, Result, TopicResult
from fcmclient._protocol.legacy import FCM_URL
from tests.conftest import PROJECT, TOKEN_URI, V1_SEND

API_KEY = "AAAA-test-double-server-key"
ACCESS_TOKEN = "ya29.a-token-the-double-issued"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
NOT_REGISTERED = {
    "error": {
        "code": 404,
        "status": "NOT_FOUND",
        "message": "Requested entity was not found.",
        "details": [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}
        ],
    }
}


@dataclass(frozen=True)
class Exchange:
    """One request the client must make, and the answer the double gives it."""

    url: str
    body: bytes  # exact, or the grant type of a token request (its assertion varies)
    headers: Mapping[str, str]
    status: int
    answer: bytes
    grant: bool = False
    method: str = "POST"

    def matches(self, method: str, url: str, body: bytes | str | None) -> bool:
        if isinstance(body, str):
            body = body.encode()
        body = body or b""
        if method != self.method or url != self.url:
            return False
        if self.grant:
            form = urllib.parse.parse_qs(body.decode())
            return form.get("grant_type") == [self.body.decode()]
        return body == self.body


def json_answer(document: object) -> bytes:
    return json.dumps(document).encode()


def v1_body(token: str) -> bytes:
    return json.dumps({"message": {"token": token, "data": {"k": "v"}}}, separators=(",", ":")).encode()


BEARER = {"Authorization": f"Bearer {ACCESS_TOKEN}", "Content-Type": "application/json; charset=UTF-8"}
TOKEN_ANSWER = json_answer({"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"})


@dataclass
class Operation:
    """A user's call, the exchanges it makes, and what its result must then be."""

    name: str
    exchanges: list[Exchange]
    make: Callable[[dict[str, Any]], FCM]
    send: Callable[[FCM], Any]
    check: Callable[[Any], None]
    extra: dict[str, Any] = field(default_factory=dict)


def _check_legacy(result: Result) -> None:
    assert result.success == {"tok-a": "m-a"}
    assert result.not_registered == ["tok-b"]


def _check_plain(result: Result) -> None:
    assert result.success == {"tok-p": "m-p"}


def _check_multicast(result: Result) -> None:
    assert result.success == {
        "tok-a": f"projects/{PROJECT}/messages/m-a",
        "tok-c": f"projects/{PROJECT}/messages/m-c",
    }
    assert result.not_registered == ["tok-b"]


def _check_one(result: Result) -> None:
    assert result.success == {"tok-a": f"projects/{PROJECT}/messages/m-a"}


def _v1_send(token: str) -> Exchange:
    if token == "tok-b":
        return Exchange(V1_SEND, v1_body(token), BEARER, 404, json_answer(NOT_REGISTERED))
    answer = json_answer({"name": f"projects/{PROJECT}/messages/m-{token[-1]}"})
    return Exchange(V1_SEND, v1_body(token), BEARER, 200, answer)


def _refreshed(_: dict[str, Any]) -> FCM:
    creds = user_credentials.Credentials(  # type: ignore[no-untyped-call]
        None, refresh_token="a-refresh-token", token_uri=TOKEN_URI, client_id="cid", client_secret="cs"
    )
    return FCM(credentials=creds, project_id=PROJECT)


REGISTRATIONS = f"https://fcm.googleapis.com/v1/projects/{PROJECT}/registrations"
#: Tokens as the subscription API's paths name them: ``:`` and ``/`` quoted.
QUOTED = {"tok-a": "tok-a", "tok:b/x": "tok%3Ab%2Fx"}


def _subscription(token: str) -> Exchange:
    url = f"{REGISTRATIONS}/{QUOTED[token]}/topicSubscriptions?topicName=news"
    if token != "tok-a":
        return Exchange(url, b"{}", BEARER, 404, json_answer(NOT_REGISTERED))
    name = f"projects/{PROJECT}/registrations/tok-a/topicSubscriptions/news"
    return Exchange(url, b"{}", BEARER, 200, json_answer({"name": name, "topicName": "news"}))


def _unsubscription(token: str) -> Exchange:
    url = f"{REGISTRATIONS}/{QUOTED[token]}/topicSubscriptions/news?allowMissing=true"
    return Exchange(url, b"", {"Authorization": BEARER["Authorization"]}, 200, b"{}", method="DELETE")


def _page(page_token: str | None, topics: list[str], following: str | None) -> Exchange:
    url = f"{REGISTRATIONS}/tok%3Ab%2Fx/topicSubscriptions?pageSize=2000"
    url += f"&pageToken={page_token}" if page_token else ""
    document: dict[str, Any] = {"topicSubscriptions": [{"topicName": topic} for topic in topics]}
    if following:
        document["nextPageToken"] = following
    return Exchange(
        url, b"", {"Authorization": BEARER["Authorization"]}, 200, json_answer(document), method="GET"
    )


def _check_subscribed(result: TopicResult) -> None:
    assert (result.success, result.not_registered, result.retry()) == (["tok-a"], ["tok:b/x"], None)


def _check_unsubscribed(result: TopicResult) -> None:
    assert result.success == ["tok-a", "tok:b/x"]


def _check_listed(topics: list[str]) -> None:
    assert topics == ["news", "sport", "weather"]


def _topic_operation(
    name: str, exchanges: list[Exchange], call: Callable[[FCM], Any], check: Any
) -> Operation:
    """A topic operation of a service account's FCM: its token fetch, then ``exchanges``."""
    fetch = Exchange(TOKEN_URI, JWT_GRANT.encode(), {}, 200, TOKEN_ANSWER, grant=True)
    return Operation(name, [fetch, *exchanges], FCM.from_service_account, call, check)


TOPIC_OPERATIONS = [
    _topic_operation(
        "v1 topic subscription",
        [_subscription(token) for token in QUOTED],
        lambda fcm: fcm.subscribe_to_topic(list(QUOTED), "/topics/news"),
        _check_subscribed,
    ),
    _topic_operation(
        "v1 topic unsubscription",
        [_unsubscription(token) for token in QUOTED],
        lambda fcm: fcm.unsubscribe_from_topic(list(QUOTED), "news"),
        _check_unsubscribed,
    ),
    _topic_operation(
        "v1 topic list",
        [_page(None, ["news", "sport"], "page-2"), _page("page-2", ["weather"], None)],
        lambda fcm: fcm.topic_subscriptions("tok:b/x"),
        _check_listed,
    ),
]

LEGACY_BODY = b'{"registration_ids":["tok-a","tok-b"],"data":{"k":"v"},"notification":{"title":"T"}}'
OPERATIONS = [
    Operation(
        "legacy JSON",
        [
            Exchange(
                FCM_URL,
                LEGACY_BODY,
                {"Authorization": f"key={API_KEY}", "Content-Type": "application/json"},
                200,
                json_answer(
                    {
                        "multicast_id": 7,
                        "success": 1,
                        "failure": 1,
                        "canonical_ids": 0,
                        "results": [{"message_id": "m-a"}, {"error": "NotRegistered"}],
                    }
                ),
            )
        ],
        lambda _: FCM(API_KEY),
        lambda fcm: fcm.send(JSONMessage(["tok-a", "tok-b"], {"k": "v"}, message_title="T")),
        _check_legacy,
    ),
    Operation(
        "plain text",
        [
            Exchange(
                FCM_URL,
                b"registration_id=tok-p&data.k=v",
                {
                    "Authorization": f"key={API_KEY}",
                    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
                },
                200,
                b"id=m-p",
            )
        ],
        lambda _: FCM(API_KEY),
        lambda fcm: fcm.send(PlainTextMessage("tok-p", {"k": "v"})),
        _check_plain,
    ),
    Operation(
        "v1 multicast",
        [
            Exchange(TOKEN_URI, JWT_GRANT.encode(), {}, 200, TOKEN_ANSWER, grant=True),
            *(_v1_send(token) for token in ("tok-a", "tok-b", "tok-c")),
        ],
        lambda info: FCM.from_service_account(info),
        lambda fcm: fcm.send(JSONMessage(["tok-a", "tok-b", "tok-c"], {"k": "v"})),
        _check_multicast,
    ),
    Operation(
        "token fetch by google-auth refresh",
        [Exchange(TOKEN_URI, b"refresh_token", {}, 200, TOKEN_ANSWER, grant=True), _v1_send("tok-a")],
        _refreshed,
        lambda fcm: fcm.send(JSONMessage(["tok-a"], {"k": "v"})),
        _check_one,
    ),
    *TOPIC_OPERATIONS,
]


@pytest.fixture(params=OPERATIONS, ids=[op.name for op in OPERATIONS])
def op(request: pytest.FixtureRequest) -> Operation:
    operation: Operation = request.param
    return operation


def answer_for(op: Operation, method: str, url: str, body: bytes | str | None) -> Exchange:
    for exchange in op.exchanges:
        if exchange.matches(method, url, body):
            return exchange
    raise AssertionError(f"no exchange for {method} {url} {body!r:.200}")


Seen = list[tuple[str, str, Mapping[str, str], bytes]]


def check_seen(op: Operation, seen: Seen) -> None:
    """Every exchange was seen exactly once, with its method, URL, body and headers."""
    assert len(seen) == len(op.exchanges), [(m, u) for m, u, _, _ in seen]
    for exchange in op.exchanges:
        (request,) = [s for s in seen if exchange.matches(s[0], s[1], s[3])]
        headers = requests.structures.CaseInsensitiveDict(request[2])
        for name, value in exchange.headers.items():
            assert headers.get(name) == value, (name, headers.get(name))


def run(op: Operation, fcm: FCM) -> None:
    with fcm:
        op.check(op.send(fcm))


# -- responses ------------------------------------------------------------------------------------


def test_responses(op: Operation, service_account_info: dict[str, Any]) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:

        def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
            exchange = answer_for(op, str(request.method), str(request.url), request.body)
            return exchange.status, {"Content-Type": "application/json"}, exchange.answer

        for method, url in {(exchange.method, exchange.url) for exchange in op.exchanges}:
            mock.add_callback(method, url, callback=callback)
        run(op, op.make(service_account_info))
        seen = [
            (str(c.request.method), str(c.request.url), c.request.headers, _bytes(c.request.body))
            for c in mock.calls
        ]
    check_seen(op, seen)


def _bytes(body: object) -> bytes:
    if isinstance(body, str):
        return body.encode()
    return body if isinstance(body, bytes) else b""


# -- requests-mock: context manager, decorator, pytest fixture -----------------------------------


def _register(mocker: requests_mock.Mocker, op: Operation) -> None:
    def text(request: Any, context: Any) -> bytes:
        exchange = answer_for(op, request.method, request.url, request.body)
        context.status_code = exchange.status
        context.headers["Content-Type"] = "application/json"
        return exchange.answer

    for method, url in {(exchange.method, exchange.url) for exchange in op.exchanges}:
        mocker.register_uri(method, url, content=text)


def _requests_mock_seen(mocker: requests_mock.Mocker) -> Seen:
    return [(r.method, r.url, r.headers, _bytes(r.body)) for r in mocker.request_history]


def test_requests_mock_context_manager(op: Operation, service_account_info: dict[str, Any]) -> None:
    with requests_mock.Mocker() as mocker:
        _register(mocker, op)
        run(op, op.make(service_account_info))
    check_seen(op, _requests_mock_seen(mocker))


@requests_mock.Mocker(kw="mocker")
def test_requests_mock_decorator(op: Operation, service_account_info: dict[str, Any], **kwargs: Any) -> None:
    mocker = kwargs["mocker"]
    _register(mocker, op)
    run(op, op.make(service_account_info))
    check_seen(op, _requests_mock_seen(mocker))


def test_requests_mock_fixture(
    op: Operation, service_account_info: dict[str, Any], requests_mock: requests_mock.Mocker
) -> None:
    _register(requests_mock, op)
    run(op, op.make(service_account_info))
    check_seen(op, _requests_mock_seen(requests_mock))


# -- cassettes: vcrpy, pytest-recording, betamax ---------------------------------------------------


def vcr_cassette(op: Operation) -> dict[str, Any]:
    """The cassette a recording of ``op`` would have made (vcrpy's format)."""
    return {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "method": exchange.method,
                    "uri": exchange.url,
                    "body": exchange.body.decode(),
                    "headers": {name: [value] for name, value in exchange.headers.items()},
                },
                "response": {
                    "status": {"code": exchange.status, "message": "Recorded"},
                    "headers": {"Content-Type": ["application/json"]},
                    "body": {"string": exchange.answer.decode()},
                },
            }
            for exchange in op.exchanges
        ],
    }


def vcr_matcher(op: Operation, seen: Seen) -> Callable[[Any, Any], None]:
    """A vcrpy matcher: the request matches the recorded one exactly (headers included)."""

    def match(incoming: Any, recorded: Any) -> None:
        exchange = answer_for(op, incoming.method, incoming.uri, incoming.body)
        assert exchange.matches(recorded.method, recorded.uri, _recorded_body(exchange, recorded))
        for name, value in exchange.headers.items():
            assert incoming.headers.get(name) == value
        seen.append((incoming.method, incoming.uri, dict(incoming.headers), _bytes(incoming.body)))

    return match


def _recorded_body(exchange: Exchange, recorded: Any) -> bytes:
    body = _bytes(recorded.body)
    return b"grant_type=" + body if exchange.grant else body


@contextmanager
def vcr_playing(op: Operation, directory: pathlib.Path, seen: Seen) -> Iterator[Any]:
    (directory / "fcm.json").write_text(json.dumps(vcr_cassette(op)))
    recorder = vcr.VCR(serializer="json", cassette_library_dir=str(directory), record_mode="none")
    recorder.register_matcher("fcm", vcr_matcher(op, seen))
    with recorder.use_cassette("fcm.json", match_on=["fcm"], allow_playback_repeats=False) as cassette:
        yield cassette


def test_vcrpy(op: Operation, service_account_info: dict[str, Any], tmp_path: pathlib.Path) -> None:
    seen: Seen = []
    with vcr_playing(op, tmp_path, seen) as cassette:
        run(op, op.make(service_account_info))
        assert cassette.all_played
    _check_once_each(op, seen)


def _check_once_each(op: Operation, seen: Seen) -> None:
    """A cassette matcher runs once per (request, recorded interaction) pair it tries: keep
    the first sighting of each request."""
    firsts: Seen = []
    for request in seen:
        if request not in firsts:
            firsts.append(request)
    check_seen(op, firsts)


@pytest.fixture
def vcr_cassette_dir(op: Operation, tmp_path: pathlib.Path) -> str:
    (tmp_path / "fcm.json").write_text(json.dumps(vcr_cassette(op)))
    return str(tmp_path)


@pytest.fixture
def default_cassette_name() -> str:
    return "fcm.json"


#: The matcher pytest-recording's cassettes use, set by :func:`recording_seen` for one test
#: (pytest-recording makes its VCR itself; ``tests/conftest.py`` registers this through
#: pytest-recording's ``pytest_recording_configure`` hook).
RECORDING_MATCHER: list[Callable[[Any, Any], None]] = []


def recording_match(incoming: Any, recorded: Any) -> None:
    RECORDING_MATCHER[0](incoming, recorded)


@pytest.fixture
def recording_seen(op: Operation) -> Iterator[Seen]:
    seen: Seen = []
    RECORDING_MATCHER[:] = [vcr_matcher(op, seen)]
    yield seen
    RECORDING_MATCHER.clear()


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return {"serializer": "json", "match_on": ["fcm"], "record_mode": "none"}


@pytest.mark.vcr
def test_pytest_recording(
    op: Operation, service_account_info: dict[str, Any], recording_seen: Seen, vcr: Any
) -> None:
    run(op, op.make(service_account_info))
    assert vcr.all_played
    _check_once_each(op, recording_seen)


def test_betamax(op: Operation, service_account_info: dict[str, Any], tmp_path: pathlib.Path) -> None:
    seen: Seen = []

    class Matcher(betamax.BaseMatcher):  # type: ignore[misc]
        name = "fcm-exchange"

        def match(self, request: requests.PreparedRequest, recorded: dict[str, Any]) -> bool:
            exchange = answer_for(op, str(request.method), str(request.url), request.body)
            recorded_body = recorded["body"]["string"].encode()
            if exchange.grant:
                recorded_body = b"grant_type=" + recorded_body
            if not exchange.matches(recorded["method"], recorded["uri"], recorded_body):
                return False
            seen.append((str(request.method), str(request.url), request.headers, _bytes(request.body)))
            return all(request.headers.get(name) == value for name, value in exchange.headers.items())

    betamax.Betamax.register_request_matcher(Matcher)
    (tmp_path / "fcm.json").write_text(json.dumps(betamax_cassette(op)))
    fcm = op.make(service_account_info)
    recorder = betamax.Betamax(fcm.session, cassette_library_dir=str(tmp_path))
    with recorder.use_cassette("fcm", record="none", match_requests_on=["fcm-exchange"]):
        run(op, fcm)
        assert all(interaction.used for interaction in recorder.current_cassette.interactions)
    _check_once_each(op, seen)


def betamax_cassette(op: Operation) -> dict[str, Any]:
    """The cassette a recording of ``op`` would have made (betamax's format)."""
    return {
        "recorded_with": f"betamax/{betamax.__version__}",
        "http_interactions": [
            {
                "recorded_at": "2026-12-01T00:00:00",
                "request": {
                    "method": exchange.method,
                    "uri": exchange.url,
                    "body": {"encoding": "utf-8", "string": exchange.body.decode()},
                    "headers": {name: [value] for name, value in exchange.headers.items()},
                },
                "response": {
                    "url": exchange.url,
                    "status": {"code": exchange.status, "message": "Recorded"},
                    "headers": {"Content-Type": ["application/json"]},
                    "body": {"encoding": "utf-8", "string": exchange.answer.decode()},
                },
            }
            for exchange in op.exchanges
        ],
    }


# -- an application's own transport adapter -------------------------------------------------------


def test_own_adapter(op: Operation, service_account_info: dict[str, Any]) -> None:
    seen: Seen = []

    class Canned(requests.adapters.HTTPAdapter):
        """Answers from the table and never touches a socket."""

        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            seen.append((str(request.method), str(request.url), request.headers, _bytes(request.body)))
            exchange = answer_for(op, str(request.method), str(request.url), request.body)
            response = requests.Response()
            response.status_code = exchange.status
            response.headers["Content-Type"] = "application/json"
            response.raw = _Raw(exchange.answer)
            response.url = str(request.url)
            response.request = request
            return response

    fcm = op.make(service_account_info)
    fcm.session.mount("https://", Canned())
    run(op, fcm)
    check_seen(op, seen)


class _Raw:
    """The file-like ``Response.raw`` reads from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, amount: int = -1, **_: Any) -> bytes:
        if amount < 0:
            amount = len(self._data)
        chunk, self._data = self._data[:amount], self._data[amount:]
        return chunk

    def close(self) -> None:
        pass


def test_a_double_seen_at_import_time_is_still_seen() -> None:
    """Pieces are judged by where they come from, not only by identity: a double already
    active when fcmclient was imported (a Mocker started in a conftest) is still a double."""
    import subprocess
    import sys

    code = (
        "from tests.netguard import NetworkGuard\n"
        "guard = NetworkGuard(); guard.installed().__enter__()\n"
        "import requests_mock\n"
        "mocker = requests_mock.Mocker(); mocker.start()\n"
        "mocker.post('https://fcm.googleapis.com/fcm/send', json={'multicast_id': 1, 'success': 1,"
        " 'failure': 0, 'canonical_ids': 0, 'results': [{'message_id': 'm'}]})\n"
        "from fcmclient import FCM, JSONMessage\n"
        "print(FCM('key').send(JSONMessage(['t'])).success, guard.take())\n"
    )
    root = pathlib.Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False, cwd=root
    )
    assert done.stdout.strip() == "{'t': 'm'} []", done.stderr
