"""Bugs of fcm-client 0.2 / gcm-client, each pinned by a test named after it."""

from __future__ import annotations

import inspect
import io
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from fcmclient import FCM, FCM_URL, FCMRequestError, FCMResponseError, JSONMessage, Result
from fcmclient._http.session import DEFAULT_TIMEOUT

API_KEY = "AAAA-regression-key-0c41"


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def fcm() -> Iterator[FCM]:
    with FCM(API_KEY) as client:
        yield client


def test_regression_retry_after_compared_as_string_to_int(mock: responses.RequestsMock, fcm: FCM) -> None:
    # 0.2 did `response.headers.get("Retry-After", 0) < 1`: a str against an int, TypeError on Python 3.
    mock.post(FCM_URL, status=503, headers={"Retry-After": "120"})
    result = fcm.send(JSONMessage(["a"]))
    assert result.delay() == 120.0
    assert type(result.delay()) is float
    assert result.delay(retry=3) == 120.0


def test_regression_message_body_returned_the_title() -> None:
    msg = JSONMessage(["a"], message_title="the title", message_body="the body")
    assert msg.message_body == "the body"
    assert msg.message_title == "the title"


def test_regression_notification_body_sent_as_text(mock: responses.RequestsMock, fcm: FCM) -> None:
    msg = JSONMessage(["a"], message_title="T", message_body="B")
    mock.post(
        FCM_URL,
        json={"multicast_id": 1, "results": [{"message_id": "1"}]},
        match=[
            matchers.json_params_matcher(
                {"registration_ids": ["a"], "notification": {"title": "T", "body": "B"}}
            )
        ],
    )
    fcm.send(msg)
    sent = json.loads(mock.calls[0].request.body)
    assert "text" not in sent["notification"]


def test_regression_getstate_did_not_return_constructor_kwargs() -> None:
    # 0.2 returned the raw payload; JSONMessage(**payload) then sent "notification" as an option.
    msg = JSONMessage(["a"], {"k": "v"}, message_title="T", message_body="B", collapse_key="c")
    state = msg.__getstate__()
    parameters = set(inspect.signature(JSONMessage).parameters) - {"options"}
    assert set(state) - parameters == {"collapse_key"}
    assert "notification" not in state
    rebuilt = JSONMessage(**state)
    assert (
        rebuilt.payload
        == msg.payload
        == {
            "registration_ids": ["a"],
            "data": {"k": "v"},
            "notification": {"title": "T", "body": "B"},
            "collapse_key": "c",
        }
    )


@pytest.mark.parametrize("options", [{}, {"timeout": None}])
def test_regression_requests_had_no_timeout(mock: responses.RequestsMock, options: dict[str, Any]) -> None:
    mock.post(
        FCM_URL,
        json={"multicast_id": 1, "results": [{"message_id": "1"}]},
        match=[matchers.request_kwargs_matcher({"timeout": DEFAULT_TIMEOUT})],
    )
    with FCM(API_KEY, **options) as client:
        client.send(JSONMessage(["a"]))
    timeout = mock.calls[0].request.req_kwargs["timeout"]  # type: ignore[attr-defined]
    assert timeout is not None
    assert 0 < timeout < float("inf")


def test_regression_new_connection_per_send_via_module_level_post(
    mock: responses.RequestsMock, fcm: FCM, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The connection count itself is pinned on a real socket in test_connection_reuse.py.
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("module-level requests helpers open a new connection per call")

    for name in ("post", "request"):
        monkeypatch.setattr(requests, name, refuse)
        monkeypatch.setattr(requests.api, name, refuse)
    mock.post(FCM_URL, json={"multicast_id": 1, "results": [{"message_id": "1"}]})
    mock.post(FCM_URL, json={"multicast_id": 2, "results": [{"message_id": "2"}]})
    assert fcm.send(JSONMessage(["a"])).success == {"a": "1"}
    assert fcm.send(JSONMessage(["a"])).success == {"a": "2"}


def test_regression_keyerror_on_body_without_multicast_id(mock: responses.RequestsMock, fcm: FCM) -> None:
    mock.post(FCM_URL, json={"results": [{"message_id": "1"}, {"error": "NotRegistered"}]})
    result = fcm.send(JSONMessage(["a", "b"]))
    assert result.multicast_id is None
    assert result.success == {"a": "1"}
    assert result.not_registered == ["b"]


def test_regression_keyerror_on_entry_without_error(mock: responses.RequestsMock, fcm: FCM) -> None:
    mock.post(FCM_URL, json={"multicast_id": 1, "results": [{"message_id": "1"}, {"status": "weird"}]})
    with pytest.raises(FCMResponseError, match="neither message_id nor error") as info:
        fcm.send(JSONMessage(["a", "b"]))
    assert not isinstance(info.value, KeyError)


@pytest.mark.parametrize("status", [302, 404, 418])
def test_regression_runtime_error_for_unknown_status(
    mock: responses.RequestsMock, fcm: FCM, status: int
) -> None:
    mock.post(FCM_URL, status=status, body="nope")
    with pytest.raises(ValueError, match=f"HTTP status {status}") as info:
        fcm.send(JSONMessage(["a"]))
    assert isinstance(info.value, FCMRequestError)
    assert not isinstance(info.value, (RuntimeError, AssertionError))


def test_regression_bare_string_registration_ids_iterated_as_characters() -> None:
    with pytest.raises(TypeError, match="single str"):
        JSONMessage("token-abc")


def test_regression_400_explanation_raised_as_bytes(mock: responses.RequestsMock, fcm: FCM) -> None:
    # 0.2 did `raise ValueError(response.content)`: a bytes object as the message.
    mock.post(FCM_URL, status=400, body=b"InvalidTokenFormat")
    with pytest.raises(FCMRequestError) as info:
        fcm.send(JSONMessage(["a"]))
    assert info.value.explanation == "InvalidTokenFormat"
    assert all(isinstance(arg, str) for arg in info.value.args)
    assert "b'" not in str(info.value)


def test_regression_unknown_options_silently_dropped(mock: responses.RequestsMock, fcm: FCM) -> None:
    # 0.2 kept only its own OPTIONS table: content_available, mutable_content and priority-like
    # newcomers never reached FCM.
    body = {"registration_ids": ["a"], "content_available": True, "mutable_content": True, "custom": "x"}
    mock.post(
        FCM_URL,
        json={"multicast_id": 1, "results": [{"message_id": "1"}]},
        match=[matchers.json_params_matcher(body)],
    )
    assert fcm.send(JSONMessage(["a"], content_available=True, mutable_content=True, custom="x")).success == {
        "a": "1"
    }


def test_regression_zero_backoff_crashed_randrange() -> None:
    # 0.2 drew `randrange(backoff)`, a ValueError for backoff=0.
    response = requests.Response()
    response.status_code = 503
    response.raw = io.BytesIO(b"")
    result = Result(JSONMessage(["a"]), response, 0, rng=random.Random(1))
    assert result.delay() == 0.0
    assert result.delay(4) == 0.0


def test_regression_fcm_url_pointed_at_android_googleapis() -> None:
    assert FCM_URL == "https://fcm.googleapis.com/fcm/send"


def test_regression_whole_message_retry_kept_the_same_object(mock: responses.RequestsMock, fcm: FCM) -> None:
    # 0.2 handed back the very message that was sent; retry() is now a new, equal value.
    msg = JSONMessage(["a", "b"], {"k": "v"}, message_title="T")
    mock.post(FCM_URL, status=500)
    retry = fcm.send(msg).retry()
    assert retry == msg
    assert retry is not msg
