"""The legacy-to-v1 translation, as a pure function: every option, field by field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fcmclient import JSONMessage, PlainTextMessage, TopicMessage
from fcmclient._protocol import v1

NOW = 1_700_000_000.0


def body(message: Any, target: str = "tok-1") -> dict[str, Any]:
    document: dict[str, Any] = json.loads(v1.Translation(message, NOW).body(target))
    return document


def test_bare_message_is_just_the_token() -> None:
    assert body(JSONMessage(["tok-1"])) == {"message": {"token": "tok-1"}}


def test_data_values_become_strings() -> None:
    message = JSONMessage(["t"], {"s": "text", "i": 3, "f": 1.5, "b": True, "n": None, "o": {"a": [1]}})
    assert body(message, "t")["message"]["data"] == {
        "s": "text",
        "i": "3",
        "f": "1.5",
        "b": "true",
        "n": "null",
        "o": '{"a":[1]}',
    }


def test_notification_title_and_body() -> None:
    message = JSONMessage(["t"], message_title="Goal!", message_body="3:1")
    assert body(message, "t")["message"]["notification"] == {"title": "Goal!", "body": "3:1"}


def test_notification_extras_go_to_android_notification() -> None:
    message = JSONMessage(
        ["t"],
        message_title="x",
        payload={
            "notification": {
                "image": "https://e.test/i.png",
                "icon": "ic",
                "android_channel_id": "ch",
                "sound": "s",
            }
        },
    )
    sent = body(message, "t")["message"]
    assert sent["notification"] == {"title": "x", "image": "https://e.test/i.png"}
    assert sent["android"]["notification"] == {"icon": "ic", "channel_id": "ch", "sound": "s"}


def test_regression_ios_badge_was_sent_to_android_notification() -> None:
    # Every legacy notification key other than title/body/image went to android.notification,
    # where FCM rejects the iOS-only "badge" (400 INVALID_ARGUMENT for every token) and iOS
    # lost the "sound" it used to play. Both now reach apns.payload.aps, as legacy FCM did.
    message = JSONMessage(["t"], payload={"notification": {"badge": "7", "sound": "ping.caf", "tag": "x"}})
    sent = body(message, "t")["message"]
    assert sent["apns"] == {"payload": {"aps": {"badge": 7, "sound": "ping.caf"}}}
    assert sent["android"] == {"notification": {"sound": "ping.caf", "tag": "x"}}


def test_regression_ios_alert_keys_were_sent_to_android_notification() -> None:
    """The legacy keys iOS read into its alert went to android.notification, where FCM
    rejects "subtitle" (400 INVALID_ARGUMENT for every token) and iOS lost all of them:
    now they reach apns.payload.aps as legacy FCM put them there, and Android keeps the
    ones it has."""
    notification = {
        "subtitle": "Half time",
        "click_action": "OPEN_MATCH",
        "body_loc_key": "SCORE",
        "body_loc_args": '["3", "1"]',  # as the legacy docs have it: a JSON array in a string
        "title_loc_key": "GOAL",
        "title_loc_args": ["Ada", 9],
    }
    message = JSONMessage(
        ["t"], message_title="Goal!", message_body="3:1", payload={"notification": notification}
    )
    sent = body(message, "t")["message"]
    assert sent["apns"] == {
        "payload": {
            "aps": {
                "alert": {
                    "title": "Goal!",
                    "body": "3:1",
                    "subtitle": "Half time",
                    "loc-key": "SCORE",
                    "loc-args": ["3", "1"],
                    "title-loc-key": "GOAL",
                    "title-loc-args": ["Ada", "9"],
                },
                "category": "OPEN_MATCH",
            }
        }
    }
    assert sent["android"] == {
        "notification": {
            "click_action": "OPEN_MATCH",
            "body_loc_key": "SCORE",
            "body_loc_args": ["3", "1"],
            "title_loc_key": "GOAL",
            "title_loc_args": ["Ada", "9"],
        }
    }
    assert sent["notification"] == {"title": "Goal!", "body": "3:1"}


@pytest.mark.parametrize(
    "args", ["not json", '{"a": 1}', "[" * 5_000, 7], ids=["text", "object", "deep", "int"]
)
def test_loc_args_that_are_not_an_array_are_left_for_fcm_to_judge(args: Any) -> None:
    sent = body(JSONMessage(["t"], payload={"notification": {"body_loc_args": args}}), "t")["message"]
    assert sent["android"]["notification"]["body_loc_args"] == args
    assert sent["apns"]["payload"]["aps"]["alert"]["loc-args"] == args


def test_a_badge_that_is_not_a_number_is_left_for_fcm_to_judge() -> None:
    sent = body(JSONMessage(["t"], payload={"notification": {"badge": "+1"}}), "t")["message"]
    assert sent == {"token": "t", "apns": {"payload": {"aps": {"badge": "+1"}}}}


def test_collapse_key_maps_to_all_three_platforms() -> None:
    sent = body(JSONMessage(["t"], collapse_key="score"), "t")["message"]
    assert sent["android"] == {"collapse_key": "score"}
    assert sent["apns"] == {"headers": {"apns-collapse-id": "score"}}
    assert sent["webpush"] == {"headers": {"Topic": "score"}}


@pytest.mark.parametrize(
    ("priority", "android", "apns", "urgency"),
    [
        ("high", "HIGH", "10", "high"),
        ("normal", "NORMAL", "5", "normal"),
        ("HIGH", "HIGH", "10", "high"),
    ],
)
def test_priority_maps_to_all_three_platforms(priority: str, android: str, apns: str, urgency: str) -> None:
    sent = body(JSONMessage(["t"], priority=priority), "t")["message"]
    assert sent["android"] == {"priority": android}
    assert sent["apns"] == {"headers": {"apns-priority": apns}}
    assert sent["webpush"] == {"headers": {"Urgency": urgency}}


def test_unknown_priority_is_left_for_fcm_to_judge() -> None:
    sent = body(JSONMessage(["t"], priority="urgent"), "t")["message"]
    assert sent["android"] == {"priority": "urgent"}
    assert "apns" not in sent


def test_time_to_live_is_relative_on_android_and_web_but_absolute_on_apns() -> None:
    sent = body(JSONMessage(["t"], time_to_live=3600), "t")["message"]
    assert sent["android"] == {"ttl": "3600s"}
    assert sent["apns"] == {"headers": {"apns-expiration": str(int(NOW) + 3600)}}
    assert sent["webpush"] == {"headers": {"TTL": "3600"}}


def test_time_to_live_zero_means_now_or_never_everywhere() -> None:
    sent = body(JSONMessage(["t"], time_to_live=0), "t")["message"]
    assert sent["android"] == {"ttl": "0s"}
    assert sent["apns"] == {"headers": {"apns-expiration": "0"}}
    assert sent["webpush"] == {"headers": {"TTL": "0"}}


@pytest.mark.parametrize("ttl", ["60", 1.5, True])
def test_time_to_live_must_be_an_int_for_v1(ttl: object) -> None:
    with pytest.raises(TypeError, match="time_to_live"):
        v1.Translation(JSONMessage(["t"], time_to_live=ttl), NOW)


def test_restricted_package_name() -> None:
    sent = body(JSONMessage(["t"], restricted_package_name="com.example"), "t")["message"]
    assert sent["android"] == {"restricted_package_name": "com.example"}


def test_dry_run_becomes_validate_only() -> None:
    assert body(JSONMessage(["t"], dry_run=True), "t") == {
        "message": {"token": "t"},
        "validate_only": True,
    }
    assert body(JSONMessage(["t"], dry_run=False), "t") == {"message": {"token": "t"}}


def test_content_available_and_mutable_content_go_to_aps() -> None:
    message = JSONMessage(["t"], content_available=True, mutable_content=True)
    sent = body(message, "t")["message"]
    assert sent["apns"] == {"payload": {"aps": {"content-available": 1, "mutable-content": 1}}}
    # APNs wants the number 1; JSON true would compare equal to 1 above, so check the bytes.
    raw = v1.Translation(message, NOW).body("t")
    assert b'"content-available":1' in raw
    assert b'"mutable-content":1' in raw
    assert "apns" not in body(JSONMessage(["t"], content_available=False), "t")["message"]


def test_delay_while_idle_has_no_v1_meaning() -> None:
    assert body(JSONMessage(["t"], delay_while_idle=True), "t") == {"message": {"token": "t"}}


def test_v1_fields_are_merged_over_the_translation() -> None:
    message = JSONMessage(
        ["t"],
        collapse_key="k",
        priority="high",
        android={"priority": "NORMAL", "direct_boot_ok": True},
        apns={"headers": {"apns-push-type": "background"}, "payload": {"aps": {"badge": 3}}},
        webpush={"notification": {"icon": "i"}},
        fcm_options={"analytics_label": "campaign"},
        content_available=True,
    )
    sent = body(message, "t")["message"]
    assert sent["android"] == {"collapse_key": "k", "priority": "NORMAL", "direct_boot_ok": True}
    assert sent["apns"] == {
        "headers": {
            "apns-collapse-id": "k",
            "apns-priority": "10",
            "apns-push-type": "background",
        },
        "payload": {"aps": {"content-available": 1, "badge": 3}},
    }
    assert sent["webpush"] == {
        "headers": {"Topic": "k", "Urgency": "high"},
        "notification": {"icon": "i"},
    }
    assert sent["fcm_options"] == {"analytics_label": "campaign"}


def test_unknown_options_pass_through_for_fcm_to_judge() -> None:
    assert body(JSONMessage(["t"], shiny=1), "t") == {"message": {"token": "t", "shiny": 1}}


def test_topic_is_sent_without_prefix() -> None:
    assert body(TopicMessage(topic="/topics/news"), "/topics/news") == {"message": {"topic": "news"}}
    assert body(TopicMessage(topic="news"), "news") == {"message": {"topic": "news"}}


def test_condition() -> None:
    condition = "'a' in topics && 'b' in topics"
    assert body(TopicMessage(condition=condition), condition) == {"message": {"condition": condition}}


def test_plain_text_message_is_a_token_unicast() -> None:
    assert body(PlainTextMessage("tok", {"a": 1}), "tok") == {"message": {"token": "tok", "data": {"a": "1"}}}


def test_each_target_gets_its_own_body_with_the_same_content() -> None:
    translation = v1.Translation(JSONMessage(["a", "b"], {"k": "v"}), NOW)
    first, second = (json.loads(translation.body(t)) for t in ("a", "b"))
    assert first["message"].pop("token") == "a"
    assert second["message"].pop("token") == "b"
    assert first == second == {"message": {"data": {"k": "v"}}}


def test_tokens_are_json_quoted_not_spliced_raw() -> None:
    tricky = 'tok"},"topic":"all'
    assert json.loads(v1.Translation(JSONMessage([tricky]), NOW).body(tricky)) == {
        "message": {"token": tricky}
    }


def test_installation_ids_are_sent_as_fid() -> None:
    from fcmclient import InstallationMessage

    message = InstallationMessage(["fid-1", "fid-2"], {"k": 1})
    assert body(message, "fid-2") == {"message": {"fid": "fid-2", "data": {"k": "1"}}}
    retry = message.with_targets(["fid-2"])
    assert isinstance(retry, InstallationMessage)
    assert retry.fids == ["fid-2"]
    assert InstallationMessage(**message.__getstate__()) == message


def test_installation_ids_cannot_go_through_the_legacy_api() -> None:
    from fcmclient import InstallationMessage
    from fcmclient._protocol import legacy

    with pytest.raises(ValueError, match="HTTP v1"):
        legacy.encode(InstallationMessage(["fid-1"]))
