"""Sending through HTTP v1: one request per target, fanned out, each answer its own outcome."""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator, Sequence
from typing import Any

from .._http.session import Timeout
from .._protocol import v1
from .._protocol.exchange import Exchange
from ..messages import Message
from ..outcomes import Outcome
from ..result import Result
from .calls import Call, attach_result
from .each import NEVER_ADDED, results_of
from .resources import Resources

__all__ = ["V1Sender", "attach_result"]


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
        self.backoff, self.max_workers, self.send_timeout = backoff, max_workers, send_timeout

    def check(self, message: Message) -> None:
        """:raises TypeError: v1 cannot translate ``message`` (caught before anything is sent)."""
        v1.check(message)

    def prepare(self, message: Message) -> v1.Translation:
        """The message translated once, for all its targets."""
        return v1.Translation(message, time.time())

    def call(self, here: Resources) -> Call:
        """Start a call: the access token first, so credential problems come before any send."""
        return Call(here, self.url, self.timeout, self.options)

    def send(self, message: Message, here: Resources) -> Result:
        """One request per target of ``message``, through this process's ``here`` resources."""
        translations = [self.prepare(message)]
        results, error = self.window(self.call(here), [message], translations)
        if error is not None:
            attach_result(error, results[0])
            raise error
        return results[0]

    def window(
        self,
        call: Call,
        messages: Sequence[Message],
        translations: Sequence[v1.Translation],
        more: Iterator[None] | None = None,
    ) -> tuple[list[Result], BaseException | None]:
        """Every target of ``messages`` in one fan-out: their results, and what stopped it.

        With ``more``, each ``next(more)`` appends messages (and their translations) to the
        lists given; their targets join the fan-out under way. The results are those of the
        messages appended when it ended (those never started ``NOT_SENT``).
        """
        targets: list[Sequence[str]] = []
        offsets = [0]

        def known() -> int:
            """Take in the messages appended so far; how many targets they hold in all."""
            for message in messages[len(targets) :]:
                some = message._targets
                targets.append(some)
                offsets.append(offsets[-1] + len(some))
            return offsets[-1]

        def one(position: int) -> tuple[Exchange[Outcome], str, str]:
            index = bisect.bisect_right(offsets, position) - 1
            target = targets[index][position - offsets[index]]
            return translations[index].exchange(self.url, target), "send to", target

        count = known()
        growing = None if more is None else (known() for _ in more)
        outcomes, error = call.fan_out(count, one, self.max_workers, self.send_timeout, growing)
        outcomes += [NEVER_ADDED] * (offsets[-1] - len(outcomes))  # known, never in the fan-out
        rng = call.here.rng
        sent = messages[: len(targets)]
        slices = (outcomes[offsets[i] : offsets[i + 1]] for i in range(len(sent)))
        return [results_of(m, some, self.backoff, rng) for m, some in zip(sent, slices, strict=True)], error
