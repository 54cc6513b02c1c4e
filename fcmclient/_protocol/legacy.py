"""The legacy FCM HTTP protocol (``/fcm/send``), as pure functions.

:func:`encode` turns a message into a request body; :func:`decode` turns the answer
(status, headers, body) into one :class:`~fcmclient.outcomes.Outcome` per target, or raises
the documented exception. No sockets here: :mod:`fcmclient.api` does the I/O.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import FCMAuthenticationError, FCMRequestError, FCMResponseError
from ..messages import InstallationMessage, Message, PlainTextMessage, TopicMessage
from ..outcomes import Bucket, Outcome
from ..waits import parse_retry_after
from .encoding import dumps, header, loads, snippet, stringify

__all__ = [
    "FCM_URL",
    "JSON_CONTENT_TYPE",
    "FORM_CONTENT_TYPE",
    "RETRY_ERRORS",
    "Decoded",
    "encode",
    "decode",
    "classify",
]

#: The legacy endpoint. Google shut it down in 2024; kept for compatibility and emulators.
FCM_URL = "https://fcm.googleapis.com/fcm/send"

JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded;charset=UTF-8"

#: Per-token errors that sending again may fix. Google's own sender retried only these.
RETRY_ERRORS = frozenset({"Unavailable", "InternalServerError"})


@dataclass(frozen=True)
class Decoded:
    """A decoded legacy answer: one outcome per target, in the message's target order."""

    outcomes: list[Outcome]
    multicast_id: int | None = None


def encode(message: Message) -> tuple[str, bytes]:
    """The request body for ``message`` and its Content-Type.

    :class:`PlainTextMessage` is form-encoded (``registration_id``, ``data.<key>``, options
    with booleans as ``1``/``0``); every other message is the JSON of its ``payload``.

    :raises ValueError: an :class:`InstallationMessage` (installation IDs are v1 only).
    """
    if isinstance(message, InstallationMessage):
        raise ValueError("Firebase installation IDs (fid) can only be sent through HTTP v1")
    body = message.payload
    if isinstance(message, PlainTextMessage):
        fields: list[tuple[str, str]] = [("registration_id", body.pop("registration_id"))]
        fields.extend(
            (f"data.{key}", stringify(value)) for key, value in (body.pop("data", None) or {}).items()
        )
        for key, value in body.items():  # the options (a plain-text message has no notification)
            fields.append((key, ("1" if value else "0") if isinstance(value, bool) else stringify(value)))
        return FORM_CONTENT_TYPE, urllib.parse.urlencode(fields).encode()
    return JSON_CONTENT_TYPE, dumps(body)


def classify(code: str, wait: float | None) -> Outcome:
    """The outcome for a legacy per-token error code."""
    if code in RETRY_ERRORS:
        return Outcome.retry(code, wait=wait)
    if code == "NotRegistered":
        return Outcome.not_registered(code)
    return Outcome.failed(code)


