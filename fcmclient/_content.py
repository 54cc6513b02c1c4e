"""A message's content: ``data``, notification and options, checked and normalised once.

What every message class shares, kept apart from the classes themselves
(:mod:`fcmclient.messages`), which re-export the public constants.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ._protocol.encoding import dumps

T = TypeVar("T")

__all__ = [
    "LEGACY_OPTIONS",
    "MAX_CONTENT_BYTES",
    "V1_FIELDS",
    "Content",
    "check_mapping",
    "check_token",
    "checked_content",
    "copy_plain",
    "parameters",
    "upgrade_state",
]

#: The most content (``data``, notification and options, as compact JSON) a message may hold.
#: FCM accepts about 4 KB of payload (4 KB more per platform override on v1), so anything
#: above this can only be refused by FCM after being uploaded once per target; it is refused
#: here instead, before any request. Below it, FCM judges (``MessageTooBig``,
#: ``INVALID_ARGUMENT``).
MAX_CONTENT_BYTES = 64 * 1024

#: Options both protocols understand; :mod:`fcmclient._protocol.v1` translates each of them.
LEGACY_OPTIONS = (
    "collapse_key",
    "priority",
    "time_to_live",
    "delay_while_idle",
    "restricted_package_name",
    "dry_run",
    "content_available",
    "mutable_content",
)

#: HTTP v1 message fields that may be given as options; the legacy protocol has no such
#: fields, so they are left out of the legacy body and merged over the v1 translation.
V1_FIELDS = ("android", "apns", "webpush", "fcm_options")

_TARGET_KEYS = ("registration_ids", "registration_id", "to", "condition", "topic")


#: The types :func:`copy_plain` shares instead of copying: immutable, and all JSON has.
_SHARED = frozenset({str, int, float, bool, type(None)})


def copy_plain(value: T) -> T:
    """A deep copy of ``value`` sharing nothing mutable with it, fast for plain JSON values.

    Dicts and lists are rebuilt, strings, numbers, booleans and ``None`` shared (they cannot
    change); anything else (a tuple, a subclass of dict) goes through :func:`copy.deepcopy`.

    >>> original = {"a": [1, {"b": "c"}], "d": None}
    >>> copied = copy_plain(original)
    >>> copied == original, copied["a"] is original["a"], copied["a"][1] is original["a"][1]
    (True, False, False)
    """
    kind = type(value)
    if kind is dict:
        if _SHARED.issuperset(map(type, value.values())):  # type: ignore[attr-defined]
            return value.copy()  # type: ignore[attr-defined,no-any-return]  # flat: copied in C
        return {key: copy_plain(item) for key, item in value.items()}  # type: ignore[attr-defined,return-value]
    if kind is list:
        return [copy_plain(item) for item in value]  # type: ignore[attr-defined,return-value]
    if kind in _SHARED:
        return value
    return copy.deepcopy(value)


def check_token(token: object, what: str) -> str:
    """``token``, a non-empty str.

    :raises TypeError: not a str.
    :raises ValueError: empty.
    """
    if not isinstance(token, str):
        raise TypeError(f"{what} must be a str, got {type(token).__name__}")
    if not token:
        raise ValueError(f"{what} must not be empty")
    return token


def check_mapping(value: object, what: str) -> dict[str, Any] | None:
    """A dict copy of ``value`` (``None`` stays ``None``).

    :raises TypeError: not a mapping, or a key that is not a str.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a dict, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"{what} keys must be str, got {type(key).__name__} {key!r}")
    return dict(value)


