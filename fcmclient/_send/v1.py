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

__all__ = ["V1Sender", "WindowOutcomes", "attach_result"]


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
        translation = self.prepare(message)  # a message v1 cannot translate: before any request
        settled, error = self.window(self.call(here), [message], [translation])
        outcomes, _ = settled.of(0)
        try:
            result = results_of(message, outcomes, self.backoff, here.rng)
        except BaseException as exc:  # interrupted while it was built: it still goes with the exception
            attach_result(exc, results_of(message, outcomes, self.backoff, here.rng))
            raise
        if error is not None:
            attach_result(error, result)
            raise error
        return result

    def window(
        self,
        call: Call,
        messages: Sequence[Message],
        translations: Sequence[v1.Translation],
        more: Iterator[None] | None = None,
    ) -> tuple[WindowOutcomes, BaseException | None]:
        """Every target of ``messages`` in one fan-out: what it settled, and what stopped it.

        With ``more``, each ``next(more)`` appends messages (each with its translation) to the
        lists given; their targets join the fan-out under way. What it settled covers the
        messages it took in (their targets never started ``NOT_SENT``).
        """
        settled = WindowOutcomes()
        offsets, targets = settled.offsets, settled.targets

        def known() -> int:
            """Take in the messages translated so far; how many targets they hold in all."""
            while len(targets) < len(translations):
                some = messages[len(targets)]._targets
                offsets.append(offsets[-1] + len(some))
                targets.append(some)
            return offsets[-1]

        def one(position: int) -> tuple[Exchange[Outcome], str, str]:
            index = bisect.bisect_right(offsets, position) - 1
            target = targets[index][position - offsets[index]]
            return translations[index].exchange(self.url, target), "send to", target

        count = known()
        growing = None if more is None else (known() for _ in more)
        settled.outcomes, error = call.fan_out(count, one, self.max_workers, self.send_timeout, growing)
        return settled, error


class WindowOutcomes:
    """What a v1 fan-out settled: message ``i``'s targets are positions ``offsets[i]`` to
    ``offsets[i + 1]`` of ``outcomes``. Filled by :meth:`V1Sender.window`; read by ``send_each``
    only once it is (a window stopped before has none)."""

    __slots__ = ("offsets", "outcomes", "targets")

    def __init__(self) -> None:
        self.offsets = [0]
        self.targets: list[Sequence[str]] = []
        self.outcomes: list[Outcome] = []

    def __len__(self) -> int:
        """How many messages it covers."""
        return len(self.offsets) - 1

    def of(self, index: int) -> tuple[list[Outcome], None]:
        """Message ``index``'s outcomes in target order (those never added to the fan-out
        ``NOT_SENT``), and no multicast id."""
        start, end = self.offsets[index], self.offsets[index + 1]
        some = self.outcomes[start:end]
        return some + [NEVER_ADDED] * (end - start - len(some)), None
