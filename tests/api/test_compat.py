"""Code written for fcm-client 0.2.2 / gcm-client 0.1.4 runs unchanged, end to end.

The functions below use only the old libraries' public surface (names, positional
arguments, attributes, the result loop their READMEs taught), and run against the
emulator's legacy endpoint through real sockets.
"""

from __future__ import annotations

import io
import json
import pickle
from typing import Any

import pytest
import requests
import requests_mock

import fcmclient
from fcmclient import FCM, FCMAuthenticationError, JSONMessage, PlainTextMessage, Result
from fcmclient.testing import Answer, FCMEmulator


def old_style_send_loop(fcm: FCM, message: JSONMessage | PlainTextMessage) -> dict[str, Any]:
    """An application's send loop, as written for fcm-client 0.2: it never sleeps, it
    records what it would schedule."""
    report: dict[str, Any] = {"sent": {}, "replace": {}, "delete": [], "failed": {}, "waits": []}
    retry = 0
    current: Any = message
    while current is not None:
        try:
            res = fcm.send(current)
        except FCMAuthenticationError:
            report["auth_error"] = True
            return report
        for reg_id, msg_id in res.success.items():
            report["sent"][reg_id] = msg_id
        for reg_id, new_reg_id in res.canonical.items():
            report["replace"][reg_id] = new_reg_id
        for reg_id in res.not_registered:
            report["delete"].append(reg_id)
        for reg_id, err_code in res.failed.items():
            report["failed"][reg_id] = err_code
        if res.needs_retry():
            current = res.retry()
            report["waits"].append(res.delay(retry))
            retry += 1
        else:
            current = None
    return report


def test_the_0_2_send_loop_runs_unchanged(fcm_emulator: FCMEmulator) -> None:
    fcm_emulator.set_outcome("moved", Answer.canonical("moved-new"))
    fcm_emulator.set_outcome("gone", "unregistered")
    fcm_emulator.set_outcome("wrong", "sender_mismatch")
    fcm_emulator.set_outcome("busy", Answer.unavailable(retry_after=3), Answer.internal(), "delivered")
    fcm = FCM(fcm_emulator.api_key, fcm_emulator.legacy_url, FCM.INITIAL_BACKOFF)
    message = JSONMessage(
        ["ok", "moved", "gone", "wrong", "busy"],
        {"str": "string", "int": 10},
        "Title",
        "Body",
        collapse_key="my.key",
        time_to_live=3600,
        priority="high",
        delay_while_idle=True,
        dry_run=False,
    )
    report = old_style_send_loop(fcm, message)
    fcm.close()
    assert set(report["sent"]) == {"ok", "moved", "busy"}
    assert report["replace"] == {"moved": "moved-new"}
    assert report["delete"] == ["gone"]
    assert report["failed"] == {"wrong": "MismatchSenderId"}
    first_wait, second_wait = report["waits"]
    assert first_wait == 3.0  # Retry-After, a float, where 0.2 raised TypeError on Python 3
    assert 1.5 <= second_wait <= 2.5  # then backoff: 1000 ms * 2**1, +/- 500 ms
    (delivered,) = fcm_emulator.inbox("busy")
    assert delivered["notification"] == {"title": "Title", "body": "Body"}
    assert delivered["data"] == {"str": "string", "int": "10"}


def test_the_gcm_client_plain_text_unicast_runs_unchanged(fcm_emulator: FCMEmulator) -> None:
    with FCM(fcm_emulator.api_key, url=fcm_emulator.legacy_url) as fcm:
        report = old_style_send_loop(fcm, PlainTextMessage("device-1", {"k": "v"}, collapse_key="c"))
    assert list(report["sent"]) == ["device-1"]
    assert fcm_emulator.inbox("device-1")[0]["data"] == {"k": "v"}


def test_a_rejected_key_reaches_the_old_except_clause(fcm_emulator: FCMEmulator) -> None:
    with FCM("not-the-key", url=fcm_emulator.legacy_url) as fcm:
        assert old_style_send_loop(fcm, JSONMessage(["a"]))["auth_error"] is True
    assert issubclass(FCMAuthenticationError, ValueError)  # old code caught ValueError too


def test_the_old_connection_attributes_are_there() -> None:
    fcm = FCM("server-key", "https://proxy.example.test/fcm/send", 500, proxies={"https": "http://p:3128"})
    assert fcm.api_key == "server-key"
    assert fcm.url == "https://proxy.example.test/fcm/send"
    assert fcm.backoff == 500
    assert fcm.requests_options == {"timeout": 10.0, "proxies": {"https": "http://p:3128"}}
    assert "server-key" not in repr(fcm)
    fcm.close()
    with FCM("k", timeout=3) as timed:
        assert timed.requests_options == {"timeout": 3.0}
    with FCM(api_key="k") as default:
        assert default.url == fcmclient.FCM_URL


def test_messages_travel_the_old_ways() -> None:
    message = JSONMessage(["a", "b"], {"k": "v"}, message_title="T", collapse_key="c", dry_run=True)
    through_json = JSONMessage(**json.loads(json.dumps(message.__getstate__())))
    through_pickle = pickle.loads(pickle.dumps(message))  # noqa: S301 - our own bytes
    assert through_json.payload == through_pickle.payload == message.payload
    plain = PlainTextMessage("a", {"k": "v"}, time_to_live=0)
    assert PlainTextMessage(**plain.__getstate__()) == plain
    assert (message.registration_ids, message.data, message.message_title, message.options) == (
        ["a", "b"],
        {"k": "v"},
        "T",
        {"collapse_key": "c", "dry_run": True},
    )


