"""Reading the token endpoint's answer, as a pure function: a token and its lifetime, or the
documented error (a rejection, or a transient failure to retry)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from fcmclient import FCMAuthenticationError
from fcmclient._protocol.oauth import read_token_response


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (
            400,
            {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
            "invalid_grant",
        ),
        (
            401,
            {"error": "invalid_client", "error_description": "The OAuth client was not found."},
            "invalid_client",
        ),
        (400, "not json", "HTTP_400"),
    ],
)
def test_token_endpoint_rejections(status: int, body: Any, code: str) -> None:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body.encode()
    with pytest.raises(FCMAuthenticationError) as caught:
        read_token_response(status, raw)
    assert caught.value.code == code
    assert caught.value.status == status


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 302])
def test_token_endpoint_failures_are_transient_request_errors(status: int) -> None:
    with pytest.raises(requests.HTTPError, match=str(status)):
        read_token_response(status, b"<html>oops</html>")


@pytest.mark.parametrize("code", ["server_error", "temporarily_unavailable"])
def test_an_oauth2_outage_code_is_a_transient_request_error_whatever_its_status(code: str) -> None:
    with pytest.raises(requests.HTTPError, match="400"):
        read_token_response(400, json.dumps({"error": code}).encode())


@pytest.mark.parametrize(
    ("expires_in", "lifetime"), [(3599, 3599.0), ("x", 3600.0), (-5, 3600.0), (10**9, 86400.0)]
)
def test_token_lifetime_is_read_defensively(expires_in: Any, lifetime: float) -> None:
    assert read_token_response(200, json.dumps({"access_token": "a", "expires_in": expires_in}).encode()) == (
        "a",
        lifetime,
    )
