"""Send from Celery tasks: retries rescheduled with ``countdown``, never slept on.

Install with ``pip install 'fcm-client[celery]'``. A send task takes a message as a plain
dict (:func:`dump_message`), so it travels through Celery's default JSON serializer; when
the :class:`~fcmclient.Result` asks for a retry, the task reschedules itself with only
:meth:`Result.retry() <fcmclient.Result.retry>` and
``countdown=result.delay(retries)``, up to :attr:`FCMTask.max_retries`, then hands the
targets still pending to :meth:`FCMTask.on_give_up`. Nothing here sleeps or loops.

Example::

    from celery import Celery
    from fcmclient import FCM
    from fcmclient.celery import fan_out, register_send_task

    app = Celery("pushes", broker="redis://127.0.0.1:6379/0")

    def clean_up(result, message):          # runs in the worker, once per send
        for token in result.not_registered:
            delete_token(token)

    send_push = register_send_task(
        app, lambda: FCM.from_service_account("service-account.json"), clean_up
    )
    fan_out(send_push, tokens, {"text": "hello"}).delay()   # 500 tokens per task
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, cast

import celery
import requests

from .api import FCM
from .errors import FCMAuthenticationError
from .messages import InstallationMessage, JSONMessage, Message, PlainTextMessage, TopicMessage
from .outcomes import Outcome
from .result import Result

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_TASK_NAME",
    "TRANSPORT_ERROR",
    "MESSAGE_CLASSES",
    "dump_message",
    "load_message",
    "FCMTask",
    "register_send_task",
    "fan_out",
]

log = logging.getLogger("fcmclient.celery")

#: Retries a send task schedules before it gives up (:attr:`FCMTask.max_retries`).
DEFAULT_MAX_RETRIES = 5

#: Tokens per task in :func:`fan_out`.
DEFAULT_CHUNK_SIZE = 500

#: The task name :func:`register_send_task` uses when none is given.
DEFAULT_TASK_NAME = "fcmclient.send"

#: Error code of targets whose request failed in the network (``requests`` raised).
TRANSPORT_ERROR = "TRANSPORT_ERROR"

#: The message classes that may travel through a queue, by name. :func:`load_message`
#: builds nothing else, whatever a queued dict says.
MESSAGE_CLASSES: Mapping[str, type[Message]] = MappingProxyType(
    {cls.__name__: cls for cls in (JSONMessage, PlainTextMessage, TopicMessage, InstallationMessage)}
)

_DUMP_KEYS = frozenset({"class", "state"})
_SHOWN_TARGETS = 10


def dump_message(message: Message) -> dict[str, Any]:
    """The message as a JSON-serialisable dict: its class name and its ``__getstate__()``.

    :param message: a message of one of the :data:`MESSAGE_CLASSES`.
    :raises TypeError: any other class, subclasses included (they could not be rebuilt as
        themselves on the other side).

    >>> dump_message(JSONMessage(["tok-1"], {"k": "v"}))
    {'class': 'JSONMessage', 'state': {'registration_ids': ['tok-1'], 'data': {'k': 'v'}}}
    """
    cls = type(message)
    if MESSAGE_CLASSES.get(cls.__name__) is not cls:
        raise TypeError(
            f"only {', '.join(MESSAGE_CLASSES)} can be dumped, not {cls.__module__}.{cls.__qualname__}"
        )
    return {"class": cls.__name__, "state": message.__getstate__()}


def load_message(dumped: Mapping[str, Any]) -> Message:
    """Rebuild a message from :func:`dump_message`'s dict.

    Only the :data:`MESSAGE_CLASSES` are built, by name from that allow-list: nothing is
    imported, whatever the dict says.

    :param dumped: ``{"class": name, "state": constructor kwargs}``.
    :raises ValueError: a class name not in the allow-list, or a dict of another shape.
    :raises TypeError: ``dumped`` is not a dict, or the constructor refused the state.

    >>> load_message({"class": "TopicMessage", "state": {"topic": "news"}}).topic
    'news'
    """
    if not isinstance(dumped, Mapping):
        raise TypeError(f"a dumped message is a dict, not {type(dumped).__name__}")
    if set(dumped) != _DUMP_KEYS:
        raise ValueError(f"a dumped message has exactly the keys 'class' and 'state', got {sorted(dumped)}")
    name = dumped["class"]
    cls = MESSAGE_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"refusing message class {name!r:.60}: expected one of {', '.join(MESSAGE_CLASSES)}")
    state = dumped["state"]
    if not isinstance(state, Mapping):
        raise ValueError(f"a dumped message's 'state' is a dict, not {type(state).__name__}")
    return cls(**state)


def _prefixes(targets: list[str]) -> str:
    shown = [t[:8] + "..." if len(t) > 8 else t for t in targets[:_SHOWN_TARGETS]]
    more = len(targets) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _transport_result(message: Message, exc: requests.RequestException, backoff: int) -> Result:
    """A result where every target is to be retried after backoff: the request failed."""
    detail = f"{type(exc).__name__}: {str(exc)[:200]}"
    outcome = Outcome.retry(TRANSPORT_ERROR, detail)
    return Result.from_outcomes(message, [outcome] * len(message.targets), backoff)


class FCMTask(celery.Task):  # type: ignore[misc]  # celery has no type hints
    """A Celery task base class that sends one dumped message and reschedules retries.

    Its :meth:`run` takes :func:`dump_message`'s dict, sends it with :attr:`fcm` (one
    :class:`~fcmclient.FCM` per worker process, built by :meth:`fcm_factory` on first use),
    passes the :class:`~fcmclient.Result` to :meth:`handle_result`, then:

    - targets to retry: the task reschedules itself with only ``result.retry()`` and
      ``countdown=result.delay(retries)``, where ``retries`` is how many retries came
      before (``self.request.retries``); once :attr:`max_retries` retries are spent it
      calls :meth:`on_give_up` instead;
    - a network failure (``requests.RequestException``): the whole message is retried the
      same way, with backoff (its targets carry the error :data:`TRANSPORT_ERROR`);
    - :class:`~fcmclient.FCMAuthenticationError`: never retried; what was settled goes to
      :meth:`handle_result`, what was not to :meth:`on_give_up`, and the error is re-raised.

    A retry is scheduled before :meth:`handle_result` runs, so an exception in the app's
    handler cannot lose it. Other errors (an invalid message, ``FCMRequestError``)
    propagate: the task fails and Celery keeps its arguments.

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

    #: Retries before :meth:`on_give_up` (``None``: retry forever, not recommended).
    max_retries: int | None = DEFAULT_MAX_RETRIES

    _fcm_lock = threading.Lock()
    _fcm_client: FCM | None = None
    _fcm_pid: int | None = None

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
        """
        pid = os.getpid()
        with self._fcm_lock:
            if self._fcm_client is None or self._fcm_pid != pid:
                # An FCM built before a fork belongs to the parent (its sockets and
                # threads): leave it alone, don't close it from here.
                self._fcm_client = self.fcm_factory()
                self._fcm_pid = pid
            return self._fcm_client

    def close_fcm(self) -> None:
        """Close this process's :class:`~fcmclient.FCM`, if it built one (e.g. from
        Celery's ``worker_process_shutdown`` signal). The next send builds a new one."""
        with self._fcm_lock:
            client, self._fcm_client = self._fcm_client, None
            built_here = self._fcm_pid == os.getpid()
        if client is not None and built_here:
            client.close()

    def handle_result(self, result: Result, message: Message) -> None:
        """The app's handling of one send: replace canonical tokens, delete dead ones...

        Called once per send attempt, in the worker, with the message that was sent. The
        default does nothing; override it (or pass ``on_result`` to
        :func:`register_send_task`). Targets in ``result.retry()`` are taken care of by
        the task: don't resend them here.

        :param result: what FCM did with each target of ``message``.
        :param message: the message sent by this attempt.
        """

    def on_give_up(self, message: Message, result: Result | None) -> None:
        """Called with the targets this task will not send again.

        That is after :attr:`max_retries` retries, or when the credentials were rejected.
        The default logs a warning with the count, the last error codes and the first
        token prefixes; override it to store them (or pass ``on_give_up`` to
        :func:`register_send_task`).

        :param message: a message to exactly the targets given up on.
        :param result: the last attempt's result (those targets are in its ``retry()``),
            or ``None`` when the request was rejected as a whole with no result.
        """
        targets = message.targets
        outcomes = result.outcomes if result is not None else {}
        errors = sorted({outcomes[t].error or "?" for t in targets if t in outcomes})
        log.warning(
            "%s: giving up on %d target(s) after %d retries (%s): %s",
            self.name,
            len(targets),
            self._retries(),
            ", ".join(errors) or "no answer",
            _prefixes(targets),
        )

    def run(self, message: Mapping[str, Any]) -> dict[str, int]:
        """Send a dumped message; reschedule what needs a retry (see the class docs).

        :param message: :func:`dump_message`'s dict.
        :returns: counts by bucket for this attempt: ``success``, ``canonical``,
            ``not_registered``, ``failed`` and ``gave_up`` (when no retry was scheduled).
        :raises celery.exceptions.Retry: a retry was scheduled (Celery's normal way).
        """
        sent = load_message(message)
        fcm = self.fcm
        try:
            result = fcm.send(sent)
        except FCMAuthenticationError as exc:
            settled = exc.result if isinstance(exc.result, Result) else None
            unsent = settled.retry() if settled is not None else sent
            try:
                if settled is not None:
                    self.handle_result(settled, sent)
            finally:
                if unsent is not None:
                    self.on_give_up(unsent, settled)
            raise
        except requests.RequestException as exc:
            log.info(
                "%s: request to FCM failed (%s), the whole message will be retried",
                self.name,
                type(exc).__name__,
            )
            result = _transport_result(sent, exc, fcm.backoff)
        return self._settle(sent, result)

    def _retries(self) -> int:
        return int(self.request.retries or 0)

    def _settle(self, sent: Message, result: Result) -> dict[str, int]:
        retries = self._retries()
        pending = result.retry()
        scheduled: BaseException | None = None
        given_up: Message | None = None
        if pending is not None:
            if self.max_retries is None or retries < self.max_retries:
                countdown = result.delay(retries)
                log.debug(
                    "%s: retry %d for %d target(s) in %.2f s",
                    self.name,
                    retries + 1,
                    len(pending.targets),
                    countdown,
                )
                scheduled = self.retry(
                    args=(dump_message(pending),), kwargs={}, countdown=countdown, throw=False
                )
            else:
                given_up = pending
        try:
            self.handle_result(result, sent)
        finally:
            if given_up is not None:
                self.on_give_up(given_up, result)
        if scheduled is not None:
            raise scheduled
        pending_count = len(pending.targets) if pending is not None else 0
        return {
            "success": len(result.success),
            "canonical": len(result.canonical),
            "not_registered": len(result.not_registered),
            "failed": len(result.failed),
            "gave_up": pending_count,
        }


