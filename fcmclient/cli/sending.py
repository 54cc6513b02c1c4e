"""The ``fcmclient send`` command: build the message, send it in chunks, settle every target.

Tokens are streamed from their file a chunk at a time, and each target's outcome is written
to the report as soon as it is final, so memory holds one chunk and a 16-byte digest per token
seen (about 80 bytes a token, to send each once), never the file; and an interrupted run
leaves a report that says what happened to every target.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import functools
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, BinaryIO, Protocol, TextIO

import requests

from .._http.executor import abandon_on
from .._http.workers import Workers
from ..api import FCM
from ..errors import FCMAuthenticationError, FCMRequestError, FCMResponseError
from ..messages import JSONMessage, Message, TopicMessage
from ..outcomes import INTERRUPTED, NOT_SENT, Bucket, Outcome
from ..result import Result
from .common import EXIT_AUTH, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, StopRequest, UsageError
from .options import LEGACY_MAX_TOKENS, connect, message_content, open_report, target_is_tokens
from .report import Ledger, Progress
from .tokens import TokenFileError, TokenSource

__all__ = ["INTERRUPTED", "Answer", "Job", "Sender", "run_jobs", "run_send"]


class _AbandonedError(Exception):
    """A second interrupt arrived while a send was in flight."""


class Job(Protocol):
    """What the command sends in one go: a message, or a batch of tokens for a topic."""

    @property
    def targets(self) -> list[str]:
        """Its targets, in order."""


class Answer(Protocol):
    """What sending a job gives: a :class:`~fcmclient.Result` or its like."""

    @property
    def outcomes(self) -> dict[str, Outcome]:
        """Every target's outcome."""

    def retry(self) -> Job | None:
        """The job to send again, or ``None``."""

    def delay(self, retry: int = 0) -> float:
        """Seconds to wait before sending :meth:`retry`."""


class Sender:
    """Sends jobs one at a time on a helper thread, so that signals are seen at once.

    Its thread is a daemon and its sends stop starting requests once abandoned: a second
    interrupt ends the command at once, without waiting for the answers in flight.

    :param send: sends a job (``FCM.send``, or a topic operation).
    :param whole: the answer of a job that failed as a whole with the given outcome.
    """

    def __init__(
        self,
        send: Callable[[Any], Answer],
        whole: Callable[[Any, Outcome], Answer],
        stop: StopRequest,
        stderr: TextIO,
    ) -> None:
        self._do, self._whole, self._stop, self._stderr = send, whole, stop, stderr
        self._runner = Workers(1, "fcmclient-send")
        self._abandoned = threading.Event()
        self._announced = False

    def close(self) -> None:
        self._runner.shutdown(wait=not self._abandoned.is_set())

    def _send(self, job: Job) -> Answer:
        with abandon_on(self._abandoned):
            return self._do(job)

    def announce_stop(self) -> None:
        if not self._announced:
            self._announced = True
            print(
                "\nfcmclient: stopping; waiting for the sends in flight (interrupt again to abandon them)",
                file=self._stderr,
                flush=True,
            )

    def send(self, job: Job) -> Answer:
        """Send, turning a failure of the whole job into one outcome per target.

        :raises FCMAuthenticationError: the credentials were rejected.
        :raises _AbandonedError: a second interrupt came before the answer.
        """
        future = self._runner.submit(functools.partial(self._send, job))
        while not concurrent.futures.wait([future], timeout=0.1).done:
            if self._stop.count >= 2:
                self._abandoned.set()
                raise _AbandonedError
            if self._stop.count:
                self.announce_stop()
        try:
            return future.result()
        except requests.RequestException as exc:
            outcome = Outcome.transport_error(exc)
        except FCMRequestError as exc:  # the whole request was refused: fix it, do not resend
            outcome = Outcome.failed(
                f"HTTP_{exc.status}" if exc.status else "REQUEST_REJECTED", str(exc)[:300]
            )
        except FCMResponseError as exc:  # an unreadable answer: it may have been delivered
            outcome = Outcome.failed("INVALID_RESPONSE", str(exc)[:300])
        return self._whole(job, outcome)


class _Pending:
    """A retry job waiting for its time, with the outcomes that sent it there."""

    def __init__(self, due: float, message: Job, outcomes: dict[str, Outcome]) -> None:
        self.due, self.message, self.outcomes = due, message, outcomes


