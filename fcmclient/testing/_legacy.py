"""The legacy ``/fcm/send`` protocol: body parsing, validation, responses, inbox shape."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from ._answers import Answer
from ._conditions import condition_problem
from ._http import Response
from ._pages import front_end_error, retry_after_headers
from ._validate import MAX_TTL_SECONDS, topic_problem

__all__ = [
    "LegacyInvalid",
    "LegacySend",
    "decode_body",
    "legacy_response",
    "request_level_response",
    "to_v1_message",
    "unauthorized_response",
    "validate",
]

MAX_REGISTRATION_IDS = 1000
MAX_PAYLOAD_BYTES = 4096
MAX_TOPIC_PAYLOAD_BYTES = 2048
_BOOLEAN_OPTIONS = ("dry_run", "delay_while_idle", "content_available", "mutable_content")
_RETRYABLE = ("unavailable", "internal", "quota_exceeded")
_ERROR_CODES = {
    "unregistered": "NotRegistered",
    "invalid": "InvalidRegistration",
    "sender_mismatch": "MismatchSenderId",
    "unavailable": "Unavailable",
    "internal": "InternalServerError",
    "quota_exceeded": "DeviceMessageRateExceeded",
    "third_party_auth_error": "InvalidApnsCredential",
}
_JSON = "application/json; charset=UTF-8"
_TEXT = "text/plain; charset=UTF-8"

TargetKind = Literal["tokens", "topic", "condition"]


@dataclass(frozen=True)
class LegacySend:
    """An accepted legacy request.

    Example::

        send = LegacySend("tokens", ("t1", "t2"), {"data": {"k": "v"}}, False, False, None)

    :param kind: ``tokens`` (``registration_ids`` or ``to`` a token), ``topic`` or ``condition``.
    :param targets: tokens, ``("/topics/NAME",)`` or ``(condition,)``.
    :param fields: the JSON body, or the form normalised to the same shape.
    :param dry_run: whether nothing should be delivered.
    :param plain_text: whether the request and response use the plain-text format.
    :param error: a legacy error code every target gets without consuming outcomes.
    """

    kind: TargetKind
    targets: tuple[str, ...]
    fields: Mapping[str, Any]
    dry_run: bool
    plain_text: bool
    error: str | None


@dataclass(frozen=True)
class LegacyInvalid:
    """A request FCM answers with 400 and a plain-text explanation.

    Example::

        LegacyInvalid('Field "data" must be a JSON object')

    :param message: the explanation.
    """

    message: str


def unauthorized_response() -> Response:
    """The 401 page for a missing or wrong ``Authorization: key=...``."""
    title = (
        "The request was missing an Authentication Key (FCM Token) or it is not valid. "
        "Please, refer to section &quot;Authentication&quot; of the FCM documentation."
    )
    body = (
        f"<HTML>\n<HEAD>\n<TITLE>{title}</TITLE>\n</HEAD>\n"
        f'<BODY BGCOLOR="#FFFFFF" TEXT="#000000">\n<H1>{title}</H1>\n'
        "<H2>Error 401</H2>\n</BODY>\n</HTML>\n"
    )
    return Response(401, body.encode(), "text/html; charset=UTF-8")


def decode_body(content_type: str, body: bytes) -> tuple[bool, Any]:
    """Decode a legacy body by its content type.

    :param content_type: the ``Content-Type`` header (JSON, else plain text).
    :param body: the raw body.
    :returns: ``(plain_text, decoded)``; for JSON that fails to parse ``decoded`` is a
        :class:`LegacyInvalid`; for plain text it is a ``dict`` of the form fields.
    """
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            return False, json.loads(body)
        except UnicodeDecodeError:
            return False, LegacyInvalid("JSON_PARSING_ERROR: the body is not UTF-8.")
        except json.JSONDecodeError as exc:
            return False, LegacyInvalid(f"JSON_PARSING_ERROR: {exc.msg} at position {exc.pos}.")
    text = body.decode("utf-8", "replace")
    return True, dict(reversed(parse_qsl(text, keep_blank_values=True)))


def _payload_error(fields: Mapping[str, Any], kind: TargetKind) -> str | None:
    data = fields.get("data") or {}
    for key in data:
        lowered = key.lower()
        if lowered in ("from", "message_type") or lowered.startswith(("google", "gcm")):
            return "InvalidDataKey"
    payload = {k: fields[k] for k in ("data", "notification") if fields.get(k) is not None}
    size = len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    limit = MAX_TOPIC_PAYLOAD_BYTES if kind != "tokens" else MAX_PAYLOAD_BYTES
    return "MessageTooBig" if size > limit else None


def _check_options(body: Mapping[str, Any]) -> str | None:
    for name in ("data", "notification"):
        value = body.get(name)
        if value is not None and not isinstance(value, dict):
            return f'Field "{name}" must be a JSON object: {json.dumps(value)}'
    ttl = body.get("time_to_live")
    if ttl is not None and (
        isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL_SECONDS
    ):
        return (
            f'Invalid value ({json.dumps(ttl)}) for "time_to_live": must be an integer '
            f"between 0 and {MAX_TTL_SECONDS}"
        )
    priority = body.get("priority")
    if priority is not None and priority not in ("normal", "high"):
        return f'Invalid "priority": {json.dumps(priority)}; must be "normal" or "high"'
    for name in _BOOLEAN_OPTIONS:
        value = body.get(name)
        if value is not None and not isinstance(value, bool):
            return f'Field "{name}" must be a JSON boolean: {json.dumps(value)}'
    return None


def _json_targets(body: Mapping[str, Any]) -> tuple[TargetKind, tuple[str, ...]] | str:
    given = [name for name in ("registration_ids", "to", "condition") if name in body]
    if not given:
        return 'Missing target: give one of "to", "registration_ids" or "condition"'
    if len(given) > 1:
        return f'Must use only one of "to", "registration_ids" or "condition", not {given}'
    name = given[0]
    value = body[name]
    if name == "registration_ids":
        if not isinstance(value, list) or not value:
            return '"registration_ids" must be a non-empty JSON array of tokens'
        if len(value) > MAX_REGISTRATION_IDS:
            return (
                f"Number of messages on bulk ({len(value)}) exceeds maximum allowed ({MAX_REGISTRATION_IDS})"
            )
        if not all(isinstance(token, str) and token for token in value):
            return '"registration_ids" must contain only non-empty strings'
        return "tokens", tuple(value)
    if not isinstance(value, str) or not value.strip():
        return f'Field "{name}" must be a non-empty string'
    if name == "condition":
        problem = condition_problem(value)
        return ("condition", (value,)) if problem is None else problem
    if value.startswith("/topics/"):
        problem = topic_problem(value[len("/topics/") :])
        return ("topic", (value,)) if problem is None else problem
    return "tokens", (value,)


def _validate_json(body: Any) -> LegacySend | LegacyInvalid:
    if not isinstance(body, dict):
        return LegacyInvalid("JSON_PARSING_ERROR: the body must be a JSON object.")
    targets = _json_targets(body)
    if isinstance(targets, str):
        return LegacyInvalid(targets)
    problem = _check_options(body)
    if problem is not None:
        return LegacyInvalid(problem)
    kind, addressed = targets
    return LegacySend(kind, addressed, body, body.get("dry_run") is True, False, _payload_error(body, kind))


def _form_bool(name: str, text: str) -> bool | str:
    lowered = text.lower()
    if lowered in ("1", "true"):
        return True
    if lowered in ("0", "false"):
        return False
    return f'Field "{name}" must be 1, 0, true or false: {text!r}'


def _validate_form(form: Mapping[str, str]) -> LegacySend | LegacyInvalid:
    fields: dict[str, Any] = {}
    data = {k[len("data.") :]: v for k, v in form.items() if k.startswith("data.")}
    if data:
        fields["data"] = data
    error: str | None = None
    for name, text in form.items():
        if name in _BOOLEAN_OPTIONS:
            value = _form_bool(name, text)
            if isinstance(value, str):
                return LegacyInvalid(value)
            fields[name] = value
        elif name == "priority":
            if text not in ("normal", "high"):
                return LegacyInvalid(f'Invalid "priority": {text!r}; must be "normal" or "high"')
            fields[name] = text
        elif name == "time_to_live":
            ok = text.isascii() and text.isdigit() and int(text) <= MAX_TTL_SECONDS
            fields[name] = int(text) if ok else text
            error = error or (None if ok else "InvalidTtl")
        elif name in ("collapse_key", "restricted_package_name"):
            fields[name] = text
    token = form.get("registration_id", "")
    if not token:
        return LegacySend("tokens", (), fields, False, True, "MissingRegistration")
    fields["to"] = token
    error = error or _payload_error(fields, "tokens")
    return LegacySend("tokens", (token,), fields, fields.get("dry_run") is True, True, error)


def validate(plain_text: bool, decoded: Any) -> LegacySend | LegacyInvalid:
    """Validate a decoded body (see :func:`decode_body`) like FCM does.

    :param plain_text: whether the body was a form.
    :param decoded: the decoded body.
    """
    if isinstance(decoded, LegacyInvalid):
        return decoded
    return _validate_form(decoded) if plain_text else _validate_json(decoded)


def _result(outcome: Answer, message_id: str | int, kind: TargetKind) -> dict[str, Any]:
    if outcome.kind == "delivered":
        return {"message_id": message_id}
    if outcome.kind == "canonical":
        if kind != "tokens":
            return {"message_id": message_id}
        return {"message_id": message_id, "registration_id": outcome.new_token}
    code = _ERROR_CODES[outcome.kind]
    if outcome.kind == "quota_exceeded" and kind != "tokens":
        code = "TopicsMessageRateExceeded"
    return {"error": code}


def legacy_response(
    send: LegacySend,
    outcomes: Sequence[Answer],
    message_ids: Sequence[str | int],
    multicast_id: int,
) -> Response:
    """The 200 response for per-target outcomes (none of them request-level).

    :param send: the accepted request.
    :param outcomes: one final outcome per target (ignored when ``send.error`` is set).
    :param message_ids: one message id per target.
    :param multicast_id: the multicast id to report.
    """
    if send.error is not None:
        results = [{"error": send.error} for _ in send.targets or ("",)]
        retry_after = None
    else:
        results = [
            _result(outcome, message_id, send.kind)
            for outcome, message_id in zip(outcomes, message_ids, strict=True)
        ]
        waits = [o.retry_after for o in outcomes if o.kind in _RETRYABLE and o.retry_after]
        retry_after = max(waits) if waits else None
    headers = retry_after_headers(retry_after)
    if send.plain_text:
        first = results[0]
        if "error" in first:
            text = f"Error={first['error']}"
        else:
            text = f"id={first['message_id']}"
            if "registration_id" in first:
                text += f"\nregistration_id={first['registration_id']}"
        return Response(200, text.encode(), _TEXT, headers)
    if send.kind != "tokens":
        return Response(200, json.dumps(results[0]).encode(), _JSON, headers)
    body = {
        "multicast_id": multicast_id,
        "success": sum(1 for r in results if "message_id" in r),
        "failure": sum(1 for r in results if "error" in r),
        "canonical_ids": sum(1 for r in results if "registration_id" in r),
        "results": results,
    }
    return Response(200, json.dumps(body).encode(), _JSON, headers)


def request_level_response(outcome: Answer, plain_text: bool) -> Response:
    """The response for a ``malformed`` or ``http_error`` outcome.

    :param outcome: the request-level outcome.
    :param plain_text: whether the request used the plain-text format.
    """
    if outcome.kind == "malformed":
        if plain_text:
            return Response(200, b"id", _TEXT)
        return Response(200, b'{"multicast_id":', _JSON)
    return front_end_error(outcome.status or 502, outcome.retry_after)


_NOTIFICATION_RENAMES = {"android_channel_id": "channel_id"}


def to_v1_message(fields: Mapping[str, Any], target_field: str, target: str) -> dict[str, Any]:
    """Convert a legacy request to the v1 ``message`` shape kept in inboxes.

    ``data`` values become strings (non-strings as their JSON); title, body and image go
    to ``notification``, other notification keys to ``android.notification`` except
    ``badge``, which like ``sound`` also goes to ``apns.payload.aps``; options go to
    ``android`` (``collapse_key``, ``priority`` in upper case, ``ttl`` as ``"Ns"``,
    ``restricted_package_name``) and ``apns.payload.aps`` (``content-available``,
    ``mutable-content``).

    :param fields: the JSON body, or the normalised form.
    :param target_field: ``token``, ``topic`` or ``condition``.
    :param target: the token, topic name (without ``/topics/``) or condition.
    """
    message: dict[str, Any] = {target_field: target}
    data = fields.get("data")
    if data:
        message["data"] = {
            key: value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            for key, value in data.items()
        }
    notification = fields.get("notification") or {}
    common = {k: notification[k] for k in ("title", "body", "image") if k in notification}
    if common:
        message["notification"] = common
    android: dict[str, Any] = {}
    extra = {
        _NOTIFICATION_RENAMES.get(k, k): v
        for k, v in notification.items()
        if k not in ("title", "body", "image", "badge")
    }
    if extra:
        android["notification"] = extra
    for name in ("collapse_key", "restricted_package_name"):
        if fields.get(name) is not None:
            android[name] = fields[name]
    if fields.get("priority") is not None:
        android["priority"] = str(fields["priority"]).upper()
    if fields.get("time_to_live") is not None:
        android["ttl"] = f"{fields['time_to_live']}s"
    if android:
        message["android"] = android
    aps: dict[str, Any] = {k: notification[k] for k in ("badge", "sound") if k in notification}
    badge = aps.get("badge")
    if isinstance(badge, str) and badge.isascii() and badge.isdigit():
        aps["badge"] = int(badge)  # legacy documented a string; APNs takes a number
    aps.update(
        (header, 1)
        for name, header in (
            ("content_available", "content-available"),
            ("mutable_content", "mutable-content"),
        )
        if fields.get(name) is True
    )
    if aps:
        message["apns"] = {"payload": {"aps": aps}}
    return message
