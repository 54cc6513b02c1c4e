"""Reading one v1 answer into an outcome: every error code's bucket, as a pure function."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fcmclient import FCMAuthenticationError
from fcmclient._protocol import v1
from fcmclient.outcomes import Bucket
from fcmclient.waits import QUOTA_WAIT

FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


def error_body(code: int, status: str, error_code: str | None = None, **extra: Any) -> bytes:
    details: list[dict[str, Any]] = []
    if error_code is not None:
        details.append({"@type": FCM_ERROR, "errorCode": error_code})
    details.extend(extra.get("details", []))
    return json.dumps(
        {
            "error": {
                "code": code,
                "message": f"{status} said Google",
                "status": status,
                "details": details,
            }
        }
    ).encode()


def test_success_keeps_the_message_name() -> None:
    outcome = v1.decode(200, {}, b'{"name": "projects/p/messages/0:123"}', 0.0)
    assert outcome.bucket is Bucket.SUCCESS
    assert outcome.message_id == "projects/p/messages/0:123"


@pytest.mark.parametrize(
    "raw", [b"", b"<html>ok</html>", b'{"nom": 1}', b'{"name": 5}', b'{"name": ""}', b"[]"]
)
def test_unreadable_success_is_failed_not_retried(raw: bytes) -> None:
    outcome = v1.decode(200, {}, raw, 0.0)
    assert outcome.bucket is Bucket.FAILED
    assert outcome.error == "INVALID_RESPONSE"


@pytest.mark.parametrize(
    ("http", "status", "code", "bucket"),
    [
        (404, "NOT_FOUND", "UNREGISTERED", Bucket.NOT_REGISTERED),
        (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", Bucket.FAILED),
        (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", Bucket.FAILED),
        (401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", Bucket.FAILED),
        (401, "UNAUTHENTICATED", "APNS_AUTH_ERROR", Bucket.FAILED),
        (503, "UNAVAILABLE", "UNAVAILABLE", Bucket.RETRY),
        (500, "INTERNAL", "INTERNAL", Bucket.RETRY),
        (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", Bucket.RETRY),
        (500, "UNKNOWN", "UNSPECIFIED_ERROR", Bucket.FAILED),
        (400, "INVALID_ARGUMENT", "SOMETHING_NEW", Bucket.FAILED),
    ],
)
def test_error_codes_land_in_their_bucket(http: int, status: str, code: str, bucket: Bucket) -> None:
    outcome = v1.decode(http, {}, error_body(http, status, code), 0.0)
    assert outcome.bucket is bucket
    assert outcome.error == code
    assert outcome.detail == f"{status} said Google"


def test_apns_410_is_a_dead_token() -> None:
    apns = {
        "@type": "type.googleapis.com/google.firebase.fcm.v1.ApnsError",
        "statusCode": 410,
        "reason": "Unregistered",
    }
    outcome = v1.decode(400, {}, error_body(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", details=[apns]), 0.0)
    assert outcome.bucket is Bucket.NOT_REGISTERED


def test_retry_after_is_kept_on_retryable_answers() -> None:
    outcome = v1.decode(503, {"Retry-After": "17"}, error_body(503, "UNAVAILABLE", "UNAVAILABLE"), 0.0)
    assert outcome.wait == 17.0
    assert v1.decode(503, {}, error_body(503, "UNAVAILABLE", "UNAVAILABLE"), 0.0).wait is None


def test_quota_exceeded_without_retry_after_waits_what_google_advises() -> None:
    assert v1.decode(429, {}, error_body(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), 0.0).wait == QUOTA_WAIT
    assert (
        v1.decode(
            429, {"retry-after": "5"}, error_body(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), 0.0
        ).wait
        == 5.0
    )
    bare = v1.decode(429, {}, b"Too many", 0.0)
    assert (bare.bucket, bare.wait) == (Bucket.RETRY, QUOTA_WAIT)


@pytest.mark.parametrize("retry_after", ["5", "120"])
def test_a_bare_429_honours_its_retry_after_either_side_of_a_minute(retry_after: str) -> None:
    # Only a 429 *without* Retry-After defaults to a minute; the header wins, shorter or longer.
    outcome = v1.decode(429, {"Retry-After": retry_after}, b"Too many", 0.0)
    assert (outcome.bucket, outcome.error, outcome.wait) == (
        Bucket.RETRY,
        "RESOURCE_EXHAUSTED",
        float(retry_after),
    )


@pytest.mark.parametrize("http", [500, 502, 503, 504])
@pytest.mark.parametrize(
    "raw", [b"<html><title>502 Bad Gateway</title></html>", b"", b'{"error": "x"}', b"\xff\xfe"]
)
def test_unparseable_5xx_is_retried(http: int, raw: bytes) -> None:
    outcome = v1.decode(http, {}, raw, 0.0)
    assert outcome.bucket is Bucket.RETRY
    assert outcome.error == f"HTTP_{http}"


def test_expired_access_token_is_retried_at_once() -> None:
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_EXPIRED"}
    outcome = v1.decode(401, {}, error_body(401, "UNAUTHENTICATED", details=[info]), 0.0)
    assert (outcome.bucket, outcome.error, outcome.wait) == (
        Bucket.RETRY,
        "ACCESS_TOKEN_EXPIRED",
        0.0,
    )


@pytest.mark.parametrize("reason", ["CREDENTIALS_MISSING", "ACCESS_TOKEN_TYPE_UNSUPPORTED"])
def test_a_401_for_another_reason_than_expiry_is_an_authentication_error_not_a_retry(reason: str) -> None:
    # Only ACCESS_TOKEN_EXPIRED is fixed by a new token; any other ErrorInfo reason is fatal.
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}
    with pytest.raises(FCMAuthenticationError) as caught:
        v1.decode(401, {}, error_body(401, "UNAUTHENTICATED", details=[info]), 0.0)
    assert (caught.value.status, caught.value.code) == (401, "UNAUTHENTICATED")


def test_other_401_without_fcm_error_is_an_authentication_error() -> None:
    with pytest.raises(FCMAuthenticationError) as caught:
        v1.decode(401, {}, error_body(401, "UNAUTHENTICATED"), 0.0)
    assert caught.value.status == 401
    assert caught.value.code == "UNAUTHENTICATED"


def test_403_permission_denied_without_fcm_error_is_an_authentication_error() -> None:
    with pytest.raises(FCMAuthenticationError, match="PERMISSION_DENIED") as caught:
        v1.decode(403, {}, error_body(403, "PERMISSION_DENIED"), 0.0)
    assert isinstance(caught.value, ValueError)


def test_bare_404_is_no_verdict_on_the_token() -> None:
    outcome = v1.decode(404, {}, error_body(404, "NOT_FOUND"), 0.0)
    assert (outcome.bucket, outcome.error) == (Bucket.FAILED, "NOT_FOUND")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"error": {"code": 400, "status": 5, "details": "no"}}',
        b'{"error": {"details": [1, "x", {"@type": 3}]}}',
        b'{"error": []}',
        b"[1, 2]",
        b"\x1f\x8b\x08garbage",
    ],
)
def test_wrong_shapes_never_raise(raw: bytes) -> None:
    outcome = v1.decode(400, {}, raw, 0.0)
    assert outcome.bucket is Bucket.FAILED
    assert outcome.error == "HTTP_400"
