"""The batch task: many different messages per run, sent with ``send_each``."""

from __future__ import annotations

import collections
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import celery
import requests

from ..api import FCM
from ..messages import Message
from ..result import Result
from ._messages import dump_message, load_message
from ._task import FCMTask, register, transport_result

__all__ = ["DEFAULT_BATCH_TASK_NAME", "FCMBatchTask", "register_send_each_task"]

log = logging.getLogger("fcmclient.celery")

#: The task name :func:`register_send_each_task` uses when none is given.
DEFAULT_BATCH_TASK_NAME = "fcmclient.send_each"


class FCMBatchTask(FCMTask):
    """A Celery task base class that sends a batch of different messages with
    :meth:`FCM.send_each() <fcmclient.FCM.send_each>` and reschedules only what needs it.

    Its :meth:`run` takes a list of :func:`~fcmclient.celery.dump_message` dicts. Each
    message's targets go exactly one way, as with :class:`FCMTask`: settled ones to
    :meth:`handle_result` (once per message and attempt), those to retry into a retry task,
    those left when :attr:`max_retries` retries are spent (or an exception stopped the
    batch) to :meth:`on_give_up`, message by message. The messages to retry go back in as
    few tasks as there are distinct delays, rounded up to the second: one task per delay,
    each message in it with only its own remaining targets, not one task per message.

    A network failure before anything was sent (the access token could not be fetched)
    retries the whole batch with backoff. Register one with :func:`register_send_each_task`,
    or subclass it as :class:`FCMTask` shows.
    """

    def run(self, messages: Sequence[Mapping[str, Any]]) -> dict[str, int]:  # type: ignore[override]
        """Send a batch of dumped messages; reschedule what needs a retry (see the class docs).

        :param messages: :func:`dump_message`'s dicts.
        :returns: counts by bucket over the batch: ``success``, ``canonical``,
            ``not_registered``, ``failed``, ``gave_up`` and ``retry_tasks``.
        :raises celery.exceptions.Retry: retries were scheduled (Celery's normal way).
        """
        sent = [load_message(message) for message in messages]
        try:
            results = self._send_each(sent)
        except Exception as exc:
            self._stop_each(sent, exc)
            raise
        return self._settle_each(sent, results)

    def _send_each(self, sent: list[Message]) -> list[Result]:
        fcm = self.fcm
        try:
            return fcm.send_each(sent)
        except requests.RequestException as exc:  # raised before anything was sent
            log.info(
                "%s: request to FCM failed (%s), the whole batch will be retried",
                self.name,
                type(exc).__name__,
            )
            return [transport_result(message, exc, fcm.backoff) for message in sent]

    def _stop_each(self, sent: list[Message], exc: Exception) -> None:
        """``send_each`` raised: settled targets to handle_result, the rest to on_give_up."""
        results = getattr(exc, "results", None)
        if not isinstance(results, list) or [r.message for r in results] != sent:
            results = [None] * len(sent)
        for message, result in zip(sent, results, strict=True):
            unsent = result.retry() if result is not None else message
            try:
                if result is not None:
                    self.handle_result(result, message)
            finally:
                if unsent is not None:
                    self.on_give_up(unsent, result, exc)

    def _settle_each(self, sent: list[Message], results: list[Result]) -> dict[str, int]:
        retries = int(self.request.retries or 0)
        groups: dict[int, list[tuple[Message, Result]]] = collections.defaultdict(list)
        give_up: list[tuple[Message, Result, Exception | None]] = []
        for result in results:
            pending = result.retry()
            if pending is not None and retries < self.max_retries:
                groups[math.ceil(result.delay(retries))].append((pending, result))
            elif pending is not None:
                give_up.append((pending, result, None))
        retry, queued, refused = self._schedule(groups)
        give_up += refused
        counts = collections.Counter({"retry_tasks": queued})
        try:
            for message, result in zip(sent, results, strict=True):
                self.handle_result(result, message)
                for bucket in ("success", "canonical", "not_registered", "failed"):
                    counts[bucket] += len(getattr(result, bucket))
        finally:
            for pending, result, error in give_up:
                counts["gave_up"] += len(pending.targets)
                self.on_give_up(pending, result, error)
        if refused:
            raise cast(Exception, refused[0][2])
        if retry is not None:
            raise retry
        names = ("success", "canonical", "not_registered", "failed", "gave_up", "retry_tasks")
        return {name: counts[name] for name in names}

    def _schedule(
        self, groups: Mapping[int, list[tuple[Message, Result]]]
    ) -> tuple[BaseException | None, int, list[tuple[Message, Result, Exception | None]]]:
        """One retry task per delay: this task's own retry (Celery's, under its id) for the
        first, tasks of their own for the others, counted as the same retry.

        :returns: the retry to raise, how many tasks were queued, and what a broker refused
            (for on_give_up).
        """
        retry: BaseException | None = None
        queued = 0
        refused: list[tuple[Message, Result, Exception | None]] = []
        retries = int(self.request.retries or 0)
        for countdown, pending in sorted(groups.items()):
            log.debug("%s: retry of %d message(s) in %d s", self.name, len(pending), countdown)
            dumped = [dump_message(message) for message, _ in pending]
            try:
                if retry is None:
                    retry = self.retry(args=(dumped,), kwargs={}, countdown=countdown, throw=False)
                else:
                    self.apply_async(args=(dumped,), countdown=countdown, retries=retries + 1)
                queued += 1
            except Exception as exc:  # the broker refused it (Celery raises Reject)
                refused.extend((message, result, exc) for message, result in pending)
        return retry, queued, refused


def register_send_each_task(
    app: celery.Celery,
    fcm_factory: Callable[[], FCM],
    on_result: Callable[[Result, Message], None] | None = None,
    *,
    on_give_up: Callable[[Message, Result | None, BaseException | None], None] | None = None,
    name: str = DEFAULT_BATCH_TASK_NAME,
    max_retries: int = FCMTask.max_retries,
    **task_options: Any,
) -> FCMBatchTask:
    """Register an :class:`FCMBatchTask` on ``app`` from plain functions, and return it.

    Takes the same arguments as :func:`~fcmclient.celery.register_send_task`; call the task
    with a list of :func:`~fcmclient.celery.dump_message` dicts.

    >>> app = celery.Celery("doc", broker="memory://")
    >>> send_each = register_send_each_task(app, lambda: FCM("key"), name="doc.send_each")
    >>> send_each.name
    'doc.send_each'
    """
    task = register(app, FCMBatchTask, fcm_factory, on_result, on_give_up, name, max_retries, task_options)
    return cast(FCMBatchTask, task)
