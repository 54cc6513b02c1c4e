"""FCM HTTP v1 as pure functions: translate a message, and read one answer.

:class:`Translation` turns any message into the v1 ``message`` object once, then makes the
request body for each target by splicing the target into bytes encoded once; :func:`decode`
reads one (status, headers, body) into an :class:`~fcmclient.outcomes.Outcome`. The legacy to
v1 mapping is documented in ``docs/migrating.rst``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import FCMAuthenticationError
from ..messages import LEGACY_OPTIONS, V1_FIELDS, InstallationMessage, Message, TopicMessage
from ..outcomes import ACCESS_TOKEN_EXPIRED, INVALID_RESPONSE, Outcome
from ..waits import QUOTA_WAIT, parse_retry_after
from .encoding import dumps, header, loads, snippet, stringify
from .exchange import Exchange

__all__ = [
    "SCOPE",
    "V1_URL",
    "RETRY_CODES",
    "Translation",
    "check",
    "translate",
    "decode",
    "error_outcome",
]

#: The OAuth2 scope that sending needs.
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"

#: Default send endpoint; ``{project_id}`` is filled in.
V1_URL = "https://fcm.googleapis.com/v1/projects/{project_id}/messages:send"

#: FcmError codes that sending again may fix.
RETRY_CODES = frozenset({"UNAVAILABLE", "INTERNAL", "QUOTA_EXCEEDED"})

_DEAD_TOKEN_CODES = frozenset({"UNREGISTERED"})
_NOTIFICATION_FIELDS = ("title", "body", "image")
_COMMON = frozenset(_NOTIFICATION_FIELDS)
_ANDROID_NOTIFICATION_NAMES = {"android_channel_id": "channel_id"}
#: Legacy notification keys iOS read, copied to ``apns.payload.aps`` (``sound`` also stays
#: in ``android.notification``; ``badge`` is iOS only and Android would reject it).
_APS_NOTIFICATION_KEYS = ("badge", "sound")
#: Legacy notification keys iOS read into the alert, and their ``aps.alert`` names (all but
#: ``subtitle`` also stay in ``android.notification``, which has the legacy names).
_APS_ALERT_NAMES = {
    "subtitle": "subtitle",
    "body_loc_key": "loc-key",
    "body_loc_args": "loc-args",
    "title_loc_key": "title-loc-key",
    "title_loc_args": "title-loc-args",
}
_IOS_ONLY = frozenset({"badge", "subtitle"})
_LOC_ARGS = frozenset({"body_loc_args", "title_loc_args"})
_PRIORITIES = {"high": ("HIGH", "10", "high"), "normal": ("NORMAL", "5", "normal")}
_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_APNS_ERROR = "type.googleapis.com/google.firebase.fcm.v1.ApnsError"
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``over`` into a copy of ``base``; values from ``over`` win."""
    merged = dict(base)
    for key, value in over.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def _ttl_seconds(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"time_to_live must be an int number of seconds, got {value!r:.50}")
    return value


def _badge(value: Any) -> Any:
    """The legacy ``badge`` (documented as a string) as the number APNs expects."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


def _loc_args(value: Any) -> Any:
    """Legacy localisation arguments (documented as a JSON array in a string, often sent as
    the array itself) as the list of strings v1 wants; anything else is left to FCM."""
    array = value
    if isinstance(value, str):
        try:
            array = loads(value.encode())
        except ValueError:  # not JSON (or nested past reading): FCM will say what it thinks
            return value
    if isinstance(array, list):
        return [stringify(item) for item in array]
    return value


@dataclass
class _Parts:
    """The v1 sections a legacy message fills, before they are assembled."""

    android: dict[str, Any] = field(default_factory=dict)
    android_notification: dict[str, Any] = field(default_factory=dict)
    apns_headers: dict[str, str] = field(default_factory=dict)
    aps: dict[str, Any] = field(default_factory=dict)
    webpush_headers: dict[str, str] = field(default_factory=dict)


def _notification(notification: Mapping[str, Any], parts: _Parts) -> dict[str, Any]:
    """Spread the legacy notification over ``parts``; return v1's common ``notification``."""
    common = {key: notification[key] for key in _NOTIFICATION_FIELDS if key in notification}
    alert: dict[str, Any] = {}
    for key, value in notification.items():
        if key in _NOTIFICATION_FIELDS:
            continue
        if key in _LOC_ARGS:
            value = _loc_args(value)
        if key in _APS_NOTIFICATION_KEYS:
            parts.aps[key] = _badge(value) if key == "badge" else value
        elif key in _APS_ALERT_NAMES:
            alert[_APS_ALERT_NAMES[key]] = value
        elif key == "click_action":  # what legacy FCM gave iOS as the notification's category
            parts.aps["category"] = value
        if key not in _IOS_ONLY:
            parts.android_notification[_ANDROID_NOTIFICATION_NAMES.get(key, key)] = value
    if alert:  # with the title and body, as APNs shows the alert as a whole
        parts.aps["alert"] = {**{key: common[key] for key in ("title", "body") if key in common}, **alert}
    return common


