"""Service accounts, JWT-bearer assertion checks and access tokens for the token endpoint."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
except ImportError as exc:  # google-auth installs it only in its recent releases
    raise ImportError(
        "fcm-client's emulator needs the cryptography package: pip install 'fcm-client[emulator]'",
        name="cryptography",
    ) from exc

__all__ = [
    "GOOGLE_AUDIENCE",
    "JWT_BEARER",
    "SCOPES",
    "AuthRegistry",
    "OAuthRejectedError",
    "ServiceAccount",
    "verify_assertion",
]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"
#: Either scope lets an access token send messages.
SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/firebase.messaging",
        "https://www.googleapis.com/auth/cloud-platform",
    }
)
_MAX_LIFETIME = 3600
_CLOCK_SKEW = 60
_BAD_SIGNATURE = "Invalid JWT Signature."
_BAD_TIMES = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
    "timeframe. Check your iat and exp values in the JWT claim."
)


class OAuthRejectedError(Exception):
    """The token endpoint refuses the request with an OAuth2 error body."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class ServiceAccount:
    """A service account this emulator issued; only its public key is kept.

    Example::

        account = ServiceAccount("demo", "sa@demo.iam.gserviceaccount.com", "ab12", key)

    :param project_id: the project its tokens may send for.
    :param client_email: the account's e-mail (the JWT ``iss``).
    :param private_key_id: the key id (the JWT ``kid``).
    :param public_key: the RSA public key that verifies its assertions.
    """

    project_id: str
    client_email: str
    private_key_id: str
    public_key: rsa.RSAPublicKey = field(repr=False)


def _b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise OAuthRejectedError("invalid_grant", "Invalid JWT: not base64url.") from exc


def _json_part(text: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64url_decode(text))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OAuthRejectedError("invalid_grant", "Invalid JWT: a part is not JSON.") from exc
    if not isinstance(value, dict):
        raise OAuthRejectedError("invalid_grant", "Invalid JWT: a part is not a JSON object.")
    return value


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OAuthRejectedError("invalid_grant", _BAD_TIMES)
    return float(value)


def verify_assertion(
    assertion: str,
    *,
    by_kid: Mapping[str, ServiceAccount],
    by_email: Mapping[str, ServiceAccount],
    audiences: frozenset[str],
    now: float,
) -> ServiceAccount:
    """Check a JWT-bearer assertion the way Google's token endpoint does.

    :param assertion: the compact JWT.
    :param by_kid: issued accounts by ``private_key_id``.
    :param by_email: issued accounts by ``client_email``.
    :param audiences: the accepted ``aud`` values.
    :param now: the current UNIX time.
    :returns: the account that signed it.
    :raises OAuthRejectedError: with Google's error and description.
    """
    parts = assertion.split(".")
    if len(parts) != 3:
        raise OAuthRejectedError("invalid_grant", "Invalid JWT: expected three dot-separated parts.")
    header, claims = _json_part(parts[0]), _json_part(parts[1])
    signature = _b64url_decode(parts[2])
    if header.get("alg") != "RS256":
        raise OAuthRejectedError("invalid_grant", _BAD_SIGNATURE)
    issuer, kid = claims.get("iss"), header.get("kid")
    by_issuer = by_email.get(issuer) if isinstance(issuer, str) else None
    by_key = by_kid.get(kid) if isinstance(kid, str) else None
    account = by_issuer or by_key
    if account is None:
        raise OAuthRejectedError("invalid_grant", "Invalid grant: account not found")
    if kid is not None and by_key is not account:
        raise OAuthRejectedError("invalid_grant", _BAD_SIGNATURE)
    if issuer is not None and by_issuer is not account:
        raise OAuthRejectedError("invalid_grant", _BAD_SIGNATURE)
    signed = f"{parts[0]}.{parts[1]}".encode("ascii", "replace")
    try:
        account.public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise OAuthRejectedError("invalid_grant", _BAD_SIGNATURE) from exc
    issued, expires = _number(claims, "iat"), _number(claims, "exp")
    if expires <= now or expires - issued > _MAX_LIFETIME or issued > now + _CLOCK_SKEW:
        raise OAuthRejectedError("invalid_grant", _BAD_TIMES)
    if expires <= issued:
        raise OAuthRejectedError("invalid_grant", _BAD_TIMES)
    if claims.get("aud") not in audiences:
        raise OAuthRejectedError("invalid_grant", "Invalid JWT: Failed audience check.")
    scope = claims.get("scope")
    if not isinstance(scope, str) or not scope.split():
        raise OAuthRejectedError("invalid_scope", "Empty or missing scope not allowed.")
    if not SCOPES.intersection(scope.split()):
        raise OAuthRejectedError(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided: FCM needs " + " or ".join(sorted(SCOPES)),
        )
    return account


