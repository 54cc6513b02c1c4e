"""requests' path: one pooled session, timeouts and a total deadline per request
(:mod:`fcmclient._http.bounded`), capped reads."""

from __future__ import annotations

import functools
import http.client
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.cookies import RequestsCookieJar

from .._checks import seconds
from .._version import __version__
from .adapter import Adapter, shut_down
from .bounded import run_within

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_RESPONSE_BYTES",
    "MAX_TIMEOUT",
    "NoCookies",
    "REQUEST_OPTIONS",
    "Reply",
    "Timeout",
    "make_session",
    "normalize_timeout",
    "total_seconds",
    "post",
    "read_capped",
    "split_options",
]

log = logging.getLogger("fcmclient")

#: Seconds allowed to connect, and for each read of the answer, when no ``timeout`` is given
#: (a whole request is allowed their sum, see :func:`total_seconds`).
DEFAULT_TIMEOUT = 10.0

#: Bytes of an answer read at most; the rest is cut off (the decoders then report it).
MAX_RESPONSE_BYTES = 4 * 1024 * 1024

#: The largest ``timeout`` accepted, in seconds (one hour): a bounded request is the point of a
#: timeout, and the socket layer cannot represent an infinite or astronomically large one.
MAX_TIMEOUT = 3600.0

#: The requests options ``FCM(**options)`` accepts.
REQUEST_OPTIONS = frozenset({"timeout", "proxies", "verify", "cert"})

