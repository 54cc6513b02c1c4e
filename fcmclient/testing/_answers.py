"""Scripted outcomes: what the emulator answers for one target or one token request."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Answer",
    "AnswerKind",
    "SHORTHANDS",
    "as_outcome",
    "check_send_outcome",
    "check_token_outcome",
    "pause",
    "unwrap",
]

AnswerKind = Literal[
    "delivered",
    "unregistered",
    "invalid",
    "sender_mismatch",
    "unavailable",
    "internal",
    "quota_exceeded",
    "third_party_auth_error",
    "canonical",
    "delay",
    "drop",
    "malformed",
    "http_error",
    "oauth_error",
]

#: Names accepted as strings wherever an :class:`Answer` is expected.
SHORTHANDS: tuple[str, ...] = (
    "delivered",
    "unregistered",
    "invalid",
    "sender_mismatch",
    "unavailable",
    "internal",
    "quota_exceeded",
    "third_party_auth_error",
    "drop",
    "malformed",
)

_ALL_KINDS = frozenset(
    (*SHORTHANDS, "canonical", "delay", "http_error", "oauth_error"),
)
#: Outcomes that decide the whole HTTP response, not one target's result.
REQUEST_KINDS = frozenset({"drop", "malformed", "http_error"})
#: Outcomes accepted by the token endpoint.
_TOKEN_KINDS = frozenset({"delivered", "delay", "drop", "malformed", "http_error", "oauth_error"})


def check_seconds(name: str, value: float) -> float:
    """``value``, a finite number of seconds, zero or more, as a float.

    :raises TypeError: not a number. :raises ValueError: negative, NaN or infinite.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Answer:
    """What the emulator does with one send to a target (or one token request).

    Build outcomes with the classmethods; the no-argument ones may also be given as
    strings (``"unavailable"`` is ``Answer.unavailable()``).

    Example::

        emu.set_outcome("token-1", Answer.unavailable(retry_after=2), "delivered")
        emu.set_outcome("token-2", Answer.delay(0.5, then="unregistered"))

    :param kind: the outcome's name, one of :data:`AnswerKind`.
    :param retry_after: seconds for a ``Retry-After`` header (retryable outcomes only).
    :param new_token: the canonical token (``canonical`` only).
    :param seconds: how long to wait (``delay`` only).
    :param then: what happens after the wait (``delay`` only; ``None`` means delivered).
    :param status: the HTTP status (``http_error`` and ``oauth_error``).
    :param error: the OAuth ``error`` code (``oauth_error`` only).
    :param description: the OAuth ``error_description`` (``oauth_error`` only).
    """

    kind: AnswerKind
    retry_after: float | None = None
    new_token: str | None = None
    seconds: float = 0.0
    then: Answer | None = None
    status: int | None = None
    error: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _ALL_KINDS:
            raise ValueError(_unknown_name_message(self.kind))
        for name in ("retry_after", "seconds"):
            value = getattr(self, name)
            if value is not None:
                check_seconds(name, value)
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status (100..599), got {self.status!r}")

    @classmethod
    def delivered(cls) -> Answer:
        """The message is accepted and put in the target's inbox."""
        return cls("delivered")

    @classmethod
    def unregistered(cls) -> Answer:
        """The token is dead (legacy ``NotRegistered``, v1 ``UNREGISTERED``)."""
        return cls("unregistered")

    @classmethod
    def invalid(cls) -> Answer:
        """The token is malformed (``InvalidRegistration`` / ``INVALID_ARGUMENT``)."""
        return cls("invalid")

    @classmethod
    def sender_mismatch(cls) -> Answer:
        """The token belongs to another sender (``MismatchSenderId`` / ``SENDER_ID_MISMATCH``)."""
        return cls("sender_mismatch")

    @classmethod
    def unavailable(cls, retry_after: float | None = None) -> Answer:
        """FCM is overloaded (``Unavailable`` / 503 ``UNAVAILABLE``).

        :param retry_after: seconds to put in a ``Retry-After`` header, if any.
        """
        return cls("unavailable", retry_after=retry_after)

    @classmethod
    def internal(cls, retry_after: float | None = None) -> Answer:
        """FCM failed internally (``InternalServerError`` / 500 ``INTERNAL``).

        :param retry_after: seconds to put in a ``Retry-After`` header, if any.
        """
        return cls("internal", retry_after=retry_after)

    @classmethod
    def quota_exceeded(cls, retry_after: float | None = None) -> Answer:
        """A rate limit was hit (``DeviceMessageRateExceeded`` / 429 ``QUOTA_EXCEEDED``).

        :param retry_after: seconds to put in a ``Retry-After`` header, if any.
        """
        return cls("quota_exceeded", retry_after=retry_after)

    @classmethod
    def third_party_auth_error(cls) -> Answer:
        """APNs or web push refused FCM's credential (``THIRD_PARTY_AUTH_ERROR``)."""
        return cls("third_party_auth_error")

    @classmethod
    def canonical(cls, new_token: str) -> Answer:
        """Delivered, and legacy answers with a canonical ``registration_id``.

        HTTP v1 has no canonical ids: there it is the same as :meth:`delivered`.

        :param new_token: the token the sender should store instead.
        """
        if not isinstance(new_token, str) or not new_token:
            raise ValueError("canonical() needs a non-empty new_token string")
        return cls("canonical", new_token=new_token)

    @classmethod
    def delay(cls, seconds: float, then: Answer | str | None = None) -> Answer:
        """Wait, then behave like ``then`` (delivered when not given).

        :param seconds: how long to wait before answering.
        :param then: the outcome after the wait.
        """
        return cls("delay", seconds=seconds, then=None if then is None else as_outcome(then))

    @classmethod
    def drop(cls) -> Answer:
        """Close the TCP connection without answering."""
        return cls("drop")

    @classmethod
    def malformed(cls) -> Answer:
        """Answer 200 with a body that is not valid JSON."""
        return cls("malformed")

    @classmethod
    def http_error(cls, status: int = 502, retry_after: float | None = None) -> Answer:
        """Answer ``status`` with a small HTML page, as Google's front end does.

        :param status: the HTTP status, e.g. 502 or 503.
        :param retry_after: seconds to put in a ``Retry-After`` header, if any.
        """
        return cls("http_error", status=status, retry_after=retry_after)

    @classmethod
    def oauth_error(cls, error: str, description: str, status: int = 400) -> Answer:
        """Token endpoint only: answer an OAuth2 error body.

        :param error: the ``error`` field, e.g. ``"invalid_grant"``.
        :param description: the ``error_description`` field.
        :param status: the HTTP status.
        """
        return cls("oauth_error", error=error, description=description, status=status)


