"""The send task: one send per run, retries rescheduled with ``countdown``, never slept on."""

from __future__ import annotations

import inspect
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, cast

import celery
import requests
from celery import signals

from ..api import FCM
from ..messages import Message
from ..outcomes import TRANSPORT_ERROR, Outcome
from ..result import Result
from ._messages import dump_message, load_message

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TASK_NAME",
    "TRANSPORT_ERROR",
    "FCMTask",
    "register_send_task",
]

log = logging.getLogger("fcmclient.celery")

#: Retries a send task schedules before it gives up (:attr:`FCMTask.max_retries`).
DEFAULT_MAX_RETRIES = 5

#: The task name :func:`register_send_task` uses when none is given.
DEFAULT_TASK_NAME = "fcmclient.send"

_SHOWN_TARGETS = 10

#: The tasks that built an FCM in this process, closed when the worker (process) stops.
_BUILT: list[FCMTask] = []
_BUILT_LOCK = threading.Lock()


def _check_max_retries(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"max_retries must be an int >= 0, got {value!r}: a send task always has a retry limit"
        )


def _check_options(max_retries: object, autoretry_for: object) -> None:
    """Refuse the task options that would break the retry rules, before anything is sent."""
    _check_max_retries(max_retries)
    if autoretry_for:
        raise TypeError(
            "autoretry_for would send the whole message again, targets already sent included; "
            "a send task schedules its own retries (set max_retries instead)"
        )


def _prefixes(targets: list[str]) -> str:
    shown = [t[:8] + "..." if len(t) > 8 else t for t in targets[:_SHOWN_TARGETS]]
    more = len(targets) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def transport_result(message: Message, exc: requests.RequestException, backoff: int) -> Result:
    """A result where every target is to be retried after backoff: the request failed."""
    outcome = Outcome.transport_error(exc)
    return Result.from_outcomes(message, [outcome] * len(message.targets), backoff)


