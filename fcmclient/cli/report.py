"""What the command line says about outcomes: actions, advice, report lines, the summary.

Pure functions and small accumulators, no network: ``fcmclient send`` and ``fcmclient demo``
share them, so both tell an app the same thing about the same outcome.
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Callable
from typing import Any, TextIO

from ..outcomes import Bucket, Outcome

__all__ = ["ACTIONS", "action", "advice", "report_record", "Ledger", "Progress"]

#: What the app should do with a target, by bucket (``replace`` wins for a canonical success).
ACTIONS = {
    Bucket.SUCCESS: "keep",
    Bucket.NOT_REGISTERED: "delete",
    Bucket.FAILED: "investigate",
    Bucket.RETRY: "retry",
}

_BAD_MESSAGE = "fix the message"
_FAILURE_ADVICE = {
    "INVALID_ARGUMENT": "a bad message or a malformed token",
    "InvalidRegistration": "a malformed token, delete it",
    "SENDER_ID_MISMATCH": "a token of another project, check credentials",
    "MismatchSenderId": "a token of another sender, check the key",
    "THIRD_PARTY_AUTH_ERROR": "fix APNs/web push credentials in Firebase",
    "InvalidApnsCredential": "fix the APNs credentials in Firebase",
    "MissingRegistration": _BAD_MESSAGE,
    "InvalidPackageName": _BAD_MESSAGE,
    "MessageTooBig": _BAD_MESSAGE,
    "InvalidDataKey": _BAD_MESSAGE,
    "InvalidTtl": _BAD_MESSAGE,
    "InvalidParameters": _BAD_MESSAGE,
}


def action(outcome: Outcome) -> str:
    """One word for the app: ``keep``, ``replace``, ``delete``, ``investigate`` or ``retry``.

    >>> action(Outcome.success("0:1", canonical_id="new-token"))
    'replace'
    """
    return "replace" if outcome.canonical_id is not None else ACTIONS[outcome.bucket]


def advice(outcome: Outcome, delay: float | None = None) -> str:
    """What an app should do about one target, in words.

    :param outcome: the target's outcome.
    :param delay: seconds to wait before a retry (``Result.delay()``), if known.

    >>> advice(Outcome.not_registered("UNREGISTERED"))
    'remove: the token is dead, delete it'
    >>> advice(Outcome.retry("UNAVAILABLE"), 1.0)
    'retry after 1.0 s (UNAVAILABLE)'
    """
    if outcome.bucket is Bucket.SUCCESS:
        if outcome.canonical_id is not None:
            return f"update: replace the stored token by {outcome.canonical_id}"
        return "nothing: FCM accepted it"
    if outcome.bucket is Bucket.NOT_REGISTERED:
        return "remove: the token is dead, delete it"
    if outcome.bucket is Bucket.FAILED:
        hint = _FAILURE_ADVICE.get(outcome.error or "", "resending as is will not help")
        return f"investigate {outcome.error}: {hint}"
    when = "later" if delay is None else f"after {delay:.1f} s"
    return f"retry {when} ({outcome.error})"


def report_record(target: str, outcome: Outcome, line: int | None = None) -> dict[str, Any]:
    """One report line: the messages file's line, if any, the target, its bucket, the action,
    and what FCM said.

    >>> report_record("tok", Outcome.not_registered("UNREGISTERED"))
    {'target': 'tok', 'outcome': 'not_registered', 'action': 'delete', 'error': 'UNREGISTERED'}
    >>> report_record("tok", Outcome.success("projects/p/messages/1"), line=12)["line"]
    12
    """
    record: dict[str, Any] = {} if line is None else {"line": line}
    record.update(target=target, outcome=outcome.bucket.value, action=action(outcome))
    for key in ("message_id", "canonical_id", "error", "detail"):
        value = getattr(outcome, key)
        if value is not None:
            record[key] = value
    return record


class Ledger:
    """Where every target is settled exactly once: counted, and written to the report.

    :param report: an open text file for JSON lines, or ``None`` for no report.
    """

    def __init__(self, report: TextIO | None) -> None:
        self._report = report
        self.counts: collections.Counter[Bucket] = collections.Counter()
        self.failures: collections.Counter[str] = collections.Counter()
        self.canonical = 0
        #: The longest wait asked for by a target left in the retry bucket, if any.
        self.wait: float | None = None

    @property
    def total(self) -> int:
        """How many targets were settled."""
        return sum(self.counts.values())

    def settle(self, target: str, outcome: Outcome, line: int | None = None) -> None:
        """Record ``target``'s final outcome (call once per target, of each messages-file line)."""
        self.counts[outcome.bucket] += 1
        if outcome.canonical_id is not None:
            self.canonical += 1
        if outcome.bucket is Bucket.FAILED:
            self.failures[outcome.error or "UNKNOWN"] += 1
        if self._report is not None:
            self._report.write(json.dumps(report_record(target, outcome, line), ensure_ascii=False) + "\n")

    def note_wait(self, seconds: float) -> None:
        """Remember a ``Result.delay()`` of targets that stay in the retry bucket."""
        self.wait = seconds if self.wait is None else max(self.wait, seconds)

    def flush(self) -> None:
        """Push the report lines written so far to the file."""
        if self._report is not None:
            self._report.flush()

    def all_delivered(self) -> bool:
        """True when every settled target is in the success bucket (and there was one)."""
        return self.total > 0 and self.counts[Bucket.SUCCESS] == self.total

    def summary(
        self,
        duplicates: int = 0,
        report_name: str | None = None,
        *,
        dry_run: bool = False,
        done: str = "sent",
    ) -> str:
        """What ``fcmclient send`` prints at the end: the counts, then what to do about them.

        :param duplicates: input tokens skipped because they came before.
        :param report_name: the report file, if one was written.
        :param dry_run: the message was only validated (``success`` means "valid").
        :param done: what a success is called (``sent``; ``subscribed`` for a topic).
        """
        counts = self.counts
        sent = "valid (dry run, nothing delivered)" if dry_run else done
        head = (
            f"{self.total} target(s): {counts[Bucket.SUCCESS]} {sent}, "
            f"{counts[Bucket.NOT_REGISTERED]} not registered, {counts[Bucket.FAILED]} failed, "
            f"{counts[Bucket.RETRY]} to retry"
        )
        if duplicates:
            head += f" ({duplicates} duplicate(s) skipped)"
        lines = [head]
        if self.canonical:
            lines.append(f"  replace: {self.canonical} token(s) have a new canonical token")
        if counts[Bucket.NOT_REGISTERED]:
            lines.append(f"  delete: {counts[Bucket.NOT_REGISTERED]} dead token(s)")
        if self.failures:
            codes = ", ".join(f"{code} x{count}" for code, count in self.failures.most_common())
            lines.append(f"  investigate: {codes} (sending again as is will not help)")
        if counts[Bucket.RETRY]:
            when = "later" if self.wait is None else f"in {self.wait:.1f} s or later"
            lines.append(f"  retry: {counts[Bucket.RETRY]} target(s), {when}")
        if report_name is not None:
            lines.append(f"report: {report_name} (one JSON line per target)")
        elif len(lines) > 1:
            lines.append("report: none; --report FILE lists every target with what to do")
        return "\n".join(lines)


