"""Exceptions raised by fcmclient.

Every exception derives from :class:`FCMError`, and each leaf also derives from the builtin
it means, so code written for fcm-client 0.2 that catches ``ValueError`` keeps working.
Messages carry what the caller needs (HTTP status, FCM error code, Google's explanation) and
never a secret: no API key, private key or access token is ever put in an exception.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .result import Result, TopicResult

__all__ = [
    "FCMError",
    "FCMAuthenticationError",
    "FCMRequestError",
    "FCMResponseError",
    "FCMUnsupportedError",
]


class FCMError(Exception):
    """Root of every exception fcmclient raises on purpose.

    Network failures are not among them: they stay :class:`requests.RequestException`.
    """

    #: For a :meth:`~fcmclient.FCM.send_each` it stopped: one result per message read, in
    #: input order; ``None`` otherwise.
    results: list[Result] | None = None


class FCMRequestError(FCMError, ValueError):
    """FCM rejected the request as a whole (HTTP 400 or an unexpected status).

    :param message: what went wrong, in words.
    :param status: the HTTP status FCM answered, when there was one.
    :param explanation: FCM's own explanation (the response body), shortened.
    :param code: FCM's error code, when it gave one (``UNREGISTERED``, ``UNAVAILABLE``...).
    """

    def __init__(
        self, message: str, *, status: int | None = None, explanation: str = "", code: str | None = None
    ) -> None:
        super().__init__(message)
        #: HTTP status of the rejected request, or ``None``.
        self.status = status
        #: FCM's explanation, as text (at most a few hundred characters).
        self.explanation = explanation
        #: FCM's error code (its FcmError code, else the status name), or ``None``.
        self.code = code


class FCMResponseError(FCMError, ValueError):
    """FCM answered in a shape the protocol does not allow (malformed body, wrong count...)."""


class FCMAuthenticationError(FCMError, ValueError):
    """Your credentials were rejected: bad API key, service account or missing permission.

    Raised in the middle of an HTTP v1 multicast, it carries what was settled before it as
    :attr:`result`.

    Example::

        try:
            result = fcm.send(message)
        except FCMAuthenticationError as exc:
            log.error("credentials rejected (%s): %s", exc.code, exc)
            if exc.result is not None:      # a v1 multicast: keep what was settled
                store(exc.result)

    :param message: what went wrong, in words.
    :param status: the HTTP status that carried the rejection, when there was one.
    :param code: Google's status or OAuth error code (``UNAUTHENTICATED``, ``invalid_grant``...).
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        #: HTTP status of the rejection, or ``None``.
        self.status = status
        #: Google's error code or status name, or ``None``.
        self.code = code
        #: For an HTTP v1 multicast (or topic operation) stopped by the rejection: a
        #: :class:`~fcmclient.Result` (or :class:`~fcmclient.TopicResult`) holding what was
        #: settled before it, with every target not yet sent in ``retry()`` (error
        #: ``NOT_SENT``); ``None`` otherwise.
        self.result: Result | TopicResult | None = None


class FCMUnsupportedError(FCMError, ValueError):
    """This connection cannot do that: topic management on the legacy API, or on a v1 ``url``
    that does not end in ``/messages:send``. Raised before any request.

    A ``ValueError``, as :class:`io.UnsupportedOperation` is.
    """
