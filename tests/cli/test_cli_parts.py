"""The pure parts of the command line: the token source, the ledger and its summary, advice."""

from __future__ import annotations

import dis
import io
import json
import pathlib
import signal
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from fcmclient.cli.common import StopRequest
from fcmclient.cli.report import Ledger, Progress, action, advice, report_record
from fcmclient.cli.tokens import TokenFileError, TokenSource
from fcmclient.outcomes import Outcome


class CountingReader(io.RawIOBase):
    """A byte stream that remembers how much of it was read."""

    def __init__(self, data: bytes) -> None:
        self._data, self.position = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self._data[self.position : self.position + min(len(buffer), 4096)]
        buffer[: len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)


def test_a_large_stdin_is_streamed_not_read_whole() -> None:
    data = b"".join(b"token-%06d\n" % n for n in range(100_000))  # 1.3 MB
    raw = CountingReader(data)
    with TokenSource([], "-", io.BufferedReader(raw, buffer_size=4096)) as source:
        chunks = source.chunks(500)
        first = next(chunks)
        assert first[0] == "token-000000"
        assert len(first) == 500
        assert raw.position < 20_000  # a few buffers, not the 1.3 MB
        assert source.fraction() is None  # a pipe: size unknown
        assert sum(len(chunk) for chunk in chunks) == 99_500
    assert raw.position == len(data)


