"""The Celery app: one send task, configured from the environment.

Run a worker from ``examples/celery_app``::

    celery -A pushapp.tasks worker --loglevel=INFO

Environment:

``PUSHAPP_BROKER_URL``
    the broker (default ``redis://127.0.0.1:6379/0``).
``PUSHAPP_RESULT_BACKEND``
    a result backend, if you want to wait for sends (default: none).
``PUSHAPP_DB``
    the SQLite file of devices (default ``devices.sqlite3``).
``FCM_SERVICE_ACCOUNT``
    a service-account key file: send through HTTP v1.
``FCM_API_KEY``
    a legacy server key, used when ``FCM_SERVICE_ACCOUNT`` is not set: the legacy API
    (emulators and proxies only; Google shut it down).
``FCM_URL``
    the send endpoint, to point at an emulator (default: Google's).
``PUSHAPP_MAX_RETRIES``
    retries before giving up on a token (default 5).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import closing
from typing import Any

from celery import Celery, group
from celery.result import GroupResult

from fcmclient import FCM, Result
from fcmclient.celery import dump_message, fan_out, register_send_each_task, register_send_task
from fcmclient.messages import Message

from . import devices

DB = os.environ.get("PUSHAPP_DB", "devices.sqlite3")

app = Celery(
    "pushapp",
    broker=os.environ.get("PUSHAPP_BROKER_URL", "redis://127.0.0.1:6379/0"),
    backend=os.environ.get("PUSHAPP_RESULT_BACKEND") or None,
)
app.conf.update(
    task_serializer="json",  # the default, spelt out: messages travel as plain dicts
    accept_content=["json"],
    worker_prefetch_multiplier=1,  # a worker holds one chunk at a time, others take the rest
    # Redis hands a task out again when a worker has held it unacknowledged for this long,
    # and a task waiting for its countdown is held so: keep it above the longest countdown
    # (Retry-After is capped at one hour), or a long wait would be sent twice.
    broker_transport_options={"visibility_timeout": 2 * 3600},
)


def make_fcm() -> FCM:
    """One FCM per worker process, built on its first send (never pickled)."""
    url = os.environ.get("FCM_URL") or None
    key_file = os.environ.get("FCM_SERVICE_ACCOUNT")
    if key_file:
        return FCM.from_service_account(key_file, url=url)
    return FCM(os.environ["FCM_API_KEY"], url=url)


def store_result(result: Result, message: Message) -> None:
    """After each send: replace canonical ids, delete dead tokens, record failures."""
    with closing(devices.connect(DB)) as db:
        devices.apply_result(db, result)


def store_give_up(message: Message, result: Result | None, error: BaseException | None) -> None:
    """Retries are spent, or an error stopped the task: record the tokens left."""
    with closing(devices.connect(DB)) as db:
        devices.record_give_up(db, message, result, error)


send_push = register_send_task(
    app,
    make_fcm,
    store_result,
    on_give_up=store_give_up,
    name="pushapp.send_push",
    max_retries=int(os.environ.get("PUSHAPP_MAX_RETRIES", "5")),
)


send_personal = register_send_each_task(
    app,
    make_fcm,
    store_result,
    on_give_up=store_give_up,
    name="pushapp.send_personal",
    max_retries=int(os.environ.get("PUSHAPP_MAX_RETRIES", "5")),
)


def notify_each(messages: Iterable[Message], batch: int = 500) -> GroupResult:
    """Queue personalised messages (each device its own text), 500 messages per task."""
    dumped = [dump_message(message) for message in messages]
    batches = [dumped[start : start + batch] for start in range(0, len(dumped), batch)]
    return group(send_personal.s(some) for some in batches).delay()


def notify_all(data: dict[str, Any], **message_kwargs: Any) -> GroupResult:
    """Queue a push to every stored device, 500 tokens per task."""
    with closing(devices.connect(DB)) as db:
        tokens = devices.tokens(db)
    return fan_out(send_push, tokens, data, **message_kwargs).delay()
