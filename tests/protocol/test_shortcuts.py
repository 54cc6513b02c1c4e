"""The usual personalised message (str data, a title, a body) takes shortcuts when it is built
and translated; each must give exactly what the general path gives, byte for byte."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcmclient import JSONMessage
from fcmclient._content import MAX_CONTENT_BYTES, Content, checked_content, copy_plain, parameters
from fcmclient._protocol import v1
from fcmclient._protocol.encoding import dumps

CONSTRUCTOR = parameters(JSONMessage)

# Any characters (escapes, non-ASCII), some texts with a lone surrogate (UTF-8 cannot
# encode one; hypothesis leaves them out of text() unless told, which its oldest supported
# release cannot be).
surrogates = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
texts = st.text(max_size=40) | st.tuples(st.text(max_size=20), surrogates, st.text(max_size=20)).map("".join)
valid_texts = st.text(max_size=40)  # what a message can hold: no lone surrogate


def json_of(strings: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | strings,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(strings, inner, max_size=3),
        max_leaves=6,
    )


json_values = json_of(texts)


def general(*args: Any) -> Content | BaseException:
    try:
        return Content.of(*args).checked(CONSTRUCTOR)
    except (TypeError, ValueError) as exc:
        return exc


def shortcut(*args: Any) -> Content | BaseException:
    try:
        return checked_content(*args, CONSTRUCTOR)
    except (TypeError, ValueError) as exc:
        return exc


def same(first: Content | BaseException, second: Content | BaseException) -> bool:
    if isinstance(first, BaseException) or isinstance(second, BaseException):
        return type(first) is type(second) and str(first) == str(second)
    return dumps([first.data, first.notification, first.options]) == dumps(
        [second.data, second.notification, second.options]
    )


@given(
    data=st.none() | st.dictionaries(texts, texts | json_values, max_size=4),
    title=st.none() | texts | st.integers(),
    body=st.none() | texts,
)
def test_a_message_built_the_short_way_keeps_what_the_general_way_keeps(
    data: dict[str, Any] | None, title: Any, body: str | None
) -> None:
    assert same(shortcut(data, title, body, None, {}), general(data, title, body, None, {}))


@pytest.mark.parametrize("extra", [0, 1, 6, 200])
def test_content_at_the_size_limit_is_judged_alike_on_both_ways(extra: int) -> None:
    for char in ("x", "\x00", "é", "\U0001f600"):  # 1 to 6 bytes of JSON a character
        width = len(dumps(char)) - 2
        size = (MAX_CONTENT_BYTES - 16) // width + extra - 100
        data = {"k": char * size}
        assert same(shortcut(data, "t", "b", None, {}), general(data, "t", "b", None, {}))


@pytest.mark.parametrize("where", ["key", "value", "title", "body"])
def test_a_lone_surrogate_is_refused_whichever_way(where: str) -> None:
    bad = "ok \ud800"
    data = {bad if where == "key" else "k": bad if where == "value" else "v"}
    title, body = (bad if where == "title" else "t"), (bad if where == "body" else "b")
    with pytest.raises(TypeError, match="JSON-serialisable"):
        JSONMessage(["tok"], data, message_title=title, message_body=body)
    assert same(shortcut(data, title, body, None, {}), general(data, title, body, None, {}))


def test_the_short_way_shares_nothing_with_the_caller() -> None:
    data = {"k": "v"}
    content = checked_content(data, "t", None, None, {}, CONSTRUCTOR)
    data["k"] = "changed"
    assert content.data == {"k": "v"}


def test_a_flat_dict_is_copied_whole_and_a_nested_one_deeply() -> None:
    flat = {"a": "1", "b": 2, "c": None}
    nested = {"a": {"b": ["c"]}}
    flat_copy, nested_copy = copy_plain(flat), copy_plain(nested)
    assert flat_copy == flat
    assert flat_copy is not flat
    assert nested_copy == nested
    assert nested_copy["a"] is not nested["a"]
    assert nested_copy["a"]["b"] is not nested["a"]["b"]


@given(
    data=st.none() | st.dictionaries(valid_texts, json_of(valid_texts), max_size=4),
    notification=st.none()
    | st.fixed_dictionaries({}, optional={"title": valid_texts, "body": valid_texts, "image": valid_texts}),
)
def test_a_message_of_shared_fields_translates_the_short_way_as_the_general_way(
    data: dict[str, Any] | None, notification: dict[str, Any] | None
) -> None:
    short = v1.common_only(data, notification)
    full, validate_only = v1.translated(data, notification, {}, 0.0)
    assert dumps(short) == dumps(full)  # same fields, same order
    assert not validate_only


def test_translate_takes_the_general_way_for_anything_else() -> None:
    message = JSONMessage(["t"], {"k": "v"}, message_title="T", payload={"notification": {"badge": 3}})
    body, _ = v1.translate(message, 0.0)
    assert body["apns"]["payload"]["aps"]["badge"] == 3  # an iOS-only key, spread by the general way
    with_option, _ = v1.translate(JSONMessage(["t"], {"k": "v"}, collapse_key="c"), 0.0)
    assert with_option["android"]["collapse_key"] == "c"
