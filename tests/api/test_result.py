"""``Result(message, response, backoff)``: the public constructor reading a legacy answer."""

from __future__ import annotations

import email.utils
import io
import json
import pickle
import random
import time
from typing import Any

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from fcmclient import (
    FCM_URL,
    FCMAuthenticationError,
    FCMRequestError,
    FCMResponseError,
    InstallationMessage,
    JSONMessage,
    PlainTextMessage,
    Result,
    TopicMessage,
)
from fcmclient.outcomes import TRANSPORT_ERROR, Outcome
from fcmclient.waits import MAX_RETRY_AFTER


def answered(
    status: int, body: bytes | str = b"", headers: dict[str, str] | None = None
) -> requests.Response:
    """A real requests.Response, produced by a Session talking to `responses`."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(FCM_URL, status=status, body=body, headers=headers or {})
        with requests.Session() as session:
            return session.post(FCM_URL, data=b"{}", timeout=5, allow_redirects=False)


def by_hand(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> requests.Response:
    """A requests.Response built directly, for pure tests that need many of them."""
    response = requests.Response()
    response.status_code = status
    response.headers = CaseInsensitiveDict(headers or {})
    response.raw = io.BytesIO(body)
    return response


def answer_json(
    *results: dict[str, Any], multicast_id: int | None = 123, **headers: str
) -> requests.Response:
    document: dict[str, Any] = {"results": list(results)}
    if multicast_id is not None:
        document["multicast_id"] = multicast_id
    return answered(200, json.dumps(document), headers)


MIXED_TOKENS = ["ok", "moved", "dead", "bad", "mismatch", "busy", "broken"]
MIXED_RESULTS = [
    {"message_id": "0:1"},
    {"message_id": "0:2", "registration_id": "moved-new"},
    {"error": "NotRegistered"},
    {"error": "InvalidRegistration"},
    {"error": "MismatchSenderId"},
    {"error": "Unavailable"},
    {"error": "InternalServerError"},
]


@pytest.fixture
def message() -> JSONMessage:
    return JSONMessage(
        MIXED_TOKENS,
        {"score": "3:1"},
        message_title="Goal!",
        message_body="Scored",
        payload={"notification": {"icon": "ball"}},
        collapse_key="score",
        time_to_live=0,
        android={"priority": "HIGH"},
    )


@pytest.fixture
def mixed(message: JSONMessage) -> Result:
    return Result(message, answer_json(*MIXED_RESULTS), 1000, rng=random.Random(1))


# -- buckets ------------------------------------------------------------------------------------


def test_buckets_are_exact(mixed: Result) -> None:
    assert mixed.success == {"ok": "0:1", "moved": "0:2"}
    assert mixed.canonical == {"moved": "moved-new"}
    assert mixed.not_registered == ["dead"]
    assert mixed.failed == {"bad": "InvalidRegistration", "mismatch": "MismatchSenderId"}
    assert mixed.needs_retry()
    assert mixed.multicast_id == 123


def test_retry_is_a_new_message_to_the_retryable_tokens_only(message: JSONMessage, mixed: Result) -> None:
    before = message.payload
    retry = mixed.retry()
    assert type(retry) is JSONMessage
    assert retry.registration_ids == ["busy", "broken"]
    assert retry.data == message.data
    assert retry.notification == message.notification == {"title": "Goal!", "body": "Scored", "icon": "ball"}
    assert retry.options == message.options
    assert retry.payload == {**before, "registration_ids": ["busy", "broken"]}
    assert message.payload == before
    assert retry is not message


def test_every_token_lands_in_exactly_one_bucket(mixed: Result) -> None:
    retry = mixed.retry()
    assert retry is not None
    buckets = [
        set(mixed.success),
        set(mixed.not_registered),
        set(mixed.failed),
        set(retry.targets),
    ]
    assert sorted(token for bucket in buckets for token in bucket) == sorted(MIXED_TOKENS)
    assert set(mixed.canonical) <= set(mixed.success)


def test_bucket_properties_return_copies(mixed: Result) -> None:
    mixed.success["x"] = "y"
    mixed.canonical.clear()
    mixed.not_registered.append("x")
    mixed.failed.clear()
    assert mixed.success == {"ok": "0:1", "moved": "0:2"}
    assert mixed.canonical == {"moved": "moved-new"}
    assert mixed.not_registered == ["dead"]
    assert len(mixed.failed) == 2


def test_all_success_needs_no_retry() -> None:
    msg = JSONMessage(["a", "b"])
    result = Result(msg, answer_json({"message_id": "1"}, {"message_id": "2"}), 1000)
    assert not result.needs_retry()
    assert result.retry() is None
    assert result.success == {"a": "1", "b": "2"}
    assert result.canonical == {}
    assert result.not_registered == []
    assert result.failed == {}


def test_an_all_delivered_answer_gives_every_view_of_the_result() -> None:
    """Every target delivered is the common case, and the fast one: its outcomes are made
    only when asked for. Every view must still be there, before and after a pickle."""
    tokens = [f"t{n}" for n in range(5)]
    fresh = Result(JSONMessage(tokens), answer_json(*({"message_id": f"0:{n}"} for n in range(5))), 1000)
    thawed = pickle.loads(pickle.dumps(fresh))  # noqa: S301 - our own bytes
    for result in (fresh, thawed):
        assert result.success == {f"t{n}": f"0:{n}" for n in range(5)}
        assert result.error_details == {}
        assert result.outcomes == {f"t{n}": Outcome.success(f"0:{n}") for n in range(5)}
        assert (result.canonical, result.not_registered, result.failed) == ({}, [], {})
        assert result.retry() is None
        assert result.multicast_id == 123
        assert repr(result) == "<Result success=5 canonical=0 not_registered=0 failed=0 retry=0>"


def test_result_keeps_the_message(message: JSONMessage, mixed: Result) -> None:
    assert mixed.message is message


def test_body_without_multicast_id_is_fine() -> None:
    result = Result(JSONMessage(["a"]), answer_json({"error": "NotRegistered"}, multicast_id=None), 1000)
    assert result.multicast_id is None
    assert result.not_registered == ["a"]


@st.composite
def multicast_answers(draw: st.DrawFn) -> tuple[list[str], list[dict[str, Any]]]:
    tokens = draw(st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=20, unique=True))
    entries = st.one_of(
        st.builds(lambda n: {"message_id": f"0:{n}"}, st.integers(min_value=0)),
        st.builds(lambda t: {"message_id": "0:1", "registration_id": t}, st.text(min_size=1, max_size=6)),
        st.sampled_from(
            [
                {"error": code}
                for code in (
                    "NotRegistered",
                    "InvalidRegistration",
                    "MismatchSenderId",
                    "MessageTooBig",
                    "Unavailable",
                    "InternalServerError",
                )
            ]
        ),
    )
    results = draw(st.lists(entries, min_size=len(tokens), max_size=len(tokens)))
    return tokens, results


@given(multicast_answers())
def test_any_multicast_partitions_its_tokens(answer: tuple[list[str], list[dict[str, Any]]]) -> None:
    tokens, results = answer
    msg = JSONMessage(tokens, {"k": "v"})
    document = {"multicast_id": 1, "results": results}
    result = Result(msg, by_hand(200, json.dumps(document).encode()), 1000)
    retry = result.retry()
    retried = retry.targets if retry is not None else []
    placed = list(result.success) + result.not_registered + list(result.failed) + retried
    assert sorted(placed) == sorted(tokens)
    assert len(placed) == len(set(placed))
    assert set(result.canonical) <= set(result.success)
    assert result.needs_retry() == bool(retried)
    for token, entry in zip(tokens, results, strict=True):
        if "message_id" in entry:
            assert result.success[token] == entry["message_id"]
            assert result.canonical.get(token) == entry.get("registration_id")
            assert result.outcomes[token] == Outcome.success(
                entry["message_id"], entry.get("registration_id")
            )
        elif entry["error"] == "NotRegistered":
            assert token in result.not_registered
        elif entry["error"] in ("Unavailable", "InternalServerError"):
            assert token in retried
        else:
            assert result.failed[token] == entry["error"]
    if retry is not None:
        assert retry.data == {"k": "v"}
        assert retried == [token for token in tokens if token in retried]


# -- whole-message statuses ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_puts_the_whole_message_in_retry(message: JSONMessage, status: int) -> None:
    result = Result(message, answered(status, "<html>Service Unavailable</html>"), 1000)
    assert result.needs_retry()
    retry = result.retry()
    assert retry == message
    assert retry is not None
    assert retry.payload == message.payload
    assert result.success == {}
    assert result.canonical == {}
    assert result.not_registered == []
    assert result.failed == {}
    assert result.multicast_id is None


def test_400_carries_fcms_explanation(message: JSONMessage) -> None:
    explanation = "Field \"time_to_live\" must be a JSON number: 'soon'"
    with pytest.raises(FCMRequestError) as info:
        Result(message, answered(400, explanation), 1000)
    assert isinstance(info.value, ValueError)
    assert info.value.status == 400
    assert info.value.explanation == explanation
    assert explanation in str(info.value)
    assert "b'" not in str(info.value)


def test_401_raises_authentication_error(message: JSONMessage) -> None:
    with pytest.raises(FCMAuthenticationError) as info:
        Result(message, answered(401, "<HTML><TITLE>Unauthorized</TITLE></HTML>"), 1000)
    assert isinstance(info.value, ValueError)
    assert info.value.status == 401


@pytest.mark.parametrize("status", [201, 302, 403, 404, 418])
def test_any_other_status_is_a_value_error_naming_it(message: JSONMessage, status: int) -> None:
    with pytest.raises(ValueError, match=str(status)) as info:
        Result(message, answered(status, "no", {"Location": "https://example.invalid/"}), 1000)
    assert isinstance(info.value, FCMRequestError)
    assert info.value.status == status


# -- malformed 200 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("not json at all", "not JSON"),
        ("", "not JSON"),
        ('[{"message_id": "1"}]', "not an object"),
        ('{"multicast_id": 1}', "results"),
        ('{"multicast_id": 1, "results": []}', "0 results for 2"),
        ('{"results": [{"message_id": "1"}, {"message_id": "2"}, {"message_id": "3"}]}', "3 results for 2"),
        ('{"results": [{"message_id": "1"}, {}]}', "neither message_id nor error"),
        ('{"results": [{"message_id": ["1"]}, {"message_id": "2"}]}', "message_id"),
        ('{"results": [{"message_id": "1", "registration_id": 7}, {"message_id": "2"}]}', "registration_id"),
        ('{"multicast_id": "123", "results": [{"message_id": "1"}, {"message_id": "2"}]}', "multicast_id"),
        ('{"results": [null, {"message_id": "2"}]}', "not an object"),
    ],
)
def test_malformed_200_is_a_response_error(raw: str, complaint: str) -> None:
    with pytest.raises(FCMResponseError, match=complaint) as info:
        Result(JSONMessage(["a", "b"]), answered(200, raw), 1000)
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, (KeyError, TypeError, IndexError))


# -- topic and plain-text messages --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"topic": "news"}, "news"),
        ({"topic": "/topics/news"}, "/topics/news"),
        ({"condition": "'a' in topics && 'b' in topics"}, "'a' in topics && 'b' in topics"),
    ],
)
def test_topic_result_is_keyed_by_the_target_as_given(kwargs: dict[str, str], key: str) -> None:
    result = Result(TopicMessage(**kwargs), answered(200, '{"message_id": 4321}'), 1000)
    assert result.success == {key: "4321"}
    assert not result.needs_retry()


def test_topic_error_answers() -> None:
    msg = TopicMessage(topic="news", data={"k": "v"})
    failed = Result(msg, answered(200, '{"error": "TopicsMessageRateExceeded"}'), 1000)
    assert failed.failed == {"news": "TopicsMessageRateExceeded"}
    busy = Result(msg, answered(200, '{"error": "Unavailable"}', {"Retry-After": "9"}), 1000)
    assert busy.retry() == msg
    assert busy.delay() == 9.0


def test_plain_text_result() -> None:
    msg = PlainTextMessage("tok", {"k": "v"})
    result = Result(msg, answered(200, "id=0:77\nregistration_id=tok-new\n"), 1000)
    assert result.success == {"tok": "0:77"}
    assert result.canonical == {"tok": "tok-new"}


def test_plain_text_retry_keeps_the_class() -> None:
    msg = PlainTextMessage("tok", {"k": "v"}, dry_run=True)
    result = Result(msg, answered(200, "Error=Unavailable"), 1000)
    retry = result.retry()
    assert type(retry) is PlainTextMessage
    assert retry == msg


def test_installation_retry_keeps_the_class_so_it_is_sent_as_fid_again() -> None:
    msg = InstallationMessage(["fid-ok", "fid-busy"], {"k": "v"})
    outcomes = [Outcome.success("projects/p/messages/1"), Outcome.retry("UNAVAILABLE")]
    retry = Result.from_outcomes(msg, outcomes, 1000).retry()
    assert type(retry) is InstallationMessage
    assert retry.fids == ["fid-busy"]
    assert retry.data == {"k": "v"}


# -- delay --------------------------------------------------------------------------------------


def test_retry_after_seconds_wins(message: JSONMessage) -> None:
    result = Result(message, answered(503, "", {"Retry-After": "120"}), 1000)
    assert result.retry_after == 120.0
    assert result.delay() == 120.0
    assert result.delay(retry=5) == 120.0
    assert type(result.delay()) is float


def test_retry_after_http_date_is_seconds_from_now(message: JSONMessage) -> None:
    when = email.utils.formatdate(time.time() + 90, usegmt=True)  # whole seconds: up to 1 s early
    result = Result(message, answered(503, "", {"Retry-After": when}), 1000)
    assert 88.0 <= result.delay() <= 90.0
    assert result.delay(retry=4) == result.delay()  # FCM's date wins over the backoff
    assert type(result.delay()) is float


def test_retry_after_date_in_the_past_means_now(message: JSONMessage) -> None:
    result = Result(message, answered(503, "", {"Retry-After": "Sun, 06 Nov 1994 08:49:37 GMT"}), 1000)
    assert result.delay() == 0.0


def test_retry_after_far_future_is_capped(message: JSONMessage) -> None:
    result = Result(message, answered(503, "", {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}), 1000)
    assert result.delay() == MAX_RETRY_AFTER


@pytest.mark.parametrize("value", ["soon", "-3", "1e3", ""])
def test_unreadable_retry_after_falls_back_to_backoff(message: JSONMessage, value: str) -> None:
    result = Result(message, answered(503, "", {"Retry-After": value}), 1000, rng=random.Random(4))
    assert result.retry_after is None
    assert 0.5 <= result.delay() <= 1.5
    assert 3.5 <= result.delay(2) <= 4.5


@pytest.mark.parametrize("retry", range(6))
def test_delay_without_retry_after_is_jittered_backoff(mixed: Result, retry: int) -> None:
    assert mixed.retry_after is None
    low, high = (1000 * 2**retry - 500) / 1000, (1000 * 2**retry + 500) / 1000
    assert low <= mixed.delay(retry) <= high
    assert low <= mixed.backoff(retry) <= high


def mixed_waits(retry_after: float) -> Result:
    """A v1-style result: one target asked for ``retry_after`` s, one failed in transport (no wait)."""
    outcomes = [
        Outcome.retry("UNAVAILABLE", wait=retry_after),
        Outcome.retry(TRANSPORT_ERROR, detail="ConnectionError: reset"),
    ]
    return Result.from_outcomes(JSONMessage(["asked", "silent"]), outcomes, 1000, rng=random.Random(3))


def test_delay_covers_a_retry_after_longer_than_the_backoff_of_other_targets() -> None:
    result = mixed_waits(120.0)
    assert result.retry_after == 120.0
    assert all(result.delay(retry) == 120.0 for retry in range(3))  # backoff 1..4 s is shorter


def test_delay_covers_a_backoff_longer_than_the_retry_after_of_other_targets() -> None:
    # The target without Retry-After needs its backoff: a short Retry-After elsewhere must
    # not make the whole retry come back early.
    result = mixed_waits(0.5)
    assert result.retry_after == 0.5
    assert 7.5 <= result.delay(3) <= 8.5
    assert 0.5 <= result.delay(0) <= 1.5


def test_backoff_uses_the_given_base() -> None:
    result = Result(JSONMessage(["a"]), answered(500), 200, rng=random.Random(9))
    assert all(0.1 <= result.delay(0) <= 0.3 for _ in range(100))
    assert all(0.7 <= result.delay(2) <= 0.9 for _ in range(100))


def test_regression_zero_backoff_crashed_randrange() -> None:
    # 0.2 drew `randrange(backoff)`, a ValueError for backoff=0.
    response = requests.Response()
    response.status_code = 503
    response.raw = io.BytesIO(b"")
    result = Result(JSONMessage(["a"]), response, 0, rng=random.Random(1))
    assert result.delay() == 0.0
    assert result.delay(4) == 0.0


def test_delay_is_reproducible_with_a_seeded_rng() -> None:
    msg = JSONMessage(["a"])
    first = Result(msg, by_hand(503), 1000, rng=random.Random(11))
    second = Result(msg, by_hand(503), 1000, rng=random.Random(11))
    assert [first.delay(r) for r in range(5)] == [second.delay(r) for r in range(5)]


def test_delay_jitters_between_calls() -> None:
    result = Result(JSONMessage(["a"]), by_hand(503), 1000, rng=random.Random(2))
    assert len({result.delay() for _ in range(20)}) > 1


def test_hand_built_response_is_read_like_a_real_one() -> None:
    body = b'{"multicast_id": 9, "results": [{"message_id": "1"}, {"error": "NotRegistered"}]}'
    result = Result(JSONMessage(["a", "b"]), by_hand(200, body), 1000)
    assert result.success == {"a": "1"}
    assert result.not_registered == ["b"]
    assert result.multicast_id == 9


# Result.__init__ passed response.content to legacy.decode unchecked; a requests.Response
# without a body has content None, so snippet()/json.loads raised TypeError.


def bodyless(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    assert response.content is None
    return response


def test_regression_bodyless_5xx_crashed_with_type_error() -> None:
    assert Result(JSONMessage(["a"]), bodyless(503), 1000).needs_retry()


@pytest.mark.parametrize("status", [400, 404])
def test_regression_bodyless_4xx_crashed_with_type_error(status: int) -> None:
    with pytest.raises(FCMRequestError, match=str(status)):
        Result(JSONMessage(["a"]), bodyless(status), 1000)


def test_regression_bodyless_200_crashed_with_type_error() -> None:
    with pytest.raises(FCMResponseError):
        Result(JSONMessage(["a"]), bodyless(200), 1000)
