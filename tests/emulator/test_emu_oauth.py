"""The OAuth2 token endpoint: service accounts, JWT checks, scripted failures."""

from __future__ import annotations

import json
import time
from http.client import HTTPConnection, RemoteDisconnected
from pathlib import Path

import google.auth.exceptions
import google.auth.transport.requests
import google.oauth2.service_account
import pytest
import requests

from fcmclient.testing import Answer, FCMEmulator
from tests.emulator.emu_support import (
    FCM_SCOPE,
    JWT_BEARER,
    TIMEOUT,
    b64url,
    fetch_token,
    foreign_key_pem,
    make_assertion,
    send_v1,
    sign_jwt,
)

SHORT_LIVED = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
    "timeframe. Check your iat and exp values in the JWT claim."
)


def _error(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def test_service_account_info_looks_like_a_key_file(
    emu: FCMEmulator, fcm_service_account: dict[str, str]
) -> None:
    info = fcm_service_account
    assert set(info) == {
        "type",
        "project_id",
        "private_key_id",
        "private_key",
        "client_email",
        "client_id",
        "auth_uri",
        "token_uri",
        "auth_provider_x509_cert_url",
        "client_x509_cert_url",
        "universe_domain",
    }
    assert info["type"] == "service_account"
    assert info["project_id"] == "demo"
    assert info["private_key"].startswith("-----BEGIN PRIVATE KEY-----\n")
    assert info["client_email"].endswith("@demo.iam.gserviceaccount.com")
    assert info["token_uri"] == emu.token_uri
    assert info["universe_domain"] == "googleapis.com"
    assert int(info["private_key_id"], 16) >= 0
    assert info["client_id"].isdigit()


def test_each_service_account_is_unique(emu: FCMEmulator) -> None:
    first = emu.service_account_info("proj-x")
    second = emu.service_account_info("proj-x")
    assert first["client_email"] == "fcm-emulator@proj-x.iam.gserviceaccount.com"
    assert second["client_email"] == "fcm-emulator-2@proj-x.iam.gserviceaccount.com"
    assert first["private_key_id"] != second["private_key_id"]
    assert first["private_key"] != second["private_key"]
    for info in (first, second):
        assert fetch_token(emu, make_assertion(info)).status_code == 200


def test_google_auth_refresh_and_send(
    emu: FCMEmulator, fcm_service_account: dict[str, str], http: requests.Session
) -> None:
    credentials = google.oauth2.service_account.Credentials.from_service_account_info(
        fcm_service_account, scopes=[FCM_SCOPE]
    )
    credentials.refresh(google.auth.transport.requests.Request())
    assert credentials.token.startswith("emu.")
    assert credentials.valid
    assert emu.token_requests == 1
    recorded = emu.requests[0]
    assert recorded.protocol == "oauth"
    assert recorded.body == {"grant_type": JWT_BEARER, "assertion": "<redacted>"}
    assert send_v1(http, emu, credentials.token, {"token": "tok"}).status_code == 200


def test_google_auth_from_a_key_file(emu: FCMEmulator, tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps(emu.service_account_info("filed")))
    credentials = google.oauth2.service_account.Credentials.from_service_account_file(
        str(path), scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    credentials.refresh(google.auth.transport.requests.Request())
    assert credentials.valid


def test_success_body(emu: FCMEmulator, fcm_service_account: dict[str, str]) -> None:
    response = fetch_token(emu, make_assertion(fcm_service_account))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["expires_in"] == 3599
    assert body["token_type"] == "Bearer"
    assert body["access_token"].startswith("emu.")
    assert len(body["access_token"]) == 44


def test_emulator_token_uri_is_an_accepted_audience(
    emu: FCMEmulator, fcm_service_account: dict[str, str]
) -> None:
    response = fetch_token(emu, make_assertion(fcm_service_account, aud=emu.token_uri))
    assert response.status_code == 200


def test_key_the_emulator_did_not_issue(emu: FCMEmulator, fcm_service_account: dict[str, str]) -> None:
    assertion = make_assertion(fcm_service_account, key_pem=foreign_key_pem())
    assert _error(fetch_token(emu, assertion)) == (400, "invalid_grant", "Invalid JWT Signature.")
    unknown_kid = make_assertion(fcm_service_account, kid="0" * 40)
    assert _error(fetch_token(emu, unknown_kid))[2] == "Invalid JWT Signature."


def test_unknown_account(emu: FCMEmulator, fcm_service_account: dict[str, str]) -> None:
    assertion = make_assertion(
        fcm_service_account,
        key_pem=foreign_key_pem(),
        kid="f" * 40,
        iss="stranger@elsewhere.iam.gserviceaccount.com",
    )
    status, error, _ = _error(fetch_token(emu, assertion))
    assert (status, error) == (400, "invalid_grant")


def test_tampered_claims_fail_the_signature(emu: FCMEmulator, fcm_service_account: dict[str, str]) -> None:
    header, _claims, signature = make_assertion(fcm_service_account).split(".")
    forged = b64url(json.dumps({"iss": fcm_service_account["client_email"], "x": 1}).encode())
    response = fetch_token(emu, f"{header}.{forged}.{signature}")
    assert _error(response)[2] == "Invalid JWT Signature."


def test_alg_none_is_refused(emu: FCMEmulator, fcm_service_account: dict[str, str]) -> None:
    header = b64url(json.dumps({"alg": "none", "kid": fcm_service_account["private_key_id"]}).encode())
    claims = b64url(json.dumps({"iss": fcm_service_account["client_email"]}).encode())
    response = fetch_token(emu, f"{header}.{claims}.")
    assert _error(response)[:2] == (400, "invalid_grant")


@pytest.mark.parametrize(
    ("iat_offset", "exp_offset"),
    [
        pytest.param(-7200, -3600, id="expired"),
        pytest.param(0, 3601, id="too-long"),
        pytest.param(120, 600, id="issued-in-the-future"),
        pytest.param(30, 10, id="exp-before-iat"),
    ],
)
def test_bad_times(
    emu: FCMEmulator, fcm_service_account: dict[str, str], iat_offset: int, exp_offset: int
) -> None:
    now = time.time()
    assertion = make_assertion(fcm_service_account, iat=now + iat_offset, exp=now + exp_offset)
    assert _error(fetch_token(emu, assertion)) == (400, "invalid_grant", SHORT_LIVED)


def test_missing_times(emu: FCMEmulator, fcm_service_account: dict[str, str]) -> None:
    header = {"alg": "RS256", "kid": fcm_service_account["private_key_id"]}
    claims = {"iss": fcm_service_account["client_email"], "scope": FCM_SCOPE}
    assertion = sign_jwt(fcm_service_account["private_key"], header, claims)
    assert _error(fetch_token(emu, assertion))[2] == SHORT_LIVED


@pytest.mark.parametrize("aud", ["https://example.com/token", None])
def test_wrong_audience(emu: FCMEmulator, fcm_service_account: dict[str, str], aud: str | None) -> None:
    assertion = make_assertion(fcm_service_account, aud=aud)
    assert _error(fetch_token(emu, assertion)) == (
        400,
        "invalid_grant",
        "Invalid JWT: Failed audience check.",
    )


@pytest.mark.parametrize("scope", [None, "", "https://www.googleapis.com/auth/userinfo.email"], ids=repr)
def test_missing_or_wrong_scope(
    emu: FCMEmulator, fcm_service_account: dict[str, str], scope: str | None
) -> None:
    status, error, description = _error(fetch_token(emu, make_assertion(fcm_service_account, scope=scope)))
    assert (status, error) == (400, "invalid_scope")
    assert description


def test_scope_list_with_cloud_platform(emu: FCMEmulator, fcm_service_account: dict[str, str]) -> None:
    scope = "openid https://www.googleapis.com/auth/cloud-platform"
    assert fetch_token(emu, make_assertion(fcm_service_account, scope=scope)).status_code == 200


def test_bad_grant_type(emu: FCMEmulator, fcm_service_account: dict[str, str]) -> None:
    response = fetch_token(emu, make_assertion(fcm_service_account), grant_type="password")
    assert _error(response) == (400, "unsupported_grant_type", "Invalid grant_type: password")


@pytest.mark.parametrize("assertion", ["", "abc", "a.b.c", "e30.e30.!!!", "W10.e30.AA"])
def test_malformed_assertions(emu: FCMEmulator, assertion: str) -> None:
    status, error, _ = _error(fetch_token(emu, assertion))
    assert status == 400
    assert error in ("invalid_grant", "invalid_request")


def test_scripted_token_failures_then_success(emu: FCMEmulator, fcm_service_account: dict[str, str]) -> None:
    emu.set_token_outcome(
        Answer.http_error(503, retry_after=4),
        "malformed",
        Answer.oauth_error("invalid_grant", "Account disabled", status=400),
        Answer.delay(0.1, then=Answer.http_error(500)),
    )
    assertion = make_assertion(fcm_service_account)
    first = fetch_token(emu, assertion)
    assert (first.status_code, first.headers["Retry-After"]) == (503, "4")
    second = fetch_token(emu, assertion)
    assert second.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(second.text)
    assert _error(fetch_token(emu, assertion)) == (400, "invalid_grant", "Account disabled")
    fourth = fetch_token(emu, assertion)
    assert fourth.status_code == 500
    assert fourth.elapsed.total_seconds() >= 0.1
    assert fetch_token(emu, assertion).status_code == 200
    assert emu.token_requests == 5


def test_scripted_token_drop(emu: FCMEmulator) -> None:
    emu.set_token_outcome("drop")
    conn = HTTPConnection(emu.host, emu.port, timeout=TIMEOUT)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        conn.request("POST", "/token", "grant_type=x", headers)
        with pytest.raises(RemoteDisconnected):
            conn.getresponse()
    finally:
        conn.close()
    assert emu.token_requests == 1


def test_google_auth_sees_a_failing_token_endpoint(
    emu: FCMEmulator, fcm_service_account: dict[str, str]
) -> None:
    emu.set_token_outcome(Answer.oauth_error("invalid_grant", "Invalid JWT Signature."))
    credentials = google.oauth2.service_account.Credentials.from_service_account_info(
        fcm_service_account, scopes=[FCM_SCOPE]
    )
    with pytest.raises(google.auth.exceptions.RefreshError, match="invalid_grant"):
        credentials.refresh(google.auth.transport.requests.Request())


@pytest.mark.parametrize("outcome", ["unavailable", "unregistered", Answer.canonical("x")])
def test_send_outcomes_are_refused_for_the_token_endpoint(emu: FCMEmulator, outcome: Answer | str) -> None:
    with pytest.raises(ValueError, match="token endpoint"):
        emu.set_token_outcome(outcome)


@pytest.mark.parametrize(
    ("lifetime", "expires_in"), [(0, 1), (0.5, 1), (1.5, 1), (2.0, 1), (10, 9), (3600, 3599)]
)
def test_regression_short_token_lifetimes_were_announced_as_zero(lifetime: float, expires_in: int) -> None:
    """A token_lifetime under 2 s answered expires_in 0, which clients read as "one hour"."""
    with FCMEmulator(token_lifetime=lifetime) as emu:
        reply = fetch_token(emu, make_assertion(emu.service_account_info("demo")))
    assert reply.status_code == 200
    assert reply.json()["expires_in"] == expires_in
