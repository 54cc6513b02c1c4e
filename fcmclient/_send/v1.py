"""Sending through HTTP v1: one request per target, fanned out, each answer its own outcome."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import requests

from .._http.channel import Channel
from .._http.executor import Plan, execute
from .._http.session import Timeout, total_seconds
from .._protocol import v1
from ..errors import FCMAuthenticationError, FCMError
from ..messages import Message
from ..outcomes import ACCESS_TOKEN_EXPIRED, Outcome
from ..result import Result
from .legacy import prefix
from .resources import Resources
from .tokens import AccessToken, TokenSource

__all__ = ["V1Sender", "attach_result"]

log = logging.getLogger("fcmclient")

# Answers are a few dozen bytes: compressing them costs more than it saves. HTTP/1.1 keeps
# connections alive without being asked, and "Accept: */*" says nothing: both left out.
_HEADERS: dict[str, str | None] = {
    "Content-Type": "application/json; charset=UTF-8",
    "Accept-Encoding": "identity",
    "Accept": None,
    "Connection": None,
}


def _stopped(exc: BaseException) -> Outcome:
    """The outcome of the target whose request stopped a send with ``exc``."""
    if isinstance(exc, FCMError):  # FCM refused this request: it was not delivered
        return Outcome.not_sent(type(exc).__name__)
    return Outcome.interrupted(exc)


def attach_result(exc: BaseException, result: Result) -> None:
    """Hand the partial result of a stopped send to whoever catches ``exc``.

    fcm-client's own errors always carry it as ``result``; any other exception (a
    ``KeyboardInterrupt``, a Celery soft time limit) gets it too, unless it has a ``result`` of
    its own.
    """
    if isinstance(exc, FCMError) or not hasattr(exc, "result"):
        with contextlib.suppress(AttributeError, TypeError):  # a type that takes no attributes
            exc.result = result  # type: ignore[attr-defined]


class _Bearer:
    """The headers of one v1 send, made again only when the access token changes."""

    __slots__ = ("_channel", "_current", "_tokens")

    def __init__(self, channel: Channel, tokens: TokenSource) -> None:
        self._channel = channel
        self._tokens = tokens
        self._current: tuple[AccessToken, dict[str, str]] | None = None

    def get(self) -> tuple[AccessToken, dict[str, str]]:
        """A valid token and the full request headers carrying it."""
        token = self._tokens.get()
        current = self._current
        if current is None or current[0] is not token:
            current = (token, self._channel.headers({"Authorization": "Bearer " + token.value}))
            self._current = current
        return current

    def expired(self, token: AccessToken) -> None:
        """FCM refused ``token`` as expired: the next :meth:`get` fetches another."""
        self._tokens.invalidate(token)


class V1Sender:
    """Sends messages to ``url``, at most ``max_workers`` requests at a time, for ``send_timeout``.

    :raises FCMAuthenticationError: from :meth:`send`, the credentials were rejected (with the
        partial result as ``result``); see ``FCM.send`` for the rest.
    """

    def __init__(
        self,
        url: str,
        timeout: Timeout,
        options: dict[str, Any],
        backoff: int,
        max_workers: int,
        send_timeout: float,
    ) -> None:
        self.url = url
        self._timeout, self._options, self._backoff = timeout, options, backoff
        self._max_workers, self._send_timeout = max_workers, send_timeout

    def send(self, message: Message, here: Resources) -> Result:
        """One request per target of ``message``, through this process's ``here`` resources."""
        tokens = here.tokens
        assert tokens is not None
        translation = v1.Translation(message, time.time())
        started = time.monotonic()
        tokens.get()  # surface credential problems once, before any send
        channel = Channel(here.session, self.url, _HEADERS, self._timeout, self._options)
        bearer = _Bearer(channel, tokens)
        token_failure: list[Outcome] = []

        def one(target: str) -> Outcome:
            if token_failure:  # no token to send with: report the rest as not sent
                return token_failure[0]
            try:
                return self._one(channel, bearer, translation.body(target), target, started)
            except requests.RequestException as exc:  # a refresh failed mid-send
                log.warning("access token refresh failed in the middle of a send: %s", type(exc).__name__)
                cause = Outcome.transport_error(exc).detail
                token_failure.append(Outcome.not_sent(f"the access token could not be fetched ({cause})"))
                return token_failure[0]

        outcomes, error = execute(
            message.targets, one, self._plan(here, len(message.targets), started, channel)
        )
        result = Result.from_outcomes(message, outcomes, self._backoff, rng=here.rng)
        if error is not None:
            attach_result(error, result)
            raise error
        return result

    def _plan(self, here: Resources, count: int, started: float, channel: Channel) -> Plan:
        start_by = started + self._send_timeout
        # The documented bound: a request started just before send_timeout may need a token
        # refresh first. No wait for the helper threads outlasts it (a broken pool included).
        give_up = start_by + 2 * total_seconds(self._timeout)
        pool = here.worker_pool() if count > 1 else None
        return Plan(
            workers=self._max_workers,
            pool=pool,
            start_by=start_by,
            give_up=give_up,
            on_error=_stopped,
            done=channel.release,
        )

    def _one(self, channel: Channel, bearer: _Bearer, body: bytes, target: str, started: float) -> Outcome:
        token, headers = bearer.get()
        try:
            reply = channel.post(body, headers)
        except requests.RequestException as exc:
            log.debug("v1 send to %s failed in transport: %s", prefix(target), type(exc).__name__)
            return Outcome.transport_error(exc)
        outcome = v1.decode(reply.status, reply.headers, reply.body, time.time())
        if log.isEnabledFor(logging.DEBUG):
            log.debug("v1 send to %s: HTTP %d %s", prefix(target), reply.status, outcome.bucket.value)
        if outcome.error == ACCESS_TOKEN_EXPIRED:
            bearer.expired(token)
            if token.fetched_at >= started:
                raise FCMAuthenticationError(
                    "FCM refused a freshly fetched access token as expired; check the machine's clock",
                    status=401,
                    code="UNAUTHENTICATED",
                )
        return outcome