def test_result_built_from_a_response_the_old_way(fcm_emulator: FCMEmulator) -> None:
    # gcm-client's tests and some apps built Result(message, response, backoff) themselves.
    fcm_emulator.set_outcome("gone", "unregistered")
    message = JSONMessage(["ok", "gone"], {"k": "v"})
    with requests.Session() as session:
        response = session.post(
            fcm_emulator.legacy_url,
            data=json.dumps(message.payload),
            headers={"Authorization": "key=" + fcm_emulator.api_key, "Content-Type": "application/json"},
            timeout=10,
        )
    result = Result(message, response, FCM.INITIAL_BACKOFF)
    assert list(result.success) == ["ok"]
    assert result.not_registered == ["gone"]
    assert not result.needs_retry()
    assert result.retry() is None
    assert isinstance(result.multicast_id, int)


# -- tests written the way fcm-client 0.2's own suite was: requests-mock around the client ------


FCM_SEND = "https://fcm.googleapis.com/fcm/send"


def test_a_0_2_style_mocked_send_runs_unchanged() -> None:
    """A requests_mock.Mocker() around FCM(key).send(JSONMessage(...)): the mock answers, and
    sees the request the old library made (the autouse network guard fails the test if the
    request escaped the mock)."""
    answer = {
        "multicast_id": 216,
        "success": 2,
        "failure": 2,
        "canonical_ids": 1,
        "results": [
            {"message_id": "1:0408"},
            {"error": "Unavailable"},
            {"error": "NotRegistered"},
            {"message_id": "1:2342", "registration_id": "reg-4-new"},
        ],
    }
    with requests_mock.Mocker() as m:
        m.post(FCM_SEND, json=answer, headers={"Retry-After": "120"})
        fcm = FCM("my-api-key")
        res = fcm.send(
            JSONMessage(
                ["reg-1", "reg-2", "reg-3", "reg-4"], {"str": "string", "int": 10}, collapse_key="my.key"
            )
        )
    assert m.call_count == 1
    sent = m.last_request
    assert (sent.method, sent.url) == ("POST", FCM_SEND)
    assert sent.headers["Authorization"] == "key=my-api-key"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json() == {
        "registration_ids": ["reg-1", "reg-2", "reg-3", "reg-4"],
        "data": {"str": "string", "int": 10},
        "collapse_key": "my.key",
    }
    assert res.success == {"reg-1": "1:0408", "reg-4": "1:2342"}
    assert res.canonical == {"reg-4": "reg-4-new"}
    assert res.not_registered == ["reg-3"]
    assert res.needs_retry()
    retry = res.retry()
    assert isinstance(retry, JSONMessage)
    assert retry.registration_ids == ["reg-2"]
    assert res.delay() == 120.0


def test_a_0_2_style_mocked_plain_text_send_runs_unchanged() -> None:
    with requests_mock.Mocker() as m:
        m.post(FCM_SEND, text="id=0:1516\nregistration_id=reg-1-new\n")
        res = FCM("my-api-key").send(PlainTextMessage("reg-1", {"str": "string"}, dry_run=True))
    assert m.last_request.text == "registration_id=reg-1&data.str=string&dry_run=1"
    assert res.success == {"reg-1": "0:1516"}
    assert res.canonical == {"reg-1": "reg-1-new"}


def test_a_0_2_style_mocked_rejection_reaches_the_old_except_clauses() -> None:
    with requests_mock.Mocker() as m:
        m.post(FCM_SEND, status_code=401, text="<HTML><TITLE>Unauthorized</TITLE></HTML>")
        with pytest.raises(ValueError, match="401"):  # 0.2 raised ValueError subclasses
            FCM("my-api-key").send(JSONMessage(["reg-1"]))
        m.post(FCM_SEND, status_code=400, text="Bad request: registration_ids is empty")
        with pytest.raises(ValueError, match="registration_ids is empty"):
            FCM("my-api-key").send(JSONMessage(["reg-1"]))


def response_of(status: int, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
    """A requests.Response made by hand, as 0.2's tests made the ones they fed to Result."""
    response = requests.Response()
    response.status_code = status
    response.raw = io.BytesIO(body)
    response.headers.update(headers or {})
    return response


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (
            200,
            b'{"multicast_id": 1, "success": 1, "failure": 1, "canonical_ids": 0,'
            b' "results": [{"message_id": "1:1"}, {"error": "InternalServerError"}]}',
            {},
            ({"reg-1": "1:1"}, [], ["reg-2"], None),
        ),
        (503, b"", {"Retry-After": "30"}, ({}, [], ["reg-1", "reg-2"], 30.0)),
        (
            200,
            b'{"multicast_id": 1, "success": 0, "failure": 2, "canonical_ids": 0,'
            b' "results": [{"error": "NotRegistered"}, {"error": "InvalidRegistration"}]}',
            {},
            ({}, ["reg-1"], [], None),
        ),
    ],
    ids=["mixed", "unavailable", "dead"],
)
def test_result_from_a_hand_made_response(
    status: int, body: bytes, headers: dict[str, str], expected: tuple[Any, ...]
) -> None:
    message = JSONMessage(["reg-1", "reg-2"], {"k": "v"})
    res = Result(message, response_of(status, body, headers), FCM.INITIAL_BACKOFF)
    success, not_registered, retry, delay = expected
    assert res.success == success
    assert res.not_registered == not_registered
    retried = res.retry()
    assert (retried.registration_ids if isinstance(retried, JSONMessage) else []) == retry
    if delay is not None:
        assert res.delay() == delay
    elif retry:
        assert 0.5 <= res.delay() <= 1.5  # backoff: 1000 ms +/- 500 ms


def test_result_from_a_hand_made_bad_response_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        Result(JSONMessage(["reg-1"]), response_of(200, b"<html>"), FCM.INITIAL_BACKOFF)