class _Run:
    """One ``send`` command: sends, and settles every target in ``ledger`` exactly once."""

    def __init__(
        self,
        ledger: Ledger,
        sender: Sender,
        source: TokenSource,
        progress: Progress,
        stop: StopRequest,
        stderr: TextIO,
        retries: int,
    ) -> None:
        self.ledger, self.sender, self.source = ledger, sender, source
        self.progress, self.stop, self.stderr = progress, stop, stderr
        self.retries = retries
        self.pending: list[_Pending] = []
        self.in_flight: list[str] = []

    def _send(self, message: Job, round_: int) -> None:
        self.in_flight = message.targets
        result = self.sender.send(message)
        self.in_flight = []
        retry = result.retry()
        keep = retry is not None and round_ < self.retries
        for target, outcome in result.outcomes.items():
            if not (keep and outcome.bucket is Bucket.RETRY):
                self.ledger.settle(target, outcome)
        if retry is not None:
            delay = result.delay(round_)
            if keep:
                waiting = {t: o for t, o in result.outcomes.items() if o.bucket is Bucket.RETRY}
                self.pending.append(_Pending(time.monotonic() + delay, retry, waiting))
            else:
                self.ledger.note_wait(delay)
        self.ledger.flush()

    def _give_up(self, targets: Iterable[str], outcome: Outcome) -> None:
        for target in targets:
            self.ledger.settle(target, outcome)

    def _settle_pending(self) -> None:
        for item in self.pending:
            for target, outcome in item.outcomes.items():
                self.ledger.settle(target, outcome)
        self.pending = []

    def _first_round(self, messages: Iterator[Job]) -> None:
        for message in messages:
            if self.stop.count:
                self.sender.announce_stop()
                self._give_up(message.targets, Outcome.retry(NOT_SENT, "not sent: interrupted"))
                return
            self._send(message, 0)
            self.progress.update(self.source.count or 1, self.source.fraction())
        self.progress.update(self.source.count or 1, self.source.fraction(), force=True)

    def _retry_rounds(self) -> None:
        for round_ in range(1, self.retries + 1):
            if self.stop.count or not self.pending:
                return
            batch, self.pending = self.pending, []
            count = sum(len(item.message.targets) for item in batch)
            wait = max(batch[0].due - time.monotonic(), 0.0)
            print(f"retry round {round_}: {count} target(s), the first in {wait:.1f} s", file=self.stderr)
            for index, item in enumerate(batch):
                if self.stop.event.wait(max(item.due - time.monotonic(), 0.0)):
                    self.sender.announce_stop()
                    self.pending.extend(batch[index:])
                    return
                self._send(item.message, round_)

    def drive(self, messages: Iterator[Job], rest: Iterator[str]) -> tuple[int, str | None]:
        """Send ``messages``, then the retry rounds; settle the targets of ``rest`` left unsent.

        :returns: the exit status (``EXIT_OK`` when it ran to the end) and an error line.
        """
        status, error, unsent = EXIT_OK, None, "not sent: interrupted"
        try:
            self._first_round(messages)
            self.progress.finish()
            self._retry_rounds()
        except TokenFileError as exc:
            status, error = EXIT_USAGE, f"error: {exc}; the targets before it were sent"
        except FCMAuthenticationError as exc:
            unsent = "not sent: the credentials were rejected"
            status, error = EXIT_AUTH, f"credentials rejected: {exc}"
            if exc.result is not None:
                for target, outcome in exc.result.outcomes.items():
                    self.ledger.settle(target, outcome)
            else:
                self._give_up(self.in_flight, Outcome.retry(NOT_SENT, unsent))
        except _AbandonedError:
            status = EXIT_INTERRUPTED
            error = "abandoned: the targets in flight are marked INTERRUPTED (they may have been sent)"
            self._give_up(
                self.in_flight, Outcome.retry(INTERRUPTED, "abandoned in flight: may have been sent")
            )
        self.progress.finish()
        self._settle_pending()
        if status == EXIT_OK and self.stop.count:
            status, error = EXIT_INTERRUPTED, "interrupted: the targets not sent are marked NOT_SENT"
        if status != EXIT_OK and not self._give_up_rest(rest, Outcome.retry(NOT_SENT, unsent)):
            error = f"{error}; standard input was not read to its end"
        self.ledger.flush()
        return status, error

    def _give_up_rest(self, rest: Iterator[str], outcome: Outcome) -> bool:
        """Settle the targets not read yet; False if a second interrupt cut a pipe short."""
        if self.source.fraction() is not None:  # a file or the command line: read it all, quickly
            self._give_up(rest, outcome)
            return True
        while True:  # a pipe may block: a second interrupt leaves it
            try:
                target = self.stop.next_or_abort(rest)
            except StopIteration:
                return True
            except KeyboardInterrupt:
                return False
            self.ledger.settle(target, outcome)


