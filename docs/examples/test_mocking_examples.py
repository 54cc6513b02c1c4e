"""Mocking fcm-client with the HTTP test double you already use (shown in docs/testing.rst).

Each function is a complete test, run as part of fcm-client's own suite. The service
account comes from the ``fcm_service_account`` fixture of fcm-client's pytest plugin: a
fresh RSA key, never a real one.
"""

from __future__ import annotations

import io
import json
import pathlib
from typing import Any

import betamax
import requests
import requests_mock as requests_mock_module
import responses
import vcr

from fcmclient import FCM, JSONMessage

SEND = "https://fcm.googleapis.com/v1/projects/demo/messages:send"
LEGACY = "https://fcm.googleapis.com/fcm/send"
ANSWER = '{"multicast_id": 1, "success": 1, "failure": 0, "results": [{"message_id": "0:1"}]}'
TOKEN = {"access_token": "ya29.a-fake-token", "expires_in": 3600}


def test_with_responses(fcm_service_account: dict[str, Any]) -> None:
    with responses.RequestsMock() as mock:
        mock.post(fcm_service_account["token_uri"], json=TOKEN)
        mock.post(SEND, json={"name": "projects/demo/messages/1"})
        fcm = FCM.from_service_account(fcm_service_account, url=SEND)
        result = fcm.send(JSONMessage(["token-1"], {"order": "1234"}))
        sent = json.loads(mock.calls[1].request.body)

    assert result.success == {"token-1": "projects/demo/messages/1"}
    assert sent["message"] == {"token": "token-1", "data": {"order": "1234"}}


def test_with_requests_mock(requests_mock: requests_mock_module.Mocker) -> None:
    # The legacy API, as fcm-client 0.2's own tests mocked it.
    requests_mock.post(
        LEGACY, json={"multicast_id": 1, "success": 1, "failure": 0, "results": [{"message_id": "0:1"}]}
    )

    result = FCM("my-server-key").send(JSONMessage(["token-1"], {"order": "1234"}))

    assert result.success == {"token-1": "0:1"}
    assert requests_mock.last_request.headers["Authorization"] == "key=my-server-key"


def test_with_a_vcrpy_cassette(tmp_path: pathlib.Path) -> None:
    cassette = tmp_path / "legacy-send.yaml"  # in your project: a recorded file, committed
    cassette.write_text(
        "version: 1\n"
        "interactions:\n"
        "- request: {method: POST, uri: 'https://fcm.googleapis.com/fcm/send', body: '', headers: {}}\n"
        "  response:\n"
        "    status: {code: 200, message: OK}\n"
        "    headers: {Content-Type: [application/json]}\n"
        f"    body: {{string: '{ANSWER}'}}\n"
    )
    with vcr.use_cassette(str(cassette), record_mode="none") as played:
        result = FCM("my-server-key").send(JSONMessage(["token-1"]))

    assert result.success == {"token-1": "0:1"}
    assert played.all_played


def test_with_betamax(tmp_path: pathlib.Path) -> None:
    interaction = {
        "recorded_at": "2026-12-01T00:00:00",
        "request": {
            "method": "POST",
            "uri": LEGACY,
            "body": {"encoding": "utf-8", "string": ""},
            "headers": {},
        },
        "response": {
            "url": LEGACY,
            "status": {"code": 200, "message": "OK"},
            "headers": {"Content-Type": ["application/json"]},
            "body": {"encoding": "utf-8", "string": ANSWER},
        },
    }
    (tmp_path / "legacy-send.json").write_text(json.dumps({"http_interactions": [interaction]}))

    fcm = FCM("my-server-key")
    with betamax.Betamax(fcm.session, cassette_library_dir=str(tmp_path)).use_cassette(
        "legacy-send", record="none"
    ):
        result = fcm.send(JSONMessage(["token-1"]))

    assert result.success == {"token-1": "0:1"}


def test_with_an_adapter_of_your_own() -> None:
    class Recorder(requests.adapters.HTTPAdapter):
        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            sent.append(request)
            answer = requests.Response()
            answer.status_code = 503  # FCM is busy: everything goes to retry()
            answer.headers["Retry-After"] = "30"
            answer.raw = io.BytesIO(b"")
            return answer

    sent: list[requests.PreparedRequest] = []
    fcm = FCM("my-server-key")
    fcm.session.mount("https://", Recorder())

    result = fcm.send(JSONMessage(["token-1", "token-2"]))

    assert [request.url for request in sent] == [LEGACY]
    assert result.retry() is not None
    assert result.delay() == 30.0
