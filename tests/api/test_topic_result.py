"""``TopicResult``: a topic operation's outcomes in buckets, ``retry()`` and ``delay()``, as a value."""

from __future__ import annotations

import pickle
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcmclient import TopicResult
from fcmclient.outcomes import NOT_SENT, Bucket, Outcome

OUTCOMES = st.sampled_from(
    [
        Outcome(Bucket.SUCCESS),
        Outcome.not_registered("UNREGISTERED"),
        Outcome.failed("INVALID_ARGUMENT", "bad token"),
        Outcome.retry("UNAVAILABLE", wait=3.0),
        Outcome.retry("INTERNAL"),
        Outcome.retry("QUOTA_EXCEEDED", wait=60.0),
        Outcome.not_sent("send_timeout passed"),
        Outcome.interrupted(),
        Outcome.retry("ACCESS_TOKEN_EXPIRED", wait=0.0),
    ]
)


@given(st.dictionaries(st.text(min_size=1, max_size=20), OUTCOMES, min_size=1, max_size=40))
def test_every_token_is_in_exactly_one_bucket(outcomes: dict[str, Outcome]) -> None:
    result = TopicResult("news", outcomes)
    placed = result.success + result.not_registered + list(result.failed) + (result.retry() or [])
    assert sorted(placed) == sorted(outcomes)
    assert result.tokens == list(outcomes)  # in the order given
    assert result.needs_retry() == (result.retry() is not None)
    assert result.success_count + result.failure_count == len(outcomes)
    for token, outcome in outcomes.items():
        assert result.outcomes[token] == outcome
        assert (token in result.success) == (outcome.bucket is Bucket.SUCCESS)
        assert (token in result.not_registered) == (outcome.bucket is Bucket.NOT_REGISTERED)
        assert result.failed.get(token) == (outcome.error if outcome.bucket is Bucket.FAILED else None)


def test_the_buckets_hold_the_tokens_in_the_order_given() -> None:
    result = TopicResult(
        "/topics/news",
        {
            "d": Outcome.retry("UNAVAILABLE", wait=2.0),
            "a": Outcome(Bucket.SUCCESS),
            "c": Outcome.not_registered("UNREGISTERED", "Requested entity was not found."),
            "b": Outcome(Bucket.SUCCESS),
            "e": Outcome.failed("INVALID_ARGUMENT"),
            "f": Outcome.not_sent("send_timeout passed before this target was sent"),
        },
        operation="unsubscribe",
    )
    assert (result.topic, result.operation) == ("news", "unsubscribe")
    assert result.success == ["a", "b"]
    assert result.not_registered == ["c"]
    assert result.failed == {"e": "INVALID_ARGUMENT"}
    assert result.retry() == ["d", "f"]
    assert result.error_details == {
        "c": "Requested entity was not found.",
        "f": "not sent: send_timeout passed before this target was sent",
    }
    assert result.outcomes["f"].error == NOT_SENT


def test_nothing_to_retry_gives_none() -> None:
    result = TopicResult("news", {"a": Outcome(Bucket.SUCCESS), "b": Outcome.not_registered("UNREGISTERED")})
    assert result.retry() is None
    assert not result.needs_retry()
    assert result.retry_after is None


def test_the_delay_is_the_longest_retry_after_when_every_retry_has_one() -> None:
    result = TopicResult(
        "news", {"a": Outcome.retry("UNAVAILABLE", wait=3.0), "b": Outcome.retry("QUOTA_EXCEEDED", wait=60.0)}
    )
    assert result.retry_after == 60.0
    assert result.delay() == result.delay(5) == 60.0


def test_without_retry_after_the_delay_is_jittered_backoff_at_least_the_longest_wait() -> None:
    rng = random.Random(7)
    result = TopicResult(
        "news",
        {"a": Outcome.retry("INTERNAL"), "b": Outcome.retry("UNAVAILABLE", wait=1.2)},
        backoff=2000,
        rng=rng,
    )
    delays = [result.delay(2) for _ in range(200)]
    assert all(7.0 <= delay <= 9.0 for delay in delays)  # 2 s * 2**2 +/- 1 s
    assert len(set(delays)) > 100  # jittered, not fixed
    assert result.delay(0) >= 1.2  # never shorter than a wait FCM asked for


def test_an_unknown_operation_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="subscribe"):
        TopicResult("news", {"a": Outcome(Bucket.SUCCESS)}, operation="replace")


def test_it_pickles_and_its_repr_shows_counts_only() -> None:
    result = TopicResult(
        "news",
        {"secret-token-1": Outcome(Bucket.SUCCESS), "secret-token-2": Outcome.retry("UNAVAILABLE", wait=4.0)},
    )
    copy = pickle.loads(pickle.dumps(result))  # noqa: S301 - our own pickle
    assert (copy.topic, copy.operation, copy.tokens) == ("news", "subscribe", result.tokens)
    assert (copy.success, copy.retry(), copy.delay()) == (["secret-token-1"], ["secret-token-2"], 4.0)
    assert repr(result) == "<TopicResult subscribe 'news' success=1 not_registered=0 failed=0 retry=1>"
    assert "secret" not in repr(result)
