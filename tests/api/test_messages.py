"""Message builders, tested directly: the legacy body, validation, properties and state."""

from __future__ import annotations

import collections
import inspect
import json
import math
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcmclient import InstallationMessage, JSONMessage, PlainTextMessage, TopicMessage
from fcmclient.messages import LEGACY_OPTIONS, V1_FIELDS

ALL_LEGACY_OPTIONS: dict[str, Any] = {
    "collapse_key": "score",
    "priority": "high",
    "time_to_live": 3600,
    "delay_while_idle": True,
    "restricted_package_name": "com.example.app",
    "dry_run": True,
    "content_available": True,
    "mutable_content": False,
}


def repickled(value: Any) -> Any:
    """``value`` through pickle and back (our own bytes, so loading them is safe)."""
    return pickle.loads(pickle.dumps(value))  # noqa: S301


# -- the legacy body ----------------------------------------------------------------------------


def test_payload_is_exactly_the_legacy_body() -> None:
    msg = JSONMessage(
        ["tok-1", "tok-2"],
        {"score": "3:1", "minute": 90},
        message_title="Goal!",
        message_body="3:1 in the 90th",
        **ALL_LEGACY_OPTIONS,
    )
    assert msg.payload == {
        "registration_ids": ["tok-1", "tok-2"],
        "data": {"score": "3:1", "minute": 90},
        "notification": {"title": "Goal!", "body": "3:1 in the 90th"},
        **ALL_LEGACY_OPTIONS,
    }


def test_known_options_are_the_documented_legacy_ones() -> None:
    assert set(LEGACY_OPTIONS) == set(ALL_LEGACY_OPTIONS)
    assert set(V1_FIELDS) == {"android", "apns", "webpush", "fcm_options"}


def test_minimal_payload_has_only_the_targets() -> None:
    assert JSONMessage(["tok"]).payload == {"registration_ids": ["tok"]}


def test_time_to_live_zero_is_kept() -> None:
    assert JSONMessage(["tok"], time_to_live=0).payload == {"registration_ids": ["tok"], "time_to_live": 0}


def test_false_booleans_are_kept() -> None:
    payload = JSONMessage(["tok"], dry_run=False, delay_while_idle=False).payload
    assert payload == {"registration_ids": ["tok"], "dry_run": False, "delay_while_idle": False}


def test_none_options_are_omitted() -> None:
    msg = JSONMessage(["tok"], collapse_key=None, time_to_live=None, custom=None, priority="normal")
    assert msg.payload == {"registration_ids": ["tok"], "priority": "normal"}
    assert msg.options == {"priority": "normal"}


def test_unknown_options_pass_through_untouched() -> None:
    extra = {"nested": {"a": [1, 2, {"b": None}]}, "flag": True}
    msg = JSONMessage(["tok"], some_future_option=extra, another="x")
    assert msg.payload == {"registration_ids": ["tok"], "some_future_option": extra, "another": "x"}
    assert msg.options == {"some_future_option": extra, "another": "x"}


def test_v1_fields_stay_out_of_the_legacy_body_but_are_kept_as_options() -> None:
    v1_fields = {
        "android": {"priority": "HIGH"},
        "apns": {"headers": {"apns-priority": "10"}},
        "webpush": {"headers": {"TTL": "60"}},
        "fcm_options": {"analytics_label": "goal"},
    }
    msg = JSONMessage(["tok"], {"k": "v"}, collapse_key="c", **v1_fields)
    assert msg.payload == {"registration_ids": ["tok"], "data": {"k": "v"}, "collapse_key": "c"}
    assert msg.options == {"collapse_key": "c", **v1_fields}


def test_v1_field_must_be_a_mapping() -> None:
    with pytest.raises(TypeError, match="android"):
        JSONMessage(["tok"], android="HIGH")


@pytest.mark.parametrize(
    ("kwargs", "notification"),
    [
        ({"message_title": "T"}, {"title": "T"}),
        ({"message_body": "B"}, {"body": "B"}),
        ({"message_title": "T", "message_body": "B"}, {"title": "T", "body": "B"}),
        ({"message_title": ""}, {"title": ""}),
    ],
)
def test_notification_keys_are_title_and_body(kwargs: dict[str, str], notification: dict[str, str]) -> None:
    msg = JSONMessage(["tok"], **kwargs)
    assert msg.payload["notification"] == notification
    assert msg.notification == notification


