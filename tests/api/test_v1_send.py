"""HTTP v1 sends through FCM, one exchange at a time, with `responses` at the transport seam."""

from __future__ import annotations

import json
import pathlib
import threading
import urllib.parse
from typing import Any

import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from google.auth import jwt

from fcmclient import FCM, FCMAuthenticationError, JSONMessage, PlainTextMessage, TopicMessage
from fcmclient._http.session import DEFAULT_TIMEOUT
from tests.conftest import PROJECT, TOKEN_URI, V1_SEND
from tests.timing import Arrivals

FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
ACCESS_TOKEN = "ya29.secret-access-token"
#: FCM's answer to a send whose access token has expired (no FcmError: it is about us).
EXPIRED = {
    "error": {
        "code": 401,
        "status": "UNAUTHENTICATED",
        "message": "Request had invalid authentication credentials.",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_EXPIRED"}],
    }
}


def fcm_error(http: int, status: str, code: str) -> tuple[int, dict[str, str], str]:
    document = {
        "error": {
            "code": http,
            "message": f"{code}!",
            "status": status,
            "details": [{"@type": FCM_ERROR, "errorCode": code}],
        }
    }
    return http, {"Content-Type": "application/json"}, json.dumps(document)


def token_reply(token: str = ACCESS_TOKEN, expires_in: int = 3599) -> dict[str, Any]:
    return {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}


def sent_token(request: requests.PreparedRequest) -> str:
    body = request.body
    assert isinstance(body, bytes)
    token: str = json.loads(body)["message"]["token"]
    return token


@pytest.fixture
def mock() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def fcm(service_account_info: dict[str, Any]) -> Any:
    with FCM.from_service_account(service_account_info, max_workers=8) as client:
        yield client


def test_from_service_account_file_picks_project_and_protocol(
    service_account_file: pathlib.Path,
) -> None:
    with FCM.from_service_account(service_account_file) as client:
        assert client.protocol == "v1"
        assert client.project_id == PROJECT
        assert client.url == V1_SEND


def test_project_id_argument_wins(service_account_info: dict[str, Any]) -> None:
    with FCM.from_service_account(service_account_info, project_id="other") as client:
        assert client.url == "https://fcm.googleapis.com/v1/projects/other/messages:send"


def test_url_override_with_placeholder(service_account_info: dict[str, Any]) -> None:
    with FCM.from_service_account(
        service_account_info, url="http://127.0.0.1:9/v1/projects/{project_id}/messages:send"
    ) as client:
        assert client.url == f"http://127.0.0.1:9/v1/projects/{PROJECT}/messages:send"