def register_send_task(
    app: celery.Celery,
    fcm_factory: Callable[[], FCM],
    on_result: Callable[[Result, Message], None] | None = None,
    *,
    on_give_up: Callable[[Message, Result | None], None] | None = None,
    name: str = DEFAULT_TASK_NAME,
    max_retries: int | None = DEFAULT_MAX_RETRIES,
    base: type[FCMTask] = FCMTask,
    **task_options: Any,
) -> FCMTask:
    """Register an :class:`FCMTask` on ``app`` built from plain functions, and return it.

    :param app: the Celery app.
    :param fcm_factory: builds the :class:`~fcmclient.FCM`, once per worker process.
    :param on_result: ``on_result(result, message)``, the app's handling of each send
        (:meth:`FCMTask.handle_result`).
    :param on_give_up: ``on_give_up(message, result)`` (:meth:`FCMTask.on_give_up`;
        default: a warning in the log).
    :param name: the task name.
    :param max_retries: retries before giving up.
    :param base: the task class to start from.
    :param task_options: other Celery task options (``rate_limit``, ``acks_late``...).
    :returns: the task; call it with :func:`dump_message`'s dict, or use :func:`fan_out`.

    >>> app = celery.Celery("doc", broker="memory://")
    >>> send = register_send_task(app, lambda: FCM("key"), name="doc.send")
    >>> send.name, send.max_retries
    ('doc.send', 5)
    """
    base_run = base.run
    hooks: dict[str, Any] = {"fcm_factory": lambda self: fcm_factory()}
    if on_result is not None:
        hooks["handle_result"] = lambda self, result, message: on_result(result, message)
    if on_give_up is not None:
        hooks["on_give_up"] = lambda self, message, result: on_give_up(message, result)

    def send(self: FCMTask, message: Mapping[str, Any]) -> dict[str, int]:
        """Send one message dumped by :func:`fcmclient.celery.dump_message`."""
        return base_run(self, message)

    # Celery makes every option of app.task an attribute of the task class it builds.
    decorate = app.task(
        bind=True,
        base=base,
        name=name,
        shared=False,
        max_retries=max_retries,
        **hooks,
        **task_options,
    )
    return cast(FCMTask, decorate(send))