def _unknown_name_message(name: object) -> str:
    return f"unknown outcome {name!r}; valid names are: {', '.join(SHORTHANDS)}"


def as_outcome(value: Answer | str) -> Answer:
    """Return ``value`` as an :class:`Answer`, reading a shorthand name if it is a string.

    :param value: an :class:`Answer` or one of :data:`SHORTHANDS`.
    :raises ValueError: for an unknown name.
    """
    if isinstance(value, Answer):
        return value
    if isinstance(value, str) and value in SHORTHANDS:
        return Answer(value)  # type: ignore[arg-type]  # checked against SHORTHANDS
    raise ValueError(_unknown_name_message(value))


def _kinds(outcome: Answer) -> Iterable[str]:
    current: Answer | None = outcome
    while current is not None:
        yield current.kind
        current = current.then


def check_send_outcome(value: Answer | str) -> Answer:
    """Return ``value`` as an outcome usable for a send target.

    :param value: the outcome or its shorthand name.
    :raises ValueError: for an unknown name or a token-endpoint-only outcome.
    """
    outcome = as_outcome(value)
    if "oauth_error" in _kinds(outcome):
        raise ValueError("oauth_error() is for the token endpoint (set_token_outcome) only")
    return outcome


def check_token_outcome(value: Answer | str) -> Answer:
    """Return ``value`` as an outcome usable for the token endpoint.

    :param value: the outcome or its shorthand name.
    :raises ValueError: for an outcome that only makes sense for a send.
    """
    outcome = as_outcome(value)
    for kind in _kinds(outcome):
        if kind not in _TOKEN_KINDS:
            raise ValueError(
                f"{kind!r} is not a token endpoint outcome; use one of {', '.join(sorted(_TOKEN_KINDS))}"
            )
    return outcome


_DELIVERED = Answer("delivered")


def unwrap(outcome: Answer) -> tuple[float, Answer]:
    """Split an outcome into the seconds to wait and the final behaviour.

    :param outcome: possibly a chain of ``delay`` outcomes.
    :returns: ``(seconds, final)`` where ``final`` is never a ``delay``.
    """
    wait = 0.0
    while outcome.kind == "delay":
        wait += outcome.seconds
        outcome = outcome.then if outcome.then is not None else _DELIVERED
    return wait, outcome


async def pause(seconds: float) -> None:
    """Wait ``seconds`` (a scripted delay plus latency) on the event loop; 0 does not yield."""
    if seconds > 0:
        await asyncio.sleep(seconds)
