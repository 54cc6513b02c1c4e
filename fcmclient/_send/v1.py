"""Sending through HTTP v1: one request per target, fanned out, each answer its own outcome."""

from __future__ import annotations

import bisect
import contextlib
import logging
import time
from collections.abc import Sequence
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
from .each import results_of, stopped
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


class _Call:
    """One ``send`` or ``send_each`` call: when it started, and what its requests share."""

    def __init__(self, sender: V1Sender, here: Resources) -> None:
        tokens = here.tokens
        assert tokens is not None
        self.here = here
        self.started = time.monotonic()
        tokens.get()  # surface credential problems once, before any send
        self.channel = Channel(here.session, sender.url, _HEADERS, sender.timeout, sender.options)
        self.bearer = _Bearer(self.channel, tokens)
        #: Once set, the access token could not be fetched: the targets left are not sent.
        self.token_failure: Outcome | None = None


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
        self.url, self.timeout, self.options = url, timeout, options
        self.backoff, self.max_workers, self._send_timeout = backoff, max_workers, send_timeout

    def check(self, message: Message) -> None:
        """:raises TypeError: v1 cannot translate ``message`` (caught before anything is sent)."""
        v1.check(message)

    def prepare(self, message: Message) -> v1.Translation:
        """The message translated once, for all its targets."""
        return v1.Translation(message, time.time())

    def call(self, here: Resources) -> _Call:
        """Start a call: the access token first, so credential problems come before any send."""
        return _Call(self, here)

    def send(self, message: Message, here: Resources) -> Result:
        """One request per target of ``message``, through this process's ``here`` resources."""
        translations = [self.prepare(message)]
        results, error = self.window(self.call(here), [message], translations)
        if error is not None:
            attach_result(error, results[0])
            raise error
        return results[0]

    def window(
        self, call: _Call, messages: Sequence[Message], translations: Sequence[v1.Translation]
    ) -> tuple[list[Result], BaseException | None]:
        """Every target of ``messages`` in one fan-out: their results, and what stopped it."""
        targets = [message.targets for message in messages]
        offsets = [0]
        for some in targets:
            offsets.append(offsets[-1] + len(some))

        def one(position: int) -> Outcome:
            index = bisect.bisect_right(offsets, position) - 1
            target = targets[index][position - offsets[index]]
            return self._guarded(call, translations[index].body(target), target)

        outcomes, error = execute(range(offsets[-1]), one, self._plan(call, offsets[-1]))
        rng = call.here.rng
        slices = (outcomes[offsets[i] : offsets[i + 1]] for i in range(len(messages)))
        return [
            results_of(m, some, self.backoff, rng) for m, some in zip(messages, slices, strict=True)
        ], error

    def _plan(self, call: _Call, count: int) -> Plan:
        start_by = call.started + self._send_timeout
        # The documented bound: a request started just before send_timeout may need a token
        # refresh first. No wait for the helper threads outlasts it (a broken pool included).
        give_up = start_by + 2 * total_seconds(self.timeout)
        pool = call.here.worker_pool() if count > 1 else None
        return Plan(
            workers=self.max_workers,
            pool=pool,
            start_by=start_by,
            give_up=give_up,
            on_error=stopped,
            done=call.channel.release,
        )

    def _guarded(self, call: _Call, body: bytes, target: str) -> Outcome:
        if call.token_failure is not None:  # no token to send with: report the rest as not sent
            return call.token_failure
        try:
            return self._one(call, body, target)
        except requests.RequestException as exc:  # a refresh failed mid-send
            log.warning("access token refresh failed in the middle of a send: %s", type(exc).__name__)
            cause = Outcome.transport_error(exc).detail
            call.token_failure = Outcome.not_sent(f"the access token could not be fetched ({cause})")
            return call.token_failure

    def _one(self, call: _Call, body: bytes, target: str) -> Outcome:
        token, headers = call.bearer.get()
        try:
            reply = call.channel.post(body, headers)
        except requests.RequestException as exc:
            log.debug("v1 send to %s failed in transport: %s", prefix(target), type(exc).__name__)
            return Outcome.transport_error(exc)
        outcome = v1.decode(reply.status, reply.headers, reply.body, time.time())
        if log.isEnabledFor(logging.DEBUG):
            log.debug("v1 send to %s: HTTP %d %s", prefix(target), reply.status, outcome.bucket.value)
        if outcome.error == ACCESS_TOKEN_EXPIRED:
            call.bearer.expired(token)
            if token.fetched_at >= call.started:
                raise FCMAuthenticationError(
                    "FCM refused a freshly fetched access token as expired; check the machine's clock",
                    status=401,
                    code="UNAUTHENTICATED",
                )
        return outcome
