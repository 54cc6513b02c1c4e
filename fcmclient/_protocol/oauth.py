"""The OAuth2 token endpoint's answers, read as pure functions: a token, a refusal or an outage."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import requests

from ..errors import FCMAuthenticationError
from .encoding import loads, snippet

__all__ = ["DEFAULT_LIFETIME", "is_outage", "outage_error", "read_token_response", "token_document"]

#: Seconds a token is taken to live when the endpoint does not say.
DEFAULT_LIFETIME = 3600.0

#: OAuth2 ``error`` codes of an endpoint that is failing, not refusing (RFC 6749 4.1.2.1;
#: the last is Google's); google-auth retries them.
_OUTAGE_ERRORS = frozenset({"server_error", "temporarily_unavailable", "internal_failure"})


def token_document(body: bytes) -> dict[str, Any]:
    try:
        document = loads(body)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def is_outage(status: int, document: Mapping[str, Any]) -> bool:
    """Whether a token endpoint's error answer means it is failing (try later), not refusing."""
    if not 400 <= status <= 499 or status in (408, 429):
        return True
    codes = (document.get("error"), document.get("error_description"))
    return any(isinstance(code, str) and code in _OUTAGE_ERRORS for code in codes)


def outage_error(status: int, body: bytes) -> requests.HTTPError:
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
    document = token_document(body)
    if status == 200:
        token = document.get("access_token")
        lifetime = document.get("expires_in", DEFAULT_LIFETIME)
        if not isinstance(token, str) or not token:
            raise FCMAuthenticationError("the token endpoint answered 200 without an access_token")
        if (
            isinstance(lifetime, bool)
            or not isinstance(lifetime, (int, float))
            or not 0 < lifetime < math.inf
        ):
            lifetime = DEFAULT_LIFETIME  # NaN, too: a NaN expiry would refetch on every send
        return token, float(min(lifetime, 86400.0))
    if not is_outage(status, document):
        error = document.get("error")
        code = error if isinstance(error, str) else f"HTTP_{status}"
        description = document.get("error_description")
        reason = description if isinstance(description, str) else snippet(body)
        raise FCMAuthenticationError(
            f"the token endpoint rejected the service account (HTTP {status} {code}): {reason}",
            status=status,
            code=code,
        )
    raise outage_error(status, body)