def test_no_title_or_body_means_no_notification() -> None:
    msg = JSONMessage(["tok"], {"k": "v"})
    assert "notification" not in msg.payload
    assert msg.notification is None
    assert msg.message_title is None
    assert msg.message_body is None


def test_payload_is_a_fresh_copy() -> None:
    msg = JSONMessage(["tok"], {"k": {"deep": 1}}, message_title="T", custom={"x": 1})
    payload = msg.payload
    payload["data"]["k"]["deep"] = 2
    payload["notification"]["title"] = "changed"
    payload["custom"]["x"] = 2
    payload["registration_ids"].append("other")
    assert msg.payload == {
        "registration_ids": ["tok"],
        "data": {"k": {"deep": 1}},
        "notification": {"title": "T"},
        "custom": {"x": 1},
    }


# -- properties ---------------------------------------------------------------------------------


def test_properties() -> None:
    msg = JSONMessage(
        ["a", "b"], {"k": "v"}, message_title="T", message_body="B", collapse_key="c", android={"x": 1}
    )
    assert msg.registration_ids == ["a", "b"]
    assert msg.targets == ["a", "b"]
    assert msg.data == {"k": "v"}
    assert msg.notification == {"title": "T", "body": "B"}
    assert msg.message_title == "T"
    assert msg.message_body == "B"
    assert msg.options == {"collapse_key": "c", "android": {"x": 1}}


def test_regression_message_body_returned_the_title() -> None:
    msg = JSONMessage(["a"], message_title="the title", message_body="the body")
    assert msg.message_body == "the body"
    assert msg.message_title == "the title"


def test_properties_return_copies() -> None:
    msg = JSONMessage(["a"], {"k": {"n": 1}}, message_title="T", android={"x": 1})
    msg.registration_ids.append("b")
    msg.data["k"]["n"] = 2  # type: ignore[index]
    msg.notification["title"] = "X"  # type: ignore[index]
    msg.options["android"]["x"] = 2
    assert msg.registration_ids == ["a"]
    assert msg.data == {"k": {"n": 1}}
    assert msg.notification == {"title": "T"}
    assert msg.options == {"android": {"x": 1}}


def test_regression_message_shared_nested_values_with_the_caller() -> None:
    # _check_mapping and _set_content copied data/options shallowly: mutating a nested value
    # of the caller's dict after construction changed the message.
    data = {"nested": {"k": "v"}}
    android = {"notification": {"channel_id": "goals"}}
    extra = {"notification": {"icon": "ball"}, "apns": {"headers": {"apns-priority": "5"}}}
    msg = JSONMessage(["a"], data, payload=extra, android=android)
    before = msg.__getstate__()
    data["nested"]["k"] = "changed"
    android["notification"]["channel_id"] = "changed"
    extra["notification"]["icon"] = "changed"
    extra["apns"]["headers"]["apns-priority"] = "10"
    assert msg.data == {"nested": {"k": "v"}}
    assert msg.options == {
        "android": {"notification": {"channel_id": "goals"}},
        "apns": {"headers": {"apns-priority": "5"}},
    }
    assert msg.notification == {"icon": "ball"}
    assert msg.__getstate__() == before


def test_content_of_any_json_shape_is_copied_whole_both_ways() -> None:
    """Content is copied on the way in and on the way out, nested lists, tuples and dict
    subclasses included (a copy made for plain JSON, with copy.deepcopy for the rest)."""
    ordered = collections.OrderedDict(b=[1, {"c": "d"}])
    data = {"list": [{"k": ["v"]}], "tuple": ([1],), "ordered": ordered}
    msg = JSONMessage(["a"], data)
    data["list"][0]["k"].append("changed")
    data["tuple"][0].append("changed")
    ordered["b"][1]["c"] = "changed"
    expected = {"list": [{"k": ["v"]}], "tuple": ([1],), "ordered": {"b": [1, {"c": "d"}]}}
    assert msg.data == expected
    out = msg.data
    assert out is not None
    assert type(out["ordered"]) is collections.OrderedDict
    assert type(out["tuple"]) is tuple
    out["list"][0]["k"].append("changed")
    out["tuple"][0].append("changed")
    assert msg.data == expected


# -- registration ids ---------------------------------------------------------------------------


