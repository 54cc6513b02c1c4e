"""A Celery app with a send_each batch task and a topic task that record every attempt in a
SQLite file.

Started by tests/celery/test_celery_send_each.py and test_celery_topic_worker.py as
``celery -A tests.celery.each_app worker``. Each handled result and each give-up is a row of
``attempts`` in the file ``EACHAPP_DB``: the task id and retry number it came in, the
message's targets (a topic change's tokens), and what happened to each, so the test sees
which messages travelled together and with which targets.

Environment: ``EACHAPP_BROKER_URL``, ``EACHAPP_SERVICE_ACCOUNT`` (a key file),
``EACHAPP_URL`` (the emulator's v1 endpoint), ``EACHAPP_DB`` and ``EACHAPP_MAX_RETRIES``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from typing import Any

from celery import Celery

from fcmclient import FCM, Result, TopicResult
from fcmclient.celery import FCMBatchTask, FCMTask, FCMTopicTask, TopicChange
from fcmclient.messages import Message

app = Celery("each_app", broker=os.environ["EACHAPP_BROKER_URL"])
app.conf.update(task_serializer="json", accept_content=["json"], worker_prefetch_multiplier=1)

SCHEMA = "CREATE TABLE IF NOT EXISTS attempts (task TEXT, retries INT, kind TEXT, targets TEXT, detail TEXT)"


def record(kind: str, task: FCMTask, message: Message | TopicChange, detail: dict[str, Any]) -> None:
    with closing(sqlite3.connect(os.environ["EACHAPP_DB"], timeout=30)) as db, db:
        db.execute(SCHEMA)
        row = (
            task.request.id,
            int(task.request.retries or 0),
            kind,
            json.dumps(message.targets),
            json.dumps(detail),
        )
        db.execute("INSERT INTO attempts VALUES (?, ?, ?, ?, ?)", row)


def make_fcm() -> FCM:
    return FCM.from_service_account(os.environ["EACHAPP_SERVICE_ACCOUNT"], url=os.environ["EACHAPP_URL"])


class SendEach(FCMBatchTask):
    name = "each_app.send_each"
    max_retries = int(os.environ.get("EACHAPP_MAX_RETRIES", "1"))

    def fcm_factory(self) -> FCM:
        return make_fcm()

    def handle_result(self, result: Result, message: Message) -> None:
        outcomes = {target: outcome.bucket.value for target, outcome in result.outcomes.items()}
        record("result", self, message, outcomes)

    def on_give_up(self, message: Message, result: Result | None, error: BaseException | None) -> None:
        record("give_up", self, message, {"error": type(error).__name__ if error else None})


send_each = app.register_task(SendEach())


class Topics(FCMTopicTask):
    name = "each_app.topics"
    max_retries = int(os.environ.get("EACHAPP_MAX_RETRIES", "1"))

    def fcm_factory(self) -> FCM:
        return make_fcm()

    def handle_result(self, result: TopicResult, change: TopicChange) -> None:  # type: ignore[override]
        buckets = {token: outcome.bucket.value for token, outcome in result.outcomes.items()}
        record("result", self, change, {"operation": result.operation, "topic": result.topic, **buckets})

    def on_give_up(  # type: ignore[override]
        self, change: TopicChange, result: TopicResult | None, error: BaseException | None
    ) -> None:
        record("give_up", self, change, {"error": type(error).__name__ if error else None})


topics = app.register_task(Topics())
