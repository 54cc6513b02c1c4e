"""OAuth2 access tokens for HTTP v1: fetched once, cached, refreshed before expiry.

For a service account, the JWT-bearer grant is done here, in one request through the
client's own session and timeout: google-auth signs the assertion, but its token client
would retry transient failures on its own (with sleeps), which this library never does.
Other google-auth credentials are refreshed through google-auth itself, with our timeout;
a transient failure (a network error, a 5xx, 408 or 429, an OAuth2 ``server_error`` or
``temporarily_unavailable``) ends that refresh at once, before google-auth could sleep and
try again.
"""

from __future__ import annotations

import copy
import datetime
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from .._http.deadline import deadline
from .._http.session import DEFAULT_TIMEOUT, post, total_seconds
from .._protocol.encoding import check_credential, loads, snippet
from .._protocol.v1 import SCOPE
from ..errors import FCMAuthenticationError

__all__ = [
    "GOOGLE_TOKEN_URI",
    "REFRESH_MARGIN",
    "AccessToken",
    "Grant",
    "TokenSource",
    "ServiceAccountGrant",
    "CredentialsRefresh",
    "grant_for",
]

#: Google's token endpoint, and the audience every service-account assertion names.
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL

#: A token is refreshed this many seconds before it expires (or at half its life if shorter).
REFRESH_MARGIN = 300.0

