"""Legacy sends through ``FCM``, one exchange at a time, with `responses` at the transport seam."""

from __future__ import annotations

import json
import math
import pickle
import socket
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from fcmclient import (
    FCM,
    FCM_URL,
    FCMAuthenticationError,
    FCMRequestError,
    FCMResponseError,
    InstallationMessage,
    JSONMessage,
    PlainTextMessage,
    Result,
    TopicMessage,
    __version__,
)
from fcmclient._http.session import DEFAULT_TIMEOUT, MAX_TIMEOUT

API_KEY = "AAAA-legacy-server-key-7f3c9e"
JSON_HEADERS = {"Authorization": f"key={API_KEY}", "Content-Type": "application/json"}
FORM_HEADERS = {
    "Authorization": f"key={API_KEY}",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
}


def assert_secret_free(exc: BaseException) -> None:
    assert API_KEY not in str(exc)
    assert API_KEY not in repr(exc)


def multicast(*results: dict[str, Any]) -> dict[str, Any]:
    return {"multicast_id": 77, "success": 0, "failure": 0, "canonical_ids": 0, "results": list(results)}


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def fcm() -> Iterator[FCM]:
    with FCM(API_KEY) as client:
        yield client


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- what is sent -------------------------------------------------------------------------------


def test_json_send_posts_the_payload_with_key_and_content_type(
    mock: responses.RequestsMock, fcm: FCM
) -> None:
    msg = JSONMessage(
        ["tok-1", "tok-2"],
        {"score": "3:1"},
        message_title="Goal!",
        message_body="Scored",
        collapse_key="score",
        time_to_live=0,
        android={"priority": "HIGH"},
    )
    expected_body = {
        "registration_ids": ["tok-1", "tok-2"],
        "data": {"score": "3:1"},
        "notification": {"title": "Goal!", "body": "Scored"},
        "collapse_key": "score",
        "time_to_live": 0,
    }
    assert msg.payload == expected_body
    mock.post(
        FCM_URL,
        json=multicast({"message_id": "0:1"}, {"message_id": "0:2", "registration_id": "tok-2b"}),
        match=[
            matchers.json_params_matcher(expected_body),
            matchers.header_matcher(JSON_HEADERS),
            matchers.request_kwargs_matcher({"timeout": DEFAULT_TIMEOUT}),
        ],
    )
    result = fcm.send(msg)
    assert isinstance(result, Result)
    assert result.success == {"tok-1": "0:1", "tok-2": "0:2"}
    assert result.canonical == {"tok-2": "tok-2b"}
    assert result.multicast_id == 77
    assert result.message is msg


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


def test_user_agent_names_the_library(mock: responses.RequestsMock, fcm: FCM) -> None:
    mock.post(
        FCM_URL,
        json=multicast({"message_id": "1"}),
        match=[matchers.header_matcher({"User-Agent": f"fcm-client/{__version__}"})],
    )
    assert fcm.send(JSONMessage(["tok"])).success == {"tok": "1"}


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


def test_plain_text_send_is_form_encoded(mock: responses.RequestsMock, fcm: FCM) -> None:
    msg = PlainTextMessage(
        "tok-1", {"score": "3:1", "n": 2}, dry_run=True, delay_while_idle=False, time_to_live=0
    )
    form = urllib.parse.urlencode(
        [
            ("registration_id", "tok-1"),
            ("data.score", "3:1"),
            ("data.n", "2"),
            ("dry_run", "1"),
            ("delay_while_idle", "0"),
            ("time_to_live", "0"),
        ]
    )
    mock.post(
        FCM_URL, body="id=0:1516\nregistration_id=tok-1b\n", match=[matchers.header_matcher(FORM_HEADERS)]
    )
    result = fcm.send(msg)
    assert mock.calls[0].request.body == form.encode()
    assert result.success == {"tok-1": "0:1516"}
    assert result.canonical == {"tok-1": "tok-1b"}


