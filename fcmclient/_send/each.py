"""``send_each``: many different messages, every target of a window of them in one fan-out.

The messages are taken from the iterable a window at a time (a generator is never held in
memory whole), each translated once; every target of a window goes through one fan-out, at
most ``max_workers`` in flight, none started after the call's ``send_timeout``; each
message's :class:`~fcmclient.Result` is built as ``send`` builds it. A window is the
messages that together hold :func:`window_targets` targets (one message at least), so a
window's last answers cost a fraction of the fan-out's concurrency, not more. On the engine
a window's first requests leave once ``max_workers`` targets are read, the rest joining the
fan-out as they are read; requests' path reads the whole window first.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import Any, Protocol, cast

from ..errors import FCMError
from ..messages import Message
from ..outcomes import Outcome
from ..result import Result
from .resources import Resources

__all__ = [
    "NEVER_ADDED",
    "Each",
    "Settled",
    "Sender",
    "attach_results",
    "replace_results",
    "results_of",
    "stopped",
    "window_targets",
]


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
        self, call: Any, messages: Sequence[Message], prepared: Sequence[Any], more: Iterator[None]
    ) -> tuple[Settled, BaseException | None]:
        """Send ``messages``, which each ``next(more)`` extends (with ``prepared``) until it
        ends: what it settled of the messages it took in, and the exception that stopped it."""


class Settled(Protocol):
    """What a window settled, message by message: the first ``len()`` messages of it."""

    def __len__(self) -> int:
        """How many messages it covers."""

    def of(self, index: int) -> tuple[Sequence[Outcome], int | None]:
        """Message ``index``'s outcomes in target order, and its multicast id (legacy)."""


#: The outcome of a target whose message was read but never handed to the fan-out.
NEVER_ADDED = Outcome.not_sent("the send stopped before this message")


def window_targets(max_workers: int) -> int:
    """How many targets a window holds: 64 rounds of ``max_workers`` (16,384 by default)."""
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
        self._before = 0  # messages of the windows before this one
        self._ended = False  # the input was read to its end
        self._window: list[Message] = []  # taken, their results not yet handed out
        self._prepared: list[Any] = []  # what the sender made of each
        self._settled: Settled | None = None  # what the window's fan-out settled, once it did
        self._handed = 0  # of the window's results, handed out
        self._call: Any = None
        self._mistake: Exception | None = None  # a non-message read: raised once what came before is sent
        #: The exception :meth:`results` stopped with, once it did.
        self.stopped_by: BaseException | None = None

    def results(self) -> Iterator[Result]:
        """Send; yield each result once its window is done. Exceptions carry ``results``."""
        try:
            while True:
                more = self._reading()
                next(more, None)  # the window's first messages
                if not self._window:
                    if self._mistake is not None:  # an iterable's, after every message before it
                        raise self._mistake
                    return
                if self._call is None:
                    self._call = self._sender.call(self._here)
                self._settled, error = self._sender.window(self._call, self._window, self._prepared, more)
                more.close()
                if error is not None:
                    raise error
                while self._handed < len(self._window):
                    result = self._result(self._handed)
                    self._handed += 1
                    yield result
                before = self._before + len(self._window)
                self._window, self._prepared, self._settled, self._handed, self._before = (
                    [],
                    [],
                    None,
                    0,
                    before,
                )
        except GeneratorExit:
            raise
        except BaseException as exc:
            self.stopped_by = exc
            attach_results(exc, self.unaccounted())
            raise

    def _reading(self) -> Generator[None, None, None]:
        """Read the next window from the input, each message checked and prepared once;
        yield each time ``max_workers`` targets more were read, and after the last ones. It
        ends at the window's targets, the input's end or a mistake (kept for later). A
        message is in the window before it is prepared."""
        sender = self._sender
        budget, step = window_targets(sender.max_workers), sender.max_workers
        count = unannounced = 0
        while count < budget and self._mistake is None and not self._ended:
            item = next(self._input, _END)
            if item is _END:
                self._ended = True
                break
            try:
                message = cast(Message, item) if self._listed is not None else _checked(item, sender)
            except (TypeError, ValueError) as exc:  # the call stops here, once the window is sent
                self._mistake = exc
                break
            self._window.append(message)  # accounted for from here on
            self._prepared.append(sender.prepare(message))
            targets = len(message._targets)
            count += targets
            unannounced += targets
            if unannounced >= step:
                unannounced = 0
                yield
        if unannounced:
            yield

    def _result(self, index: int) -> Result:
        """The result of the window's message ``index`` (``NOT_SENT`` unless settled)."""
        message, settled = self._window[index], self._settled
        if settled is None or index >= len(settled):  # read, never handed to the fan-out
            return _not_sent(message, self._sender, self._here, _STOPPED)
        outcomes, multicast_id = settled.of(index)
        return results_of(message, outcomes, self._sender.backoff, self._here.rng, multicast_id)

    def unaccounted(self) -> list[Result]:
        """The results not yet handed out, in input order (see the class)."""
        rest = [self._result(index) for index in range(self._handed, len(self._window))]
        if self._listed is not None:
            sender, here = self._sender, self._here
            after = self._listed[self._before + len(self._window) :]
            rest += [_not_sent(m, sender, here, _STOPPED) for m in after]
        return rest


_END = object()
_STOPPED = "the send stopped before this message"