def decode(message: Message, status: int, headers: Mapping[str, str], body: bytes, now: float) -> Decoded:
    """Interpret FCM's answer to ``message``.

    :param message: the message that was sent.
    :param status: the HTTP status.
    :param headers: the response headers (``Retry-After`` is read from them).
    :param body: the raw response body.
    :param now: the current POSIX time, to read an HTTP-date ``Retry-After``.
    :returns: one outcome per target of ``message``.
    :raises FCMRequestError: 400 (FCM's explanation attached) or an unexpected status.
    :raises FCMAuthenticationError: 401, the API key was rejected.
    :raises FCMResponseError: a 200 whose body breaks the protocol.
    """
    targets = message.targets
    wait = parse_retry_after(header(headers, "Retry-After"), now)
    if status == 200:
        if isinstance(message, PlainTextMessage):
            return Decoded([_decode_plain(body, wait)])
        document = _json_object(body)
        if isinstance(message, TopicMessage):
            return Decoded([_decode_entry(document, wait, "the topic answer")])
        return _decode_multicast(document, targets, wait)
    if 500 <= status <= 599:
        error = f"HTTP_{status}"
        return Decoded([Outcome.retry(error, detail=snippet(body), wait=wait) for _ in targets])
    if status == 400:
        explanation = snippet(body)
        raise FCMRequestError(
            f"FCM rejected the request (HTTP 400): {explanation or 'no explanation given'}",
            status=status,
            explanation=explanation,
        )
    if status == 401:
        raise FCMAuthenticationError(
            "FCM rejected the API key (HTTP 401): check the server key and any IP allow-list",
            status=status,
            code="Unauthorized",
        )
    raise FCMRequestError(
        f"FCM answered with an unexpected HTTP status {status}",
        status=status,
        explanation=snippet(body),
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        document = loads(body)
    except ValueError:
        raise FCMResponseError(f"FCM answered 200 with a body that is not JSON: {snippet(body)!r}") from None
    if not isinstance(document, dict):
        raise FCMResponseError(f"FCM answered 200 with JSON that is not an object: {snippet(body)!r}")
    return document


def _decode_entry(entry: object, wait: float | None, where: str) -> Outcome:
    if not isinstance(entry, dict):
        raise FCMResponseError(f"{where} is not an object: {entry!r:.100}")
    message_id = entry.get("message_id")
    if message_id is not None:
        if isinstance(message_id, bool) or not isinstance(message_id, (str, int)):
            raise FCMResponseError(f"{where} has a message_id that is not a string: {message_id!r:.100}")
        canonical = entry.get("registration_id")
        if canonical is not None and (not isinstance(canonical, str) or not canonical):
            raise FCMResponseError(f"{where} has a registration_id that is not a token: {canonical!r:.100}")
        return Outcome.success(str(message_id), canonical)
    error = entry.get("error")
    if isinstance(error, str) and error:
        return classify(error, wait)
    raise FCMResponseError(f"{where} has neither message_id nor error: {entry!r:.100}")


def _decode_multicast(document: dict[str, Any], targets: Sequence[str], wait: float | None) -> Decoded:
    results = document.get("results")
    if not isinstance(results, list):
        raise FCMResponseError("FCM answered 200 without a 'results' list")
    if len(results) != len(targets):
        raise FCMResponseError(f"FCM answered {len(results)} results for {len(targets)} registration ids")
    multicast_id = document.get("multicast_id")
    if multicast_id is not None and (isinstance(multicast_id, bool) or not isinstance(multicast_id, int)):
        raise FCMResponseError(f"FCM answered a multicast_id that is not an integer: {multicast_id!r:.100}")
    # The common case first, in one pass: every entry {"message_id": "..."} and nothing else.
    try:
        message_ids = [entry["message_id"] for entry in results]
    except (KeyError, TypeError):  # an entry without one, or not an object
        pass
    else:
        one_key_each = sum(map(len, results)) == len(results)  # (as each has message_id)
        if one_key_each and set(map(type, message_ids)) <= {str}:
            return Decoded([Outcome(Bucket.SUCCESS, message_id) for message_id in message_ids], multicast_id)
    outcomes = [_decode_entry(entry, wait, f"result {index}") for index, entry in enumerate(results)]
    return Decoded(outcomes, multicast_id)


def _decode_plain(body: bytes, wait: float | None) -> Outcome:
    try:
        lines = body.decode("utf-8").strip().splitlines()
    except UnicodeDecodeError:
        raise FCMResponseError("FCM answered 200 with a plain-text body that is not UTF-8") from None
    first = lines[0].strip() if lines else ""
    if first.startswith("Error="):
        code = first[len("Error=") :].strip()
        if code:
            return classify(code, wait)
    elif first.startswith("id=") and len(first) > len("id="):
        canonical = None
        if len(lines) > 1:
            second = lines[1].strip()
            if not second.startswith("registration_id=") or second == "registration_id=":
                raise FCMResponseError(f"cannot read the second line of FCM's answer: {second!r:.100}")
            canonical = second[len("registration_id=") :]
        return Outcome.success(first[len("id=") :], canonical)
    raise FCMResponseError(f"cannot read FCM's plain-text answer: {snippet(body)!r}")
