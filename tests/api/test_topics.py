"""Topic management through FCM: one exchange at a time with ``responses``, and end to end
through the emulator (its topic subscription API, topic and condition sends, scripted answers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses

from fcmclient import (
    FCM,
    FCMAuthenticationError,
    FCMRequestError,
    FCMResponseError,
    FCMUnsupportedError,
    JSONMessage,
    TopicMessage,
    TopicResult,
)
from fcmclient._http.session import DEFAULT_TIMEOUT
from fcmclient.outcomes import Bucket
from fcmclient.testing import Answer, FCMEmulator
from fcmclient.waits import QUOTA_WAIT
from tests.api.test_send_each import CountingServer, counting, v1_client
from tests.api.test_v1_send import ACCESS_TOKEN, fcm_error, token_reply
from tests.conftest import PROJECT, TOKEN_URI

__all__ = ["counting"]  # the fixture, imported for the bound on requests in flight

REGISTRATIONS = f"https://fcm.googleapis.com/v1/projects/{PROJECT}/registrations"
#: Tokens holding every character a URL gives a meaning to.
AWKWARD = ["dX3k:APA91b-x_y", "a/b", "c%d", "e?f=g", "h#i", "j%2Fk"]


@pytest.fixture
def v1(fcm_emulator: FCMEmulator) -> Iterator[FCM]:
    with v1_client(fcm_emulator, max_workers=8) as client:
        yield client


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def buckets(result: TopicResult) -> dict[str, tuple[Bucket, str | None]]:
    return {token: (outcome.bucket, outcome.error) for token, outcome in result.outcomes.items()}


# -- the requests ------------------------------------------------------------------------------


def test_a_subscription_is_one_request_per_token_with_the_sends_headers_and_timeout(
    service_account_info: dict[str, Any], mock: responses.RequestsMock
) -> None:
    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    for token, quoted in [("tok:1", "tok%3A1"), ("a/b?c#d%e", "a%2Fb%3Fc%23d%25e")]:
        name = f"projects/{PROJECT}/registrations/{token}/topicSubscriptions/news"
        mock.add(
            responses.POST,
            f"{REGISTRATIONS}/{quoted}/topicSubscriptions?topicName=news",
            json={"name": name, "topicName": "news"},
            match=[
                responses.matchers.header_matcher({"Authorization": f"Bearer {ACCESS_TOKEN}"}),
                responses.matchers.json_params_matcher({}),
                responses.matchers.request_kwargs_matcher({"timeout": DEFAULT_TIMEOUT}),
            ],
        )
    with FCM.from_service_account(service_account_info) as fcm:
        result = fcm.subscribe_to_topic(["tok:1", "a/b?c#d%e"], "/topics/news")
    assert (result.topic, result.operation) == ("news", "subscribe")
    assert result.success == ["tok:1", "a/b?c#d%e"]
    urls = [call.request.url for call in mock.calls]
    assert sorted(urls[1:]) == [
        f"{REGISTRATIONS}/a%2Fb%3Fc%23d%25e/topicSubscriptions?topicName=news",
        f"{REGISTRATIONS}/tok%3A1/topicSubscriptions?topicName=news",
    ]


def test_tokens_holding_url_characters_reach_fcm_as_themselves(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    assert v1.subscribe_to_topic(AWKWARD, "100%~sure").success == AWKWARD
    for token in AWKWARD:
        assert fcm_emulator.subscriptions(token) == ["100%~sure"]
        assert v1.topic_subscriptions(token) == ["100%~sure"]
    assert v1.unsubscribe_from_topic(AWKWARD, "100%~sure").success == AWKWARD
    assert [fcm_emulator.subscriptions(token) for token in AWKWARD] == [[]] * len(AWKWARD)
    recorded = [request for request in fcm_emulator.requests if request.protocol == "topics"]
    assert {request.method for request in recorded} == {"POST", "GET", "DELETE"}
    assert {request.targets for request in recorded} == {(token,) for token in AWKWARD}


def test_one_token_may_be_a_str_and_duplicates_are_sent_once(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    assert v1.subscribe_to_topic("solo", "news").tokens == ["solo"]
    result = v1.subscribe_to_topic(["b", "a", "b", "c", "a"], "news")
    assert result.tokens == result.success == ["b", "a", "c"]
    assert fcm_emulator.stats.topic_requests == 4


def test_requests_reuse_the_sends_keep_alive_connections(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    v1.send(JSONMessage(["warm-up"]))  # the token fetch and the pool's connection
    opened = fcm_emulator.stats.connections_opened
    v1.subscribe_to_topic("a", "news")
    v1.topic_subscriptions("a")
    v1.unsubscribe_from_topic("a", "news")
    v1.send(JSONMessage(["b"]))
    assert fcm_emulator.stats.connections_opened == opened
    assert fcm_emulator.token_requests == 1


def test_at_most_max_workers_requests_are_in_flight(counting: tuple[CountingServer, dict[str, Any]]) -> None:
    server, info = counting
    with FCM.from_service_account(
        info, url=server.url + "/v1/projects/p/messages:send", max_workers=5
    ) as fcm:
        result = fcm.subscribe_to_topic([f"t{n}" for n in range(40)], "news")
    assert (server.total, server.peak) == (40, 5)
    assert len(result.success) == 40


# -- what FCM answered, token by token ------------------------------------------------------------


def test_scripted_answers_sort_every_token_into_one_bucket_with_its_delay(
    fcm_emulator: FCMEmulator, v1: FCM
) -> None:
    fcm_emulator.set_outcome("dead", "unregistered")
    fcm_emulator.set_outcome("busy", Answer.unavailable(retry_after=5))
    fcm_emulator.set_outcome("quota", Answer.quota_exceeded())
    fcm_emulator.set_outcome("bad", "invalid")
    result = v1.subscribe_to_topic(["ok", "dead", "busy", "quota", "bad"], "news")
    assert buckets(result) == {
        "ok": (Bucket.SUCCESS, None),
        "dead": (Bucket.NOT_REGISTERED, "UNREGISTERED"),
        "busy": (Bucket.RETRY, "UNAVAILABLE"),
        "quota": (Bucket.RETRY, "QUOTA_EXCEEDED"),
        "bad": (Bucket.FAILED, "INVALID_ARGUMENT"),
    }
    assert (result.success, result.not_registered, result.failed) == (
        ["ok"],
        ["dead"],
        {"bad": "INVALID_ARGUMENT"},
    )
    assert result.retry() == ["busy", "quota"]
    assert result.retry_after == result.delay() == QUOTA_WAIT  # a 429 without Retry-After: a minute
    assert (result.success_count, result.failure_count) == (1, 4)
    assert fcm_emulator.subscribers("news") == ["ok"]


def test_retry_after_decides_the_delay_of_an_unsubscription(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    fcm_emulator.subscribe("busy", "news")
    fcm_emulator.set_outcome("busy", Answer.unavailable(retry_after=5), "delivered")
    fcm_emulator.set_outcome("quota", Answer.quota_exceeded(retry_after=3))
    first = v1.unsubscribe_from_topic(["busy", "quota"], "news")
    assert (first.retry(), first.delay(), first.delay(4)) == (["busy", "quota"], 5.0, 5.0)
    retry = first.retry()
    assert retry is not None
    assert v1.unsubscribe_from_topic(retry, "news").success == ["busy", "quota"]
    assert fcm_emulator.subscriptions("busy") == []


def test_a_retry_without_retry_after_backs_off_with_jitter(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    fcm_emulator.set_outcome("oops", "internal")
    result = v1.subscribe_to_topic("oops", "news")
    assert result.retry() == ["oops"]
    assert 0.5 <= result.delay() <= 1.5  # backoff 1000 ms +/- 500
    assert 3.5 <= result.delay(2) <= 4.5


def test_subscribing_a_token_already_subscribed_is_a_success(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    fcm_emulator.subscribe("old", "news")
    result = v1.subscribe_to_topic(["old", "new"], "news")
    assert result.success == ["old", "new"]
    assert fcm_emulator.subscribers("news") == ["new", "old"]


def test_unsubscribing_a_token_not_subscribed_is_a_success_and_a_dead_one_is_not_registered(
    fcm_emulator: FCMEmulator, v1: FCM
) -> None:
    fcm_emulator.subscribe("member", "news")
    fcm_emulator.unregister("dead")
    result = v1.unsubscribe_from_topic(["member", "stranger", "dead"], "news")
    assert (result.success, result.not_registered, result.failed) == (["member", "stranger"], ["dead"], {})
    deletes = [r for r in fcm_emulator.requests if r.protocol == "topics" and r.method == "DELETE"]
    assert {r.query for r in deletes} == {"allowMissing=true"}


def test_an_expired_access_token_is_fetched_again_and_its_tokens_retried_at_once(
    fcm_emulator: FCMEmulator, v1: FCM
) -> None:
    v1.subscribe_to_topic("warm-up", "news")
    fcm_emulator.expire_access_tokens()
    result = v1.subscribe_to_topic([f"t{n}" for n in range(20)], "news")
    retry = result.retry() or []
    assert retry  # the requests made with the old token
    assert {result.outcomes[t].error for t in retry} == {"ACCESS_TOKEN_EXPIRED"}
    assert result.delay() == 0.0
    assert sorted([*result.success, *retry]) == sorted(f"t{n}" for n in range(20))
    assert fcm_emulator.token_requests == 2  # one refresh for all
    assert v1.subscribe_to_topic(retry, "news").success == retry


def test_credentials_refused_midway_raise_with_the_partial_result(
    service_account_info: dict[str, Any], mock: responses.RequestsMock
) -> None:
    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    answers = {"t0": (200, {}, "{}"), "t1": fcm_error(404, "NOT_FOUND", "UNREGISTERED")}
    refused = (403, {}, json.dumps({"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "no"}}))

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        token = str(request.url).split("/")[-2]
        return answers.get(token, refused)

    tokens = [f"t{n}" for n in range(30)]
    for token in tokens:
        mock.add_callback(
            responses.POST, f"{REGISTRATIONS}/{token}/topicSubscriptions?topicName=news", answer
        )
    mock.assert_all_requests_are_fired = False
    with (
        FCM.from_service_account(service_account_info, max_workers=1) as fcm,
        pytest.raises(FCMAuthenticationError) as caught,
    ):
        fcm.subscribe_to_topic(tokens, "news")
    assert caught.value.code == "PERMISSION_DENIED"
    partial = caught.value.result
    assert isinstance(partial, TopicResult)
    assert (partial.success, partial.not_registered, partial.retry()) == (["t0"], ["t1"], tokens[2:])
    assert {partial.outcomes[t].error for t in tokens[2:]} == {"NOT_SENT"}  # none of them went out
    assert len(mock.calls) == 1 + 3  # the token, then t0, t1 and the refused t2: nothing after


def test_send_timeout_leaves_the_tokens_not_started_in_retry(fcm_emulator: FCMEmulator) -> None:
    fcm_emulator.latency = 0.1
    with v1_client(fcm_emulator, max_workers=2, send_timeout=0.3) as fcm:
        fcm.send(JSONMessage(["warm-up"]))
        result = fcm.subscribe_to_topic([f"t{n}" for n in range(40)], "news")
    retry = result.retry() or []
    assert result.success
    assert retry
    assert {result.outcomes[t].error for t in retry} == {"NOT_SENT"}
    assert sorted(fcm_emulator.subscribers("news")) == sorted(result.success)


# -- listing a token's topics ---------------------------------------------------------------------


def test_the_list_follows_every_page(
    service_account_info: dict[str, Any], mock: responses.RequestsMock
) -> None:
    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    first = f"{REGISTRATIONS}/t/topicSubscriptions?pageSize=2000"
    pages = [
        (first, {"topicSubscriptions": [{"topicName": "a"}, {"topicName": "b"}], "nextPageToken": "p 2"}),
        (first + "&pageToken=p%202", {"topic_subscriptions": [{"topic_name": "c"}], "next_page_token": "p3"}),
        (first + "&pageToken=p3", {"topicSubscriptions": [{"topicName": "d"}]}),
    ]
    for url, document in pages:
        mock.add(responses.GET, url, json=document)
    with FCM.from_service_account(service_account_info) as fcm:
        assert fcm.topic_subscriptions("t") == ["a", "b", "c", "d"]


def test_a_list_that_loops_is_a_response_error(
    service_account_info: dict[str, Any], mock: responses.RequestsMock
) -> None:
    mock.add(responses.POST, TOKEN_URI, json=token_reply())
    first = f"{REGISTRATIONS}/t/topicSubscriptions?pageSize=2000"
    mock.add(
        responses.GET, first, json={"topicSubscriptions": [{"topicName": "a"}], "nextPageToken": "again"}
    )
    mock.add(
        responses.GET, first + "&pageToken=again", json={"topicSubscriptions": [], "nextPageToken": "again"}
    )
    with (
        FCM.from_service_account(service_account_info) as fcm,
        pytest.raises(FCMResponseError, match="loops"),
    ):
        fcm.topic_subscriptions("t")


def test_a_refused_list_says_why_in_its_code(fcm_emulator: FCMEmulator, v1: FCM) -> None:
    fcm_emulator.unregister("dead-token-0123456789")
    with pytest.raises(FCMRequestError) as caught:
        v1.topic_subscriptions("dead-token-0123456789")
    assert caught.value.code == "UNREGISTERED"
    assert "the topics of dead-tok...: UNREGISTERED" in str(caught.value)  # a token prefix only
    fcm_emulator.set_outcome("busy", Answer.unavailable(retry_after=2))
    with pytest.raises(FCMRequestError) as caught:
        v1.topic_subscriptions("busy")
    assert caught.value.code == "UNAVAILABLE"
    assert v1.topic_subscriptions("busy") == []  # the next try goes through


def test_a_list_refused_for_an_expired_access_token_is_asked_again_once(
    fcm_emulator: FCMEmulator, v1: FCM
) -> None:
    fcm_emulator.subscribe("t", "news", "sport")
    assert v1.topic_subscriptions("t") == ["news", "sport"]
    fcm_emulator.expire_access_tokens()
    assert v1.topic_subscriptions("t") == ["news", "sport"]
    assert fcm_emulator.token_requests == 2


# -- what is refused before any request ----------------------------------------------------------


def test_a_legacy_fcm_refuses_topic_management_before_any_request(fcm_emulator: FCMEmulator) -> None:
    with FCM(fcm_emulator.api_key, url=fcm_emulator.legacy_url) as legacy:
        for call in (
            lambda: legacy.subscribe_to_topic(["a"], "news"),
            lambda: legacy.unsubscribe_from_topic(["a"], "news"),
            lambda: legacy.topic_subscriptions("a"),
        ):
            with pytest.raises(FCMUnsupportedError, match="needs HTTP v1") as caught:
                call()
            assert isinstance(caught.value, ValueError)
    assert fcm_emulator.stats.requests_total == 0


def test_a_v1_url_without_a_project_send_path_refuses_topic_management(fcm_emulator: FCMEmulator) -> None:
    info = fcm_emulator.service_account_info("demo")
    with (
        FCM.from_service_account(info, url=fcm_emulator.url + "/my-proxy/send") as fcm,
        pytest.raises(FCMUnsupportedError, match="/messages:send"),
    ):
        fcm.subscribe_to_topic(["a"], "news")
    assert fcm_emulator.stats.requests_total == 0


@pytest.mark.parametrize(
    ("tokens", "topic", "error", "says"),
    [
        (["a", 3], "news", TypeError, "must be a str"),
        (["a", None], "news", TypeError, "must be a str"),
        ([], "news", ValueError, "tokens is empty"),
        (iter([]), "news", ValueError, "tokens is empty"),
        (["a", ""], "news", ValueError, "must not be empty"),
        ("", "news", ValueError, "must not be empty"),
        (b"a", "news", TypeError, "not bytes"),
        (None, "news", TypeError, "not NoneType"),
        (7, "news", TypeError, "not int"),
        (["a"], "breaking news", ValueError, "' ' at position 8"),
        (["a"], "/topics/", ValueError, "is empty"),
        (["a"], "x" * 901, ValueError, "900 at most"),
        (["a"], None, TypeError, "topic must be a str"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    fcm_emulator: FCMEmulator, v1: FCM, tokens: Any, topic: Any, error: type[Exception], says: str
) -> None:
    for call in (v1.subscribe_to_topic, v1.unsubscribe_from_topic):
        with pytest.raises(error, match=says):
            call(tokens, topic)
    assert fcm_emulator.stats.requests_total == 0  # not even the access token


@pytest.mark.parametrize(("token", "error"), [("", ValueError), (None, TypeError), (["a"], TypeError)])
def test_a_bad_token_to_list_is_refused_before_any_request(
    fcm_emulator: FCMEmulator, v1: FCM, token: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        v1.topic_subscriptions(token)
    assert fcm_emulator.stats.requests_total == 0


def test_a_first_access_token_that_cannot_be_fetched_raises_before_any_subscription(
    fcm_emulator: FCMEmulator, v1: FCM
) -> None:
    fcm_emulator.set_token_outcome(Answer.http_error(503))
    with pytest.raises(requests.HTTPError):
        v1.subscribe_to_topic(["a"], "news")
    assert fcm_emulator.stats.topic_requests == 0


# -- end to end -----------------------------------------------------------------------------------


def test_subscribe_send_to_a_topic_and_a_condition_unsubscribe_and_send_again(
    fcm_emulator: FCMEmulator, v1: FCM
) -> None:
    emu = fcm_emulator
    assert v1.subscribe_to_topic(["alice", "bob", "carol"], "news").success == ["alice", "bob", "carol"]
    assert v1.subscribe_to_topic(["bob"], "/topics/sport").success == ["bob"]
    assert v1.topic_subscriptions("bob") == ["news", "sport"]

    v1.send(TopicMessage(topic="news", data={"n": "1"}))
    condition = "'news' in topics && 'sport' in topics"
    v1.send(TopicMessage(condition=condition, data={"n": "2"}))
    assert [m["data"] for m in emu.inbox("alice")] == [{"n": "1"}]
    assert [(m.get("topic"), m.get("condition"), m["data"]) for m in emu.inbox("bob")] == [
        ("news", None, {"n": "1"}),
        (None, condition, {"n": "2"}),
    ]

    assert v1.unsubscribe_from_topic(["alice", "bob"], "news").success == ["alice", "bob"]
    assert v1.topic_subscriptions("bob") == ["sport"]
    v1.send(TopicMessage(topic="news", data={"n": "3"}))
    v1.send(TopicMessage(condition=condition, data={"n": "4"}))
    assert [m["data"] for m in emu.inbox("alice")] == [{"n": "1"}]  # nothing more for the unsubscribed
    assert [m["data"] for m in emu.inbox("bob")] == [{"n": "1"}, {"n": "2"}]
    assert [m["data"] for m in emu.inbox("carol")] == [{"n": "1"}, {"n": "3"}]


def test_a_topic_result_pickles_and_shows_no_token(v1: FCM, fcm_emulator: FCMEmulator) -> None:
    import pickle

    fcm_emulator.set_outcome("busy-secret-token", Answer.unavailable(retry_after=1))
    result = v1.subscribe_to_topic(["live-secret-token", "busy-secret-token"], "news")
    copy = pickle.loads(pickle.dumps(result))  # noqa: S301 - our own pickle
    assert (copy.success, copy.retry(), copy.delay(), copy.topic) == (
        ["live-secret-token"],
        ["busy-secret-token"],
        1.0,
        "news",
    )
    assert repr(result) == "<TopicResult subscribe 'news' success=1 not_registered=0 failed=0 retry=1>"
    assert copy.outcomes == result.outcomes
