"""Split a big audience into chunk tasks that many workers share."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import celery

from ..messages import InstallationMessage, JSONMessage
from ._messages import dump_message

if TYPE_CHECKING:
    from ._task import FCMTask

__all__ = ["DEFAULT_CHUNK_SIZE", "fan_out"]

#: Tokens per task in :func:`fan_out`.
DEFAULT_CHUNK_SIZE = 500


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

    Each task carries only its own chunk, so the workers of many machines share the send,
    and each chunk retries on its own. Duplicate tokens are dropped (the first one kept).
    Every message is built here, so a bad argument raises before anything is queued.
    Nothing is sent until you call the group (``.delay()`` or ``.apply_async(queue=...)``);
    no tokens give an empty group.

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