def _options(options: Mapping[str, Any], now: float, parts: _Parts) -> None:
    """Spread the legacy options over ``parts``, each to every platform that has it."""
    android, apns, webpush = parts.android, parts.apns_headers, parts.webpush_headers
    if "collapse_key" in options:
        key = stringify(options["collapse_key"])
        android["collapse_key"] = apns["apns-collapse-id"] = webpush["Topic"] = key
    if "priority" in options:
        priority = stringify(options["priority"])
        known = _PRIORITIES.get(priority.lower())
        if known is None:  # let FCM judge an unknown priority
            android["priority"] = priority
        else:
            android["priority"], apns["apns-priority"], webpush["Urgency"] = known
    if "time_to_live" in options:
        ttl = _ttl_seconds(options["time_to_live"])
        android["ttl"] = f"{ttl}s"
        apns["apns-expiration"] = "0" if ttl == 0 else str(int(now) + ttl)
        webpush["TTL"] = str(ttl)
    if "restricted_package_name" in options:
        android["restricted_package_name"] = options["restricted_package_name"]
    if options.get("content_available"):
        parts.aps["content-available"] = 1
    if options.get("mutable_content"):
        parts.aps["mutable-content"] = 1


def _assemble(common: dict[str, Any], parts: _Parts) -> dict[str, Any]:
    body: dict[str, Any] = {"notification": common} if common else {}
    if parts.android_notification:
        parts.android["notification"] = parts.android_notification
    if parts.android:
        body["android"] = parts.android
    apns: dict[str, Any] = {"headers": parts.apns_headers} if parts.apns_headers else {}
    if parts.aps:
        apns["payload"] = {"aps": parts.aps}
    if apns:
        body["apns"] = apns
    if parts.webpush_headers:
        body["webpush"] = {"headers": parts.webpush_headers}
    return body


def check(message: Message) -> None:
    """:raises TypeError: :func:`translate` would, for ``message`` (a ``time_to_live`` that is
    not an int): for checking a batch before any of it is sent."""
    ttl = message._options.get("time_to_live")
    if ttl is not None:
        _ttl_seconds(ttl)


def translate(message: Message, now: float) -> tuple[dict[str, Any], bool]:
    """The v1 ``message`` object for ``message``, without its target, and ``validate_only``.

    The object may share values with the message itself: encode it, never change it.

    :param message: any fcmclient message.
    :param now: the current POSIX time (``apns-expiration`` is absolute: now + ttl).
    :raises TypeError: ``time_to_live`` is not an int.
    """
    # Read in place, not through the properties' copies: nothing here changes them.
    notification, options, data = message._notification, message._options, message._data
    if not options and (notification is None or _COMMON.issuperset(notification)):
        return common_only(data, notification), False
    return translated(data, notification, options, now)


def common_only(data: Mapping[str, Any] | None, notification: Mapping[str, Any] | None) -> dict[str, Any]:
    """What :func:`translated` makes of content with no option and only the notification
    fields every platform shares (the usual personalised message), made directly."""
    body = {"data": {key: stringify(value) for key, value in data.items()}} if data else {}
    if notification:
        body["notification"] = {key: notification[key] for key in _NOTIFICATION_FIELDS if key in notification}
    return body


def translated(
    data: Mapping[str, Any] | None,
    notification: Mapping[str, Any] | None,
    options: Mapping[str, Any],
    now: float,
) -> tuple[dict[str, Any], bool]:
    """The v1 message object for any content (see :func:`translate`)."""
    parts = _Parts()
    common = _notification(notification or {}, parts)
    _options(options, now, parts)
    body = {"data": {key: stringify(value) for key, value in data.items()}} if data else {}
    body.update(_assemble(common, parts))
    for key, value in options.items():
        if key in V1_FIELDS:
            body[key] = _merge(body.get(key, {}), value)
        elif key not in LEGACY_OPTIONS:
            body[key] = value  # unknown option: passed on for FCM to judge
    return body, bool(options.get("dry_run", False))


#: The start of a request body, up to its target's value, for each kind of target.
_PREFIXES = {
    field: b'{"message":{"' + field.encode() + b'":' for field in ("token", "topic", "condition", "fid")
}


def _target_field(message: Message) -> str:
    if isinstance(message, TopicMessage):
        return "topic" if message.topic is not None else "condition"
    if isinstance(message, InstallationMessage):
        return "fid"
    return "token"


def _target_value(message: Message, target: str) -> str:
    if isinstance(message, TopicMessage) and message.topic_name is not None:
        return message.topic_name
    return target


