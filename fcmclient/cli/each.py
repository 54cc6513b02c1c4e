"""``fcmclient send --messages-file``: personalised messages, sent with ``send_each``, streamed.

The messages are read and sent a window at a time on a helper thread (so that signals are
seen at once), and each result is settled in the ledger with its line number as it comes
back, in file order. The first interrupt stops reading new lines (the window in flight is
answered, the lines left are reported not sent); the second abandons the window in flight.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import BinaryIO, TextIO

from .._http.executor import abandon_on
from .._http.workers import Workers
from ..api import FCM
from ..errors import FCMAuthenticationError
from ..messages import Message
from ..outcomes import Bucket, Outcome
from ..result import Result
from .common import EXIT_AUTH, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, StopRequest, UsageError
from .lines import MessageFileError, MessageLines
from .options import connect, message_content, open_report
from .report import Ledger, Progress

__all__ = ["run_send_each"]

_Line = tuple[int, Message]


class _Pending:
    """A line's retry message, waiting for its time, with the outcomes that sent it there."""

    def __init__(self, due: float, line: int, message: Message, outcomes: dict[str, Outcome]) -> None:
        self.due, self.line, self.message, self.outcomes = due, line, message, outcomes


class _EachRun:
    """One ``send --messages-file`` command: every target of every line settled exactly once."""

    def __init__(
        self,
        fcm: FCM,
        lines: MessageLines,
        ledger: Ledger,
        progress: Progress,
        stop: StopRequest,
        stderr: TextIO,
        retries: int,
    ) -> None:
        self.fcm, self.lines, self.ledger, self.progress = fcm, lines, ledger, progress
        self.stop, self.stderr = stop, stderr
        self.retries = retries
        self.pending: list[_Pending] = []
        self.in_flight: deque[_Line] = deque()  # fed to send_each, no result yet
        self.file_error: MessageFileError | None = None
        self.abandoned = threading.Event()
        self._announced = False

    def _feed(self, lines: Iterable[_Line]) -> Iterator[Message]:
        """The messages for send_each (on the helper thread): none after the first interrupt."""
        unread = iter(lines)
        while not self.stop.count:  # checked before a line is taken: a line taken is sent
            try:
                line = next(unread)
            except StopIteration:
                return
            except MessageFileError as exc:  # the lines before it still go out, then the error
                self.file_error = exc
                return
            self.in_flight.append(line)
            yield line[1]

    def _produce(self, lines: Iterable[_Line], results: queue.Queue[tuple[str, object]]) -> None:
        try:
            with abandon_on(self.abandoned):
                for result in self.fcm.send_each_iter(self._feed(lines)):
                    results.put(("result", result))
        except BaseException as exc:  # handed to the main thread
            results.put(("error", exc))
        else:
            results.put(("done", None))

    def round(self, lines: Iterable[_Line], round_: int) -> None:
        """Send ``lines`` and settle each result as it comes back.

        :raises FCMAuthenticationError: the credentials were rejected (what was settled is).
        :raises KeyboardInterrupt: a second interrupt abandoned the window in flight.
        """
        results: queue.Queue[tuple[str, object]] = queue.Queue()
        helper = Workers(1, "fcmclient-send")
        helper.submit(functools.partial(self._produce, lines, results))
        try:
            while True:
                try:
                    kind, value = results.get(timeout=0.1)
                except queue.Empty:
                    self._watch()
                    continue
                if kind == "done":
                    return
                if kind == "error":
                    self._settle_error(value)  # type: ignore[arg-type]
                self._settle(value, round_)  # type: ignore[arg-type]
        finally:
            helper.shutdown(wait=not self.abandoned.is_set())

    def _watch(self) -> None:
        if self.stop.count >= 2:
            self.abandoned.set()
            raise KeyboardInterrupt
        if self.stop.count and not self._announced:
            self._announced = True
            print(
                "\nfcmclient: stopping; waiting for the messages in flight (interrupt again to abandon them)",
                file=self.stderr,
                flush=True,
            )

    def _settle_error(self, exc: BaseException) -> None:
        for result in getattr(exc, "results", None) or []:
            self._settle(result, self.retries)  # no retry round for what a stop left
        raise exc

    def _settle(self, result: Result, round_: int) -> None:
        line, _ = self.in_flight.popleft()
        retry = result.retry()
        keep = retry is not None and round_ < self.retries
        for target, outcome in result.outcomes.items():
            if not (keep and outcome.bucket is Bucket.RETRY):
                self.ledger.settle(target, outcome, line)
        if retry is not None:
            delay = result.delay(round_)
            if keep:
                waiting = {t: o for t, o in result.outcomes.items() if o.bucket is Bucket.RETRY}
                self.pending.append(_Pending(time.monotonic() + delay, line, retry, waiting))
            else:
                self.ledger.note_wait(delay)
        self.ledger.flush()
        if round_ == 0:
            self.progress.update(self.lines.count, self.lines.fraction())

    def retry_rounds(self) -> None:
        """Each round waits for its latest delay, then sends every waiting line together."""
        for round_ in range(1, self.retries + 1):
            if self.stop.count or not self.pending:
                return
            batch, self.pending = self.pending, []
            wait = max(max(item.due for item in batch) - time.monotonic(), 0.0)
            count = sum(len(item.message.targets) for item in batch)
            print(
                f"retry round {round_}: {count} target(s) of {len(batch)} line(s) in {wait:.1f} s",
                file=self.stderr,
            )
            if self.stop.event.wait(wait):
                self.pending = batch
                return
            self.round([(item.line, item.message) for item in batch], round_)

    def settle_left(self, outcome: Outcome) -> None:
        """What is in flight, or waiting for a retry, ends as ``outcome`` (or its last one)."""
        while self.in_flight:
            line, message = self.in_flight.popleft()
            for target in message.targets:
                self.ledger.settle(target, outcome, line)
        for item in self.pending:
            for target, last in item.outcomes.items():
                self.ledger.settle(target, last, item.line)
        self.pending = []


