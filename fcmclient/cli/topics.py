"""``fcmclient topics``: subscribe tokens to a topic, unsubscribe them, list a token's topics.

``subscribe`` and ``unsubscribe`` take their tokens as ``send`` does (``--token``,
``--tokens-file``, streamed a chunk at a time) and run as it runs: one call per chunk on a
helper thread, retry rounds, the progress bar, every token settled once in the report and
the summary. ``list`` prints one topic name per line. All of it needs HTTP v1.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Iterator, Mapping
from typing import BinaryIO, TextIO

import requests

from .._protocol.topics import topic_name
from ..api import FCM
from ..errors import FCMAuthenticationError, FCMError
from ..outcomes import Outcome
from ..result import TopicResult
from .common import EXIT_AUTH, EXIT_OK, EXIT_PARTIAL, StopRequest, UsageError
from .options import connect
from .sending import Sender, run_jobs

__all__ = ["run_topics"]

_DONE = {"subscribe": "subscribed", "unsubscribe": "unsubscribed"}


class _Batch:
    """A chunk of tokens to subscribe or unsubscribe in one call."""

    def __init__(self, targets: list[str]) -> None:
        self.targets = targets


class _Answer:
    """A :class:`~fcmclient.TopicResult` as the command's rounds read an answer."""

    def __init__(self, result: TopicResult) -> None:
        self._result = result
        self.outcomes = result.outcomes

    def retry(self) -> _Batch | None:
        tokens = self._result.retry()
        return _Batch(tokens) if tokens is not None else None

    def delay(self, retry: int = 0) -> float:
        return self._result.delay(retry)


def _v1(fcm: FCM) -> FCM:
    if fcm.protocol != "v1":
        raise UsageError(
            "topic management needs HTTP v1: give --service-account (or set "
            "GOOGLE_APPLICATION_CREDENTIALS) or --emulator, not an API key"
        )
    return fcm


def _change(args: argparse.Namespace, fcm: FCM, topic: str, batch: _Batch) -> _Answer:
    """Subscribe or unsubscribe ``batch``; a stop carries its partial result, as a send's does."""
    change = fcm.subscribe_to_topic if args.topic_command == "subscribe" else fcm.unsubscribe_from_topic
    return _Answer(change(batch.targets, topic))


def run_topics(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    stdin: BinaryIO,
    stdout: TextIO,
    stderr: TextIO,
    stop: StopRequest,
) -> int:
    """``fcmclient topics ACTION``; returns the exit status.

    :raises UsageError: bad input (a topic name FCM refuses, no tokens, legacy credentials),
        found before anything was sent.
    """
    if args.topic_command == "list":
        return _list(args, environ, stdout, stderr)
    try:
        topic = topic_name(args.topic)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with connect(args, environ) as fcm:
        _v1(fcm)

        def jobs(chunks: Iterator[list[str]]) -> Iterator[_Batch]:
            return (_Batch(chunk) for chunk in chunks)

        def whole(batch: _Batch, outcome: Outcome) -> _Answer:
            outcomes = dict.fromkeys(batch.targets, outcome)
            return _Answer(TopicResult(topic, outcomes, operation=args.topic_command, backoff=fcm.backoff))

        sender = Sender(functools.partial(_change, args, fcm, topic), whole, stop, stderr)
        return run_jobs(args, fcm, jobs, sender, stdin, stdout, stderr, stop, done=_DONE[args.topic_command])


def _list(args: argparse.Namespace, environ: Mapping[str, str], stdout: TextIO, stderr: TextIO) -> int:
    token = args.token.strip()
    if not token:
        raise UsageError("the token is empty")
    with connect(args, environ) as fcm:
        try:
            topics = _v1(fcm).topic_subscriptions(token)
        except FCMAuthenticationError as exc:
            print(f"fcmclient: credentials rejected: {exc}", file=stderr, flush=True)
            return EXIT_AUTH
        except (FCMError, requests.RequestException) as exc:
            print(f"fcmclient: {exc}", file=stderr, flush=True)
            return EXIT_PARTIAL
    for name in topics:
        print(name, file=stdout)
    stdout.flush()
    return EXIT_OK
