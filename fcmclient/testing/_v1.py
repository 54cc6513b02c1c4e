"""HTTP v1 responses: Google's error shape, auth failures and scripted outcomes."""

from __future__ import annotations

import json
from typing import Any

from ._answers import Answer
from ._http import Response
from ._oauth import TokenCheck
from ._pages import front_end_error, retry_after_headers
from ._validate import V1Invalid

__all__ = [
    "APNS_ERROR_TYPE",
    "FCM_ERROR_TYPE",
    "auth_failure",
    "error_outcome_response",
    "error_response",
    "invalid_response",
    "outcome_response",
    "success_response",
]

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
APNS_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.ApnsError"
_ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"
_BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
_JSON = "application/json; charset=UTF-8"
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_SEE = "See https://developers.google.com/identity/sign-in/web/devconsole-project."
_MISSING_CREDENTIALS = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    f"login cookie or other valid authentication credential. {_SEE}"
)
_INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, "
    f"login cookie or other valid authentication credential. {_SEE}"
)
_METADATA = {"service": "fcm.googleapis.com"}

# outcome kind -> (status, message, FcmError code)
_OUTCOME_ERRORS: dict[str, tuple[int, str, str]] = {
    "unregistered": (404, "Requested entity was not found.", "UNREGISTERED"),
    "invalid": (
        400,
        "The registration token is not a valid FCM registration token",
        "INVALID_ARGUMENT",
    ),
    "sender_mismatch": (403, "SenderId mismatch", "SENDER_ID_MISMATCH"),
    "unavailable": (503, "The service is currently unavailable.", "UNAVAILABLE"),
    "internal": (500, "Internal error encountered.", "INTERNAL"),
    "quota_exceeded": (
        429,
        "Quota exceeded for sending messages to this target.",
        "QUOTA_EXCEEDED",
    ),
    "third_party_auth_error": (
        401,
        "Auth error from APNS or Web Push Service",
        "THIRD_PARTY_AUTH_ERROR",
    ),
}


def error_response(
    status: int,
    message: str,
    details: list[dict[str, Any]],
    headers: tuple[tuple[str, str], ...] = (),
    *,
    status_name: str | None = None,
) -> Response:
    """Build a google.rpc error response (``details`` left out when empty, as Google does).

    :param status: the HTTP status.
    :param message: the ``error.message`` text.
    :param details: the ``error.details`` list.
    :param headers: extra headers.
    :param status_name: the ``error.status`` when it is not the usual one for ``status``
        (e.g. ``FAILED_PRECONDITION`` for a 400).
    """
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": status_name or _STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    body = {"error": error}
    return Response(status, json.dumps(body, indent=2).encode(), _JSON, headers)


def _fcm_error(code: str) -> dict[str, Any]:
    return {"@type": FCM_ERROR_TYPE, "errorCode": code}


def auth_failure(
    check: TokenCheck, project_id: str, permission: str = "cloudmessaging.messages.create"
) -> Response:
    """The response for a request whose access token was not accepted.

    :param check: why the token was refused (not ``"ok"``).
    :param project_id: the project in the request path.
    :param permission: the IAM permission the request needs, named in a 403.
    """
    if check == "wrong_project":
        resource = f"//cloudresourcemanager.googleapis.com/projects/{project_id}"
        message = f"Permission '{permission}' denied on resource '{resource}' (or it may not exist)."
        info = {
            "@type": _ERROR_INFO_TYPE,
            "reason": "IAM_PERMISSION_DENIED",
            "domain": "cloudresourcemanager.googleapis.com",
            "metadata": {"permission": permission, "resource": resource},
        }
        return error_response(403, message, [info])
    reason = {
        "missing": "CREDENTIALS_MISSING",
        "expired": "ACCESS_TOKEN_EXPIRED",
    }.get(check, "ACCESS_TOKEN_TYPE_UNSUPPORTED")
    message = _MISSING_CREDENTIALS if check == "missing" else _INVALID_CREDENTIALS
    info = {
        "@type": _ERROR_INFO_TYPE,
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": dict(_METADATA),
    }
    return error_response(401, message, [info], (("WWW-Authenticate", 'Bearer realm="FCM"'),))


def invalid_response(problem: V1Invalid) -> Response:
    """The 400 INVALID_ARGUMENT response for an invalid body.

    :param problem: what is wrong.
    """
    violation = {"field": problem.field, "description": problem.message}
    details: list[dict[str, Any]] = [{"@type": _BAD_REQUEST_TYPE, "fieldViolations": [violation]}]
    if problem.fcm_error:
        details.insert(0, _fcm_error("INVALID_ARGUMENT"))
    return error_response(400, problem.message, details)


def success_response(name: str) -> Response:
    """The 200 response naming the sent message.

    :param name: ``projects/P/messages/ID``.
    """
    return Response(200, b'{\n  "name": ' + json.dumps(name).encode() + b"\n}\n", _JSON)


def outcome_response(outcome: Answer, name: str) -> Response:
    """The response for a send's final (non-delay, non-drop) outcome.

    :param outcome: ``delivered``, ``canonical``, an error or ``malformed``/``http_error``.
    :param name: the message name to answer on success.
    """
    if outcome.kind in ("delivered", "canonical"):
        return success_response(name)
    return error_outcome_response(outcome)


def error_outcome_response(outcome: Answer) -> Response:
    """The response for a final outcome that is neither a success, a delay nor a drop.

    :param outcome: an error outcome, ``malformed`` (a 200 whose JSON is cut short) or
        ``http_error``.
    """
    kind = outcome.kind
    if kind == "malformed":
        return Response(200, b'{\n  "name": "projects/', _JSON)
    if kind == "http_error":
        return front_end_error(outcome.status or 502, outcome.retry_after)
    status, message, code = _OUTCOME_ERRORS[kind]
    details = [_fcm_error(code)]
    if kind == "third_party_auth_error":
        details.append({"@type": APNS_ERROR_TYPE, "statusCode": 403, "reason": "InvalidProviderToken"})
    return error_response(status, message, details, retry_after_headers(outcome.retry_after))