@pytest.mark.parametrize(
    ("line", "not_registered", "failed"),
    [
        ("Error=NotRegistered", ["tok"], {}),
        ("Error=InvalidRegistration", [], {"tok": "InvalidRegistration"}),
        ("Error=MismatchSenderId\n", [], {"tok": "MismatchSenderId"}),
    ],
)
def test_plain_text_error_lines(
    mock: responses.RequestsMock, fcm: FCM, line: str, not_registered: list[str], failed: dict[str, str]
) -> None:
    mock.post(FCM_URL, body=line)
    result = fcm.send(PlainTextMessage("tok"))
    assert result.not_registered == not_registered
    assert result.failed == failed
    assert result.success == {}
    assert not result.needs_retry()


def test_plain_text_unavailable_means_retry(mock: responses.RequestsMock, fcm: FCM) -> None:
    msg = PlainTextMessage("tok", {"k": "v"})
    mock.post(FCM_URL, body="Error=Unavailable\n", headers={"Retry-After": "17"})
    result = fcm.send(msg)
    assert result.retry() == msg
    assert result.delay() == 17.0


def test_plain_text_malformed_answer(mock: responses.RequestsMock, fcm: FCM) -> None:
    mock.post(FCM_URL, body="Hello=World")
    with pytest.raises(ValueError, match="cannot read") as info:
        fcm.send(PlainTextMessage("tok"))
    assert_secret_free(info.value)


@pytest.mark.parametrize(
    ("msg", "body", "key"),
    [
        (
            TopicMessage(topic="news", message_title="Extra!"),
            {"to": "/topics/news", "notification": {"title": "Extra!"}},
            "news",
        ),
        (TopicMessage(topic="/topics/news"), {"to": "/topics/news"}, "/topics/news"),
        (
            TopicMessage(condition="'a' in topics && 'b' in topics", data={"k": "v"}),
            {"condition": "'a' in topics && 'b' in topics", "data": {"k": "v"}},
            "'a' in topics && 'b' in topics",
        ),
    ],
)
def test_topic_send(
    mock: responses.RequestsMock, fcm: FCM, msg: TopicMessage, body: dict[str, Any], key: str
) -> None:
    mock.post(
        FCM_URL,
        json={"message_id": 6177533290716483012},
        match=[matchers.json_params_matcher(body), matchers.header_matcher(JSON_HEADERS)],
    )
    result = fcm.send(msg)
    assert result.success == {key: "6177533290716483012"}


def test_topic_error_answer(mock: responses.RequestsMock, fcm: FCM) -> None:
    mock.post(FCM_URL, json={"error": "TopicsMessageRateExceeded"})
    result = fcm.send(TopicMessage(topic="news"))
    assert result.failed == {"news": "TopicsMessageRateExceeded"}


def test_url_and_backoff_positionally(mock: responses.RequestsMock) -> None:
    url = "http://127.0.0.1:8/fcm/send"
    mock.post(url, status=503)
    with FCM(API_KEY, url, 200) as client:
        assert client.url == url
        result = client.send(JSONMessage(["tok"]))
    assert result.needs_retry()
    assert all(0.1 <= result.delay() <= 0.3 for _ in range(50))


def test_regression_fcm_url_pointed_at_android_googleapis() -> None:
    assert FCM_URL == "https://fcm.googleapis.com/fcm/send"


def test_redirects_are_not_followed(mock: responses.RequestsMock, fcm: FCM) -> None:
    mock.post(FCM_URL, status=302, headers={"Location": "https://elsewhere.invalid/fcm/send"})
    with pytest.raises(FCMRequestError, match="302") as info:
        fcm.send(JSONMessage(["tok"]))
    assert len(mock.calls) == 1
    assert_secret_free(info.value)


@pytest.mark.parametrize("status", [302, 404, 418])
def test_regression_runtime_error_for_unknown_status(
    mock: responses.RequestsMock, fcm: FCM, status: int
) -> None:
    mock.post(FCM_URL, status=status, body="nope")
    with pytest.raises(ValueError, match=f"HTTP status {status}") as info:
        fcm.send(JSONMessage(["a"]))
    assert isinstance(info.value, FCMRequestError)
    assert not isinstance(info.value, (RuntimeError, AssertionError))


# -- requests options ---------------------------------------------------------------------------


