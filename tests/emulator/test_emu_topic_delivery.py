"""Topic and condition sends reach subscribed tokens' inboxes, through both protocols."""

from __future__ import annotations

import pytest
import requests

from fcmclient import FCM, TopicMessage
from fcmclient.testing import FCMEmulator
from tests.emulator.emu_support import (
    fcm_error_code,
    fetch_token,
    make_assertion,
    post_legacy,
    post_v1,
    send_v1,
    subscribe_http,
    topic_request,
    topics_url,
)

CONDITION = "'news' in topics && !('sport' in topics)"


@pytest.fixture
def phones(emu: FCMEmulator, access_token: str) -> FCMEmulator:
    """Four tokens with different subscriptions in project demo.

    It follows ``access_token``, which resets the emulator after fetching its token.
    """
    emu.subscribe("only-news", "news")
    emu.subscribe("news-and-sport", "news", "sport")
    emu.subscribe("only-weather", "weather")
    emu.subscribe("only-sport", "/topics/sport")  # the prefix is accepted
    return emu


def _received(emu: FCMEmulator) -> dict[str, int]:
    tokens = ("only-news", "news-and-sport", "only-weather", "only-sport")
    return {token: len(emu.inbox(token)) for token in tokens if emu.inbox(token)}


def test_a_v1_topic_send_reaches_every_subscriber(
    phones: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    message = {"topic": "news", "data": {"k": "v"}}
    assert send_v1(http, phones, access_token, message).status_code == 200
    assert _received(phones) == {"only-news": 1, "news-and-sport": 1}
    assert phones.inbox("only-news") == [message]  # the device sees where it came from
    assert phones.inbox("/topics/news") == [message]  # kept as before
    assert phones.stats.messages_delivered == 3
    assert phones.subscribers("news") == ["news-and-sport", "only-news"]
    assert phones.subscribers("/topics/news") == ["news-and-sport", "only-news"]


@pytest.mark.parametrize(
    ("condition", "reached"),
    [
        (CONDITION, {"only-news"}),
        ("'news' in topics || 'weather' in topics", {"only-news", "news-and-sport", "only-weather"}),
        ("'news' in topics && 'sport' in topics", {"news-and-sport"}),
        ("!('news' in topics)", {"only-weather", "only-sport"}),
        ("'sport' in topics || 'weather' in topics && 'news' in topics", {"news-and-sport"}),  # left to right
        ("'nobody' in topics", set()),
    ],
)
def test_a_v1_condition_send_reaches_the_tokens_it_matches(
    phones: FCMEmulator, http: requests.Session, access_token: str, condition: str, reached: set[str]
) -> None:
    assert send_v1(http, phones, access_token, {"condition": condition}).status_code == 200
    assert set(_received(phones)) == reached
    for token in reached:
        assert phones.inbox(token) == [{"condition": condition}]
    assert phones.inbox(condition) == [{"condition": condition}]


def test_v1_sends_reach_only_their_projects_subscribers(
    phones: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    phones.subscribe("elsewhere", "news", project_id="other")
    send_v1(http, phones, access_token, {"topic": "news"})
    send_v1(http, phones, access_token, {"condition": "'news' in topics"})
    assert phones.inbox("elsewhere") == []
    other_token = fetch_token(phones, make_assertion(phones.service_account_info("other"))).json()
    post_v1(http, phones, other_token["access_token"], {"message": {"topic": "news"}}, project_id="other")
    assert phones.inbox("elsewhere") == [{"topic": "news"}]
    assert len(phones.inbox("only-news")) == 2


def test_a_legacy_topic_send_reaches_subscribers_in_any_project(
    phones: FCMEmulator, http: requests.Session
) -> None:
    phones.subscribe("elsewhere", "news", project_id="other")
    phones.subscribe("only-news", "news", project_id="other")  # in two projects: reached once
    body = post_legacy(http, phones, {"to": "/topics/news", "data": {"n": 1}}).json()
    assert set(body) == {"message_id"}
    expected = [{"topic": "news", "data": {"n": "1"}}]
    assert phones.inbox("only-news") == expected
    assert phones.inbox("elsewhere") == expected
    assert phones.inbox("news-and-sport") == expected
    assert phones.inbox("only-weather") == []


def test_a_legacy_condition_send_reaches_the_tokens_it_matches(
    phones: FCMEmulator, http: requests.Session
) -> None:
    post_legacy(http, phones, {"condition": CONDITION, "notification": {"title": "T"}})
    assert _received(phones) == {"only-news": 1}
    assert phones.inbox("only-news") == [{"condition": CONDITION, "notification": {"title": "T"}}]


def test_validate_only_dry_run_and_failures_reach_nobody(
    phones: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    post_v1(http, phones, access_token, {"message": {"topic": "news"}, "validate_only": True})
    post_legacy(http, phones, {"to": "/topics/news", "dry_run": True})
    phones.set_outcome("/topics/news", "unavailable", "quota_exceeded")
    assert send_v1(http, phones, access_token, {"topic": "news"}).status_code == 503
    assert post_legacy(http, phones, {"to": "/topics/news"}).json() == {"error": "TopicsMessageRateExceeded"}
    phones.set_outcome(CONDITION, "internal")
    assert send_v1(http, phones, access_token, {"condition": CONDITION}).status_code == 500
    assert _received(phones) == {}
    assert phones.stats.messages_delivered == 0


def test_fan_out_consumes_no_subscriber_outcome(
    phones: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    phones.set_outcome("only-news", "unregistered")
    send_v1(http, phones, access_token, {"topic": "news"})
    assert len(phones.inbox("only-news")) == 1
    response = send_v1(http, phones, access_token, {"token": "only-news"})
    assert fcm_error_code(response) == "UNREGISTERED"  # still queued for the next direct send


def test_unsubscribed_and_unregistered_tokens_are_not_reached(
    phones: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    phones.unregister("news-and-sport")
    assert phones.subscriptions("news-and-sport") == []
    topic_request(http, access_token, "DELETE", topics_url(phones, "only-news", "news"))
    send_v1(http, phones, access_token, {"topic": "news"})
    post_legacy(http, phones, {"condition": "'news' in topics || 'sport' in topics"})
    assert _received(phones) == {"only-sport": 1}


def test_a_negated_condition_reaches_only_tokens_with_subscriptions(
    phones: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    # The emulator knows a device only by its subscriptions (a documented choice).
    send_v1(http, phones, access_token, {"token": "loner"})
    send_v1(http, phones, access_token, {"condition": "!('news' in topics)"})
    assert phones.inbox("loner") == [{"token": "loner"}]
    assert set(_received(phones)) == {"only-weather", "only-sport"}


def test_end_to_end_subscribe_send_read_unsubscribe_send(
    emu: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    """Everything through HTTP: the REST API to subscribe, v1 to send, the inbox to read."""
    tokens = {"ann": ["news"], "bob": ["news", "sport"], "cat": ["sport", "weather"]}
    for token, topics in tokens.items():
        for topic in topics:
            assert subscribe_http(http, emu, access_token, token, topic).status_code == 200
    listed = topic_request(http, access_token, "GET", topics_url(emu, "bob")).json()
    assert [item["topicName"] for item in listed["topicSubscriptions"]] == ["news", "sport"]

    assert send_v1(http, emu, access_token, {"topic": "news", "data": {"n": "1"}}).status_code == 200
    condition = "'sport' in topics && ('news' in topics || 'weather' in topics)"
    assert send_v1(http, emu, access_token, {"condition": condition, "data": {"n": "2"}}).status_code == 200
    assert [m["data"]["n"] for m in emu.inbox("ann")] == ["1"]
    assert [m["data"]["n"] for m in emu.inbox("bob")] == ["1", "2"]
    assert [m["data"]["n"] for m in emu.inbox("cat")] == ["2"]

    assert topic_request(http, access_token, "DELETE", topics_url(emu, "bob", "news")).status_code == 200
    assert emu.subscribers("news") == ["ann"]
    assert send_v1(http, emu, access_token, {"topic": "news", "data": {"n": "3"}}).status_code == 200
    assert send_v1(http, emu, access_token, {"condition": condition, "data": {"n": "4"}}).status_code == 200
    assert [m["data"]["n"] for m in emu.inbox("ann")] == ["1", "3"]
    assert [m["data"]["n"] for m in emu.inbox("bob")] == ["1", "2"]  # news gone: neither reaches it
    assert [m["data"]["n"] for m in emu.inbox("cat")] == ["2", "4"]


def test_reset_forgets_subscriptions_and_unregistered_tokens(
    phones: FCMEmulator, http: requests.Session, access_token: str
) -> None:
    phones.unregister("dead")
    phones.reset()
    assert phones.subscriptions("only-news") == []
    assert phones.subscribers("news") == []
    assert send_v1(http, phones, access_token, {"token": "dead"}).status_code == 200
    phones.subscribe("dead", "news")
    assert phones.subscriptions("dead") == ["news"]


@pytest.mark.parametrize("protocol", ["v1", "legacy"])
def test_the_clients_topic_message_reaches_subscribers(emu: FCMEmulator, protocol: str) -> None:
    emu.subscribe("ann", "news")
    emu.subscribe("bob", "news", "sport")
    if protocol == "v1":
        fcm = FCM.from_service_account(emu.service_account_info("demo"), url=emu.v1_url("demo"))
    else:
        fcm = FCM(emu.api_key, url=emu.legacy_url)
    with fcm:
        fcm.send(TopicMessage(topic="news", data={"headline": "extra"}))
        fcm.send(TopicMessage(condition="'news' in topics && 'sport' in topics", data={"n": "2"}))
    assert [message["data"] for message in emu.inbox("ann")] == [{"headline": "extra"}]
    assert [message["data"] for message in emu.inbox("bob")] == [{"headline": "extra"}, {"n": "2"}]