def test_duplicates_are_dropped_keeping_first_order() -> None:
    msg = JSONMessage(["b", "a", "b", "c", "a"])
    assert msg.registration_ids == ["b", "a", "c"]
    assert msg.payload["registration_ids"] == ["b", "a", "c"]


def test_any_iterable_of_tokens_is_accepted() -> None:
    assert JSONMessage(iter(["a", "b"])).registration_ids == ["a", "b"]
    assert JSONMessage(("a",)).registration_ids == ["a"]


@pytest.mark.parametrize("ids", [[], (), iter([])])
def test_empty_registration_ids_are_rejected(ids: Any) -> None:
    with pytest.raises(ValueError, match="empty"):
        JSONMessage(ids)


@pytest.mark.parametrize("ids", ["token", b"token"])
def test_a_bare_string_is_not_a_list_of_tokens(ids: Any) -> None:
    with pytest.raises(TypeError, match="single str"):
        JSONMessage(ids)


def test_regression_bare_string_registration_ids_iterated_as_characters() -> None:
    with pytest.raises(TypeError, match="single str"):
        JSONMessage("token-abc")


@pytest.mark.parametrize("token", [123, None, b"tok", ["tok"]])
def test_non_str_token_is_rejected(token: Any) -> None:
    with pytest.raises(TypeError, match="must be a str"):
        JSONMessage(["ok", token])


def test_empty_token_is_rejected() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        JSONMessage(["ok", ""])


# -- content validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [{"k": object()}, {"k": {1, 2}}, {"k": b"bytes"}, {"k": math.nan}, {"k": math.inf}],
    ids=["object", "set", "bytes", "nan", "inf"],
)
def test_non_json_data_is_rejected_at_construction(data: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="JSON-serialisable"):
        JSONMessage(["tok"], data)


def test_non_json_option_is_rejected_at_construction() -> None:
    with pytest.raises(TypeError, match="JSON-serialisable"):
        JSONMessage(["tok"], custom=object())


@pytest.mark.parametrize("data", [["k", "v"], "k=v", 3])
def test_data_must_be_a_dict(data: Any) -> None:
    with pytest.raises(TypeError, match="data must be a dict"):
        JSONMessage(["tok"], data)


def test_data_keys_must_be_str() -> None:
    with pytest.raises(TypeError, match="keys must be str"):
        JSONMessage(["tok"], {1: "v"})


# -- payload= merging ---------------------------------------------------------------------------


def test_payload_supplies_data_notification_and_options() -> None:
    base = {
        "registration_ids": ["ignored"],
        "to": "ignored",
        "data": {"k": "v"},
        "notification": {"title": "T", "body": "B", "icon": "ball"},
        "collapse_key": "c",
        "custom": 1,
    }
    msg = JSONMessage(["tok"], payload=base)
    assert msg.payload == {
        "registration_ids": ["tok"],
        "data": {"k": "v"},
        "notification": {"title": "T", "body": "B", "icon": "ball"},
        "collapse_key": "c",
        "custom": 1,
    }


def test_arguments_win_over_payload() -> None:
    base = {
        "data": {"from": "payload", "only": "payload"},
        "notification": {"title": "old", "body": "old body", "icon": "ball"},
        "collapse_key": "payload",
        "priority": "normal",
    }
    msg = JSONMessage(
        ["tok"], {"from": "argument"}, message_title="new", payload=base, collapse_key="argument"
    )
    assert msg.payload == {
        "registration_ids": ["tok"],
        # data is taken whole from the argument, not merged key by key
        "data": {"from": "argument"},
        "notification": {"title": "new", "body": "old body", "icon": "ball"},
        "collapse_key": "argument",
        "priority": "normal",
    }


def test_payload_argument_is_not_mutated() -> None:
    base = {"registration_ids": ["x"], "data": {"k": "v"}, "notification": {"title": "T"}, "ttl": 1}
    snapshot = json.loads(json.dumps(base))
    JSONMessage(["tok"], payload=base, message_title="other")
    assert base == snapshot


def test_payload_must_be_a_mapping() -> None:
    with pytest.raises(TypeError, match="payload must be a dict"):
        JSONMessage(["tok"], payload=[("data", {})])