def test_default_timeout_is_ten_seconds() -> None:
    assert DEFAULT_TIMEOUT == 10.0


@pytest.mark.parametrize(
    ("options", "sent"),
    [
        ({}, DEFAULT_TIMEOUT),
        ({"timeout": None}, DEFAULT_TIMEOUT),
        ({"timeout": 3.5}, 3.5),
        ({"timeout": 2}, 2.0),
        ({"timeout": (2.0, 7.0)}, (2.0, 7.0)),
    ],
)
def test_every_request_carries_a_timeout(
    mock: responses.RequestsMock, options: dict[str, Any], sent: Any
) -> None:
    mock.post(
        FCM_URL,
        json=multicast({"message_id": "1"}),
        match=[matchers.request_kwargs_matcher({"timeout": sent})],
    )
    with FCM(API_KEY, **options) as client:
        client.send(JSONMessage(["tok"]))
    assert mock.calls[0].request.req_kwargs["timeout"] == sent  # type: ignore[attr-defined]


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


@pytest.mark.parametrize(
    "timeout",
    [0, -1, "10", True, [1, 2], (1,), (1, 2, 3), (0, 5), (5, -1), math.nan],
    ids=repr,
)
def test_bad_timeout_is_rejected(timeout: Any) -> None:
    with pytest.raises(ValueError, match="timeout"):
        FCM(API_KEY, timeout=timeout)


@pytest.mark.parametrize(
    "timeout", [math.inf, (5.0, math.inf), (math.inf, 5.0), 1e300, MAX_TIMEOUT + 1], ids=repr
)
def test_regression_infinite_or_huge_timeout_was_accepted(timeout: Any) -> None:
    # transport._positive let math.inf and 1e300 through: an unbounded request, and send()
    # then failed with OverflowError from the socket layer instead of a RequestException.
    with pytest.raises(ValueError, match="timeout"):
        FCM(API_KEY, timeout=timeout)


def test_the_largest_timeout_is_accepted_and_sent(mock: responses.RequestsMock) -> None:
    mock.post(FCM_URL, json=multicast({"message_id": "1"}))
    with FCM(API_KEY, timeout=(MAX_TIMEOUT, MAX_TIMEOUT)) as client:
        client.send(JSONMessage(["tok"]))
    assert mock.calls[0].request.req_kwargs["timeout"] == (MAX_TIMEOUT, MAX_TIMEOUT)  # type: ignore[attr-defined]


def test_requests_options_are_passed_through(mock: responses.RequestsMock, no_proxy_env: None) -> None:
    proxies = {"https": "http://127.0.0.1:3128"}
    mock.post(
        FCM_URL,
        json=multicast({"message_id": "1"}),
        match=[
            matchers.request_kwargs_matcher(
                {"timeout": 4.0, "verify": False, "cert": ("/tls/c.pem", "/tls/k.pem"), "proxies": proxies}
            )
        ],
    )
    with FCM(
        API_KEY, timeout=4.0, verify=False, cert=("/tls/c.pem", "/tls/k.pem"), proxies=proxies
    ) as client:
        assert client.send(JSONMessage(["tok"])).success == {"tok": "1"}


def test_ca_bundle_path_is_passed_as_verify(mock: responses.RequestsMock) -> None:
    mock.post(
        FCM_URL,
        json=multicast({"message_id": "1"}),
        match=[matchers.request_kwargs_matcher({"verify": "/etc/custom-ca.pem"})],
    )
    with FCM(API_KEY, verify="/etc/custom-ca.pem") as client:
        assert client.send(JSONMessage(["tok"])).success == {"tok": "1"}


@pytest.mark.parametrize("option", ["stream", "allow_redirects", "headers", "auth", "retries", "timout"])
def test_unknown_option_is_a_type_error(option: str) -> None:
    with pytest.raises(TypeError, match=option):
        FCM(API_KEY, **{option: True})


@pytest.mark.parametrize("key", ["", None])
def test_api_key_is_required(key: Any) -> None:
    with pytest.raises(ValueError, match="required"):
        FCM(key)


# -- secrets ------------------------------------------------------------------------------------