def test_api_key_and_credentials_are_exclusive(service_account_info: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not both"):
        FCM("key", credentials=object())
    with pytest.raises(ValueError, match="required"):
        FCM()


def test_unicast_fetches_a_token_with_a_valid_assertion_then_sends(
    fcm: FCM, mock: responses.RequestsMock, private_key_pem: str
) -> None:
    assertions: list[dict[str, Any]] = []

    def token_endpoint(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        form = urllib.parse.parse_qs(str(request.body))
        assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        public = serialization.load_pem_private_key(private_key_pem.encode(), None).public_key()
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        assertions.append(jwt.decode(form["assertion"][0], certs=pem.decode(), audience=TOKEN_URI))
        return 200, {}, json.dumps(token_reply())

    mock.add_callback(responses.POST, TOKEN_URI, callback=token_endpoint)
    mock.add(
        responses.POST,
        V1_SEND,
        json={"name": f"projects/{PROJECT}/messages/42"},
        match=[
            responses.matchers.header_matcher({"Authorization": f"Bearer {ACCESS_TOKEN}"}),
            responses.matchers.json_params_matcher({"message": {"token": "tok-1", "data": {"n": "1"}}}),
            responses.matchers.request_kwargs_matcher({"timeout": DEFAULT_TIMEOUT}),
        ],
    )
    result = fcm.send(JSONMessage(["tok-1"], {"n": 1}))
    assert result.success == {"tok-1": f"projects/{PROJECT}/messages/42"}
    assert result.canonical == {}
    assert not result.needs_retry()
    (claims,) = assertions
    assert claims["iss"] == f"sender@{PROJECT}.iam.gserviceaccount.com"
    assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
    assert 0 < claims["exp"] - claims["iat"] <= 3600


def test_multicast_sorts_every_token_into_one_bucket(fcm: FCM, mock: responses.RequestsMock) -> None:
    answers = {
        "ok-1": (200, {}, json.dumps({"name": "projects/p/messages/1"})),
        "ok-2": (200, {}, json.dumps({"name": "projects/p/messages/2"})),
        "dead": fcm_error(404, "NOT_FOUND", "UNREGISTERED"),
        "bad": fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
        "other": fcm_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"),
        "apns": fcm_error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"),
        "busy": (
            503,
            {"Retry-After": "3"},
            json.dumps(
                {
                    "error": {
                        "code": 503,
                        "status": "UNAVAILABLE",
                        "details": [{"@type": FCM_ERROR, "errorCode": "UNAVAILABLE"}],
                    }
                }
            ),
        ),
        "oops": fcm_error(500, "INTERNAL", "INTERNAL"),
        "quota": (
            429,
            {"Retry-After": "9"},
            json.dumps(
                {
                    "error": {
                        "code": 429,
                        "status": "RESOURCE_EXHAUSTED",
                        "details": [{"@type": FCM_ERROR, "errorCode": "QUOTA_EXCEEDED"}],
                    }
                }
            ),
        ),
        "html": (502, {"Content-Type": "text/html"}, "<html>502 Bad Gateway</html>"),
    }
    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    mock.add_callback(responses.POST, V1_SEND, callback=lambda request: answers[sent_token(request)])
    message = JSONMessage(list(answers), {"k": "v"}, message_title="t", collapse_key="c")
    result = fcm.send(message)
    assert result.success == {"ok-1": "projects/p/messages/1", "ok-2": "projects/p/messages/2"}
    assert result.not_registered == ["dead"]
    assert result.failed == {
        "bad": "INVALID_ARGUMENT",
        "other": "SENDER_ID_MISMATCH",
        "apns": "THIRD_PARTY_AUTH_ERROR",
    }
    assert result.error_details["apns"] == "THIRD_PARTY_AUTH_ERROR!"
    retry = result.retry()
    assert isinstance(retry, JSONMessage)
    assert retry.registration_ids == ["busy", "oops", "quota", "html"]
    assert (retry.data, retry.message_title, retry.options) == (
        message.data,
        message.message_title,
        message.options,
    )
    assert result.retry_after == 9.0
    assert result.delay() >= 9.0  # two retryable answers had no Retry-After: backoff may exceed it
    assert len(mock.calls) == 1 + len(answers)


def test_delay_is_the_largest_retry_after_when_all_answers_carry_one(
    fcm: FCM, mock: responses.RequestsMock
) -> None:
    waits = {"a": "2", "b": "30", "c": "7"}

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        status, headers, body = fcm_error(503, "UNAVAILABLE", "UNAVAILABLE")
        return status, {**headers, "Retry-After": waits[sent_token(request)]}, body

    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    mock.add_callback(responses.POST, V1_SEND, callback=answer)
    result = fcm.send(JSONMessage(list(waits)))
    assert result.delay() == 30.0
    assert result.delay(5) == 30.0


def test_quota_exceeded_without_header_waits_a_minute(fcm: FCM, mock: responses.RequestsMock) -> None:
    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    mock.add_callback(
        responses.POST,
        V1_SEND,
        callback=lambda request: fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
    )
    assert fcm.send(JSONMessage(["a"])).delay() == 60.0


def test_transport_failure_of_one_token_goes_to_retry(fcm: FCM, mock: responses.RequestsMock) -> None:
    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        token = sent_token(request)
        if token == "slow":
            raise requests.ReadTimeout("read timed out")
        if token == "reset":
            raise requests.ConnectionError("connection reset by peer")
        return 200, {}, json.dumps({"name": "projects/p/messages/1"})

    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    mock.add_callback(responses.POST, V1_SEND, callback=answer)
    result = fcm.send(JSONMessage(["ok", "slow", "reset"]))
    assert list(result.success) == ["ok"]
    retry = result.retry()
    assert retry is not None
    assert retry.targets == ["slow", "reset"]
    assert "ReadTimeout" in result.error_details["slow"]


def test_token_is_fetched_once_and_reused_across_sends(fcm: FCM, mock: responses.RequestsMock) -> None:
    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    mock.add(responses.POST, V1_SEND, json={"name": "projects/p/messages/1"})
    for _ in range(3):
        fcm.send(JSONMessage(["a", "b", "c"]))
    assert fcm.token_fetches == 1
    assert sum(call.request.url == TOKEN_URI for call in mock.calls) == 1


def test_sixteen_threads_share_one_token_fetch_and_get_every_result(
    fcm: FCM, mock: responses.RequestsMock
) -> None:
    sending = Arrivals()

    def slow_token_endpoint(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        sending.wait(16, 5.0)  # a slow endpoint: every thread needs the token while it is fetched
        return 200, {}, json.dumps(token_reply())

    mock.add_callback(responses.POST, TOKEN_URI, callback=slow_token_endpoint)
    mock.add_callback(
        responses.POST,
        V1_SEND,
        callback=lambda request: (200, {}, json.dumps({"name": "n/" + sent_token(request)})),
    )
    results: dict[int, Any] = {}
    barrier = threading.Barrier(16)

    def worker(index: int) -> None:
        barrier.wait()
        tokens = [f"t{index}-{n}" for n in range(10)]
        sending.arrive()
        results[index] = (tokens, fcm.send(JSONMessage(tokens)))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert fcm.token_fetches == 1
    assert sum(call.request.url == TOKEN_URI for call in mock.calls) == 1
    assert len(results) == 16
    for tokens, result in results.values():
        assert result.success == {token: "n/" + token for token in tokens}


def test_expired_access_token_is_dropped_and_the_tokens_retried_at_once(
    fcm: FCM, mock: responses.RequestsMock
) -> None:
    mock.add(responses.POST, TOKEN_URI, json=token_reply("first-token"))
    mock.add(responses.POST, TOKEN_URI, json=token_reply("second-token"))
    mock.add(
        responses.POST,
        V1_SEND,
        json={"name": "n/1"},
        match=[responses.matchers.header_matcher({"Authorization": "Bearer first-token"})],
    )
    mock.add(
        responses.POST,
        V1_SEND,
        json=EXPIRED,
        status=401,
        match=[responses.matchers.header_matcher({"Authorization": "Bearer first-token"})],
    )
    mock.add(
        responses.POST,
        V1_SEND,
        json={"name": "n/2"},
        match=[responses.matchers.header_matcher({"Authorization": "Bearer second-token"})],
    )
    assert fcm.send(JSONMessage(["a"])).success == {"a": "n/1"}
    result = fcm.send(JSONMessage(["b"]))  # the server now says the cached token expired
    assert result.retry() == JSONMessage(["b"])
    assert result.delay() == 0.0
    assert fcm.send(JSONMessage(["b"])).success == {"b": "n/2"}
    assert fcm.token_fetches == 2


def test_expired_verdict_on_a_fresh_token_is_an_authentication_error(
    fcm: FCM, mock: responses.RequestsMock
) -> None:
    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    mock.add(responses.POST, V1_SEND, json=EXPIRED, status=401)
    with pytest.raises(FCMAuthenticationError, match="freshly fetched"):
        fcm.send(JSONMessage(["a"]))


def test_regression_token_refresh_failing_mid_multicast_lost_what_was_sent(
    service_account_info: dict[str, Any], mock: responses.RequestsMock
) -> None:
    # A refresh that failed in the middle of a multicast raised, and the caller never learnt
    # which tokens had been sent. Now the rest goes to retry() and nothing is lost.
    answers = {
        "warm": (200, {}, json.dumps({"name": "n/warm"})),
        "a": (200, {}, json.dumps({"name": "n/a"})),
        "b": (401, {}, json.dumps(EXPIRED)),
    }
    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    mock.add(responses.POST, TOKEN_URI, status=503, body="<html>token service down</html>")
    mock.add_callback(responses.POST, V1_SEND, callback=lambda request: answers[sent_token(request)])
    with FCM.from_service_account(service_account_info, max_workers=1) as client:
        client.send(JSONMessage(["warm"]))  # the cached token is now older than the next send
        result = client.send(JSONMessage(["a", "b", "c", "d"]))
        token_requests = sum(call.request.url == TOKEN_URI for call in mock.calls)
    assert result.success == {"a": "n/a"}
    retry = result.retry()
    assert retry is not None
    assert retry.targets == ["b", "c", "d"]
    assert result.outcomes["b"].error == "ACCESS_TOKEN_EXPIRED"
    assert "access token could not be fetched" in result.error_details["c"]
    assert "503" in result.error_details["c"]
    assert result.error_details["d"] == result.error_details["c"]
    assert token_requests == 2  # "d" did not ask the failing endpoint again


@pytest.mark.parametrize(("status", "name"), [(401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED")])
def test_send_rejected_as_a_whole_raises_with_the_partial_result(
    fcm: FCM, mock: responses.RequestsMock, status: int, name: str
) -> None:
    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    mock.add(
        responses.POST,
        V1_SEND,
        json={"error": {"code": status, "status": name, "message": "no"}},
        status=status,
    )
    with pytest.raises(FCMAuthenticationError) as caught:
        fcm.send(JSONMessage([f"t{i}" for i in range(50)]))
    sent = [sent_token(call.request) for call in mock.calls if call.request.url == V1_SEND]
    assert len(sent) == len(set(sent))  # nothing resent, as google-auth's AuthorizedSession would
    assert fcm.token_fetches == 1
    assert caught.value.code == name
    assert ACCESS_TOKEN not in str(caught.value)
    partial = caught.value.result
    assert partial is not None
    settled = set(partial.success) | set(partial.failed) | set(partial.not_registered)
    retry = partial.retry()
    assert retry is not None
    assert settled.isdisjoint(retry.targets)
    assert settled | set(retry.targets) == {f"t{i}" for i in range(50)}
    # FCM refused the requests it answered, and the others were never sent: none of them may
    # have been delivered, so none is INTERRUPTED.
    assert {partial.outcomes[target].error for target in retry.targets} == {"NOT_SENT"}


def test_token_endpoint_rejection_is_an_authentication_error_without_secrets(
    fcm: FCM, mock: responses.RequestsMock, private_key_pem: str
) -> None:
    mock.add(
        responses.POST,
        TOKEN_URI,
        status=400,
        json={"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
    )
    with pytest.raises(FCMAuthenticationError) as caught:
        fcm.send(JSONMessage(["a"]))
    assert "Invalid JWT Signature." in str(caught.value)
    assert caught.value.code == "invalid_grant"
    key_body = private_key_pem.splitlines()[1]
    assert key_body not in str(caught.value)
    assert key_body not in repr(fcm)
    assert len(mock.calls) == 1  # no send was attempted, and the grant was not retried


def test_token_endpoint_outage_raises_a_request_exception_and_is_not_retried(
    fcm: FCM, mock: responses.RequestsMock
) -> None:
    mock.add(responses.POST, TOKEN_URI, status=503, body="unavailable")
    with pytest.raises(requests.HTTPError, match="503"):
        fcm.send(JSONMessage(["a"]))
    assert len(mock.calls) == 1


@pytest.mark.parametrize("answer", [{"token_type": "Bearer"}, {"access_token": ""}, {"access_token": 5}])
def test_token_answer_without_a_token_is_an_authentication_error(
    fcm: FCM, mock: responses.RequestsMock, answer: dict[str, Any]
) -> None:
    mock.add(responses.POST, TOKEN_URI, json=answer)
    with pytest.raises(FCMAuthenticationError, match="access_token"):
        fcm.send(JSONMessage(["a"]))


def test_topic_and_condition_results_are_keyed_by_what_was_given(
    fcm: FCM, mock: responses.RequestsMock
) -> None:
    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    mock.add(
        responses.POST,
        V1_SEND,
        json={"name": "n/1"},
        match=[responses.matchers.json_params_matcher({"message": {"topic": "news"}})],
    )
    condition = "'a' in topics || 'b' in topics"
    mock.add(
        responses.POST,
        V1_SEND,
        json={"name": "n/2"},
        match=[responses.matchers.json_params_matcher({"message": {"condition": condition}})],
    )
    assert fcm.send(TopicMessage(topic="/topics/news")).success == {"/topics/news": "n/1"}
    assert fcm.send(TopicMessage(condition=condition)).success == {condition: "n/2"}


def test_topic_retry_is_the_same_topic_message(fcm: FCM, mock: responses.RequestsMock) -> None:
    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    mock.add_callback(
        responses.POST,
        V1_SEND,
        callback=lambda request: fcm_error(503, "UNAVAILABLE", "UNAVAILABLE"),
    )
    message = TopicMessage(topic="news", data={"a": "b"})
    assert fcm.send(message).retry() == message


def test_plain_text_message_is_a_v1_unicast(fcm: FCM, mock: responses.RequestsMock) -> None:
    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    mock.add(
        responses.POST,
        V1_SEND,
        json={"name": "n/1"},
        match=[
            responses.matchers.json_params_matcher(
                {"message": {"token": "t", "data": {"x": "1"}}, "validate_only": True}
            )
        ],
    )
    assert fcm.send(PlainTextMessage("t", {"x": 1}, dry_run=True)).success == {"t": "n/1"}


def test_send_timeout_puts_unsent_tokens_in_retry(
    service_account_info: dict[str, Any], mock: responses.RequestsMock
) -> None:
    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    with FCM.from_service_account(service_account_info, max_workers=1, send_timeout=1e-9) as client:
        result = client.send(JSONMessage(["a", "b", "c"]))
    retry = result.retry()
    assert retry is not None
    assert retry.targets == ["a", "b", "c"]
    assert {target: outcome.error for target, outcome in result.outcomes.items()} == dict.fromkeys(
        "abc", "NOT_SENT"
    )
    assert len(mock.calls) == 1  # the token fetch; no send started after send_timeout


def test_ttl_that_v1_cannot_translate_fails_before_any_request(
    fcm: FCM, mock: responses.RequestsMock
) -> None:
    with pytest.raises(TypeError, match="time_to_live"):
        fcm.send(JSONMessage(["a"], time_to_live="1h"))
    assert len(mock.calls) == 0