class FCMTask(celery.Task):  # type: ignore[misc]  # celery has no type hints
    """A Celery task base class that sends one dumped message and reschedules retries.

    Its :meth:`run` takes :func:`dump_message`'s dict, sends it with :attr:`fcm` (one
    :class:`~fcmclient.FCM` per worker process, built by :meth:`fcm_factory` on first use,
    closed when the process stops), then every target of the message goes exactly one way:

    - settled (success, canonical, not registered, failed): to :meth:`handle_result`,
      once, with the :class:`~fcmclient.Result`;
    - to retry, while fewer than :attr:`max_retries` retries came before: the task
      reschedules itself with only ``result.retry()`` and
      ``countdown=result.delay(retries)`` (``retries`` is ``self.request.retries``);
    - to retry, once the retries are spent: to :meth:`on_give_up`.

    A network failure of the request (``requests.RequestException``) retries the whole
    message that way, with backoff (its targets carry the error :data:`TRANSPORT_ERROR`).
    Any other exception (:class:`~fcmclient.FCMAuthenticationError`,
    :class:`~fcmclient.FCMRequestError`, a message v1 cannot translate, a soft time limit, a
    broker that refuses the retry...) is never retried: what was settled before it goes to
    :meth:`handle_result`, the rest to :meth:`on_give_up` with the exception, and the task
    fails with it.

    The retry is queued before :meth:`handle_result` runs, so an exception in the app's
    handler cannot lose it. Nothing here sleeps or loops: each run is one send.

    Subclass it and register the subclass, or let :func:`register_send_task` do that from
    plain functions::

        class SendPush(FCMTask):
            name = "pushes.send"
            max_retries = 3

            def fcm_factory(self):
                return FCM.from_service_account("service-account.json")

            def handle_result(self, result, message):
                for token in result.not_registered:
                    delete_token(token)

        send_push = app.register_task(SendPush())
        send_push.delay(dump_message(JSONMessage(tokens, {"text": "hi"})))
    """

    #: Retries before :meth:`on_give_up`: an int >= 0 (there is no "retry forever").
    max_retries: int = DEFAULT_MAX_RETRIES

    _fcm_lock = threading.Lock()
    _fcm_client: FCM | None = None
    _fcm_pid: int | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_options(cls.max_retries, getattr(cls, "autoretry_for", ()))

    def fcm_factory(self) -> FCM:
        """Build the :class:`~fcmclient.FCM` this worker process sends with.

        Called once per process, on the first send (never in the parent of a prefork
        pool, never pickled). Override it, or give a factory to :func:`register_send_task`.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must define fcm_factory() (or use register_send_task)"
        )

    @property
    def fcm(self) -> FCM:
        """This process's :class:`~fcmclient.FCM`, built by :meth:`fcm_factory` on first use.

        A connection inherited through ``fork()`` is not reused: the child builds its own.
        Celery's ``worker_process_shutdown`` and ``worker_shutdown`` signals close it.
        """
        pid = os.getpid()
        with self._fcm_lock:
            if self._fcm_client is None or self._fcm_pid != pid:
                # An FCM built before a fork belongs to the parent (its sockets and
                # threads): leave it alone, don't close it from here.
                self._fcm_client = self.fcm_factory()
                self._fcm_pid = pid
                with _BUILT_LOCK:
                    if not any(task is self for task in _BUILT):
                        _BUILT.append(self)
            return self._fcm_client

    def close_fcm(self) -> None:
        """Close this process's :class:`~fcmclient.FCM`, if it built one. Idempotent; the
        next send builds a new one. Called for you when the worker process stops."""
        with self._fcm_lock:
            client, self._fcm_client = self._fcm_client, None
            built_here = self._fcm_pid == os.getpid()
        if client is not None and built_here:
            client.close()
            log.debug("%s: closed the FCM connection of process %d", self.name, os.getpid())

    def handle_result(self, result: Result, message: Message) -> None:
        """The app's handling of one send: replace canonical tokens, delete dead ones...

        Called once per send attempt, in the worker, with the message that attempt sent.
        The default does nothing; override it (or pass ``on_result`` to
        :func:`register_send_task`). Targets in ``result.retry()`` are not settled: the
        task retries them or hands them to :meth:`on_give_up`, so don't act on them here.

        :param result: what FCM did with each target of ``message``.
        :param message: the message sent by this attempt.
        """

    def on_give_up(self, message: Message, result: Result | None, error: BaseException | None) -> None:
        """Called once with the targets this task will not send again.

        The default logs a warning with the count, the reason and the first token
        prefixes; override it to store them (or pass ``on_give_up`` to
        :func:`register_send_task`).

        :param message: a message to exactly the targets given up on.
        :param result: the last attempt's result, where those targets are in ``retry()``
            and their ``outcomes`` hold the last error; ``None`` when there was no answer.
        :param error: the exception that stopped the task (it is raised after this hook),
            or ``None`` when :attr:`max_retries` retries were spent.
        """
        targets = message.targets
        outcomes = result.outcomes if result is not None else {}
        reasons = sorted({outcomes[t].error or "?" for t in targets if t in outcomes})
        if error is not None:
            reasons.append(type(error).__name__)
        log.warning(
            "%s: giving up on %d target(s) after %d retries (%s): %s",
            self.name,
            len(targets),
            int(self.request.retries or 0),
            ", ".join(reasons) or "no answer",
            _prefixes(targets),
        )

    def run(self, message: Mapping[str, Any]) -> dict[str, int]:
        """Send a dumped message; reschedule what needs a retry (see the class docs).

        :param message: :func:`dump_message`'s dict.
        :returns: counts by bucket for this attempt: ``success``, ``canonical``,
            ``not_registered``, ``failed`` and ``gave_up``.
        :raises celery.exceptions.Retry: a retry was scheduled (Celery's normal way).
        """
        sent = load_message(message)
        try:
            result = self._send(sent)
        except Exception as exc:
            self._stop(sent, exc)
            raise
        return self._settle(sent, result)

    def _send(self, sent: Message) -> Result:
        _check_max_retries(self.max_retries)
        fcm = self.fcm
        try:
            return fcm.send(sent)
        except requests.RequestException as exc:
            log.info(
                "%s: request to FCM failed (%s), the whole message will be retried",
                self.name,
                type(exc).__name__,
            )
            return transport_result(sent, exc, fcm.backoff)

    def _stop(self, sent: Any, exc: Exception) -> None:
        """The send raised: settled targets to handle_result, the rest to on_give_up."""
        settled, unsent = self._partial(sent, exc)
        try:
            if settled is not None:
                self.handle_result(settled, sent)
        finally:
            if unsent is not None:
                self.on_give_up(unsent, settled, exc)

    def _partial(self, sent: Message, exc: Exception) -> tuple[Result | None, Message | None]:
        """What ``exc`` carries of ``sent``: the result settled before it (if any), and the
        message to the targets left (``None`` when none is)."""
        settled = getattr(exc, "result", None)
        if not isinstance(settled, Result) or settled.message is not sent:
            return None, sent
        return settled, settled.retry()

    def _settle(self, sent: Message, result: Result) -> dict[str, int]:
        pending = result.retry()
        gave_up = self._finish(sent, result, pending, (dump_message(pending),) if pending is not None else ())
        return {
            "success": len(result.success),
            "canonical": len(result.canonical),
            "not_registered": len(result.not_registered),
            "failed": len(result.failed),
            "gave_up": gave_up,
        }

    def _finish(self, sent: Any, result: Any, pending: Any, args: tuple[Any, ...]) -> int:
        """Retry ``pending`` (``result``'s targets to retry, or ``None``) as this task with
        ``args`` after ``result.delay(retries)`` while retries are left, else give it up; hand
        ``result`` to handle_result. How many targets were given up on.

        :raises celery.exceptions.Retry: the retry was scheduled.
        :raises Exception: the broker refused the retry (after on_give_up).
        """
        retries = int(self.request.retries or 0)
        scheduled: BaseException | None = None
        given_up: Any = None
        error: Exception | None = None
        if pending is not None and retries < self.max_retries:
            countdown = result.delay(retries)
            log.debug(
                "%s: retry %d for %d target(s) in %.2f s",
                self.name,
                retries + 1,
                len(pending.targets),
                countdown,
            )
            try:
                scheduled = self.retry(args=args, kwargs={}, countdown=countdown, throw=False)
            except Exception as exc:  # the broker refused it (Celery raises Reject)
                given_up, error = pending, exc
        elif pending is not None:
            given_up = pending
        try:
            self.handle_result(result, sent)
        finally:
            if given_up is not None:
                self.on_give_up(given_up, result, error)
        if error is not None:
            raise error
        if scheduled is not None:
            raise scheduled
        return len(given_up.targets) if given_up is not None else 0


def _close_built(**_: Any) -> None:
    """Close every FCM the send tasks built in this process (a Celery signal handler)."""
    with _BUILT_LOCK:
        tasks = list(_BUILT)
    for task in tasks:
        task.close_fcm()


# A prefork child sends worker_process_shutdown as it exits; the solo and threads pools
# run tasks in the main process, which sends worker_shutdown.
signals.worker_process_shutdown.connect(_close_built, weak=False, dispatch_uid="fcmclient.celery.close")
signals.worker_shutdown.connect(_close_built, weak=False, dispatch_uid="fcmclient.celery.close")


def register_send_task(
    app: celery.Celery,
    fcm_factory: Callable[[], FCM],
    on_result: Callable[[Result, Message], None] | None = None,
    *,
    on_give_up: Callable[[Message, Result | None, BaseException | None], None] | None = None,
    name: str = DEFAULT_TASK_NAME,
    max_retries: int = DEFAULT_MAX_RETRIES,
    base: type[FCMTask] = FCMTask,
    **task_options: Any,
) -> FCMTask:
    """Register an :class:`FCMTask` on ``app`` built from plain functions, and return it.

    :param app: the Celery app.
    :param fcm_factory: builds the :class:`~fcmclient.FCM`, once per worker process.
    :param on_result: ``on_result(result, message)``, the app's handling of each send
        (:meth:`FCMTask.handle_result`).
    :param on_give_up: ``on_give_up(message, result, error)``, the targets the task will
        not send again (:meth:`FCMTask.on_give_up`; default: a warning in the log).
    :param name: the task name.
    :param max_retries: retries before giving up, an int >= 0.
    :param base: the task class to start from.
    :param task_options: other Celery task options (``rate_limit``, ``acks_late``...).
    :returns: the task; call it with :func:`dump_message`'s dict, or use :func:`fan_out`.
    :raises ValueError: ``max_retries`` is not an int >= 0.
    :raises TypeError: ``autoretry_for`` is given (it would resend targets already sent).

    >>> app = celery.Celery("doc", broker="memory://")
    >>> send = register_send_task(app, lambda: FCM("key"), name="doc.send")
    >>> send.name, send.max_retries
    ('doc.send', 5)
    """
    return register(app, base, fcm_factory, on_result, on_give_up, name, max_retries, task_options)


def register(
    app: celery.Celery,
    base: type[FCMTask],
    fcm_factory: Callable[[], FCM],
    on_result: Callable[..., None] | None,
    on_give_up: Callable[..., None] | None,
    name: str,
    max_retries: int,
    task_options: Mapping[str, Any],
) -> FCMTask:
    """A task of class ``base`` on ``app``, its hooks the given plain functions (taking what
    that class's ``handle_result`` and ``on_give_up`` take)."""
    # Celery builds the task class lazily (on first use): check here, not only in the class.
    _check_options(max_retries, task_options.get("autoretry_for", ()))
    base_run = base.run
    hooks: dict[str, Any] = {"fcm_factory": lambda self: fcm_factory()}
    if on_result is not None:
        hooks["handle_result"] = lambda self, result, message: on_result(result, message)
    if on_give_up is not None:
        hooks["on_give_up"] = lambda self, message, result, error: on_give_up(message, result, error)

    def send(self: FCMTask, *args: Any) -> dict[str, int]:
        """Run the task: a dumped message, a list of them (a batch task), a topic change..."""
        return base_run(self, *args)

    # Celery checks the arguments a task is called with against this function's signature:
    # the base class's run says what they are.
    send.__signature__ = inspect.signature(base_run)  # type: ignore[attr-defined]

    # Celery makes every option of app.task an attribute of the task class it builds.
    decorate = app.task(
        bind=True, base=base, name=name, shared=False, max_retries=max_retries, **hooks, **task_options
    )
    return cast(FCMTask, decorate(send))
