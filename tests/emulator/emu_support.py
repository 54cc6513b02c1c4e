"""Helpers for the emulator tests: JWT signing, keys, certificates and request shortcuts."""

from __future__ import annotations

import base64
import datetime
import functools
import ipaddress
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from fcmclient.testing import FCMEmulator

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
APNS_ERROR = "type.googleapis.com/google.firebase.fcm.v1.ApnsError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
TIMEOUT = 10
_UNSET: Any = object()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@functools.cache
def foreign_key_pem() -> str:
    """A private key the emulator never issued."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def sign_jwt(private_key_pem: str, header: dict[str, Any], claims: dict[str, Any]) -> str:
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    signing_input = ".".join(b64url(json.dumps(part).encode()) for part in (header, claims)).encode()
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{b64url(signature)}"


def make_assertion(
    info: dict[str, str],
    *,
    key_pem: str | None = None,
    kid: str | None = _UNSET,
    iss: str | None = _UNSET,
    aud: str | None = GOOGLE_AUDIENCE,
    scope: str | None = FCM_SCOPE,
    iat: float | None = None,
    exp: float | None = None,
) -> str:
    """A JWT-bearer assertion like google-auth makes; ``None`` leaves a claim out."""
    now = time.time()
    header = {"alg": "RS256", "typ": "JWT"}
    kid = info["private_key_id"] if kid is _UNSET else kid
    if kid is not None:
        header["kid"] = kid
    issued = now if iat is None else iat
    claims: dict[str, Any] = {
        "iss": info["client_email"] if iss is _UNSET else iss,
        "aud": aud,
        "scope": scope,
        "iat": int(issued),
        "exp": int(issued + 3600) if exp is None else int(exp),
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    return sign_jwt(key_pem or info["private_key"], header, claims)


def fetch_token(emu: FCMEmulator, assertion: str, grant_type: str = JWT_BEARER) -> Any:
    return requests.post(
        emu.token_uri,
        data={"grant_type": grant_type, "assertion": assertion},
        timeout=TIMEOUT,
    )


def post_v1(
    session: requests.Session,
    emu: FCMEmulator,
    token: str | None,
    body: Any,
    project_id: str = "demo",
) -> requests.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers["Content-Type"] = "application/json"
    return session.post(emu.v1_url(project_id), data=data, headers=headers, timeout=TIMEOUT)


def send_v1(
    session: requests.Session, emu: FCMEmulator, token: str | None, message: dict[str, Any]
) -> requests.Response:
    return post_v1(session, emu, token, {"message": message})


def post_legacy(
    session: requests.Session,
    emu: FCMEmulator,
    body: Any,
    *,
    key: str | None = _UNSET,
) -> requests.Response:
    api_key = emu.api_key if key is _UNSET else key
    headers = {"Content-Type": "application/json"}
    if api_key is not None:
        headers["Authorization"] = f"key={api_key}"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return session.post(emu.legacy_url, data=data, headers=headers, timeout=TIMEOUT)


def post_legacy_form(
    session: requests.Session, emu: FCMEmulator, fields: dict[str, str]
) -> requests.Response:
    headers = {
        "Authorization": f"key={emu.api_key}",
        "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
    }
    return session.post(emu.legacy_url, data=fields, headers=headers, timeout=TIMEOUT)


def topics_url(
    emu: FCMEmulator, registration: str, topic: str | None = None, *, project_id: str = "demo"
) -> str:
    """The topicSubscriptions collection (or one subscription) URL, segments percent-encoded."""
    base = f"{emu.url}/v1/projects/{project_id}/registrations/{quote(registration, safe='')}"
    base += "/topicSubscriptions"
    return base if topic is None else f"{base}/{quote(topic, safe='')}"


def topic_request(
    session: requests.Session,
    access_token: str | None,
    method: str,
    url: str,
    *,
    params: dict[str, str] | None = None,
    body: bytes | None = None,
) -> requests.Response:
    """One request to the topic subscription API (``POST`` gets the body ``{}`` by default)."""
    headers = {} if access_token is None else {"Authorization": f"Bearer {access_token}"}
    if body is None and method in ("POST", "PATCH"):
        body = b"{}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    return session.request(method, url, params=params, data=body, headers=headers, timeout=TIMEOUT)


def subscribe_http(
    session: requests.Session,
    emu: FCMEmulator,
    access_token: str,
    registration: str,
    topic: str,
    project_id: str = "demo",
) -> requests.Response:
    """Create a subscription through the REST API."""
    url = topics_url(emu, registration, project_id=project_id)
    return topic_request(session, access_token, "POST", url, params={"topicName": topic})


def detail(body: dict[str, Any], type_name: str) -> dict[str, Any] | None:
    for item in body["error"].get("details", []):
        if item.get("@type") == type_name:
            return dict(item)
    return None


def fcm_error_code(response: requests.Response) -> str | None:
    found = detail(response.json(), FCM_ERROR)
    return None if found is None else str(found["errorCode"])


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1 and its key; return their paths."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fcm-emulator-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
