"""A Celery app whose module-level FCM sends in the worker's main process before the pool forks.

Started by tests/celery/test_celery_fork.py as ``celery -A tests.celery.fork_app
worker --pool prefork``. Celery sends ``worker_init`` in the main process while it sets the
worker up, before the pool forks its processes (``WorkController.__init__`` runs it; the
pool starts in ``WorkController.start``): the handler below sends a multicast there, so the
FCM's worker threads, keep-alive connections and access token are all live when the pool
forks. What the handler records is in the children's copy of memory only if it ran before
their fork, and the send task reports it.

Environment: ``FORKAPP_BROKER_URL`` (also the result backend), ``FORKAPP_SERVICE_ACCOUNT``
(a key file) and ``FORKAPP_URL`` (the emulator's v1 endpoint).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from celery import Celery, signals

from fcmclient import FCM
from tests.forking import timed_send

app = Celery("fork_app", broker=os.environ["FORKAPP_BROKER_URL"], backend=os.environ["FORKAPP_BROKER_URL"])
app.conf.update(task_serializer="json", accept_content=["json"], worker_prefetch_multiplier=1)

#: One FCM for the whole worker, made at import: in the main process, before any fork.
client = FCM.from_service_account(
    os.environ["FORKAPP_SERVICE_ACCOUNT"], url=os.environ["FORKAPP_URL"], timeout=2.0, send_timeout=10.0
)

#: Filled in by the main process before the pool forks (empty in a child forked earlier).
USED_BEFORE_FORK: dict[str, int] = {}


@signals.worker_init.connect
def send_before_the_pool_forks(**_: Any) -> None:
    report = timed_send(client, [f"main-{i:03d}" for i in range(100)])
    threads = sum(thread.name.startswith("fcmclient") for thread in threading.enumerate())
    USED_BEFORE_FORK.update(pid=os.getpid(), delivered=len(report["success"]), threads=threads)


@app.task(name="fork_app.send")
def send(tokens: list[str]) -> dict[str, Any]:
    """Send to ``tokens`` with the FCM the main process used; report the verdicts."""
    report = timed_send(client, tokens)
    report.update(ppid=os.getppid(), used_before_fork=dict(USED_BEFORE_FORK))
    return report
