"""The Celery app of ``celery_scaling.py``: fcm-client's ready send task, nothing else."""

from __future__ import annotations

import os

from celery import Celery

from fcmclient import FCM
from fcmclient.celery import register_send_task

app = Celery("celery_scaling_app", broker=os.environ["SCALING_BROKER"], backend=os.environ["SCALING_BROKER"])
app.conf.update(worker_prefetch_multiplier=1, task_acks_late=False, worker_hijack_root_logger=False)

send = register_send_task(
    app,
    lambda: FCM.from_service_account(os.environ["SCALING_KEY_FILE"], url=os.environ["SCALING_URL"]),
    name="celery_scaling_app.send",
)