def test_regression_notification_option_silently_dropped_the_title() -> None:
    # A `notification=` option replaced the notification built from message_title/message_body
    # in Message.payload. It is now content, merged like payload['notification'].
    msg = JSONMessage(["tok"], message_title="Goal!", notification={"icon": "ball", "title": "lost"})
    assert msg.payload["notification"] == {"title": "Goal!", "icon": "ball"}
    assert msg.notification == {"title": "Goal!", "icon": "ball"}
    assert "notification" not in msg.options
    assert JSONMessage(**msg.__getstate__()) == msg
    assert JSONMessage(**msg.__getstate__()).payload == msg.payload


def test_notification_option_on_a_topic_message_is_content_too() -> None:
    msg = TopicMessage(topic="news", message_body="B", notification={"tag": "t"})
    assert msg.payload == {"to": "/topics/news", "notification": {"body": "B", "tag": "t"}}


def test_plain_text_message_refuses_a_notification_option() -> None:
    with pytest.raises(TypeError, match="no notification"):
        PlainTextMessage("tok", notification={"title": "x"})


# -- state --------------------------------------------------------------------------------------


def test_getstate_is_exactly_the_constructor_kwargs() -> None:
    msg = JSONMessage(
        ["a", "b"],
        {"k": "v"},
        message_title="T",
        message_body="B",
        payload={"notification": {"icon": "ball"}},
        collapse_key="c",
        time_to_live=0,
        android={"priority": "HIGH"},
    )
    assert msg.__getstate__() == {
        "registration_ids": ["a", "b"],
        "data": {"k": "v"},
        "message_title": "T",
        "message_body": "B",
        "payload": {"notification": {"icon": "ball"}},
        "collapse_key": "c",
        "time_to_live": 0,
        "android": {"priority": "HIGH"},
    }


def test_regression_getstate_did_not_return_constructor_kwargs() -> None:
    # 0.2 returned the raw payload; JSONMessage(**payload) then sent "notification" as an option.
    msg = JSONMessage(["a"], {"k": "v"}, message_title="T", message_body="B", collapse_key="c")
    state = msg.__getstate__()
    parameters = set(inspect.signature(JSONMessage).parameters) - {"options"}
    assert set(state) - parameters == {"collapse_key"}
    assert "notification" not in state
    rebuilt = JSONMessage(**state)
    assert (
        rebuilt.payload
        == msg.payload
        == {
            "registration_ids": ["a"],
            "data": {"k": "v"},
            "notification": {"title": "T", "body": "B"},
            "collapse_key": "c",
        }
    )


def test_getstate_rebuilds_an_equal_message() -> None:
    msg = JSONMessage(["a"], {"k": 1}, message_title="T", message_body="B", dry_run=True)
    state = msg.__getstate__()
    rebuilt = JSONMessage(**state)
    assert rebuilt == msg
    assert rebuilt.payload == msg.payload


def test_getstate_survives_json() -> None:
    msg = JSONMessage(["a"], {"k": [1, 2.5, None]}, message_title="T", apns={"headers": {"x": "1"}})
    state = json.loads(json.dumps(msg.__getstate__()))
    assert JSONMessage(**state).payload == msg.payload


def test_getstate_returns_a_copy() -> None:
    msg = JSONMessage(["a"], {"k": {"n": 1}})
    state = msg.__getstate__()
    state["data"]["k"]["n"] = 2
    state["registration_ids"].append("b")
    assert msg.payload == {"registration_ids": ["a"], "data": {"k": {"n": 1}}}


def test_pickle_round_trip() -> None:
    msg = JSONMessage(["a", "b"], {"k": "v"}, message_title="T", message_body="B", priority="high")
    restored = repickled(msg)
    assert type(restored) is JSONMessage
    assert restored == msg
    assert restored.payload == msg.payload


def test_setstate_restores_over_an_existing_message() -> None:
    source = JSONMessage(["a"], {"k": "v"}, message_body="B", collapse_key="c")
    target = JSONMessage(["other"], {"other": 1}, message_title="other", dry_run=True)
    target.__setstate__(source.__getstate__())
    assert target == source
    assert target.payload == source.payload


OLD_STATE = {
    "registration_ids": ["tok-1", "tok-2"],
    "data": {"score": "3:1"},
    "notification": {"title": "Goal!", "text": "Scored"},
    "collapse_key": "score",
    "time_to_live": 0,
}