def test_repr_hides_the_key() -> None:
    with FCM(API_KEY, url="http://127.0.0.1:9/fcm/send") as client:
        assert repr(client) == "<FCM legacy url='http://127.0.0.1:9/fcm/send'>"
        assert API_KEY not in repr(client)
        assert API_KEY not in str(client)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickling_fcm_is_refused_without_naming_the_key(fcm: FCM, protocol: int) -> None:
    with pytest.raises(TypeError, match="cannot be pickled") as info:
        pickle.dumps(fcm, protocol=protocol)
    assert_secret_free(info.value)


def test_401_is_an_authentication_error_without_the_key(mock: responses.RequestsMock, fcm: FCM) -> None:
    mock.post(FCM_URL, status=401, body="<HTML><TITLE>Unauthorized</TITLE></HTML>")
    with pytest.raises(FCMAuthenticationError) as info:
        fcm.send(JSONMessage(["tok"]))
    assert isinstance(info.value, ValueError)
    assert info.value.status == 401
    assert_secret_free(info.value)


def test_400_carries_the_explanation_without_the_key(mock: responses.RequestsMock, fcm: FCM) -> None:
    mock.post(FCM_URL, status=400, body='Field "priority" must be a JSON string: 7')
    with pytest.raises(FCMRequestError, match="must be a JSON string") as info:
        fcm.send(JSONMessage(["tok"], priority=7))
    assert info.value.status == 400
    assert_secret_free(info.value)


def test_regression_400_explanation_raised_as_bytes(mock: responses.RequestsMock, fcm: FCM) -> None:
    # 0.2 did `raise ValueError(response.content)`: a bytes object as the message.
    mock.post(FCM_URL, status=400, body=b"InvalidTokenFormat")
    with pytest.raises(FCMRequestError) as info:
        fcm.send(JSONMessage(["a"]))
    assert info.value.explanation == "InvalidTokenFormat"
    assert all(isinstance(arg, str) for arg in info.value.args)
    assert "b'" not in str(info.value)


def test_regression_key_with_a_newline_leaked_into_the_exception_message(
    mock: responses.RequestsMock,
) -> None:
    # FCM() accepted a key that cannot go in a header; requests' InvalidHeader then quoted the
    # whole 'key=<API key>' header in its message. Now FCM() refuses it, naming only where.
    key = API_KEY + "\n"  # as read from a key file
    with pytest.raises(ValueError, match=f"line break at position {len(API_KEY)} ") as info:
        FCM(key)
    assert_secret_free(info.value)
    assert "newline" in str(info.value)
    assert len(mock.calls) == 0


def test_regression_non_latin1_key_leaked_into_the_exception_message() -> None:
    # FCM() accepted a non-latin-1 key; http.client raised UnicodeEncodeError (not a
    # RequestException) whose repr held the whole 'key=<API key>' header.
    key = API_KEY + "\u20ac"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # the kernel completes the handshake; nobody needs to answer
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/fcm/send"
        with pytest.raises(ValueError, match="non-ASCII") as info:
            FCM(key, url=url, timeout=2.0)
    assert API_KEY not in repr(info.value)
    assert API_KEY not in str(info.value)


@pytest.mark.parametrize(
    "key", [" " + API_KEY, API_KEY + " x", API_KEY + "\t", "\x00" + API_KEY, "k\r\nX: y"]
)
def test_keys_that_cannot_go_in_a_header_are_refused_without_echo(key: str) -> None:
    with pytest.raises(ValueError, match="cannot be sent in an HTTP header") as info:
        FCM(key)
    assert key.strip() not in str(info.value)


def test_non_str_key_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="API key must be a str"):
        FCM(API_KEY.encode())  # type: ignore[arg-type]


# -- failures before and during the request -----------------------------------------------------


def test_network_error_is_a_requests_exception(mock: responses.RequestsMock, fcm: FCM) -> None:
    mock.post(FCM_URL, body=requests.ConnectionError("connection reset by peer"))
    with pytest.raises(requests.ConnectionError) as info:
        fcm.send(JSONMessage(["tok"]))
    assert_secret_free(info.value)


