"""Validation of HTTP v1 ``messages:send`` bodies, with FCM's error messages.

Field names are accepted in snake_case and in lowerCamelCase, as Google's JSON parser does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._conditions import TOPIC_NAME, condition_problem

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_TTL_SECONDS",
    "FieldError",
    "V1Invalid",
    "V1Send",
    "camel_case",
    "snake_case",
    "topic_problem",
    "validate_send",
]

MAX_MESSAGE_BYTES = 4096
MAX_TTL_SECONDS = 2_419_200
TARGET_FIELDS = ("token", "topic", "condition", "fid")
_LABEL = re.compile(r"[a-zA-Z0-9\-_.~%]{1,50}")
_DURATION = re.compile(r"(\d+)(\.\d{1,9})?s")


@dataclass(frozen=True)
class V1Invalid:
    """Why a send body is rejected (always 400 INVALID_ARGUMENT).

    Example::

        problem = V1Invalid("message.topic", "Invalid topic name", fcm_error=True)

    :param field: the BadRequest field path, e.g. ``message.data[0].value``.
    :param message: the human-readable error message.
    :param fcm_error: whether FCM adds an FcmError ``INVALID_ARGUMENT`` detail.
    """

    field: str
    message: str
    fcm_error: bool = True


@dataclass(frozen=True)
class V1Send:
    """A valid send request.

    Example::

        send = V1Send({"token": "t"}, "token", "t", validate_only=False)

    :param message: the ``message`` object as sent.
    :param target_field: ``token``, ``topic``, ``condition`` or ``fid``.
    :param target: that field's value.
    :param validate_only: whether nothing should be delivered.
    """

    message: dict[str, Any]
    target_field: str
    target: str
    validate_only: bool


class FieldError(Exception):
    """A request is invalid at ``field`` (a field path, or a parameter name) for ``message``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


_Check = Callable[[Any, str], None]


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _type_error(path: str, type_name: str, value: Any) -> FieldError:
    return FieldError(path, f"Invalid value at '{path}' ({type_name}), {_dump(value)}")


_UPPER = re.compile(r"[A-Z]")


def snake_case(name: str) -> str:
    """``collapseKey`` -> ``collapse_key`` (snake_case names are returned as they are)."""
    if name.islower() or not _UPPER.search(name):
        return name
    return _UPPER.sub(lambda m: "_" + m.group(0).lower(), name)