class Progress:
    """A one-line progress bar on a terminal, redrawn at most ten times a second.

    :param stream: where to draw (standard error).
    :param enabled: draw at all (``False`` when the stream is not a terminal).
    :param clock: monotonic seconds, for the redraw rate.
    """

    _WIDTH = 30

    def __init__(self, stream: TextIO, enabled: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream, self._enabled, self._clock = stream, enabled, clock
        self._drawn_at: float | None = None
        self._visible = False

    def update(self, sent: int, fraction: float | None, *, force: bool = False) -> None:
        """Redraw: ``sent`` targets so far, ``fraction`` of the input done (``None``: unknown)."""
        if not self._enabled:
            return
        now = self._clock()
        if not force and self._drawn_at is not None and now - self._drawn_at < 0.1:
            return
        self._drawn_at = now
        if fraction is None:
            line = f"sending: {sent} target(s)"
        else:
            filled = round(self._WIDTH * min(max(fraction, 0.0), 1.0))
            bar = "#" * filled + "." * (self._WIDTH - filled)
            line = f"sending [{bar}] {fraction:4.0%} {sent} target(s)"
        self._stream.write("\r" + line)
        self._stream.flush()
        self._visible = True

    def finish(self) -> None:
        """End the bar's line, so that what follows starts on a new one."""
        if self._visible:
            self._stream.write("\n")
            self._stream.flush()
            self._visible = False