def test_read_timeout_is_a_requests_exception(mock: responses.RequestsMock, fcm: FCM) -> None:
    mock.post(FCM_URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(requests.Timeout):
        fcm.send(JSONMessage(["tok"]))


def test_refused_connection_is_a_requests_exception() -> None:
    url = f"http://127.0.0.1:{closed_port()}/fcm/send"
    with FCM(API_KEY, url=url, timeout=5.0) as client, pytest.raises(requests.ConnectionError) as info:
        client.send(JSONMessage(["tok"]))
    assert isinstance(info.value, requests.RequestException)
    assert_secret_free(info.value)


def test_non_json_data_fails_before_any_request(mock: responses.RequestsMock, fcm: FCM) -> None:
    with pytest.raises(TypeError, match="JSON-serialisable"):
        fcm.send(JSONMessage(["tok"], {"when": object()}))
    assert len(mock.calls) == 0


def test_installation_message_is_refused_before_any_request(mock: responses.RequestsMock, fcm: FCM) -> None:
    with pytest.raises(ValueError, match="HTTP v1"):
        fcm.send(InstallationMessage(["fid-1"]))
    assert len(mock.calls) == 0


@pytest.mark.parametrize("thing", [{"registration_ids": ["tok"]}, "tok", None])
def test_send_takes_only_messages(mock: responses.RequestsMock, fcm: FCM, thing: Any) -> None:
    with pytest.raises(TypeError, match="send"):
        fcm.send(thing)
    assert len(mock.calls) == 0


# -- whole-message verdicts through FCM ---------------------------------------------------------


def test_5xx_through_fcm_gives_the_whole_message_back(mock: responses.RequestsMock, fcm: FCM) -> None:
    msg = JSONMessage(["a", "b"], {"k": "v"}, message_title="T", dry_run=True)
    mock.post(FCM_URL, status=503, headers={"Retry-After": "120"})
    result = fcm.send(msg)
    assert result.retry() == msg
    assert result.delay() == 120.0


def test_regression_whole_message_retry_kept_the_same_object(mock: responses.RequestsMock, fcm: FCM) -> None:
    # 0.2 handed back the very message that was sent; retry() is now a new, equal value.
    msg = JSONMessage(["a", "b"], {"k": "v"}, message_title="T")
    mock.post(FCM_URL, status=500)
    retry = fcm.send(msg).retry()
    assert retry == msg
    assert retry is not msg


def test_regression_retry_after_compared_as_string_to_int(mock: responses.RequestsMock, fcm: FCM) -> None:
    # 0.2 did `response.headers.get("Retry-After", 0) < 1`: a str against an int, TypeError on Python 3.
    mock.post(FCM_URL, status=503, headers={"Retry-After": "120"})
    result = fcm.send(JSONMessage(["a"]))
    assert result.delay() == 120.0
    assert type(result.delay()) is float
    assert result.delay(retry=3) == 120.0


def test_malformed_200_through_fcm(mock: responses.RequestsMock, fcm: FCM) -> None:
    mock.post(FCM_URL, json={"multicast_id": 1, "results": [{"message_id": "1"}]})
    with pytest.raises(ValueError, match="1 results for 2"):
        fcm.send(JSONMessage(["a", "b"]))


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


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://[::1/fcm/send", requests.exceptions.InvalidURL),
        ("fcm.example.com/fcm/send", requests.exceptions.MissingSchema),
        ("http:///fcm/send", requests.exceptions.InvalidURL),
    ],
)
def test_regression_a_url_requests_refuses_raised_what_session_post_did_not(
    url: str, error: type[requests.RequestException]
) -> None:
    """Once legacy sends went through the channel, a URL requests refuses did not raise what
    ``Session.post`` raised: an unterminated IPv6 host gave a bare ``ValueError`` (not a
    ``requests.RequestException``, so ``except requests.RequestException`` missed it), a URL
    without a scheme ``InvalidSchema`` instead of ``MissingSchema``. The channel checks the URL
    first, as ``Session.post`` does."""
    with FCM(API_KEY, url=url) as client, pytest.raises(requests.RequestException) as caught:
        client.send(JSONMessage(["a"]))
    assert type(caught.value) is error
    assert_secret_free(caught.value)
