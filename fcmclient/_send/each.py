"""``send_each``: many different messages, every target of a window of them in one fan-out.

The messages are taken from the iterable a window at a time (a generator is never held in
memory whole), each translated once; every target of a window goes through one fan-out, at
most ``max_workers`` in flight, none started after the call's ``send_timeout``; each
message's :class:`~fcmclient.Result` is built as ``send`` builds it. A window is the
messages that together hold :func:`window_targets` targets (one message at least), so a
window's last answers cost a fraction of the fan-out's concurrency, not more.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from ..errors import FCMError
from ..messages import Message
from ..outcomes import Outcome
from ..result import Result
from .resources import Resources

__all__ = ["Each", "Sender", "attach_results", "replace_results", "results_of", "stopped", "window_targets"]


class Sender(Protocol):
    """What each protocol's sender offers ``send_each``."""

    backoff: int
    max_workers: int

    def check(self, message: Message) -> None:
        """Raise what sending ``message`` would raise at once (a caller's mistake)."""

    def prepare(self, message: Message) -> Any:
        """What the sender needs of ``message`` (its translation), made once."""

    def call(self, here: Resources) -> Any:
        """Start a call (fetching what every request needs, such as an access token)."""

    def window(
        self, call: Any, messages: Sequence[Message], prepared: Sequence[Any]
    ) -> tuple[list[Result], BaseException | None]:
        """Send ``messages``; their results, and the exception that stopped the window."""


def window_targets(max_workers: int) -> int:
    """How many targets a window holds: 64 rounds of ``max_workers`` (4,096 by default)."""
    return max(64 * max_workers, 1024)


def results_of(
    message: Message,
    outcomes: Sequence[Outcome],
    backoff: int,
    rng: random.Random,
    multicast_id: int | None = None,
) -> Result:
    """The result of ``message`` from one outcome per target."""
    return Result.from_outcomes(message, outcomes, backoff, multicast_id=multicast_id, rng=rng)


def stopped(exc: BaseException) -> Outcome:
    """The outcome of the target whose request stopped a send with ``exc``."""
    if isinstance(exc, FCMError):  # FCM refused this request: it was not delivered
        return Outcome.not_sent(type(exc).__name__)
    return Outcome.interrupted(exc)


def attach_results(exc: BaseException, results: list[Result]) -> None:
    """Hand the results of a stopped ``send_each`` to whoever catches ``exc``, as ``results``
    (unless an exception not of fcm-client's own already has such an attribute)."""
    if isinstance(exc, FCMError) or not hasattr(exc, "results"):
        with contextlib.suppress(AttributeError, TypeError):  # a type that takes no attributes
            exc.results = results  # type: ignore[attr-defined]


def replace_results(exc: BaseException, results: list[Result]) -> None:
    """Set ``exc.results``, whatever it held (the caller gathered more)."""
    with contextlib.suppress(AttributeError, TypeError):
        exc.results = results  # type: ignore[attr-defined]


def _not_sent(message: Message, sender: Sender, here: Resources, why: str) -> Result:
    outcome = Outcome.not_sent(why)
    return results_of(message, [outcome] * len(message.targets), sender.backoff, here.rng)


def _checked(message: object, sender: Sender) -> Message:
    if not isinstance(message, Message):
        raise TypeError(
            "send_each() takes JSONMessage, PlainTextMessage, TopicMessage or InstallationMessage "
            f"objects, not {type(message).__name__}"
        )
    sender.check(message)
    return message


class Each:
    """One ``send_each`` call: :meth:`results` yields every message's result in input order.

    A list or tuple is checked whole before anything is sent; any other iterable as it is
    read, a window at a time. When something stops the call (a message that cannot be sent,
    rejected credentials, an interruption), :meth:`unaccounted` gives every result not yet
    handed out, in input order: the stopped window's (targets not sent are ``NOT_SENT``,
    those cut in flight ``INTERRUPTED``), the messages read but not sent, and for a list or
    tuple the messages after them, never sent. Messages of any other iterable after the
    point where it stopped are not read.

    :raises TypeError: from the constructor, a list or tuple holds a non-message or one v1
        cannot translate (nothing was sent).
    :raises ValueError: likewise, an :class:`~fcmclient.InstallationMessage` on the legacy API.
    """

    def __init__(self, sender: Sender, messages: Iterable[object], here: Resources) -> None:
        self._sender, self._here = sender, here
        self._listed = messages if isinstance(messages, (list, tuple)) else None
        if self._listed is not None:
            for item in self._listed:
                _checked(item, sender)
        self._input = iter(messages)
        self._read = 0  # messages taken from the input
        self._window: list[Message] = []  # taken, their results not yet handed out
        self._results: list[Result] = []  # the stopped window's results
        self._handed = 0  # of the window's results, handed out
        self._call: Any = None
        self._mistake: Exception | None = None  # a non-message read: raised once what came before is sent
        #: The exception :meth:`results` stopped with, once it did.
        self.stopped_by: BaseException | None = None

    def results(self) -> Iterator[Result]:
        """Send; yield each result once its window is done. Exceptions carry ``results``."""
        try:
            while self._fill() or self._mistake is not None:
                if not self._window:  # an iterable's mistake, after every message before it
                    assert self._mistake is not None
                    raise self._mistake
                if self._call is None:
                    self._call = self._sender.call(self._here)
                self._results, error = self._sender.window(self._call, self._window, self._prepared)
                if error is not None:
                    raise error
                for result in self._results:
                    self._handed += 1
                    yield result
                self._window, self._results, self._handed = [], [], 0
        except GeneratorExit:
            raise
        except BaseException as exc:
            self.stopped_by = exc
            attach_results(exc, self.unaccounted())
            raise

    def _fill(self) -> bool:
        """Take the next window from the input, each message prepared once; whether it holds any."""
        budget, count = window_targets(self._sender.max_workers), 0
        self._prepared: list[Any] = []
        while count < budget and self._mistake is None:
            item = next(self._input, _END)
            if item is _END:
                break
            self._read += 1
            try:
                message = _checked(item, self._sender)
                prepared = self._sender.prepare(message)
            except (TypeError, ValueError) as exc:  # the call stops here, once the window is sent
                self._mistake = exc
                break
            self._prepared.append(prepared)
            self._window.append(message)
            count += len(message.targets)
        return bool(self._window)

    def unaccounted(self) -> list[Result]:
        """The results not yet handed out, in input order (see the class)."""
        sender, here = self._sender, self._here
        if self._results:
            rest = self._results[self._handed :]
        else:
            rest = [_not_sent(m, sender, here, "the send stopped before this message") for m in self._window]
        if self._listed is not None:
            after = self._listed[self._read :]
            rest += [_not_sent(m, sender, here, "the send stopped before this message") for m in after]
        return rest


_END = object()
