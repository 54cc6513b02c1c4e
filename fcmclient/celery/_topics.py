"""The topic task: subscribe or unsubscribe a batch of tokens, retries rescheduled with ``countdown``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, cast

import celery
import requests

from ..api import FCM
from ..outcomes import Outcome
from ..result import TOPIC_OPERATIONS, TopicResult
from ._task import FCMTask, register

__all__ = ["DEFAULT_TOPIC_TASK_NAME", "FCMTopicTask", "TopicChange", "register_topic_task"]

log = logging.getLogger("fcmclient.celery")

#: The task name :func:`register_topic_task` uses when none is given.
DEFAULT_TOPIC_TASK_NAME = "fcmclient.topics"


class TopicChange(NamedTuple):
    """What a topic task does: ``operation`` (``"subscribe"`` or ``"unsubscribe"``) ``tokens``
    to or from ``topic``. :meth:`FCMTopicTask.handle_result` and
    :meth:`~FCMTopicTask.on_give_up` receive one; the task's arguments are its fields.
    """

    operation: str
    tokens: list[str]
    topic: str

    @property
    def targets(self) -> list[str]:
        """The tokens (what a message calls its targets)."""
        return self.tokens


class FCMTopicTask(FCMTask):
    """A Celery task base class that subscribes (or unsubscribes) a batch of tokens to a topic
    and reschedules only the tokens worth another try.

    Its :meth:`run` takes ``(operation, tokens, topic)``: ``"subscribe"`` or
    ``"unsubscribe"``, a list of registration tokens and the topic name. It calls
    :meth:`FCM.subscribe_to_topic() <fcmclient.FCM.subscribe_to_topic>` (or
    :meth:`~fcmclient.FCM.unsubscribe_from_topic`) with :attr:`fcm`, then each token goes
    exactly one way, as a send task's targets do: settled ones to :meth:`handle_result` with
    the :class:`~fcmclient.TopicResult`; those in ``result.retry()`` back into this task with
    ``countdown=result.delay(retries)``, up to :attr:`max_retries`, then to
    :meth:`on_give_up`. A network failure before anything was sent retries the whole batch
    with backoff; any other exception is never retried (what was settled to
    :meth:`handle_result`, the rest to :meth:`on_give_up` with the exception, and the task
    fails with it).

    Register one with :func:`register_topic_task`, or subclass it as
    :class:`~fcmclient.celery.FCMTask` shows, overriding ``handle_result(result, change)``
    and ``on_give_up(change, result, error)`` (``change`` a :class:`TopicChange`)::

        topics = register_topic_task(app, lambda: FCM.from_service_account("service-account.json"))
        topics.delay("subscribe", tokens, "news")
    """

    def run(self, operation: str, tokens: Sequence[str], topic: str) -> dict[str, int]:  # type: ignore[override]
        """Subscribe or unsubscribe ``tokens``; reschedule what needs a retry (see the class).

        :returns: counts over the batch: ``success``, ``not_registered``, ``failed`` and
            ``gave_up``.
        :raises ValueError: an unknown ``operation`` (nothing is sent).
        :raises celery.exceptions.Retry: a retry was scheduled (Celery's normal way).
        """
        if operation not in TOPIC_OPERATIONS:
            raise ValueError(f"operation must be 'subscribe' or 'unsubscribe', got {operation!r:.40}")
        change = TopicChange(operation, list(tokens), topic)
        try:
            result = self._change(change)
        except Exception as exc:
            self._stop(change, exc)
            raise
        tokens_left = result.retry()
        pending = change._replace(tokens=tokens_left) if tokens_left is not None else None
        gave_up = self._finish(change, result, pending, tuple(pending) if pending is not None else ())
        return {
            "success": len(result.success),
            "not_registered": len(result.not_registered),
            "failed": len(result.failed),
            "gave_up": gave_up,
        }

    def _change(self, change: TopicChange) -> TopicResult:
        fcm = self.fcm
        act = fcm.subscribe_to_topic if change.operation == "subscribe" else fcm.unsubscribe_from_topic
        try:
            return act(change.tokens, change.topic)
        except requests.RequestException as exc:  # raised before anything was sent
            log.info(
                "%s: request to FCM failed (%s), the whole batch will be retried",
                self.name,
                type(exc).__name__,
            )
            outcomes = dict.fromkeys(change.tokens, Outcome.transport_error(exc))
            return TopicResult(change.topic, outcomes, operation=change.operation, backoff=fcm.backoff)

    def _partial(self, sent: Any, exc: Exception) -> tuple[Any, Any]:
        settled = getattr(exc, "result", None)
        if not isinstance(settled, TopicResult) or settled.tokens != sent.tokens:
            return None, sent
        left = settled.retry()
        return settled, sent._replace(tokens=left) if left is not None else None


def register_topic_task(
    app: celery.Celery,
    fcm_factory: Callable[[], FCM],
    on_result: Callable[[TopicResult, TopicChange], None] | None = None,
    *,
    on_give_up: Callable[[TopicChange, TopicResult | None, BaseException | None], None] | None = None,
    name: str = DEFAULT_TOPIC_TASK_NAME,
    max_retries: int = FCMTask.max_retries,
    **task_options: Any,
) -> FCMTopicTask:
    """Register an :class:`FCMTopicTask` on ``app`` from plain functions, and return it.

    Takes the arguments of :func:`~fcmclient.celery.register_send_task`, the hooks getting a
    :class:`~fcmclient.TopicResult` and a :class:`TopicChange`; call the task with
    ``(operation, tokens, topic)``.

    >>> app = celery.Celery("doc", broker="memory://")
    >>> topics = register_topic_task(app, lambda: FCM("key"), name="doc.topics")
    >>> topics.name, topics.max_retries
    ('doc.topics', 5)
    """
    task = register(app, FCMTopicTask, fcm_factory, on_result, on_give_up, name, max_retries, task_options)
    return cast(FCMTopicTask, task)