def _chunks(tokens: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(tokens), size):
        yield tokens[start : start + size]


def fan_out(
    task: FCMTask,
    tokens: Iterable[str],
    data: Mapping[str, Any] | None = None,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    message_class: type[JSONMessage] = JSONMessage,
    **message_kwargs: Any,
) -> celery.group:
    """A Celery ``group`` that sends one message to many tokens, ``chunk_size`` per task.

    Each task carries only its own chunk, so the workers of many machines share the send.
    Duplicate tokens are dropped (the first one kept). Every message is built here, so a
    bad argument raises before anything is queued. Nothing is sent until you call the
    group (``.delay()`` or ``.apply_async(queue=...)``).

    :param task: a send task (:func:`register_send_task` or an :class:`FCMTask`).
    :param tokens: the target tokens (or FIDs with ``message_class=InstallationMessage``).
    :param data: the ``data`` payload.
    :param chunk_size: tokens per task (default 500; at most 1,000 for the legacy API).
    :param message_class: :class:`~fcmclient.JSONMessage` or
        :class:`~fcmclient.InstallationMessage`.
    :param message_kwargs: the rest of the message: ``message_title``, ``collapse_key``...
    :raises ValueError: ``chunk_size`` is not a positive int.
    :raises TypeError: ``tokens`` is a single str, or the message content is invalid.

    Example::

        fan_out(send_push, tokens, {"text": "hi"}, message_title="News").delay()
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    if isinstance(tokens, (str, bytes)):
        raise TypeError("tokens must be a list of tokens, not a single str")
    if message_class not in (JSONMessage, InstallationMessage):
        raise TypeError("message_class must be JSONMessage or InstallationMessage")
    unique = list(dict.fromkeys(tokens))
    signatures = [
        task.s(dump_message(message_class(chunk, data, **message_kwargs)))
        for chunk in _chunks(unique, chunk_size)
    ]
    return celery.group(signatures)
