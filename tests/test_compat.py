"""Code written for fcm-client 0.2.2 / gcm-client 0.1.4 runs unchanged, end to end.

The functions below use only the old libraries' public surface (names, positional
arguments, attributes, the result loop their READMEs taught), and run against the
emulator's legacy endpoint through real sockets.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

import requests

import fcmclient
from fcmclient import FCM, FCMAuthenticationError, JSONMessage, PlainTextMessage, Result
from fcmclient.testing import FCMEmulator, Outcome


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
    fcm_emulator.set_outcome("moved", Outcome.canonical("moved-new"))
    fcm_emulator.set_outcome("gone", "unregistered")
    fcm_emulator.set_outcome("wrong", "sender_mismatch")
    fcm_emulator.set_outcome("busy", Outcome.unavailable(retry_after=3), Outcome.internal(), "delivered")
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
