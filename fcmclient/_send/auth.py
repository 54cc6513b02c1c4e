"""How HTTP v1 gets its OAuth2 access tokens: the key file, and one grant per kind of credentials.

For a service account, the JWT-bearer grant is done here, in one request through the
client's own session and timeout: google-auth signs the assertion, but its token client
would retry transient failures on its own (with sleeps), which this library never does.
Other google-auth credentials are refreshed through google-auth itself, with our timeout;
a transient failure (a network error, a 5xx, 408 or 429, an OAuth2 ``server_error`` or
``temporarily_unavailable``) ends that refresh at once, before google-auth could sleep and
try again.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from .._http.bounded import run_within
from .._http.session import post, total_seconds
from .._protocol.oauth import DEFAULT_LIFETIME, is_outage, outage_error, read_token_response, token_document
from .._protocol.v1 import SCOPE
from ..errors import FCMAuthenticationError

__all__ = [
    "GOOGLE_TOKEN_URI",
    "Grant",
    "ServiceAccountGrant",
    "CredentialsRefresh",
    "grant_for",
    "service_account",
]

#: Google's token endpoint, and the audience every service-account assertion names.
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL

_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_ASSERTION_LIFETIME = 3600

log = logging.getLogger("fcmclient")

#: A grant fetches a token through the session it is given (the current process's).
Grant = Callable[[requests.Session], tuple[str, float]]


@dataclass
class _Http:
    timeout: Any
    options: Mapping[str, Any]


def _check_rs256(credentials: Any) -> None:
    """google-auth loads EC, DSA and Ed25519 keys too, and only fails when the first assertion
    is signed: check at once that the key signs RS256.

    :raises ValueError: it does not.
    """
    try:
        credentials.signer.sign(b"fcm-client: can this key sign RS256?")
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(
            f"the service account's private_key cannot sign RS256 ({type(exc).__name__}); "
            "FCM needs the RSA key of a Google service-account key file"
        ) from None


class ServiceAccountGrant:
    """The OAuth2 JWT-bearer grant for a service account, in exactly one request (a :data:`Grant`).

    :param credentials: ``google.oauth2.service_account.Credentials`` (signs the assertion).
    :param token_uri: where to post the grant (the key file's ``token_uri``).
    :param http: the client's timeout and requests options.
    :raises ValueError: the private key cannot sign RS256.
    """

    def __init__(self, credentials: Any, token_uri: str, http: _Http) -> None:
        _check_rs256(credentials)
        self._credentials = credentials
        self._token_uri = token_uri
        self._http = http

    def __repr__(self) -> str:
        email = self._credentials.service_account_email
        return f"<ServiceAccountGrant {email} via {self._token_uri}>"

    def _assertion(self) -> bytes:
        from google.auth import jwt

        now = int(time.time())
        claims = {
            "iss": self._credentials.service_account_email,
            "scope": SCOPE,
            "aud": GOOGLE_TOKEN_URI,
            "iat": now,
            "exp": now + _ASSERTION_LIFETIME,
        }
        encoded: bytes = jwt.encode(self._credentials.signer, claims)  # type: ignore[no-untyped-call]
        return encoded

    def __call__(self, session: requests.Session) -> tuple[str, float]:
        """Fetch a token through ``session``; see :func:`read_token_response` for what can be raised."""
        reply = post(
            session,
            self._token_uri,
            {"grant_type": _JWT_GRANT, "assertion": self._assertion()},
            {},
            self._http.timeout,
            self._http.options,
        )
        return read_token_response(reply.status, reply.body)


class CredentialsRefresh:
    """Refresh any other google-auth credentials through google-auth, with our timeout and
    requests options (a :data:`Grant`).

    Credentials that need scopes and were given none (``google.auth.default()`` with
    workload identity federation, for instance) get the FCM scope; credentials that were
    already scoped keep theirs.
    """

    def __init__(self, credentials: Any, http: _Http) -> None:
        from google.auth.credentials import with_scopes_if_required

        self._credentials = with_scopes_if_required(credentials, [SCOPE])  # type: ignore[no-untyped-call]
        self._http = http

    def __call__(self, session: requests.Session) -> tuple[str, float]:
        """Refresh the credentials through ``session`` and return ``(token, lifetime)``."""
        from google.auth import exceptions
        from google.auth.transport.requests import Request

        timeout, options = self._http.timeout, self._http.options

        class _TimedRequest(Request):
            """google-auth's requests transport with our timeout and options, where a
            transient failure raises at once: google-auth would sleep and try again."""

            def __call__(self, *args: Any, **kwargs: Any) -> Any:
                kwargs["timeout"] = timeout
                kwargs.update(options)  # proxies, verify, cert: as for every other request
                try:
                    response = super().__call__(*args, **kwargs)  # type: ignore[no-untyped-call]
                except exceptions.TransportError as exc:
                    if isinstance(exc.__cause__, requests.RequestException):
                        raise exc.__cause__ from None  # not retried as a TransportError is
                    raise
                if response.status >= 400 and is_outage(response.status, token_document(response.data)):
                    raise outage_error(response.status, response.data)
                return response

        try:
            run_within(lambda: self._credentials.refresh(_TimedRequest(session)), total_seconds(timeout))
        except exceptions.RefreshError as exc:
            raise FCMAuthenticationError(f"the credentials could not be refreshed: {exc}") from None
        except exceptions.TransportError as exc:
            raise requests.ConnectionError(f"could not reach the token endpoint: {exc}") from None
        token = self._credentials.token
        if not isinstance(token, str) or not token:
            raise FCMAuthenticationError("the credentials gave no access token")
        expiry = self._credentials.expiry
        lifetime = DEFAULT_LIFETIME
        if isinstance(expiry, datetime.datetime):
            utcnow = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
            lifetime = max((expiry.replace(tzinfo=None) - utcnow).total_seconds(), 1.0)
        return token, lifetime


#: The token endpoint of each key file's credentials made by :func:`service_account`
#: (google-auth keeps it only privately).
_TOKEN_URIS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def grant_for(credentials: Any, timeout: Any, options: Mapping[str, Any]) -> Grant:
    """The right way to get tokens for ``credentials``, through whichever session it is given.

    Credentials from a key file (:func:`service_account`) get the JWT-bearer grant in one
    request; any others refresh through google-auth. The credentials are checked once, here;
    each process binds the grant to its own session.

    :raises ValueError: service-account credentials whose key cannot sign RS256.
    """
    http = _Http(timeout, options)
    token_uri = _TOKEN_URIS.get(credentials)
    if token_uri is not None:
        return ServiceAccountGrant(credentials, token_uri, http)
    from google.oauth2 import service_account as google

    if isinstance(credentials, google.Credentials):  # made by the caller: google-auth knows its endpoint
        _check_rs256(credentials)
    return CredentialsRefresh(credentials, http)


_KEY_FIELDS = ("client_email", "private_key", "token_uri")


def _key_file(path_or_info: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The parsed key file, and how to name it in errors."""
    if isinstance(path_or_info, Mapping):
        return dict(path_or_info), "the service-account info"
    where = f"service-account file {os.fspath(path_or_info)!r}"
    with open(path_or_info, encoding="utf-8") as handle:
        try:
            info = json.load(handle)
        except ValueError:
            raise ValueError(f"{where} is not valid JSON") from None
    if not isinstance(info, dict):
        raise ValueError(f"{where} does not hold a JSON object")
    return info, where


def service_account(
    path_or_info: str | os.PathLike[str] | Mapping[str, Any], project_id: str | None = None
) -> tuple[Any, str]:
    """google-auth credentials and the project of a service-account key file; :func:`grant_for`
    knows its token endpoint.

    :param path_or_info: the file's path, or its parsed contents.
    :param project_id: overrides the file's ``project_id``.
    :raises ValueError: the file is not JSON, not a service account, lacks a field, or holds a
        private key that is not a usable PEM RSA key (the message never shows the key).
    :raises OSError: the file cannot be read.
    """
    info, where = _key_file(path_or_info)
    if info.get("type") != "service_account":
        raise ValueError(f"{where} is not a service-account key (type is {info.get('type')!r})")
    missing = [name for name in _KEY_FIELDS if not isinstance(info.get(name), str) or not info[name]]
    project = project_id or info.get("project_id")
    if not project:
        missing.append("project_id")
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    from google.oauth2 import service_account as google

    try:
        credentials = google.Credentials.from_service_account_info(info, scopes=[SCOPE])  # type: ignore[no-untyped-call]
    except (ValueError, TypeError, IndexError):
        raise ValueError(f"{where} has a private_key that is not a usable PEM RSA key") from None
    _TOKEN_URIS[credentials] = info["token_uri"]
    return credentials, str(project)
