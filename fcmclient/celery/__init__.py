"""Send from Celery tasks: retries rescheduled with ``countdown``, never slept on.

Install with ``pip install 'fcm-client[celery]'``; ``import fcmclient`` never imports this
package or Celery. A send task takes a message as a plain dict (:func:`dump_message`), so it
travels through Celery's default JSON serializer; when the :class:`~fcmclient.Result` asks
for a retry, the task reschedules itself with only
:meth:`Result.retry() <fcmclient.Result.retry>` and ``countdown=result.delay(retries)``, up
to :attr:`FCMTask.max_retries`, then hands the targets still pending to
:meth:`FCMTask.on_give_up`. Nothing here sleeps or loops.

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

Topic subscriptions go the same way with :func:`register_topic_task`: each run subscribes
(or unsubscribes) a batch of tokens, and only the tokens worth another try come back.
"""

try:
    import celery as _celery  # noqa: F401  # only to give a clear error when it is missing
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "fcmclient.celery needs Celery: pip install 'fcm-client[celery]'", name=exc.name
    ) from exc

from ._batch import DEFAULT_BATCH_TASK_NAME, FCMBatchTask, register_send_each_task
from ._fan_out import DEFAULT_CHUNK_SIZE, fan_out
from ._messages import MESSAGE_CLASSES, dump_message, load_message
from ._task import DEFAULT_MAX_RETRIES, DEFAULT_TASK_NAME, TRANSPORT_ERROR, FCMTask, register_send_task
from ._topics import DEFAULT_TOPIC_TASK_NAME, FCMTopicTask, TopicChange, register_topic_task

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
    "DEFAULT_BATCH_TASK_NAME",
    "FCMBatchTask",
    "register_send_each_task",
    "DEFAULT_TOPIC_TASK_NAME",
    "FCMTopicTask",
    "TopicChange",
    "register_topic_task",
]
