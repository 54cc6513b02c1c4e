"""The verdict on one target of a send, as both protocol decoders produce it.

A decoder turns (status, headers, body) into one :class:`Outcome` per target; a
:class:`~fcmclient.Result` is built from those. Keeping this a plain value is what lets the
decoders be tested without a network.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

__all__ = [
    "TRANSPORT_ERROR",
    "NOT_SENT",
    "INTERRUPTED",
    "ACCESS_TOKEN_EXPIRED",
    "INVALID_RESPONSE",
    "Bucket",
    "Outcome",
]

# fcm-client's own error codes, next to FCM's (``UNAVAILABLE``, ``NotRegistered``...).

#: A target whose request failed in the network before FCM answered: in ``retry()``.
TRANSPORT_ERROR = "TRANSPORT_ERROR"

#: A target never sent: the send ran out of time (``send_timeout``), was interrupted, or
#: could not go on (credentials rejected, no access token), or an HTTP/2 server refused its
#: request unprocessed. In ``retry()``.
NOT_SENT = "NOT_SENT"

#: A target whose request was under way when the send was interrupted: it may or may not
#: have been delivered. In ``retry()``.
INTERRUPTED = "INTERRUPTED"

#: A v1 send refused because the access token had expired: in ``retry()``, to send again at
#: once with a fresh token.
ACCESS_TOKEN_EXPIRED = "ACCESS_TOKEN_EXPIRED"  # noqa: S105 - an error code

#: FCM accepted a v1 request but its answer cannot be read: in ``failed`` (it may have been
#: delivered, so a retry could deliver it twice).
INVALID_RESPONSE = "INVALID_RESPONSE"


class Bucket(enum.Enum):
    """Where a target ends up in a :class:`~fcmclient.Result`: exactly one of these.

    >>> Bucket("not_registered")
    <Bucket.NOT_REGISTERED: 'not_registered'>
    """

    #: FCM accepted the message for this target (:attr:`~fcmclient.Result.success`).
    SUCCESS = "success"
    #: The token is dead: delete it (:attr:`~fcmclient.Result.not_registered`).
    NOT_REGISTERED = "not_registered"
    #: Sending again as is will not help (:attr:`~fcmclient.Result.failed`).
    FAILED = "failed"
    #: Sending again later may work (:meth:`~fcmclient.Result.retry`).
    RETRY = "retry"


class Outcome(NamedTuple):
    """What FCM said about one target: an immutable value, read by field name.

    :attr:`Result.outcomes <fcmclient.Result.outcomes>` holds one per target. It is a named
    tuple (a legacy answer decodes up to 1,000 at a time, and tuples are cheap to build), so
    it also compares, hashes and unpacks like one. Make one with the class methods below.

    >>> outcome = Outcome.retry("UNAVAILABLE", "The service is currently unavailable.", wait=30.0)
    >>> outcome.bucket, outcome.error, outcome.wait
    (<Bucket.RETRY: 'retry'>, 'UNAVAILABLE', 30.0)
    """

    #: Where the target goes.
    bucket: Bucket
    #: The id (legacy ``message_id``) or name (v1 ``projects/<p>/messages/<id>``) FCM gave the
    #: message, on success; else ``None``.
    message_id: str | None = None
    #: The token that replaces this one (legacy only), or ``None``.
    canonical_id: str | None = None
    #: The error code of a failure, a dead token or a retry (FCM's, such as ``UNAVAILABLE``,
    #: or fcm-client's own, such as :data:`TRANSPORT_ERROR`); ``None`` on success.
    error: str | None = None
    #: Google's explanation in words, when it gave one (fcm-client's own, for its own codes).
    detail: str | None = None
    #: Seconds FCM asked to wait before a retry (``Retry-After``, or 60 for a quota error
    #: without one), ``0.0`` for "retry at once", or ``None`` for exponential backoff.
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

    @classmethod
    def not_sent(cls, why: str) -> Outcome:
        """A target never sent (:data:`NOT_SENT`), and why, for the detail."""
        return cls(Bucket.RETRY, error=NOT_SENT, detail=f"not sent: {why}")

    @classmethod
    def interrupted(cls, exc: BaseException | None = None) -> Outcome:
        """A target whose request was under way when ``exc`` stopped the send (:data:`INTERRUPTED`)."""
        cause = f" ({type(exc).__name__})" if exc is not None else ""
        return cls(
            Bucket.RETRY,
            error=INTERRUPTED,
            detail=f"the send stopped{cause} while this request was under way: it may have been delivered",
        )