def _rest(tokens: Iterator[str]) -> Iterator[str]:
    """The tokens not read yet (a line that is not text ends them)."""
    try:
        yield from tokens
    except TokenFileError:
        return


def run_send(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    stdin: BinaryIO,
    stdout: TextIO,
    stderr: TextIO,
    stop: StopRequest,
) -> int:
    """The ``send`` command; returns the exit status.

    :raises UsageError: bad input, found before anything was sent.
    """
    content = message_content(args)
    tokens = target_is_tokens(args, content)
    with connect(args, environ) as fcm:
        if fcm.protocol == "legacy" and args.chunk_size > LEGACY_MAX_TOKENS:
            raise UsageError(f"--chunk-size is at most {LEGACY_MAX_TOKENS} on the legacy API")

        def jobs(chunks: Iterator[list[str]]) -> Iterator[Message]:
            if not tokens:
                yield TopicMessage(topic=args.topic, condition=args.condition, **content)
                return
            yield from (JSONMessage(chunk, **content) for chunk in chunks)

        def whole(message: Message, outcome: Outcome) -> Result:
            return Result.from_outcomes(message, [outcome] * len(message.targets), fcm.backoff)

        sender = Sender(fcm.send, whole, stop, stderr)
        return run_jobs(args, fcm, jobs, sender, stdin, stdout, stderr, stop, done="sent")


def run_jobs(
    args: argparse.Namespace,
    fcm: FCM,
    jobs: Callable[[Iterator[list[str]]], Iterator[Job]],
    sender: Sender,
    stdin: BinaryIO,
    stdout: TextIO,
    stderr: TextIO,
    stop: StopRequest,
    *,
    done: str,
) -> int:
    """Send the jobs made of the tokens' chunks, settle every target, print the summary.

    :param jobs: the jobs, from the chunks of tokens (the first is taken before anything is
        sent: none means no tokens).
    :param done: what the summary calls a success (``"sent"``, ``"subscribed"``).
    :returns: the exit status.
    :raises UsageError: no tokens, or an unreadable tokens file, found before anything was sent.
    """
    with contextlib.ExitStack() as stack:
        source = TokenSource(args.token, args.tokens_file, stdin)
        try:
            stack.enter_context(source)
            if args.tokens_file == "-" and stdin.isatty():
                print(
                    "fcmclient: reading tokens from the terminal, one per line; end with Ctrl-D", file=stderr
                )
            made = jobs(source.chunks(args.chunk_size))
            first = next(made)
        except TokenFileError as exc:
            raise UsageError(str(exc)) from None
        except StopIteration:
            where = source.name if args.tokens_file is not None else "--token"
            raise UsageError(f"the token list is empty ({where})") from None
        ledger = Ledger(stack.enter_context(open_report(args.report)))
        if args.emulator:
            print(f"fcmclient: sending to a local emulator, {fcm.url}", file=stderr)
        stack.callback(sender.close)
        on_terminal = getattr(stderr, "isatty", lambda: False)()
        progress = Progress(stderr, on_terminal if args.progress is None else args.progress)
        run = _Run(ledger, sender, source, progress, stop, stderr, args.retries)
        status, error = run.drive(itertools.chain([first], made), _rest(iter(source)))
        ledger.flush()
        dry_run = bool(getattr(args, "dry_run", False))
        print(
            ledger.summary(source.duplicates, args.report, dry_run=dry_run, done=done),
            file=stdout,
            flush=True,
        )
        if error is not None:
            print(f"fcmclient: {error}", file=stderr, flush=True)
    if status != EXIT_OK:
        return status
    return EXIT_OK if ledger.all_delivered() else EXIT_PARTIAL