@dataclass(frozen=True)
class Content:
    """What a message carries besides its targets: deep copies, sharing nothing with the caller."""

    data: dict[str, Any] | None
    notification: dict[str, Any] | None
    options: dict[str, Any]

    @classmethod
    def of(
        cls,
        data: Mapping[str, Any] | None,
        message_title: str | None,
        message_body: str | None,
        payload: Mapping[str, Any] | None,
        options: Mapping[str, Any],
    ) -> Content:
        """The content a message constructor's arguments describe, checked.

        :raises TypeError: a mapping that is not one, or content that is not JSON.
        """
        data = check_mapping(data, "data")
        notification: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        base = check_mapping(payload, "payload")
        if base is not None:
            for key in _TARGET_KEYS:
                base.pop(key, None)
            base_data = check_mapping(base.pop("data", None), "payload['data']")
            if data is None:
                data = base_data
            notification.update(check_mapping(base.pop("notification", None), "notification") or {})
            merged.update(base)
        merged.update(options)
        # A notification given as an option is content, like payload['notification']: the
        # title and body arguments go over it rather than being replaced by it.
        notification.update(check_mapping(merged.pop("notification", None), "notification") or {})
        if message_title is not None:
            notification["title"] = message_title
        if message_body is not None:
            notification["body"] = message_body
        for name in V1_FIELDS:
            check_mapping(merged.get(name), name)
        options = {key: value for key, value in merged.items() if value is not None}
        return cls(data, notification or None, options)

    def state(self, constructor: frozenset[str]) -> dict[str, Any]:
        """The constructor keyword arguments that give this content back.

        :param constructor: the constructor's parameter names (an option named like one,
            only possible through ``payload=``, goes back through ``payload=``).
        """
        state: dict[str, Any] = {}
        if self.data is not None:
            state["data"] = copy_plain(self.data)
        notification = dict(self.notification or {})
        title = notification.pop("title", None)
        body = notification.pop("body", None)
        if title is not None:
            state["message_title"] = title
        if body is not None:
            state["message_body"] = body
        payload: dict[str, Any] = {}
        if notification:
            payload["notification"] = copy_plain(notification)
        for key, value in self.options.items():
            (payload if key in constructor else state)[key] = copy_plain(value)
        if payload:
            state["payload"] = payload
        return state

    def checked(self, constructor: frozenset[str]) -> Content:
        """This content as deep copies, once checked to be JSON of at most :data:`MAX_CONTENT_BYTES`.

        :raises TypeError: not JSON-serialisable.
        :raises ValueError: too large.
        """
        try:
            size = len(dumps((self.data, self.notification, self.options)))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"message content must be JSON-serialisable: {exc}") from None
        if size > MAX_CONTENT_BYTES:
            raise ValueError(
                f"the message content is {size} bytes of JSON, more than the {MAX_CONTENT_BYTES} "
                "bytes allowed (FCM itself accepts about 4 KB)"
            )
        # Plain JSON values, so copies share nothing with the caller.
        return Content(copy_plain(self.data), copy_plain(self.notification), copy_plain(self.options))


def checked_content(
    data: Mapping[str, Any] | None,
    message_title: str | None,
    message_body: str | None,
    payload: Mapping[str, Any] | None,
    options: Mapping[str, Any],
    constructor: frozenset[str],
) -> Content:
    """``Content.of(...).checked(constructor)``: what a message constructor keeps, checked.

    The usual message (a dict of str ``data``, a str title and body, nothing else) short
    enough that its JSON cannot reach :data:`MAX_CONTENT_BYTES` is kept without encoding it.
    """
    if payload is None and not options and (data is None or type(data) is dict):
        texts = (message_title, message_body)
        if _plain_text(data, texts):
            notification = {k: v for k, v in zip(("title", "body"), texts, strict=True) if v is not None}
            return Content(None if data is None else dict(data), notification or None, {})
    return Content.of(data, message_title, message_body, payload, options).checked(constructor)


def _plain_text(data: dict[Any, Any] | None, texts: tuple[object, ...]) -> bool:
    """Whether ``data`` and ``texts`` are str keys and values (or ``None`` texts), each one
    UTF-8 can encode (no lone surrogate), whose JSON is surely within
    :data:`MAX_CONTENT_BYTES`: at most 6 bytes a character (an escape), 6 more an entry
    (quotes, colon, comma)."""
    chars = entries = 0
    for key, value in (data or {}).items():
        if type(key) is not str or type(value) is not str or not (_utf8(key) and _utf8(value)):
            return False
        chars += len(key) + len(value)
        entries += 1
    for text in texts:
        if text is not None:
            if type(text) is not str or not _utf8(text):
                return False
            chars += len(text)
            entries += 1
    return 6 * (chars + entries) + 64 <= MAX_CONTENT_BYTES


def _utf8(text: str) -> bool:
    """Whether UTF-8 can encode ``text`` (a lone surrogate it cannot)."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


_PARAMETERS: dict[type, frozenset[str]] = {}


def parameters(cls: type) -> frozenset[str]:
    """The names of ``cls``'s constructor parameters (options must not pass as one)."""
    names = _PARAMETERS.get(cls)
    if names is None:
        names = _PARAMETERS[cls] = frozenset(inspect.signature(cls).parameters) | {"self"}
    return names


def upgrade_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """Accept fcm-client 0.2 pickles, whose state was the raw legacy body."""
    state = dict(state)
    notification = state.pop("notification", None)
    if isinstance(notification, Mapping):
        notification = dict(notification)
        if "text" in notification and "body" not in notification:
            notification["body"] = notification.pop("text")
        payload = dict(state.pop("payload", None) or {})
        payload["notification"] = notification
        state["payload"] = payload
    return state