def test_a_file_reports_how_far_it_has_been_read(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "tokens.txt"
    path.write_bytes(b"a\nb\nc\nd\n")
    with TokenSource(["z"], str(path), io.BytesIO()) as source:
        seen = []
        for token in source:
            seen.append((token, source.fraction()))
    assert seen == [("z", 0.0), ("a", 0.25), ("b", 0.5), ("c", 0.75), ("d", 1.0)]


def test_tokens_given_on_the_command_line_count_for_progress() -> None:
    with TokenSource(["a", "b", "a", "c", "d"], None, io.BytesIO()) as source:
        fractions = [source.fraction() for _ in source]
        assert source.duplicates == 1
    assert fractions == [0.2, 0.4, 0.6, 0.8]  # of the five given: the duplicate counts as read


def test_duplicates_blank_lines_whitespace_and_crlf() -> None:
    stream = io.BytesIO(b"\xef\xbb\xbf a \r\n\r\nb\r\n a\n\t\nc")
    with TokenSource(["c"], "-", stream) as source:
        assert list(source) == ["c", "a", "b"]
        assert source.duplicates == 2
        assert source.count == 3


def test_a_line_that_is_not_utf8_names_its_line_after_the_tokens_before_it() -> None:
    with TokenSource([], "-", io.BytesIO(b"a\nb\nc\n\xc3\x28\nd\n")) as source:
        chunks = source.chunks(2)
        assert next(chunks) == ["a", "b"]
        assert next(chunks) == ["c"]
        with pytest.raises(TokenFileError, match=r"^standard input, line 4: not UTF-8 text$"):
            next(chunks)


def test_an_unreadable_file_fails_on_entry(tmp_path: pathlib.Path) -> None:
    source = TokenSource([], str(tmp_path / "missing.txt"), io.BytesIO())
    with pytest.raises(TokenFileError, match=r"cannot read tokens file .*missing\.txt.*: No such file"):
        source.__enter__()


def test_report_records_carry_what_fcm_said() -> None:
    assert report_record("t", Outcome.success("projects/p/messages/1")) == {
        "target": "t",
        "outcome": "success",
        "action": "keep",
        "message_id": "projects/p/messages/1",
    }
    assert report_record("t", Outcome.retry("UNAVAILABLE", "busy", wait=3.0)) == {
        "target": "t",
        "outcome": "retry",
        "action": "retry",
        "error": "UNAVAILABLE",
        "detail": "busy",
    }
    assert action(Outcome.failed("SENDER_ID_MISMATCH")) == "investigate"
    assert action(Outcome.success("1", canonical_id="new")) == "replace"


@pytest.mark.parametrize(
    ("outcome", "delay", "words"),
    [
        (Outcome.success("1"), None, "nothing: FCM accepted it"),
        (Outcome.success("1", canonical_id="new"), None, "update: replace the stored token by new"),
        (Outcome.not_registered("NotRegistered"), None, "remove: the token is dead, delete it"),
        (Outcome.failed("THIRD_PARTY_AUTH_ERROR"), None, "investigate THIRD_PARTY_AUTH_ERROR: fix APNs"),
        (Outcome.failed("SOMETHING_NEW"), None, "investigate SOMETHING_NEW: resending as is will not help"),
        (Outcome.retry("INTERNAL"), 2.25, "retry after 2.2 s (INTERNAL)"),
        (Outcome.retry("NOT_SENT"), None, "retry later (NOT_SENT)"),
    ],
)
def test_advice_names_the_action(outcome: Outcome, delay: float | None, words: str) -> None:
    assert advice(outcome, delay).startswith(words)


def test_the_ledger_writes_one_line_per_settled_target_and_sums_up() -> None:
    report = io.StringIO()
    ledger = Ledger(report)
    ledger.settle("a", Outcome.success("1", canonical_id="a2"))
    ledger.settle("b", Outcome.failed("INVALID_ARGUMENT"))
    ledger.settle("c", Outcome.failed("INVALID_ARGUMENT"))
    ledger.settle("d", Outcome.failed("SENDER_ID_MISMATCH"))
    ledger.settle("e", Outcome.retry("UNAVAILABLE"))
    ledger.note_wait(4.0)
    ledger.note_wait(2.0)
    assert [json.loads(line)["target"] for line in report.getvalue().splitlines()] == list("abcde")
    assert not ledger.all_delivered()
    assert ledger.summary(2, "out.jsonl").splitlines() == [
        "5 target(s): 1 sent, 0 not registered, 3 failed, 1 to retry (2 duplicate(s) skipped)",
        "  replace: 1 token(s) have a new canonical token",
        "  investigate: INVALID_ARGUMENT x2, SENDER_ID_MISMATCH x1 (sending again as is will not help)",
        "  retry: 1 target(s), in 4.0 s or later",
        "report: out.jsonl (one JSON line per target)",
    ]
    assert (
        ledger.summary().splitlines()[-1] == "report: none; --report FILE lists every target with what to do"
    )


def test_a_clean_run_sums_up_in_one_line() -> None:
    ledger = Ledger(None)
    ledger.settle("a", Outcome.success("1"))
    assert ledger.all_delivered()
    assert ledger.summary() == "1 target(s): 1 sent, 0 not registered, 0 failed, 0 to retry"
    assert ledger.summary(dry_run=True).startswith("1 target(s): 1 valid (dry run, nothing delivered),")
    assert not Ledger(None).all_delivered()


def test_progress_draws_at_most_ten_times_a_second_and_only_when_enabled() -> None:
    now = [0.0]
    stream = io.StringIO()
    bar = Progress(stream, True, clock=lambda: now[0])
    bar.update(10, 0.1)
    now[0] = 0.05
    bar.update(20, 0.2)  # too soon: skipped
    now[0] = 0.2
    bar.update(30, None)
    bar.update(40, 1.0, force=True)
    bar.finish()
    bar.finish()
    assert stream.getvalue() == (
        "\rsending [###...........................]  10% 10 target(s)"
        "\rsending: 30 target(s)"
        "\rsending [##############################] 100% 40 target(s)\n"
    )
    quiet = io.StringIO()
    off = Progress(quiet, False)
    off.update(1, 0.5, force=True)
    off.finish()
    assert quiet.getvalue() == ""


def test_regression_a_second_interrupt_just_before_reading_a_pipe_was_lost() -> None:
    """``StopRequest.next_or_abort`` checked for a second interrupt, then let the signal handler
    raise: a second interrupt that came between the two was counted but raised nothing, and the
    read of a pipe that never ends then blocked for ever (``fcmclient send`` ignored Ctrl-C).

    Here the second interrupt is delivered before each line of ``next_or_abort`` in turn, from a
    trace function, as a signal handler runs between two lines. No read may start after it."""
    code = StopRequest.next_or_abort.__code__
    lines = sorted({line for _, line in dis.findlinestarts(code) if line and line > code.co_firstlineno})
    lost = []
    for line in lines:
        stop = StopRequest()
        stop(signal.SIGINT, None)  # the first interrupt: finish what is in flight
        counts_at_read: list[int] = []

        def pipe(stop: StopRequest = stop, counts: list[int] = counts_at_read) -> Iterator[str]:
            counts.append(stop.count)  # a read started now blocks until the pipe has a line
            yield "tok"

        def tracer(
            frame: FrameType, event: str, arg: object, line: int = line, stop: StopRequest = stop
        ) -> Any:
            if event == "line" and frame.f_lineno == line and stop.count < 2:
                stop(signal.SIGINT, None)  # the second interrupt, exactly here
            return tracer

        previous = sys.gettrace()
        sys.settrace(lambda frame, event, arg: tracer if frame.f_code is code else None)
        try:
            stop.next_or_abort(pipe())
        except KeyboardInterrupt:
            pass
        finally:
            sys.settrace(previous)
        if any(count >= 2 for count in counts_at_read):
            lost.append(line - code.co_firstlineno)
    assert lost == []  # line offsets where the second interrupt was lost
