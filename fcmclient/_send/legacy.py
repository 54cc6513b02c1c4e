"""Sending through the legacy HTTP API: one request per message, the result from its answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import requests

from .._http.channel import Channel
from .._http.executor import Plan, execute
from .._http.session import Timeout, total_seconds
from .._protocol import legacy
from ..errors import FCMRequestError, FCMResponseError
from ..messages import InstallationMessage, Message
from ..outcomes import INVALID_RESPONSE, Outcome
from ..result import Result
from .each import stopped
from .resources import Resources

__all__ = ["Answers", "LegacySender", "failure_outcome", "prefix"]

log = logging.getLogger("fcmclient")


def prefix(token: str) -> str:
    """The start of a token, as logs show it (never the whole: tokens identify devices)."""
    return token[:8] + "..." if len(token) > 8 else token


def failure_outcome(exc: Exception) -> Outcome | None:
    """The outcome of every target of a legacy request that failed as a whole with ``exc``,
    or ``None`` when ``exc`` is not such a failure (the credentials were rejected, say).

    A network failure is a retry; a refused request (400, an unexpected status) is failed,
    as is an unreadable 200 (it may have been delivered).
    """
    if isinstance(exc, requests.RequestException):
        return Outcome.transport_error(exc)
    if isinstance(exc, FCMRequestError):
        return Outcome.failed(f"HTTP_{exc.status}" if exc.status else "REQUEST_REJECTED", str(exc)[:300])
    if isinstance(exc, FCMResponseError):
        return Outcome.failed(INVALID_RESPONSE, str(exc)[:300])
    return None


class _Call:
    """One ``send_each`` call through the legacy API: only its start matters."""

    def __init__(self, here: Resources) -> None:
        self.here = here
        self.started = time.monotonic()


class LegacySender:
    """Sends messages to ``url`` with the server key ``api_key``.

    :raises requests.RequestException: from :meth:`send`, no answer arrived.
    :raises FCMError: from :meth:`send`, as :func:`fcmclient._protocol.legacy.decode` says.
    """

    def __init__(
        self,
        api_key: str,
        url: str,
        timeout: Timeout,
        options: dict[str, Any],
        backoff: int,
        max_workers: int,
        send_timeout: float,
    ) -> None:
        self._api_key = api_key
        self.url, self._timeout, self._options = url, timeout, options
        self.backoff, self.max_workers, self._send_timeout = backoff, max_workers, send_timeout

    def check(self, message: Message) -> None:
        """:raises ValueError: an :class:`InstallationMessage` (before anything is sent)."""
        if isinstance(message, InstallationMessage):
            legacy.encode(message)  # raises, and says why

    def call(self, here: Resources) -> _Call:
        """Start a ``send_each`` call."""
        return _Call(here)

    def send(self, message: Message, here: Resources) -> Result:
        """One request carrying ``message``, through this process's ``here`` resources."""
        decoded = self._exchange(message, here)
        return Result.from_outcomes(
            message, decoded.outcomes, self.backoff, multicast_id=decoded.multicast_id, rng=here.rng
        )

    def prepare(self, message: Message) -> None:
        """Nothing: the body is made as the request is sent."""

    def window(
        self, call: _Call, messages: Sequence[Message], prepared: Sequence[object], more: Iterator[None]
    ) -> tuple[Answers, BaseException | None]:
        """One request per message, ``max_workers`` at a time, once ``more`` has added every
        message of the window: their answers, and what stopped them (a request failing as a
        whole is its targets' outcome, see :func:`failure_outcome`)."""
        for _ in more:
            pass

        def one(message: Message) -> legacy.Decoded | Outcome:
            try:
                return self._exchange(message, call.here)
            except (requests.RequestException, FCMRequestError, FCMResponseError) as exc:
                outcome = failure_outcome(exc)
                assert outcome is not None
                return outcome

        start_by = call.started + self._send_timeout
        plan = Plan(
            workers=self.max_workers,
            pool=call.here.worker_pool() if len(messages) > 1 else None,
            start_by=start_by,
            give_up=start_by + total_seconds(self._timeout),
            on_error=stopped,
        )
        answers = Answers(messages)
        answers.answers, error = execute(messages, one, plan)
        return answers, error

    def _exchange(self, message: Message, here: Resources) -> legacy.Decoded:
        content_type, body = legacy.encode(message)
        targets = message.targets
        log.debug("legacy send to %d target(s), first %s", len(targets), prefix(targets[0]))
        headers = {"Authorization": f"key={self._api_key}", "Content-Type": content_type}
        channel = Channel(here.session, self.url, headers, self._timeout, self._options)
        reply = channel.post(body, channel.headers({}))
        log.debug("legacy answer HTTP %d for %d target(s)", reply.status, len(targets))
        return legacy.decode(message, reply.status, reply.headers, reply.body, time.time())


class Answers:
    """What a legacy window settled: one answer per message (its decoded answer, or the
    outcome of all its targets when the request failed or was not sent as a whole)."""

    __slots__ = ("answers", "messages")

    def __init__(self, messages: Sequence[Message]) -> None:
        self.messages = messages
        self.answers: list[legacy.Decoded | Outcome] = []

    def __len__(self) -> int:
        """How many messages it covers."""
        return len(self.answers)

    def of(self, index: int) -> tuple[Sequence[Outcome], int | None]:
        """Message ``index``'s outcomes in target order, and its multicast id."""
        answer = self.answers[index]
        if isinstance(answer, Outcome):
            return [answer] * len(self.messages[index]._targets), None
        return answer.outcomes, answer.multicast_id
