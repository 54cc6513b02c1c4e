"""One call of an HTTP v1 operation, and the making of each of its requests.

A send, a ``send_each`` window and a topic operation are all calls: the access token is
fetched first (credential problems come before any request), then each request is an
:class:`~fcmclient._protocol.exchange.Exchange` made with the current bearer token through
one channel, its answer decoded; an access token FCM calls expired is dropped, so the next
request fetches another. :meth:`Call.plan` bounds the fan-out in time the same way for all.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import requests

from .._http.bounded import carried, carry
from .._http.channel import Channel
from .._http.engine.origin import Headers
from .._http.executor import Plan, execute
from .._http.route import engine_address
from .._http.session import Reply, Timeout, total_seconds
from .._protocol.exchange import Exchange
from ..errors import FCMAuthenticationError, FCMError
from ..outcomes import ACCESS_TOKEN_EXPIRED, Outcome
from .each import stopped
from .legacy import prefix
from .on_engine import EngineJob
from .resources import MAX_THREADS, Resources
from .tokens import AccessToken, TokenSource

__all__ = ["Call", "attach_result"]

log = logging.getLogger("fcmclient")

R = TypeVar("R")

# Answers are a few dozen bytes: compressing them costs more than it saves. HTTP/1.1 keeps
# connections alive without being asked, and "Accept: */*" says nothing: both left out.
_HEADERS: dict[str, str | None] = {
    "Content-Type": "application/json; charset=UTF-8",
    "Accept-Encoding": "identity",
    "Accept": None,
    "Connection": None,
}


def attach_result(exc: BaseException, result: object) -> None:
    """Hand the partial result of a stopped call to whoever catches ``exc``.

    fcm-client's own errors always carry it as ``result``; any other exception (a
    ``KeyboardInterrupt``, a Celery soft time limit) gets it too, unless it has a ``result`` of
    its own.
    """
    if isinstance(exc, FCMError) or not hasattr(exc, "result"):
        with contextlib.suppress(AttributeError, TypeError):  # a type that takes no attributes
            exc.result = result  # type: ignore[attr-defined]


class _Bearer:
    """The headers of one call, made again only when the access token changes."""

    __slots__ = ("_channel", "_current", "_tokens")

    def __init__(self, channel: Channel, tokens: TokenSource) -> None:
        self._channel = channel
        self._tokens = tokens
        self._current: tuple[AccessToken, dict[str, str], Headers] | None = None

    def get(self) -> tuple[AccessToken, dict[str, str]]:
        """A valid token and the full request headers carrying it (may fetch a token)."""
        current = self._headers(self._tokens.get())
        return current[0], current[1]

    def ready(self) -> tuple[AccessToken, Headers] | None:
        """A valid token and the headers as pairs, if a token is at hand (never blocks)."""
        token = self._tokens.fresh()
        if token is None:
            return None
        current = self._headers(token)
        return current[0], current[2]

    def _headers(self, token: AccessToken) -> tuple[AccessToken, dict[str, str], Headers]:
        current = self._current
        if current is None or current[0] is not token:
            headers = self._channel.headers({"Authorization": "Bearer " + token.value})
            current = (token, headers, tuple(headers.items()))
            self._current = current
        return current

    def expired(self, token: AccessToken) -> None:
        """FCM refused ``token`` as expired: the next :meth:`get` fetches another."""
        self._tokens.invalidate(token)


class Call:
    """One call to ``url`` (or below it): when it started, and what its requests share.

    :param here: this process's resources (the session, the token cache, the threads).
    :param url: the channel's URL: the send endpoint, or the registrations of its project.
    :param timeout: the requests' timeout.
    :param options: requests options (``proxies``, ``verify``, ``cert``).
    :raises requests.RequestException: the first access token could not be fetched.
    :raises FCMAuthenticationError: the credentials were rejected.
    """

    def __init__(self, here: Resources, url: str, timeout: Timeout, options: Mapping[str, Any]) -> None:
        tokens = here.tokens
        assert tokens is not None
        self.here = here
        self.started = time.monotonic()
        tokens.get()  # surface credential problems once, before any request
        self.timeout = timeout
        self.channel = Channel(here.session, url, _HEADERS, timeout, options)
        self.bearer = _Bearer(self.channel, tokens)
        #: Once set, the access token could not be fetched: the requests left are not made.
        self.token_failure: Outcome | None = None
        #: Where the engine sends, or None: requests' path (a test double, a proxy, gevent).
        self.address = engine_address(here.session, url, options)
        self.url = url

    def fan_out(
        self,
        count: int,
        exchange: Callable[[int], tuple[Exchange[Outcome], str, str]],
        workers: int,
        send_timeout: float,
        more: Iterator[int] | None = None,
    ) -> tuple[list[Outcome], BaseException | None]:
        """Make the ``count`` requests ``exchange(i)`` describes (with what each does and to
        whom, for the log), ``workers`` at a time, none started after ``send_timeout`` from the
        call's start: on the engine, or on requests' path from at most 64 threads.

        :param more: each ``next()`` makes more requests describable and gives their new
            count: the engine starts with the first ``count`` and takes the others as they
            come; requests' path reads it to its end first.
        :returns: each request's outcome, and what stopped the fan-out, if anything.
        """
        if self.address is not None:
            plan = self.plan(count, workers, send_timeout)
            return EngineJob(self, exchange).run(count, plan, more)
        count = max([count, *(more or ())])  # requests' path: every request known first
        plan = self.plan(count, workers, send_timeout)

        def one(position: int) -> Outcome:
            return self.outcome(*exchange(position))

        return execute(range(count), one, plan)

    def plan(self, count: int, workers: int, send_timeout: float) -> Plan:
        """How a fan-out of ``count`` requests runs: ``workers`` at a time (on requests' path at
        most :data:`~fcmclient._send.resources.MAX_THREADS`), none started after
        ``send_timeout`` from the call's start, no wait past the documented bound."""
        start_by = self.started + send_timeout
        # The documented bound: a request started just before send_timeout may need a token
        # refresh first. No wait for the helper threads outlasts it (a broken pool included).
        give_up = start_by + 2 * total_seconds(self.timeout)
        threads = self.address is None
        pool = self.here.worker_pool() if threads and count > 1 else None
        return Plan(
            workers=min(workers, MAX_THREADS) if threads else workers,
            pool=pool,
            start_by=start_by,
            give_up=give_up,
            on_error=stopped,
        )

    def outcome(self, exchange: Exchange[Outcome], what: str, target: str) -> Outcome:
        """Make ``exchange`` about ``target``; every problem is the target's outcome.

        A network failure is :data:`~fcmclient.outcomes.TRANSPORT_ERROR`; once the access
        token could not be fetched, this and every later target is ``NOT_SENT``.

        :param what: what the request does, for the log (``"send to"``, ``"subscribe"``).
        :raises FCMAuthenticationError: the credentials were rejected.
        """
        if self.token_failure is not None:  # no token to send with: report the rest as not sent
            return self.token_failure
        try:
            token, headers = self.bearer.get()
        except requests.RequestException as exc:  # a refresh failed mid-call
            return self.token_failed(exc)
        try:
            reply = self.channel.request(exchange.method, exchange.url, exchange.body, headers)
        except requests.RequestException as exc:
            log.debug("v1 %s %s failed in transport: %s", what, prefix(target), type(exc).__name__)
            return Outcome.transport_error(exc)
        except BaseException as interruption:  # the answer it waited for is the target's outcome
            self._carry_outcome(interruption, exchange, token, f"{what} {prefix(target)}")
            raise
        return self.read(exchange, reply, token, f"{what} {prefix(target)}")

    def _carry_outcome(
        self, interruption: BaseException, exchange: Exchange[Any], token: AccessToken, about: str
    ) -> None:
        reply = carried(interruption)
        if isinstance(reply, Reply):
            try:
                carry(interruption, self.read(exchange, reply, token, about))
            except Exception:  # (an expired token, say) the interruption goes on, the target interrupted
                carry(interruption, None)

    def token_failed(self, exc: requests.RequestException) -> Outcome:
        """A token refresh failed mid-call with ``exc``: the outcome of every request left
        (``NOT_SENT``), kept as :attr:`token_failure` (the first failure's, if several)."""
        if self.token_failure is None:
            log.warning("access token refresh failed in the middle of a send: %s", type(exc).__name__)
            cause = Outcome.transport_error(exc).detail
            self.token_failure = Outcome.not_sent(f"the access token could not be fetched ({cause})")
        return self.token_failure

    def answer(self, exchange: Exchange[R], what: str, target: str) -> R | Outcome:
        """Make ``exchange`` about ``target``, and decode its answer.

        :raises requests.RequestException: the access token could not be fetched, or the
            request failed in the network.
        :raises FCMAuthenticationError: the credentials were rejected.
        """
        token, headers = self.bearer.get()
        reply = self.channel.request(exchange.method, exchange.url, exchange.body, headers)
        return self.read(exchange, reply, token, f"{what} {prefix(target)}")

    def read(self, exchange: Exchange[R], reply: Reply, token: AccessToken, about: str) -> R | Outcome:
        """The decoded answer to ``exchange``, sent with ``token``; an expired token is dropped.

        :raises FCMAuthenticationError: FCM refused a token fetched during this call as expired.
        """
        decoded = exchange.decode(reply.status, reply.headers, reply.body, time.time())
        outcome = decoded if isinstance(decoded, Outcome) else None
        if log.isEnabledFor(logging.DEBUG):
            verdict = outcome.bucket.value if outcome is not None else "read"
            log.debug("v1 %s: HTTP %d %s", about, reply.status, verdict)
        if outcome is not None and outcome.error == ACCESS_TOKEN_EXPIRED:
            self.bearer.expired(token)
            if token.fetched_at >= self.started:
                raise FCMAuthenticationError(
                    "FCM refused a freshly fetched access token as expired; check the machine's clock",
                    status=401,
                    code="UNAUTHENTICATED",
                )
        return decoded