def test_setstate_accepts_an_fcm_client_0_2_state() -> None:
    msg = JSONMessage.__new__(JSONMessage)
    msg.__setstate__(dict(OLD_STATE))
    assert msg.payload == {
        "registration_ids": ["tok-1", "tok-2"],
        "data": {"score": "3:1"},
        "notification": {"title": "Goal!", "body": "Scored"},
        "collapse_key": "score",
        "time_to_live": 0,
    }
    assert msg.message_body == "Scored"


def test_setstate_accepts_a_0_2_state_with_title_only() -> None:
    msg = JSONMessage.__new__(JSONMessage)
    msg.__setstate__({"registration_ids": ["tok"], "notification": {"title": "T"}})
    assert msg.payload == {"registration_ids": ["tok"], "notification": {"title": "T"}}


# fcm-client 0.2 on Python 2 pickled with protocol 0: copy_reg._reconstructor, the class by its
# old path fcmclient.api.JSONMessage, then BUILD with __getstate__() == the raw legacy payload.
OLD_PICKLE = (
    b"ccopy_reg\n_reconstructor\n(cfcmclient.api\nJSONMessage\nc__builtin__\nobject\nNtR"
    b"(dS'registration_ids'\n(lS'tok-1'\naS'tok-2'\nasS'data'\n(dS'score'\nS'3:1'\nss"
    b"S'notification'\n(dS'title'\nS'Goal!'\nsS'text'\nS'Scored'\nssS'collapse_key'\nS'score'\n"
    b"sS'time_to_live'\nI0\nsb."
)


def test_fcm_client_0_2_pickle_loads() -> None:
    msg = pickle.loads(OLD_PICKLE)  # noqa: S301 - a fixed, hand-written pickle
    assert type(msg) is JSONMessage
    assert msg == JSONMessage(
        ["tok-1", "tok-2"],
        {"score": "3:1"},
        message_title="Goal!",
        message_body="Scored",
        collapse_key="score",
        time_to_live=0,
    )


@pytest.mark.parametrize("name", ["message_title", "message_body", "payload", "self", "options"])
def test_regression_getstate_confused_a_payload_key_named_like_a_parameter(name: str) -> None:
    # __getstate__ merged options into the constructor kwargs, so a payload key named like a
    # parameter came back as that parameter: == said equal while the rebuilt payload differed.
    msg = JSONMessage(["tok"], message_body="B", payload={name: "not a parameter"})
    rebuilt = JSONMessage(**msg.__getstate__())
    assert (
        rebuilt.payload
        == msg.payload
        == {
            "registration_ids": ["tok"],
            "notification": {"body": "B"},
            name: "not a parameter",
        }
    )
    assert pickle.loads(pickle.dumps(msg)).payload == msg.payload  # noqa: S301 - our own pickle


def test_option_named_like_a_parameter_survives_for_every_class() -> None:
    fid = InstallationMessage(["f1"], payload={"fids": ["x"], "message_title": 1})
    assert InstallationMessage(**fid.__getstate__()).options == {"fids": ["x"], "message_title": 1}
    assert InstallationMessage(**fid.__getstate__()).fids == ["f1"]
    topic = TopicMessage(topic="news", payload={"condition": "c", "payload": 2})
    assert TopicMessage(**topic.__getstate__()) == topic
    assert TopicMessage(**topic.__getstate__()).options == {"payload": 2}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)

options = st.fixed_dictionaries(
    {},
    optional={
        "collapse_key": st.text(max_size=10),
        "priority": st.sampled_from(["high", "normal"]),
        "time_to_live": st.integers(min_value=0, max_value=2_419_200),
        "delay_while_idle": st.booleans(),
        "restricted_package_name": st.text(max_size=10),
        "dry_run": st.booleans(),
        "content_available": st.booleans(),
        "mutable_content": st.booleans(),
        "android": st.dictionaries(st.text(max_size=5), json_values, max_size=2),
        "custom_option": json_values,
    },
)


@given(
    tokens=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8),
    data=st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    title=st.none() | st.text(max_size=10),
    body=st.none() | st.text(max_size=10),
    extras=st.dictionaries(
        st.sampled_from(["icon", "sound", "tag", "color", "image"]), st.text(), max_size=3
    ),
    opts=options,
)
def test_state_round_trips_for_any_message(
    tokens: list[str],
    data: dict[str, Any] | None,
    title: str | None,
    body: str | None,
    extras: dict[str, str],
    opts: dict[str, Any],
) -> None:
    payload = {"notification": extras} if extras else None
    msg = JSONMessage(tokens, data, title, body, payload, **opts)
    state = msg.__getstate__()
    over_json = json.loads(json.dumps(state))
    assert over_json == state
    rebuilt = JSONMessage(**over_json)
    assert rebuilt == msg
    assert rebuilt.payload == msg.payload
    unpickled = repickled(msg)
    assert unpickled.payload == msg.payload