_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: OAuth2 ``error`` codes of an endpoint that is failing, not refusing (RFC 6749 4.1.2.1;
#: the last is Google's); google-auth retries them.
_OUTAGE_ERRORS = frozenset({"server_error", "temporarily_unavailable", "internal_failure"})
_ASSERTION_LIFETIME = 3600
_DEFAULT_LIFETIME = 3600.0

log = logging.getLogger("fcmclient")

#: A fetcher returns (access token, lifetime in seconds).
Fetcher = Callable[[], tuple[str, float]]

#: A grant fetches a token through the session it is given (the current process's).
Grant = Callable[[requests.Session], tuple[str, float]]


@dataclass(frozen=True)
class AccessToken:
    """A cached access token. Its value never appears in ``repr``."""

    value: str = field(repr=False)
    fetched_at: float
    refresh_at: float


class TokenSource:
    """Hands out a valid access token, fetching a new one only when needed.

    Thread-safe: when many threads need a new token at once, one fetches and the others
    wait for it and share its outcome, the token or the exception. A failed fetch is not
    repeated by each waiting thread in turn (which would make a hanging token endpoint
    cost one timeout per thread); the next call that arrives afterwards tries again. No
    thread waits for another's fetch longer than ``wait`` seconds (the most one fetch takes).

    :param fetch: gets a new token; returns ``(token, lifetime_seconds)``.
    :param clock: a monotonic clock (injectable for tests).
    :param wait: seconds a thread waits for another thread's fetch before giving up with
        :class:`requests.Timeout` (default: the default request bound, 20 s).
    :param token: a token to start with (a forked child keeps its parent's).
    """

    def __init__(
        self,
        fetch: Fetcher,
        clock: Callable[[], float] = time.monotonic,
        *,
        wait: float = total_seconds(DEFAULT_TIMEOUT),
        token: AccessToken | None = None,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._wait = wait
        self._lock = threading.Lock()
        self._token = token
        self._attempts = 0
        self._failure: Exception | None = None
        #: How many tokens were fetched (for tests and monitoring).
        self.fetches = 0

    def _fresh(self, token: AccessToken | None) -> bool:
        return token is not None and self._clock() < token.refresh_at

    @property
    def cached(self) -> AccessToken | None:
        """The token held now, fresh or not (read without the lock)."""
        return self._token

    def _acquire(self) -> None:
        if not self._lock.acquire(timeout=self._wait):
            raise requests.Timeout(f"another thread's access-token fetch took over {self._wait:g} s")

    def get(self) -> AccessToken:
        """A token valid for a while yet.

        :raises FCMAuthenticationError: the fetched token cannot be sent in a header (the
            message never shows it), or the fetcher's own rejections.
        """
        token = self._token
        if self._fresh(token):
            assert token is not None
            return token
        attempts = self._attempts
        self._acquire()
        try:
            token = self._token
            if self._fresh(token):
                assert token is not None
                return token
            failure = self._failure
            if failure is not None and self._attempts != attempts:
                raise _copy(failure) from failure  # the fetch this call waited for failed
            self._failure = None
            log.debug("fetching an access token")
            try:
                value, lifetime = self._fetch()
                try:
                    check_credential(value, "the access token")
                except (TypeError, ValueError) as exc:
                    raise FCMAuthenticationError(
                        f"the token endpoint gave an unusable access token: {exc}"
                    ) from None
            except Exception as exc:  # shared with the waiting threads (not KeyboardInterrupt)
                self._failure = exc
                raise
            finally:
                self._attempts += 1
            now = self._clock()
            self.fetches += 1
            refresh_at = now + max(lifetime - REFRESH_MARGIN, lifetime / 2)
            token = AccessToken(value, now, refresh_at)
            self._token = token
            log.debug("access token %d fetched, valid for %.0f s", self.fetches, lifetime)
            return token
        finally:
            self._lock.release()

    def invalidate(self, token: AccessToken) -> None:
        """Forget ``token`` (FCM said it expired), unless a newer one already replaced it."""
        if not self._lock.acquire(timeout=self._wait):
            return  # another thread's fetch, still under way, will replace it
        try:
            if self._token is token:
                self._token = None
        finally:
            self._lock.release()


def _copy(exc: BaseException) -> BaseException:
    """A copy of ``exc`` to raise in another thread (one instance must not collect every
    thread's traceback); the original when it cannot be copied."""
    try:
        return copy.copy(exc)
    except Exception:  # an exception whose constructor cannot be replayed
        return exc


@dataclass
class _Http:
    timeout: Any
    options: Mapping[str, Any]


class ServiceAccountGrant:
    """The OAuth2 JWT-bearer grant for a service account, in exactly one request (a :data:`Grant`).

    :param credentials: ``google.oauth2.service_account.Credentials`` (signs the assertion).
    :param token_uri: where to post the grant (the key file's ``token_uri``).
    :param http: the client's timeout and requests options.
    :raises ValueError: the private key cannot sign RS256 (google-auth loads EC, DSA and
        Ed25519 keys too, and only fails when the first assertion is signed).
    """

    def __init__(self, credentials: Any, token_uri: str, http: _Http) -> None:
        try:
            credentials.signer.sign(b"fcm-client: can this key sign RS256?")
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValueError(
                f"the service account's private_key cannot sign RS256 ({type(exc).__name__}); "
                "FCM needs the RSA key of a Google service-account key file"
            ) from None
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


def _document(body: bytes) -> dict[str, Any]:
    try:
        document = loads(body)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _outage(status: int, document: Mapping[str, Any]) -> bool:
    """Whether a token endpoint's error answer means it is failing (try later), not refusing."""
    if not 400 <= status <= 499 or status in (408, 429):
        return True
    codes = (document.get("error"), document.get("error_description"))
    return any(isinstance(code, str) and code in _OUTAGE_ERRORS for code in codes)


def _outage_error(status: int, body: bytes) -> requests.HTTPError:
    return requests.HTTPError(f"the token endpoint answered HTTP {status}: {snippet(body)}")


def read_token_response(status: int, body: bytes) -> tuple[str, float]:
    """Read a token endpoint's answer.

    :returns: ``(access token, lifetime in seconds)``.
    :raises FCMAuthenticationError: the endpoint rejected the grant (4xx), with Google's
        ``error`` and ``error_description``; or a 200 without a usable token.
    :raises requests.HTTPError: the endpoint failed (5xx, 408, 429, an OAuth2
        ``server_error`` or ``temporarily_unavailable``, or another status): a transient
        problem, like a network error.
    """
    document = _document(body)
    if status == 200:
        token = document.get("access_token")
        lifetime = document.get("expires_in", _DEFAULT_LIFETIME)
        if not isinstance(token, str) or not token:
            raise FCMAuthenticationError("the token endpoint answered 200 without an access_token")
        if (
            isinstance(lifetime, bool)
            or not isinstance(lifetime, (int, float))
            or not 0 < lifetime < math.inf
        ):
            lifetime = _DEFAULT_LIFETIME  # NaN, too: a NaN expiry would refetch on every send
        return token, float(min(lifetime, 86400.0))
    if not _outage(status, document):
        error = document.get("error")
        code = error if isinstance(error, str) else f"HTTP_{status}"
        description = document.get("error_description")
        reason = description if isinstance(description, str) else snippet(body)
        raise FCMAuthenticationError(
            f"the token endpoint rejected the service account (HTTP {status} {code}): {reason}",
            status=status,
            code=code,
        )
    raise _outage_error(status, body)


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
                if response.status >= 400 and _outage(response.status, _document(response.data)):
                    raise _outage_error(response.status, response.data)
                return response

        try:
            with deadline(total_seconds(timeout)):
                self._credentials.refresh(_TimedRequest(session))
        except exceptions.RefreshError as exc:
            raise FCMAuthenticationError(f"the credentials could not be refreshed: {exc}") from None
        except exceptions.TransportError as exc:
            raise requests.ConnectionError(f"could not reach the token endpoint: {exc}") from None
        token = self._credentials.token
        if not isinstance(token, str) or not token:
            raise FCMAuthenticationError("the credentials gave no access token")
        expiry = self._credentials.expiry
        lifetime = _DEFAULT_LIFETIME
        if isinstance(expiry, datetime.datetime):
            utcnow = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
            lifetime = max((expiry.replace(tzinfo=None) - utcnow).total_seconds(), 1.0)
        return token, lifetime


def grant_for(credentials: Any, timeout: Any, options: Mapping[str, Any]) -> Grant:
    """The right way to get tokens for ``credentials``, through whichever session it is given.

    The credentials are checked once, here; each process binds the grant to its own session.
    """
    http = _Http(timeout, options)
    from google.oauth2 import service_account

    if isinstance(credentials, service_account.Credentials):
        # google-auth keeps the key file's token_uri only in this attribute.
        token_uri = getattr(credentials, "_token_uri", None) or GOOGLE_TOKEN_URI
        return ServiceAccountGrant(credentials, token_uri, http)
    return CredentialsRefresh(credentials, http)
