"""``Retry-After`` parsing and exponential backoff, as pure functions: frozen clock, seeded chance."""

from __future__ import annotations

import calendar
import email.utils
import math
import random
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcmclient.waits import MAX_BACKOFF, MAX_RETRY_AFTER, backoff_seconds, parse_retry_after

# The RFC 7231 example instant, Sun, 06 Nov 1994 08:49:37 GMT, and a clock one minute before it.
EXAMPLE = calendar.timegm((1994, 11, 6, 8, 49, 37))
NOW = EXAMPLE - 60.0


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Sun, 06 Nov 1994 08:49:37 GMT", id="imf-fixdate"),
        pytest.param("Sunday, 06-Nov-94 08:49:37 GMT", id="rfc850"),
        pytest.param("Sun Nov  6 08:49:37 1994", id="asctime"),
    ],
)
def test_http_date_in_every_rfc7231_form(value: str) -> None:
    assert parse_retry_after(value, now=NOW) == 60.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0.0), ("1", 1.0), ("120", 120.0), (" 30 ", 30.0), ("1.5", 1.5), ("3600", 3600.0)],
)
def test_delta_seconds(value: str, expected: float) -> None:
    wait = parse_retry_after(value, now=NOW)
    assert wait == expected
    assert type(wait) is float


@pytest.fixture
def local_time_far_from_gmt(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone set to UTC-10 for the test, then restored."""
    monkeypatch.setenv("TZ", "HST10")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Sun, 06 Nov 1994 08:49:37 GMT", id="imf-fixdate"),
        pytest.param("Sunday, 06-Nov-94 08:49:37 GMT", id="rfc850"),
        pytest.param("Sun Nov  6 08:49:37 1994", id="asctime"),
    ],
)
def test_http_dates_mean_gmt_whatever_the_local_time_zone(value: str, local_time_far_from_gmt: None) -> None:
    # asctime carries no zone: it must still be read as GMT, not as the machine's local time.
    assert time.localtime(EXAMPLE).tm_hour != time.gmtime(EXAMPLE).tm_hour  # the zone took effect
    assert parse_retry_after(value, now=NOW) == 60.0


def test_an_http_date_is_measured_from_the_exact_now() -> None:
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now=EXAMPLE - 0.25) == 0.25


def test_delta_seconds_do_not_depend_on_the_clock() -> None:
    assert parse_retry_after("45", now=0.0) == parse_retry_after("45", now=2e9) == 45.0


def test_missing_header_gives_none() -> None:
    assert parse_retry_after(None, now=NOW) is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "soon",
        "1e3",
        "inf",
        "nan",
        "+5",
        # RFC 7231 delta-seconds is 1*DIGIT: a sign makes the value unreadable, not "now".
        "-5",
        "12 seconds",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
    ],
)
def test_garbage_is_ignored(value: str) -> None:
    assert parse_retry_after(value, now=NOW) is None


@pytest.mark.parametrize(
    "value",
    ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"],
)
def test_date_in_the_past_means_now(value: str) -> None:
    assert parse_retry_after(value, now=EXAMPLE + 3600.0) == 0.0


def test_date_equal_to_now_means_now() -> None:
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now=EXAMPLE) == 0.0


@pytest.mark.parametrize("value", ["3601", "86400", "999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_enormous_waits_are_capped(value: str) -> None:
    assert parse_retry_after(value, now=NOW) == MAX_RETRY_AFTER


def test_cap_is_one_hour() -> None:
    assert MAX_RETRY_AFTER == 3600.0


@pytest.mark.parametrize("value", ["1" * 13, "9" * 40, "9" * 4000, "1" * 20 + ".5"])
def test_regression_more_than_twelve_digits_were_ignored_not_capped(value: str) -> None:
    # waits._DELTA accepted at most 12 digits: a longer (valid) delta-seconds was ignored and
    # the caller fell back to ~1 s backoff instead of the capped hour.
    assert parse_retry_after(value, now=NOW) == MAX_RETRY_AFTER


@given(st.integers(min_value=0, max_value=10**60))
def test_any_delta_seconds_is_clamped_to_the_cap(seconds: int) -> None:
    assert parse_retry_after(str(seconds), now=NOW) == min(float(seconds), MAX_RETRY_AFTER)


@given(
    when=st.integers(min_value=0, max_value=4102444800),  # 1970 .. 2100
    now=st.integers(min_value=0, max_value=4102444800),
)
def test_http_date_is_seconds_from_now_clamped(when: int, now: int) -> None:
    header = email.utils.formatdate(when, usegmt=True)
    assert parse_retry_after(header, now=float(now)) == min(max(float(when - now), 0.0), MAX_RETRY_AFTER)


@given(st.text())
def test_any_text_gives_none_or_a_bounded_wait(value: str) -> None:
    wait = parse_retry_after(value, now=NOW)
    assert wait is None or 0.0 <= wait <= MAX_RETRY_AFTER


# -- backoff ------------------------------------------------------------------------------------


@given(
    backoff=st.integers(min_value=0, max_value=100_000),
    retry=st.integers(min_value=0, max_value=32),
    seed=st.integers(),
)
def test_backoff_stays_within_jitter_bounds(backoff: int, retry: int, seed: int) -> None:
    wait = backoff_seconds(backoff, retry, random.Random(seed))
    centre = min(backoff * 2**retry, MAX_BACKOFF * 1000)
    # A millisecond's worth of slack absorbs float rounding at the bounds.
    assert (centre - backoff / 2) / 1000 - 1e-9 <= wait <= (centre + backoff / 2) / 1000 + 1e-9
    assert wait >= 0.0


@given(backoff=st.integers(min_value=1, max_value=10), retry=st.integers(min_value=0, max_value=3))
def test_backoff_is_never_negative_for_tiny_bases(backoff: int, retry: int) -> None:
    for seed in range(20):
        assert backoff_seconds(backoff, retry, random.Random(seed)) >= 0.0


def test_first_backoff_with_default_base_is_about_one_second() -> None:
    waits = [backoff_seconds(1000, 0, random.Random(seed)) for seed in range(500)]
    assert all(0.5 <= wait <= 1.5 for wait in waits)


def test_jitter_spans_plus_minus_half_the_base() -> None:
    rng = random.Random(7)
    waits = [backoff_seconds(1000, 2, rng) for _ in range(2000)]
    # centre 4.0 s, jitter +/- 0.5 s: draws must reach close to both ends.
    assert 3.5 <= min(waits) < 3.55
    assert 4.45 < max(waits) <= 4.5


def test_jitter_is_uniform_across_the_window() -> None:
    # +/- backoff/2 drawn uniformly: every tenth of the window gets about a tenth of the
    # draws (a sum of two draws, or a bell curve, would starve the edges).
    rng = random.Random(5)
    bins = [0] * 10
    for _ in range(5000):
        wait = backoff_seconds(1000, 1, rng)
        bins[min(int((wait - 1.5) * 10), 9)] += 1
    assert all(400 <= count <= 600 for count in bins), bins


def test_backoff_doubles_per_retry() -> None:
    centres = []
    for retry in range(6):
        waits = [backoff_seconds(1000, retry, random.Random(seed)) for seed in range(200)]
        centres.append(sum(waits) / len(waits))
    for retry, centre in enumerate(centres):
        assert abs(centre - 2**retry) < 0.1, (retry, centre)


@pytest.mark.parametrize("retry", [12, 20, 32, 10**6])
def test_regression_backoff_grew_to_days(retry: int) -> None:
    """The 20th retry of a 1 s backoff waited 12 days; the centre now stops at an hour."""
    waits = [backoff_seconds(1000, retry, random.Random(seed)) for seed in range(200)]
    assert all(MAX_BACKOFF - 0.5 <= wait <= MAX_BACKOFF + 0.5 for wait in waits)
    assert max(waits) - min(waits) > 0.5  # the jitter still spreads senders out


def test_same_seed_gives_same_backoff() -> None:
    first = [backoff_seconds(1000, r, random.Random(42)) for r in range(5)]
    second = [backoff_seconds(1000, r, random.Random(42)) for r in range(5)]
    assert first == second


def test_backoff_draws_from_the_given_rng() -> None:
    rng = random.Random(3)
    before = rng.getstate()
    backoff_seconds(1000, 0, rng)
    assert rng.getstate() != before


def test_zero_base_gives_zero() -> None:
    assert backoff_seconds(0, 5, random.Random(1)) == 0.0


def test_negative_retry_counts_as_first() -> None:
    assert 0.5 <= backoff_seconds(1000, -3, random.Random(1)) <= 1.5


def test_huge_retry_count_gives_a_finite_wait() -> None:
    wait = backoff_seconds(1000, 10**6, random.Random(1))
    assert math.isfinite(wait)
    assert wait > 0.0