def camel_case(name: str) -> str:
    """``collapse_key`` -> ``collapseKey``, the other spelling Google's JSON parser accepts."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _string(value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise _type_error(path, "TYPE_STRING", value)


def _bool(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        raise _type_error(path, "TYPE_BOOL", value)


def _struct(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise _type_error(path, "type.googleapis.com/google.protobuf.Struct", value)


def _string_map(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise FieldError(path, f"Invalid value at '{path}': expected an object of strings")
    for index, item in enumerate(value.values()):
        if not isinstance(item, str):
            raise _type_error(f"{path}[{index}].value", "TYPE_STRING", item)


def _string_list(value: Any, path: str) -> None:
    if not isinstance(value, list):
        raise _type_error(path, "TYPE_STRING", value)  # a repeated string field
    for index, item in enumerate(value):
        _string(item, f"{path}[{index}]")


def _analytics_label(value: Any, path: str) -> None:
    _string(value, path)
    if not _LABEL.fullmatch(value):
        raise FieldError(
            path,
            f"Invalid analytics_label {_dump(value)}: use 1 to 50 characters of [a-zA-Z0-9-_.~%]",
        )


def _android_priority(value: Any, path: str) -> None:
    if not isinstance(value, str) or value.upper() not in ("NORMAL", "HIGH"):
        raise FieldError(
            path,
            f"Invalid value at '{path}' (type.googleapis.com/google.firebase.fcm.v1."
            f"AndroidMessagePriority), {_dump(value)}; expected NORMAL or HIGH",
        )


def _ttl(value: Any, path: str) -> None:
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise FieldError(
            path,
            f"Invalid value at '{path}' (type.googleapis.com/google.protobuf.Duration), "
            f"{_dump(value)}; expected seconds with an 's' suffix, e.g. \"3600s\"",
        )
    seconds, fraction = int(match.group(1)), match.group(2)
    if seconds > MAX_TTL_SECONDS or (seconds == MAX_TTL_SECONDS and (fraction or "").strip(".0")):
        raise FieldError(
            path,
            f"Invalid value at '{path}': TTL {value} is longer than the maximum of "
            f"{MAX_TTL_SECONDS}s (4 weeks)",
        )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _apns_headers(value: Any, path: str) -> None:
    _string_map(value, path)
    expiration = _header(value, "apns-expiration")
    if expiration is not None and not (expiration.isascii() and expiration.isdigit()):
        raise FieldError(
            path,
            f"Invalid apns-expiration header {_dump(expiration)}: expected a UNIX epoch time in seconds",
        )
    priority = _header(value, "apns-priority")
    if priority is not None and priority not in ("5", "10"):
        raise FieldError(path, f'Invalid apns-priority header {_dump(priority)}: expected "5" or "10"')


def _webpush_headers(value: Any, path: str) -> None:
    _string_map(value, path)
    ttl = _header(value, "ttl")
    if ttl is not None and not (ttl.isascii() and ttl.isdigit()):
        raise FieldError(path, f"Invalid webpush TTL header {_dump(ttl)}: expected a number of seconds")


def _object(schema: Mapping[str, _Check]) -> _Check:
    def check(value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _type_error(path, "TYPE_MESSAGE", value)
        renamed = False
        for key, item in value.items():
            name = key
            if name not in schema:
                name = snake_case(key)
                if name not in schema:
                    where = f" at '{path}'" if path else ""
                    raise FieldError(
                        path or key,
                        f'Invalid JSON payload received. Unknown name "{key}"{where}: Cannot find field.',
                    )
                renamed = True
            if item is not None:
                schema[name](item, f"{path}.{name}" if path else name)
        if renamed:
            names = [snake_case(key) for key in value]
            for name in names:
                if names.count(name) > 1:
                    raise FieldError(
                        f"{path}.{name}" if path else name,
                        f'Invalid JSON payload received. Field "{name}" is given twice '
                        "(in snake_case and in lowerCamelCase).",
                    )

    return check


def _any(value: Any, path: str) -> None:
    """A field whose value FCM checks in ways the emulator does not model."""


_FCM_OPTIONS = {"analytics_label": _analytics_label}
#: AndroidNotification's fields: an unknown name (an iOS-only ``badge``, say) is a 400.
_ANDROID_NOTIFICATION: dict[str, _Check] = {
    **dict.fromkeys(
        (
            "title",
            "body",
            "icon",
            "color",
            "sound",
            "tag",
            "click_action",
            "body_loc_key",
            "title_loc_key",
            "channel_id",
            "ticker",
            "event_time",
            "image",
            "notification_priority",
            "visibility",
            "proxy",
        ),
        _string,
    ),
    **dict.fromkeys(
        (
            "sticky",
            "local_only",
            "default_sound",
            "default_vibrate_timings",
            "default_light_settings",
            "bypass_proxy_notification",
        ),
        _bool,
    ),
    **dict.fromkeys(("body_loc_args", "title_loc_args"), _string_list),
    **dict.fromkeys(("vibrate_timings", "notification_count", "light_settings"), _any),
}
_MESSAGE: dict[str, _Check] = {
    "name": _string,
    "token": _string,
    "topic": _string,
    "condition": _string,
    "fid": _string,
    "data": _string_map,
    "notification": _object({"title": _string, "body": _string, "image": _string}),
    "android": _object(
        {
            "collapse_key": _string,
            "priority": _android_priority,
            "ttl": _ttl,
            "restricted_package_name": _string,
            "data": _string_map,
            "notification": _object(_ANDROID_NOTIFICATION),
            "fcm_options": _object(_FCM_OPTIONS),
            "direct_boot_ok": _bool,
            "bandwidth_constrained_ok": _bool,
            "restricted_satellite_ok": _bool,
        }
    ),
    "apns": _object(
        {
            "headers": _apns_headers,
            "payload": _struct,
            "fcm_options": _object({**_FCM_OPTIONS, "image": _string}),
            "live_activity_token": _string,
        }
    ),
    "webpush": _object(
        {
            "headers": _webpush_headers,
            "data": _string_map,
            "notification": _struct,
            "fcm_options": _object({**_FCM_OPTIONS, "link": _string}),
        }
    ),
    "fcm_options": _object(_FCM_OPTIONS),
}
_REQUEST = _object({"message": _object(_MESSAGE), "validate_only": _bool})


def _field(mapping: Mapping[str, Any], name: str) -> Any:
    """Read a field by its snake_case or lowerCamelCase name."""
    value = mapping.get(name)
    if value is None and "_" in name:
        value = mapping.get(camel_case(name))
    return value


def topic_problem(name: str) -> str | None:
    """Explain why ``name`` is not a valid topic name, or return ``None``.

    :param name: the topic name as sent (without ``/topics/`` in v1).
    """
    if name.startswith("/topics/"):
        return (
            f'Invalid topic name {_dump(name)}: leave out the "/topics/" prefix '
            f"(send {_dump(name[len('/topics/') :])})"
        )
    if not TOPIC_NAME.fullmatch(name):
        return f"Invalid topic name {_dump(name)}: use only [a-zA-Z0-9-_.~%]"
    return None


def _check_target(field: str, value: str) -> None:
    problem = None
    if field == "topic":
        problem = topic_problem(value)
    elif field == "condition":
        problem = condition_problem(value)
    if problem is not None:
        raise FieldError(f"message.{field}", problem)


_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_NOT_PAYLOAD = frozenset((*TARGET_FIELDS, "name"))


def _encoded_size(message: Mapping[str, Any]) -> int:
    payload = {k: v for k, v in message.items() if k not in _NOT_PAYLOAD}
    return len(_COMPACT_JSON.encode(payload).encode())


def validate_send(body: Any) -> V1Send | V1Invalid:
    """Validate a decoded ``messages:send`` body like FCM does.

    The size limit applies to the compact JSON of ``message`` without its target
    (and ``name``) field: more than :data:`MAX_MESSAGE_BYTES` bytes is "Message is too big".

    :param body: the decoded JSON body.
    :returns: the accepted send, or why it is invalid.
    """
    try:
        _REQUEST(body, "")
        message = _field(body, "message")
        if message is None:
            raise FieldError("message", 'The request has no "message" field.')
        present = [f for f in TARGET_FIELDS if _field(message, f) not in (None, "")]
        if not present:
            raise FieldError("message", "Recipient of the message is not set.")
        if len(present) > 1:
            raise FieldError(
                "message",
                "Invalid JSON payload received. Oneof field 'target' is already set. "
                f"Cannot set '{present[1]}' (only one of token, topic, condition or fid "
                "may be given)",
            )
        target_field = present[0]
        target: str = _field(message, target_field)
        _check_target(target_field, target)
    except FieldError as exc:
        return V1Invalid(exc.field, exc.message)
    if _encoded_size(message) > MAX_MESSAGE_BYTES:
        return V1Invalid("message", "Message is too big", fcm_error=False)
    return V1Send(message, target_field, target, _field(body, "validate_only") is True)
