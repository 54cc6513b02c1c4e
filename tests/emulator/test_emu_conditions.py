"""The condition grammar, tested directly: it is a pure function of a string and a topic set.

The HTTP tests (test_emu_topic_delivery.py) check that sends use it; these pin the grammar.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fcmclient.testing._conditions import (
    MAX_CONDITION_TOPICS,
    ConditionError,
    condition_problem,
    parse_condition,
)

NAMES = ("a", "b", "c", "d", "e")


@pytest.mark.parametrize(
    ("condition", "subscribed", "expected"),
    [
        ("'a' in topics", {"a"}, True),
        ("'a' in topics", {"b"}, False),
        ('"a" in topics', {"a"}, True),
        ("'a' in topics && 'b' in topics", {"a"}, False),
        ("'a' in topics && 'b' in topics", {"a", "b"}, True),
        ("'a' in topics || 'b' in topics", {"b"}, True),
        ("!('a' in topics)", set(), True),
        ("!('a' in topics)", {"a"}, False),
        ("!'a' in topics", set(), True),
        ("!!('a' in topics)", {"a"}, True),
        # Firebase's own example: TopicA and either TopicB or TopicC
        ("'a' in topics && ('b' in topics || 'c' in topics)", {"a", "c"}, True),
        ("'a' in topics && ('b' in topics || 'c' in topics)", {"b", "c"}, False),
        ("'a' in topics && ('b' in topics || 'c' in topics)", {"a"}, False),
        ("'a' in topics && !('b' in topics)", {"a"}, True),
        ("  (  'a'   in   topics  )  ", {"a"}, True),
        ("'news.eu-1~%20' in topics", {"news.eu-1~%20"}, True),
    ],
)
def test_evaluation(condition: str, subscribed: set[str], expected: bool) -> None:
    assert parse_condition(condition).matches(subscribed) is expected


def test_and_and_or_fold_from_the_left_as_firebase_documents() -> None:
    # "FCM first evaluates any conditions in parentheses, and then evaluates the expression
    # from left to right": (a || b) && c, where C-like precedence would give a || (b && c).
    condition = parse_condition("'a' in topics || 'b' in topics && 'c' in topics")
    assert condition.matches({"a"}) is False
    assert condition.matches({"a", "c"}) is True
    # and the other way round: (a && b) || c
    other = parse_condition("'a' in topics && 'b' in topics || 'c' in topics")
    assert other.matches({"c"}) is True


def test_topics_are_listed_in_order_with_repeats() -> None:
    assert parse_condition("'b' in topics && !('a' in topics || 'b' in topics)").topics == ("b", "a", "b")


@pytest.mark.parametrize(
    ("condition", "explanation"),
    [
        ("", "found the end of the condition"),
        ("'a' in topics &&", "found the end of the condition"),
        ("&& 'a' in topics", 'found "&&" at character 0'),
        ("'a' in topics 'b' in topics", "expected && or ||"),
        ("('a' in topics", "expected ), found the end"),
        ("'a' in topics)", 'found ")" at character 13'),
        ("()", 'found ")"'),
        ("'a' in topic", "unexpected"),
        ("'a' in topicsX", "unexpected"),
        ("'a'in topics", "unexpected"),
        ("'a\" in topics", "unexpected"),
        ("a in topics", 'unexpected "a in topic"'),
        ("'a' in topics & 'b' in topics", "unexpected"),
        ("'a' in topics and 'b' in topics", "unexpected"),
        ("'' in topics", 'Invalid topic name ""'),
        ("'bad topic' in topics", 'Invalid topic name "bad topic"'),
        ("'/topics/a' in topics", "Invalid topic name"),
        (" || ".join(f"'t{i}' in topics" for i in range(6)), "it names 6 topics, the maximum is 5"),
        ("'a' in topics || " * 5 + "'a' in topics", "the maximum is 5"),  # repeats count
        ("(" * 70 + "'a' in topics" + ")" * 70, "nested more than 64 levels"),
        ("!" * 70 + "'a' in topics", "nested more than 64 levels"),
    ],
)
def test_invalid_conditions_say_why(condition: str, explanation: str) -> None:
    with pytest.raises(ConditionError, match="Invalid") as caught:
        parse_condition(condition)
    assert explanation in str(caught.value)
    assert condition_problem(condition) == str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_five_topics_is_the_limit_not_an_error() -> None:
    condition = " && ".join(f"'t{i}' in topics" for i in range(MAX_CONDITION_TOPICS))
    assert condition_problem(condition) is None
    assert parse_condition(condition).matches({f"t{i}" for i in range(5)})


# A random expression is built as FCM text and as Python text with the same meaning: each
# binary step is parenthesised in the Python text, so Python's own and/or/not evaluate it
# in FCM's left-to-right order.
_Built = tuple[str, str]


def _topic(name: str, quote: str) -> _Built:
    return f"{quote}{name}{quote} in topics", name


_LEAVES = st.builds(_topic, st.sampled_from(NAMES), st.sampled_from(["'", '"']))


def _operand(inner: st.SearchStrategy[_Built]) -> st.SearchStrategy[_Built]:
    # A chain inside a chain is always parenthesised: bare, it would merge into the outer one.
    negated = inner.map(lambda built: (f"!({built[0]})", f"(not {built[1]})"))
    grouped = inner.map(lambda built: (f"({built[0]})", f"({built[1]})"))
    return st.one_of(_LEAVES, negated, grouped)


@st.composite
def _chain(draw: st.DrawFn, operand: st.SearchStrategy[_Built]) -> _Built:
    fcm, python = draw(operand)
    for _ in range(draw(st.integers(0, 2))):
        operator = draw(st.sampled_from(["&&", "||"]))
        right_fcm, right_python = draw(operand)
        fcm = f"{fcm} {operator} {right_fcm}"
        python = f"({python} {'and' if operator == '&&' else 'or'} {right_python})"
    return fcm, python


EXPRESSIONS = st.recursive(_LEAVES, lambda inner: _chain(_operand(inner)), max_leaves=5)


@given(EXPRESSIONS, st.sets(st.sampled_from(NAMES)))
def test_evaluation_agrees_with_python(expression: _Built, subscribed: set[str]) -> None:
    fcm, python = expression
    assume(fcm.count(" in topics") <= MAX_CONDITION_TOPICS)
    names = {name: name in subscribed for name in NAMES}
    expected = eval(python, {"__builtins__": {}}, names)  # noqa: S307  # built above from NAMES only
    assert parse_condition(fcm).matches(subscribed) is expected


def test_every_subset_of_the_firebase_example() -> None:
    condition = parse_condition("'a' in topics && ('b' in topics || 'c' in topics)")
    receivers = [
        set(subset)
        for size in range(4)
        for subset in itertools.combinations("abc", size)
        if condition.matches(set(subset))
    ]
    assert receivers == [{"a", "b"}, {"a", "c"}, {"a", "b", "c"}]