class Translation:
    """A message translated once, ready to make one request body per target.

    The common part is encoded to bytes once; :meth:`body` only splices in the target, so a
    fan-out to many tokens does no per-token JSON work beyond quoting the token.

    :param message: the message to send.
    :param now: the current POSIX time.
    """

    __slots__ = ("_message", "_prefix", "_suffix")

    def __init__(self, message: Message, now: float) -> None:
        self._message = message
        content, validate_only = translate(message, now)
        rest = dumps(content)[1:]  # drop the opening brace: the target goes first
        self._prefix = _PREFIXES[_target_field(message)]
        if rest == b"}":
            self._suffix = b"}"
        else:
            self._suffix = b"," + rest
        self._suffix += b',"validate_only":true}' if validate_only else b"}"

    def body(self, target: str) -> bytes:
        """The JSON request body that sends the message to ``target``."""
        return self._prefix + dumps(_target_value(self._message, target)) + self._suffix

    def exchange(self, url: str, target: str) -> Exchange[Outcome]:
        """The request that sends the message to ``target`` through the endpoint ``url``."""
        return Exchange("POST", url, self.body(target), decode)


def _error_fields(body: bytes) -> tuple[str | None, str | None, str | None, Any, str | None]:
    """(status name, message, FcmError code, ApnsError statusCode, ErrorInfo reason)."""
    try:
        document = loads(body)
    except ValueError:
        return None, None, None, None, None
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        return None, None, None, None, None
    status = error.get("status") if isinstance(error.get("status"), str) else None
    text = error.get("message") if isinstance(error.get("message"), str) else None
    code = apns_status = reason = None
    details = error.get("details")
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, dict):
            continue
        kind = detail.get("@type")
        if kind == _FCM_ERROR and isinstance(detail.get("errorCode"), str):
            code = detail["errorCode"]
        elif kind == _APNS_ERROR:
            apns_status = detail.get("statusCode")
        elif kind == _ERROR_INFO and isinstance(detail.get("reason"), str):
            reason = detail["reason"]
    return status, text, code, apns_status, reason


def decode(status: int, headers: Mapping[str, str], body: bytes, now: float) -> Outcome:
    """Interpret FCM's answer to one v1 send.

    :returns: the target's outcome; see :func:`error_outcome` for every status but 200.
    :raises FCMAuthenticationError: as :func:`error_outcome`.
    """
    if status != 200:
        return error_outcome(status, headers, body, now)
    try:
        document = loads(body)
    except ValueError:
        document = None
    name = document.get("name") if isinstance(document, dict) else None
    if isinstance(name, str) and name:
        return Outcome.success(name)
    # Accepted, but the answer is unreadable: it may have been delivered, so a retry could
    # send it twice. Reported as failed, never silently dropped.
    return Outcome.failed(INVALID_RESPONSE, detail=f"HTTP 200 without a message name: {snippet(body)!r}")


def error_outcome(status: int, headers: Mapping[str, str], body: bytes, now: float) -> Outcome:
    """The outcome of a Google API error answer about one target: its FcmError code decides,
    else its HTTP status (429 and 5xx: retry, with ``Retry-After``; other 4xx: failed).

    :returns: a refused, expired access token gives a retry outcome whose error is
        :data:`~fcmclient.outcomes.ACCESS_TOKEN_EXPIRED` and whose wait is 0.
    :raises FCMAuthenticationError: 401 ``UNAUTHENTICATED`` (other than an expired token) or
        403 ``PERMISSION_DENIED`` with no FcmError detail: the credentials or the project are
        wrong, which no retry fixes.
    """
    status_name, text, code, apns_status, reason = _error_fields(body)
    detail = text or snippet(body) or None
    wait = parse_retry_after(header(headers, "Retry-After"), now)
    quota_wait = QUOTA_WAIT if wait is None else wait
    if code is not None:
        return _by_code(code, apns_status, detail, wait)
    if status in (401, 403):
        if status == 401 and reason == ACCESS_TOKEN_EXPIRED:
            return Outcome.retry(ACCESS_TOKEN_EXPIRED, detail, 0.0)
        raise _rejected(status, status_name, detail)
    if status == 429:
        return Outcome.retry(status_name or "RESOURCE_EXHAUSTED", detail, quota_wait)
    if status >= 500:
        return Outcome.retry(status_name or f"HTTP_{status}", detail, wait)
    return Outcome.failed(status_name or f"HTTP_{status}", detail)


def _by_code(code: str, apns_status: Any, detail: str | None, wait: float | None) -> Outcome:
    if code in _DEAD_TOKEN_CODES or (code == "INVALID_ARGUMENT" and apns_status == 410):
        return Outcome.not_registered(code, detail)
    if code == "QUOTA_EXCEEDED":
        return Outcome.retry(code, detail, QUOTA_WAIT if wait is None else wait)
    if code in RETRY_CODES:
        return Outcome.retry(code, detail, wait)
    return Outcome.failed(code, detail)


def _rejected(status: int, status_name: str | None, detail: str | None) -> FCMAuthenticationError:
    if status == 401:
        name = status_name or "UNAUTHENTICATED"
        return FCMAuthenticationError(
            f"FCM rejected the access token (HTTP 401 {name}): {detail}", status=status, code=name
        )
    name = status_name or "PERMISSION_DENIED"
    return FCMAuthenticationError(
        f"FCM refused the send (HTTP 403 {name}): {detail}; "
        "check that the FCM API is enabled and the service account may send for this project",
        status=status,
        code=name,
    )
