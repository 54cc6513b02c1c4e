"""The access-token cache of HTTP v1: fetched once, shared by every thread, refreshed before expiry."""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from .._http.session import DEFAULT_TIMEOUT, total_seconds
from .._protocol.encoding import check_credential
from ..errors import FCMAuthenticationError

__all__ = ["REFRESH_MARGIN", "AccessToken", "Fetcher", "TokenSource"]

log = logging.getLogger("fcmclient")

#: A token is refreshed this many seconds before it expires (or at half its life if shorter).
REFRESH_MARGIN = 300.0

#: A fetcher returns (access token, lifetime in seconds).
Fetcher = Callable[[], tuple[str, float]]


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

    def fresh(self) -> AccessToken | None:
        """The cached token if :meth:`get` would return it at once, else ``None`` (never blocks)."""
        token = self._token
        return token if self._fresh(token) else None

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
        """Forget ``token`` (FCM said it expired), unless a newer one already replaced it.

        Never waits (the fan-out engine's loop calls it): while another thread holds the lock,
        it is fetching a token that replaces this one, or forgetting it already.
        """
        if not self._lock.acquire(blocking=False):
            return
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
