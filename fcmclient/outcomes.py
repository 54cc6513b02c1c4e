"""The verdict on one target of a send, as both protocol decoders produce it.

A decoder turns (status, headers, body) into one :class:`Outcome` per target; a
:class:`~fcmclient.Result` is built from those. Keeping this a plain value is what lets the
decoders be tested without a network.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

__all__ = ["TRANSPORT_ERROR", "Bucket", "Outcome"]

#: Error code of a target whose request failed in the network (``requests`` raised) before
#: FCM answered: it goes to ``retry()``.
TRANSPORT_ERROR = "TRANSPORT_ERROR"


class Bucket(enum.Enum):
    """Where a target ends up in a :class:`~fcmclient.Result`: exactly one of these."""

    SUCCESS = "success"
    NOT_REGISTERED = "not_registered"
    FAILED = "failed"
    RETRY = "retry"


class Outcome(NamedTuple):
    """What FCM said about one target: an immutable value.

    A named tuple rather than a frozen dataclass: a legacy multicast decodes up to 1,000
    of these per answer, and a tuple is built several times faster.

    :param bucket: where the target goes.
    :param message_id: the id (legacy) or name (v1) FCM gave the message, on success.
    :param canonical_id: the token that replaces this one (legacy only).
    :param error: FCM's error code for a failure, a dead token or a retry.
    :param detail: Google's explanation in words, when it gave one.
    :param wait: seconds FCM asked us to wait before retrying (``Retry-After``), ``0.0`` for
        "retry at once", or ``None`` to use exponential backoff.
    """

    bucket: Bucket
    message_id: str | None = None
    canonical_id: str | None = None
    error: str | None = None
    detail: str | None = None
    wait: float | None = None

    @classmethod
    def success(cls, message_id: str, canonical_id: str | None = None) -> Outcome:
        """The message was accepted for this target."""
        return cls(Bucket.SUCCESS, message_id=message_id, canonical_id=canonical_id)

    @classmethod
    def not_registered(cls, error: str, detail: str | None = None) -> Outcome:
        """The token is dead: the app must delete it."""
        return cls(Bucket.NOT_REGISTERED, error=error, detail=detail)

    @classmethod
    def failed(cls, error: str, detail: str | None = None) -> Outcome:
        """A failure that sending again will not fix."""
        return cls(Bucket.FAILED, error=error, detail=detail)

    @classmethod
    def retry(cls, error: str, detail: str | None = None, wait: float | None = None) -> Outcome:
        """A transient failure: send again after :meth:`~fcmclient.Result.delay`."""
        return cls(Bucket.RETRY, error=error, detail=detail, wait=wait)

    @classmethod
    def transport_error(cls, exc: BaseException) -> Outcome:
        """A request that failed in the network (:data:`TRANSPORT_ERROR`): send again later.

        The detail names the exception and the start of its message (requests' messages
        name hosts and ports, never headers).
        """
        return cls(Bucket.RETRY, error=TRANSPORT_ERROR, detail=f"{type(exc).__name__}: {str(exc)[:200]}")