# -- PlainTextMessage ---------------------------------------------------------------------------


def test_plain_text_message() -> None:
    msg = PlainTextMessage("tok", {"k": 1}, dry_run=True, time_to_live=0, custom=None)
    assert msg.registration_id == "tok"
    assert msg.targets == ["tok"]
    assert msg.data == {"k": 1}
    assert msg.notification is None
    assert msg.options == {"dry_run": True, "time_to_live": 0}
    assert msg.__getstate__() == {
        "registration_id": "tok",
        "data": {"k": 1},
        "dry_run": True,
        "time_to_live": 0,
    }


def test_plain_text_message_round_trips() -> None:
    msg = PlainTextMessage("tok", {"k": "v"}, collapse_key="c")
    assert PlainTextMessage(**json.loads(json.dumps(msg.__getstate__()))) == msg
    assert repickled(msg) == msg


@pytest.mark.parametrize(("token", "error"), [("", ValueError), (None, TypeError), (["tok"], TypeError)])
def test_plain_text_message_needs_one_token(token: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        PlainTextMessage(token)


def test_plain_text_message_has_no_notification_arguments() -> None:
    with pytest.raises(TypeError):
        PlainTextMessage("tok", {"k": "v"}, "title")  # type: ignore[call-arg]


# -- TopicMessage -------------------------------------------------------------------------------


@pytest.mark.parametrize("topic", ["news", "/topics/news"])
def test_topic_payload(topic: str) -> None:
    msg = TopicMessage(topic=topic, data={"k": "v"}, message_title="Extra!", priority="high")
    assert msg.payload == {
        "to": "/topics/news",
        "data": {"k": "v"},
        "notification": {"title": "Extra!"},
        "priority": "high",
    }
    assert msg.targets == [topic]
    assert msg.topic == topic
    assert msg.topic_name == "news"
    assert msg.condition is None


def test_condition_payload() -> None:
    condition = "'news' in topics && 'sport' in topics"
    msg = TopicMessage(condition=condition, message_body="B")
    assert msg.payload == {"condition": condition, "notification": {"body": "B"}}
    assert msg.targets == [condition]
    assert msg.condition == condition
    assert msg.topic is None
    assert msg.topic_name is None


@pytest.mark.parametrize("kwargs", [{}, {"topic": "a", "condition": "'a' in topics"}])
def test_topic_message_needs_exactly_one_target(kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        TopicMessage(**kwargs)


@pytest.mark.parametrize(
    "msg",
    [
        TopicMessage(topic="news", data={"k": "v"}, message_title="T", time_to_live=0),
        TopicMessage(condition="'a' in topics", message_body="B", payload={"notification": {"icon": "i"}}),
    ],
    ids=["topic", "condition"],
)
def test_topic_message_round_trips(msg: TopicMessage) -> None:
    state = json.loads(json.dumps(msg.__getstate__()))
    rebuilt = TopicMessage(**state)
    assert rebuilt == msg
    assert rebuilt.payload == msg.payload
    assert repickled(msg).payload == msg.payload


# -- equality -----------------------------------------------------------------------------------


def test_equality_is_by_content_and_class() -> None:
    assert JSONMessage(["a"], {"k": "v"}) == JSONMessage(["a"], {"k": "v"})
    assert JSONMessage(["a"], {"k": "v"}) != JSONMessage(["a"], {"k": "w"})
    assert JSONMessage(["a"], {"k": "v"}) != JSONMessage(["b"], {"k": "v"})
    assert JSONMessage(["a"], {"k": "v"}) != InstallationMessage(["a"], {"k": "v"})
    assert JSONMessage(["a"], {"k": "v"}) != PlainTextMessage("a", {"k": "v"})


def test_repr_shows_no_data_values() -> None:
    text = repr(JSONMessage(["tok"], {"secret-key": "secret-value"}, collapse_key="c"))
    assert "secret-value" not in text
    assert "JSONMessage" in text