@dataclass
class _AccessToken:
    project_id: str
    expires_at: float


TokenCheck = Literal["ok", "missing", "unknown", "expired", "wrong_project"]


class AuthRegistry:
    """Issued service accounts and access tokens (thread-safe).

    Example::

        registry = AuthRegistry()
        info = registry.new_service_account("demo", token_uri="http://127.0.0.1:1/token")
        assert registry.check("Bearer nope", "demo") == "unknown"

    :param clock: monotonic clock deciding access-token expiry.
    :param wall_clock: UNIX clock for JWT ``iat``/``exp`` checks.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._wall_clock = wall_clock
        self._by_kid: dict[str, ServiceAccount] = {}
        self._by_email: dict[str, ServiceAccount] = {}
        self._tokens: dict[str, _AccessToken] = {}

    def new_service_account(self, project_id: str, *, token_uri: str) -> dict[str, str]:
        """Make a fresh RSA key and return a key file dict like Google's for it.

        :param project_id: the project the account belongs to.
        :param token_uri: the ``token_uri`` to put in the file.
        """
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        key_id = secrets.token_hex(20)
        with self._lock:
            count = sum(1 for a in self._by_kid.values() if a.project_id == project_id)
            name = "fcm-emulator" if count == 0 else f"fcm-emulator-{count + 1}"
            email = f"{name}@{project_id}.iam.gserviceaccount.com"
            while email in self._by_email:
                email = f"fcm-emulator-{secrets.token_hex(3)}@{project_id}.iam.gserviceaccount.com"
            account = ServiceAccount(project_id, email, key_id, key.public_key())
            self._by_kid[key_id] = account
            self._by_email[email] = account
        return {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": str(secrets.randbelow(9 * 10**20) + 10**20),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": (
                "https://www.googleapis.com/robot/v1/metadata/x509/" + quote(email, safe="")
            ),
            "universe_domain": "googleapis.com",
        }

    def verify(self, assertion: str, audiences: frozenset[str]) -> ServiceAccount:
        """Verify an assertion against the issued accounts (see :func:`verify_assertion`)."""
        with self._lock:
            by_kid, by_email = dict(self._by_kid), dict(self._by_email)
        return verify_assertion(
            assertion,
            by_kid=by_kid,
            by_email=by_email,
            audiences=audiences,
            now=self._wall_clock(),
        )

    def issue(self, project_id: str, lifetime: float) -> str:
        """Issue an opaque access token for ``project_id`` valid for ``lifetime`` seconds."""
        token = "emu." + secrets.token_hex(20)
        with self._lock:
            self._tokens[token] = _AccessToken(project_id, self._clock() + lifetime)
        return token

    def check(self, authorization: str | None, project_id: str) -> TokenCheck:
        """Classify an ``Authorization`` header for a send to ``project_id``."""
        if not authorization:
            return "missing"
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "unknown"
        with self._lock:
            entry = self._tokens.get(token.strip())
            if entry is None:
                return "unknown"
            if self._clock() >= entry.expires_at:
                return "expired"
        return "ok" if entry.project_id == project_id else "wrong_project"

    def expire_all(self) -> None:
        """Make every token issued so far expired."""
        with self._lock:
            for entry in self._tokens.values():
                entry.expires_at = float("-inf")
