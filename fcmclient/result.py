"""The outcome of one send, or one topic operation, sorted into buckets, with what to do next."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .messages import Message
from .outcomes import Bucket, Outcome
from .waits import backoff_seconds

if TYPE_CHECKING:
    import requests

__all__ = ["TOPIC_OPERATIONS", "Result", "TopicResult"]


class _Sorted:
    """What :class:`Result` and :class:`TopicResult` share: outcomes sorted into buckets, and
    the waits of the targets to retry. Every target ends in exactly one bucket."""

    _outcomes: dict[str, Outcome]
    _success: dict[str, str]
    _canonical: dict[str, str]
    _failed: dict[str, str]
    _not_registered: list[str]
    _retry_targets: list[str]
    _needs_backoff: bool
    _retry_after: float | None
    _backoff: int
    _rng: random.Random

    def _sort(self, outcome_of: dict[str, Outcome]) -> None:
        self._outcomes = outcome_of
        success: dict[str, str] = {}
        canonical: dict[str, str] = {}
        not_registered: list[str] = []
        failed: dict[str, str] = {}
        retry: list[str] = []
        self._success, self._canonical, self._failed = success, canonical, failed
        self._not_registered, self._retry_targets = not_registered, retry
        waits: list[float] = []
        needs_backoff = False
        for target, outcome in outcome_of.items():
            bucket = outcome.bucket
            if bucket is Bucket.SUCCESS:
                success[target] = outcome.message_id or ""
                if outcome.canonical_id is not None:
                    canonical[target] = outcome.canonical_id
            elif bucket is Bucket.NOT_REGISTERED:
                not_registered.append(target)
            elif bucket is Bucket.FAILED:
                failed[target] = outcome.error or "UNKNOWN"
            else:
                retry.append(target)
                if outcome.wait is None:
                    needs_backoff = True
                else:
                    waits.append(outcome.wait)
        self._needs_backoff = needs_backoff
        self._retry_after = max(waits) if waits else None

    @property
    def not_registered(self) -> list[str]:
        """Tokens FCM reports dead (``NotRegistered`` / ``UNREGISTERED``, or an APNs 410 on v1):
        delete them."""
        return list(self._not_registered)

    @property
    def failed(self) -> dict[str, str]:
        """``{target: error code}`` for failures that trying again will not fix."""
        return dict(self._failed)

    @property
    def error_details(self) -> dict[str, str]:
        """``{target: Google's explanation}`` for every target that carried one."""
        return {t: o.detail for t, o in self._outcomes.items() if o.detail is not None}

    @property
    def outcomes(self) -> dict[str, Outcome]:
        """``{target: Outcome}``: the full verdict per target, in send order."""
        return dict(self._outcomes)

    @property
    def retry_after(self) -> float | None:
        """The longest wait FCM asked for (``Retry-After``) among retryable targets, in
        seconds, or ``None`` when it asked for none."""
        return self._retry_after

    def needs_retry(self) -> bool:
        """True when some targets failed in a way that trying again may fix."""
        return bool(self._retry_targets)

    def delay(self, retry: int = 0) -> float:
        """Seconds to wait before sending :meth:`retry`.

        When every retryable target carried a wait (``Retry-After``, or 60 s for an HTTP v1
        quota error without one), the largest of them; otherwise :meth:`backoff`, or the
        largest wait some target carried if that is longer.

        :param retry: how many retries came before this one (0 for the first).
        """
        if self._retry_after is not None and not self._needs_backoff:
            return self._retry_after
        wait = self.backoff(retry)
        return wait if self._retry_after is None else max(wait, self._retry_after)

    def backoff(self, retry: int = 0) -> float:
        """Exponential backoff: ``backoff * 2**retry`` +/- ``backoff / 2`` ms, in seconds.

        The centre stops growing at :data:`~fcmclient.waits.MAX_BACKOFF` (one hour).

        :param retry: how many retries came before this one (0 for the first).
        """
        return backoff_seconds(self._backoff, retry, self._rng)


class Result(_Sorted):
    """What FCM did with each target of a message, and what to do about it.

    Every target ends in exactly one of :attr:`success` (with :attr:`canonical` a subset of
    it), :attr:`not_registered`, :attr:`failed`, or the retry message from :meth:`retry`.

    The public constructor reads a legacy HTTP answer, as fcm-client 0.2 did;
    :meth:`FCM.send() <fcmclient.FCM.send>` builds results for both protocols.

    :param message: the message that was sent.
    :param response: FCM's answer to it (a :class:`requests.Response`).
    :param backoff: the initial backoff in milliseconds, for :meth:`backoff`.
    :param rng: where backoff jitter comes from (a fresh :class:`random.Random` by default).
    :raises fcmclient.FCMRequestError: HTTP 400 or an unexpected status (a ``ValueError``).
    :raises fcmclient.FCMAuthenticationError: HTTP 401.
    :raises fcmclient.FCMResponseError: a malformed 200 answer (a ``ValueError``).

    Typical handling::

        result = fcm.send(message)
        for token, new_token in result.canonical.items():
            db.replace_token(token, new_token)
        for token in result.not_registered:
            db.delete_token(token)
        if result.needs_retry():
            send_later(result.retry(), countdown=result.delay(retries))
    """

    #: The message that was sent.
    message: Message
    #: The legacy multicast id, or ``None`` (always ``None`` on HTTP v1).
    multicast_id: int | None
    _retry_message: Message | None

    def __init__(
        self,
        message: Message,
        response: requests.Response,
        backoff: int,
        *,
        rng: random.Random | None = None,
    ) -> None:
        from ._protocol import legacy  # the legacy codec, for this 0.2 constructor only

        # A Response built without a body has content None: to the decoder that is b"".
        body = response.content or b""
        decoded = legacy.decode(message, response.status_code, response.headers, body, time.time())
        self._fill(message, decoded.outcomes, backoff, decoded.multicast_id, rng)

    @classmethod
    def from_outcomes(
        cls,
        message: Message,
        outcomes: Sequence[Outcome],
        backoff: int,
        *,
        multicast_id: int | None = None,
        rng: random.Random | None = None,
    ) -> Result:
        """Build a result from one outcome per target of ``message`` (in target order).

        :raises ValueError: not one outcome per target.
        """
        result = cls.__new__(cls)
        result._fill(message, outcomes, backoff, multicast_id, rng)
        return result

    def _start(
        self, message: Message, count: int, backoff: int, multicast_id: int | None, rng: random.Random | None
    ) -> None:
        """What every result holds besides its buckets; ``count`` outcomes for ``message``."""
        targets = message._targets
        if count != len(targets):
            raise ValueError(f"{count} outcomes for {len(targets)} targets")
        self.message = message
        self.multicast_id = multicast_id
        self._backoff = backoff
        self._rng = rng if rng is not None else random.Random()
        self._retry_message = None

    def _fill(
        self,
        message: Message,
        outcomes: Sequence[Outcome],
        backoff: int,
        multicast_id: int | None,
        rng: random.Random | None,
    ) -> None:
        self._start(message, len(outcomes), backoff, multicast_id, rng)
        self._sort(dict(zip(message._targets, outcomes, strict=True)))

    @property
    def success(self) -> dict[str, str]:
        """``{target: message id}`` for every target FCM accepted.

        The id is the legacy ``message_id``, or on HTTP v1 the message ``name``
        (``projects/<project>/messages/<id>``).
        """
        return dict(self._success)

    @property
    def canonical(self) -> dict[str, str]:
        """``{old token: new token}``: tokens the app must replace (legacy only; also in
        :attr:`success`)."""
        return dict(self._canonical)

    def retry(self) -> Message | None:
        """A new message, of the same class and content, to only the retryable targets.

        ``None`` when nothing needs a retry. Wait :meth:`delay` seconds before sending it.
        """
        if not self._retry_targets:
            return None
        if self._retry_message is None:
            self._retry_message = self.message.with_targets(self._retry_targets)
        return self._retry_message

    def __repr__(self) -> str:
        return (
            f"<Result success={len(self._success)} canonical={len(self._canonical)} "
            f"not_registered={len(self._not_registered)} failed={len(self._failed)} "
            f"retry={len(self._retry_targets)}>"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_retry_message"] = None
        return state


#: The topic operations a :class:`TopicResult` reports on.
TOPIC_OPERATIONS = ("subscribe", "unsubscribe")


class TopicResult(_Sorted):
    """What FCM did with each token of a topic subscription or unsubscription.

    :meth:`FCM.subscribe_to_topic() <fcmclient.FCM.subscribe_to_topic>` and
    :meth:`~fcmclient.FCM.unsubscribe_from_topic` return one. Every token ends in exactly one
    of :attr:`success`, :attr:`not_registered` (a dead token: delete it), :attr:`failed`
    (``{token: error code}``), or :meth:`retry` (the tokens worth another try, after
    :meth:`delay`). Subscribing a token already subscribed, and unsubscribing one that is not,
    are successes: the wanted state holds. Like :class:`Result`, it is a plain value that
    pickles, and its ``repr`` shows counts only.

    :param topic: the topic name (a ``/topics/`` prefix is dropped).
    :param outcomes: ``{token: Outcome}``, one per token, in the order they were given.
    :param operation: ``"subscribe"`` or ``"unsubscribe"``.
    :param backoff: the initial backoff in milliseconds, for :meth:`backoff`.
    :param rng: where backoff jitter comes from (a fresh :class:`random.Random` by default).
    :raises ValueError: an unknown ``operation``.

    Typical handling::

        result = fcm.subscribe_to_topic(tokens, "news")
        for token in result.not_registered:
            db.delete_token(token)
        if result.needs_retry():
            subscribe_later(result.retry(), "news", countdown=result.delay(retries))
    """

    #: The topic name, without ``/topics/``.
    topic: str
    #: ``"subscribe"`` or ``"unsubscribe"``.
    operation: str

    def __init__(
        self,
        topic: str,
        outcomes: Mapping[str, Outcome],
        *,
        operation: str = "subscribe",
        backoff: int = 1000,
        rng: random.Random | None = None,
    ) -> None:
        if operation not in TOPIC_OPERATIONS:
            raise ValueError(f"operation must be 'subscribe' or 'unsubscribe', got {operation!r:.40}")
        self.topic = topic.removeprefix("/topics/")
        self.operation = operation
        self._backoff = backoff
        self._rng = rng if rng is not None else random.Random()
        self._sort(dict(outcomes))

    @property
    def tokens(self) -> list[str]:
        """Every token, in the order given."""
        return list(self._outcomes)

    @property
    def success(self) -> list[str]:
        """The tokens now subscribed (or, for an unsubscription, not subscribed)."""
        return list(self._success)

    @property
    def success_count(self) -> int:
        """``len(success)``, as firebase-admin's ``TopicManagementResponse`` names it."""
        return len(self._success)

    @property
    def failure_count(self) -> int:
        """Tokens not in :attr:`success`, as firebase-admin's ``TopicManagementResponse``
        counts them: dead, failed and to retry alike."""
        return len(self._outcomes) - len(self._success)

    def retry(self) -> list[str] | None:
        """The tokens worth another try, in the order given; ``None`` when there are none.

        Wait :meth:`delay` seconds before trying them again.
        """
        return list(self._retry_targets) if self._retry_targets else None

    def __repr__(self) -> str:
        return (
            f"<TopicResult {self.operation} {self.topic!r:.60} success={len(self._success)} "
            f"not_registered={len(self._not_registered)} failed={len(self._failed)} "
            f"retry={len(self._retry_targets)}>"
        )
