"""Sending through HTTP v1: one request per target, fanned out, each answer its own outcome."""

from __future__ import annotations

import bisect
import time
from collections.abc import Sequence
from typing import Any

from .._http.session import Timeout
from .._protocol import v1
from .._protocol.exchange import Exchange
from ..messages import Message
from ..outcomes import Outcome
from ..result import Result
from .calls import Call, attach_result
from .each import results_of
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
        self, call: Call, messages: Sequence[Message], translations: Sequence[v1.Translation]
    ) -> tuple[list[Result], BaseException | None]:
        """Every target of ``messages`` in one fan-out: their results, and what stopped it."""
        targets = [message.targets for message in messages]
        offsets = [0]
        for some in targets:
            offsets.append(offsets[-1] + len(some))

        def one(position: int) -> tuple[Exchange[Outcome], str, str]:
            index = bisect.bisect_right(offsets, position) - 1
            target = targets[index][position - offsets[index]]
            return translations[index].exchange(self.url, target), "send to", target

        outcomes, error = call.fan_out(offsets[-1], one, self.max_workers, self.send_timeout)
        rng = call.here.rng
        slices = (outcomes[offsets[i] : offsets[i + 1]] for i in range(len(messages)))
        return [
            results_of(m, some, self.backoff, rng) for m, some in zip(messages, slices, strict=True)
        ], error
