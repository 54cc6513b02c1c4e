"""The only code that touches the network: one pooled session, timeouts, capped reads."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from ._version import __version__

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_RESPONSE_BYTES",
    "MAX_TIMEOUT",
    "REQUEST_OPTIONS",
    "Reply",
    "Timeout",
    "make_session",
    "normalize_timeout",
    "post",
    "split_options",
]

log = logging.getLogger("fcmclient")

#: Seconds allowed to connect, and between bytes of the answer, when no ``timeout`` is given.
DEFAULT_TIMEOUT = 10.0

#: Bytes of an answer read at most; the rest is cut off (the decoders then report it).
MAX_RESPONSE_BYTES = 4 * 1024 * 1024

#: The largest ``timeout`` accepted, in seconds (one hour): a bounded request is the point of a
#: timeout, and the socket layer cannot represent an infinite or astronomically large one.
MAX_TIMEOUT = 3600.0

#: The requests options ``FCM(**options)`` accepts.
REQUEST_OPTIONS = frozenset({"timeout", "proxies", "verify", "cert"})

Timeout = float | tuple[float, float]


@dataclass(frozen=True)
class Reply:
    """An HTTP answer, read and closed: status, headers and (capped) body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def _positive(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{what} must be a positive number of seconds, got {value!r}")
    if not math.isfinite(value) or value > MAX_TIMEOUT:
        raise ValueError(f"{what} must be at most {MAX_TIMEOUT:g} seconds, got {value!r}")
    return float(value)


def normalize_timeout(value: object) -> Timeout:
    """Check a ``timeout`` option; ``None`` means :data:`DEFAULT_TIMEOUT`.

    An unbounded request is never possible: ``timeout=None`` does not switch timeouts
    off (as it would in requests) but selects the default, and every value must be a
    positive number of seconds no larger than :data:`MAX_TIMEOUT`.
    """
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError("timeout must be a number or a (connect, read) pair")
        return (
            _positive(value[0], "the connect timeout"),
            _positive(value[1], "the read timeout"),
        )
    return _positive(value, "timeout")


def split_options(options: Mapping[str, Any]) -> tuple[Timeout, dict[str, Any]]:
    """Separate ``timeout`` from the other requests options, rejecting unknown ones."""
    unknown = sorted(set(options) - REQUEST_OPTIONS)
    if unknown:
        raise TypeError(
            f"unknown FCM option(s) {', '.join(unknown)}; "
            f"requests options accepted: {', '.join(sorted(REQUEST_OPTIONS))}"
        )
    rest = {key: value for key, value in options.items() if key != "timeout"}
    return normalize_timeout(options.get("timeout")), rest


def make_session(pool_size: int) -> requests.Session:
    """A session whose pool keeps up to ``pool_size`` connections per host, never retrying."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = f"fcm-client/{__version__}"
    return session


def post(
    session: requests.Session,
    url: str,
    body: bytes | Mapping[str, Any],
    headers: Mapping[str, str],
    timeout: Timeout,
    options: Mapping[str, Any],
) -> Reply:
    """POST once, never following redirects, and read at most :data:`MAX_RESPONSE_BYTES`.

    :raises requests.RequestException: on any network problem (connect, timeout, reset,
        undecodable content encoding).
    """
    response = session.post(
        url,
        data=body,
        headers=headers,
        timeout=timeout,
        allow_redirects=False,
        stream=True,
        **options,
    )
    try:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(64 * 1024):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                log.warning("answer from %s cut at %d bytes", url, MAX_RESPONSE_BYTES)
                break
        content = b"".join(chunks)[:MAX_RESPONSE_BYTES]
    finally:
        response.close()
    return Reply(response.status_code, response.headers, content)