def _drive(run: _EachRun, lines: MessageLines) -> tuple[int, str | None]:
    status, error, unsent = EXIT_OK, None, Outcome.not_sent("interrupted")
    try:
        run.round(lines, 0)
        run.progress.finish()
        if run.file_error is not None:
            raise run.file_error
        run.retry_rounds()
    except MessageFileError as exc:
        status, error = EXIT_USAGE, f"error: {exc}; the lines before it were sent"
    except FCMAuthenticationError as exc:
        unsent = Outcome.not_sent("the credentials were rejected")
        status, error = EXIT_AUTH, f"credentials rejected: {exc}"
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
        error = "abandoned: the messages in flight are marked INTERRUPTED (they may have been sent)"
        run.settle_left(Outcome.interrupted())
    run.progress.finish()
    run.settle_left(unsent)
    if status == EXIT_OK and run.stop.count:
        status, error = EXIT_INTERRUPTED, "interrupted: the lines not sent are marked NOT_SENT"
    if status not in (EXIT_OK, EXIT_USAGE) and not _settle_unread(run, lines, unsent):
        error = f"{error}; standard input was not read to its end"
    run.ledger.flush()
    return status, error


def _settle_unread(run: _EachRun, lines: MessageLines, outcome: Outcome) -> bool:
    """Settle the lines not read yet; False if a second interrupt cut a pipe short."""
    rest = iter(lines)
    while True:
        try:
            line, message = run.stop.next_or_abort(rest) if lines.fraction() is None else next(rest)
        except (StopIteration, MessageFileError):
            return True
        except KeyboardInterrupt:
            return False
        for target in message.targets:
            run.ledger.settle(target, outcome, line)


def run_send_each(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    stdin: BinaryIO,
    stdout: TextIO,
    stderr: TextIO,
    stop: StopRequest,
) -> int:
    """``fcmclient send --messages-file``; returns the exit status.

    :raises UsageError: bad input, found before anything was sent.
    """
    content = message_content(args)
    with contextlib.ExitStack() as stack:
        fcm = stack.enter_context(connect(args, environ))
        lines = MessageLines(args.messages_file, stdin, content)
        try:
            stack.enter_context(lines)
        except MessageFileError as exc:
            raise UsageError(str(exc)) from None
        if args.messages_file == "-" and stdin.isatty():
            print(
                "fcmclient: reading messages from the terminal, one JSON object per line; end with Ctrl-D",
                file=stderr,
            )
        ledger = Ledger(stack.enter_context(open_report(args.report)))
        on_terminal = getattr(stderr, "isatty", lambda: False)()
        progress = Progress(stderr, on_terminal if args.progress is None else args.progress)
        run = _EachRun(fcm, lines, ledger, progress, stop, stderr, args.retries)
        status, error = _drive(run, lines)
        print(ledger.summary(0, args.report, dry_run=args.dry_run), file=stdout, flush=True)
        if error is not None:
            print(f"fcmclient: {error}", file=stderr, flush=True)
    if status != EXIT_OK:
        return status
    return EXIT_OK if ledger.all_delivered() else EXIT_PARTIAL