Timeout = float | tuple[float, float]

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Reply:
    """An HTTP answer, read and closed: status, headers and (capped) body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


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
            seconds(value[0], "the connect timeout", maximum=MAX_TIMEOUT),
            seconds(value[1], "the read timeout", maximum=MAX_TIMEOUT),
        )
    return seconds(value, "timeout", maximum=MAX_TIMEOUT)


def total_seconds(timeout: Timeout) -> float:
    """The most one request may take in all: the connect timeout plus the read timeout.

    requests bounds connecting and each socket read; this bounds the whole request,
    connecting, sending and reading the status, headers and body, however slowly the
    server trickles its answer.

    >>> total_seconds(10.0), total_seconds((3.05, 27))
    (20.0, 30.05)
    """
    if isinstance(timeout, tuple):
        return float(timeout[0] + timeout[1])
    return 2 * float(timeout)


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


class NoCookies(RequestsCookieJar):
    """A session's cookie jar that keeps none, and so takes no lock for each request.

    FCM's APIs need no cookie. ``http.cookiejar`` takes its lock outside the ``try`` that
    releases it: an interruption landing there (a Celery soft time limit, in the calling
    thread that sends its share on requests' path) would leave every jar-sharing thread
    waiting for ever (docs/guarantees.rst). Cookies set on it are dropped.
    """

    def extract_cookies(self, response: Any, request: Any) -> None:
        """Keep nothing of an answer's ``Set-Cookie``."""

    def add_cookie_header(self, request: Any) -> None:
        """Add no ``Cookie`` header."""

    def set_cookie(self, cookie: Any, *args: Any, **kwargs: Any) -> None:
        """Keep no cookie."""


def make_session(pool_size: int) -> requests.Session:
    """A session whose pool keeps up to ``pool_size`` connections per host, never retrying,
    and no cookie (:class:`NoCookies`)."""
    session = requests.Session()
    session.cookies = NoCookies()
    adapter = Adapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = f"fcm-client/{__version__}"
    return session


def post(
    session: requests.Session,
    url: str,
    body: bytes | Mapping[str, Any],
    headers: Mapping[str, str | None],
    timeout: Timeout,
    options: Mapping[str, Any],
    *,
    method: str = "POST",
    total: float | None = None,
) -> Reply:
    """POST (or send ``method``) once, never following redirects, and read at most
    :data:`MAX_RESPONSE_BYTES`.

    The whole exchange takes at most ``total`` seconds (by default :func:`total_seconds` of
    ``timeout``), a server that trickles bytes is cut off (:func:`~.bounded.run_within`).
    Once the status line and headers have arrived, the status is the answer: a body that
    cannot be read in full (cut off by the deadline or the size cap, truncated, or with an
    undecodable ``Content-Encoding``) is returned as far as it was read, for the protocol
    decoder to judge.

    :raises requests.Timeout: no status line and headers within the deadline.
    :raises requests.RequestException: any other network problem before the headers
        (connect, reset, TLS).
    """
    # Session.post for a POST: a double that replaced only that method still sees it.
    send = session.post if method == "POST" else functools.partial(session.request, method)
    seconds = total_seconds(timeout) if total is None else total
    until = time.monotonic() + seconds
    exchange = _Exchange(url)

    def run() -> Reply:
        # Connecting never outlasts the deadline (a helper may start late: a fork pending, a
        # turn waited for); otherwise the timeout goes as given (a double may match on it).
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        left = until - time.monotonic()
        if left <= 0:
            raise requests.ConnectTimeout("no time left to send the request in")
        response = send(
            url,
            data=body,
            headers=headers,
            timeout=timeout if connect <= left else (left, read),
            allow_redirects=False,
            stream=True,
            **options,
        )
        exchange.response = response
        try:
            content, _ = read_capped(response.iter_content(_CHUNK), url, response.status_code, exchange.parts)
        finally:
            exchange.finish()
            response.close()
        return Reply(response.status_code, response.headers, content)

    return run_within(run, seconds, exchange.give_up)


class _Exchange:
    """What a request under way has received: its response (status and headers), and its
    body so far; and whether its helper is done reading."""

    __slots__ = ("_lock", "finished", "parts", "response", "url")

    def __init__(self, url: str) -> None:
        self.url = url
        self.response: requests.Response | None = None
        self.parts: list[bytes] = []
        self.finished = False
        self._lock = threading.Lock()

    def finish(self) -> None:
        """The helper is done reading: from now on its connection may go back to the pool,
        where :meth:`give_up` must not shut it down under another request."""
        locked = self._lock.acquire(timeout=1.0)  # held only for a shutdown() call
        self.finished = True
        if locked:
            self._lock.release()

    def give_up(self) -> Reply | None:
        """The caller stops waiting: the answer as far as it came (``None``: no status yet),
        its connection shut down, unless the helper is done with it, so that the abandoned
        request ends now."""
        response = self.response
        if response is None:
            return None
        content = b"".join(list(self.parts))[:MAX_RESPONSE_BYTES]
        log.warning(
            "answer from %s (HTTP %d) given up on after %d bytes",
            self.url,
            response.status_code,
            len(content),
        )
        with self._lock:
            if not self.finished:
                shut_down(response)
        return Reply(response.status_code, response.headers, content)


#: What reading a body can raise: requests' errors, and the socket, http.client and urllib3
#: errors underneath when a connection is driven directly.
_BODY_ERRORS = (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError)


def read_capped(
    chunks: Iterable[bytes], url: str, status: int, parts: list[bytes] | None = None
) -> tuple[bytes, bool]:
    """The body of an answer, at most :data:`MAX_RESPONSE_BYTES`, and whether it was read whole.

    A body that cannot be read to its end (cut off by the deadline, truncated, undecodable)
    is returned as far as it was read: once the status arrived it decides, and the protocol
    decoder judges the body.

    :param chunks: the body, in pieces.
    :param url: where it came from (for the log).
    :param status: its HTTP status (for the log).
    :param parts: where the pieces are gathered (for a reader in another thread).
    """
    parts = [] if parts is None else parts
    size = 0
    try:
        for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                log.warning("answer from %s cut at %d bytes", url, MAX_RESPONSE_BYTES)
                return b"".join(parts)[:MAX_RESPONSE_BYTES], False
    except _BODY_ERRORS as exc:
        log.warning(
            "answer from %s (HTTP %d) unreadable after %d bytes: %s", url, status, size, type(exc).__name__
        )
        return b"".join(parts), False
    return b"".join(parts), True
