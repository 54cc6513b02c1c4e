"""``fcmclient send --messages-file``: personalised messages, one JSON object per line, streamed."""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess
import time

import pytest

from fcmclient.testing import Answer, FCMEmulator

from .test_cli import account_file, clean_env, command, read_stderr_until, report_lines, run, sends, v1_args

__all__ = ["account_file"]  # the fixture, shared with test_cli


def lines(*objects: object) -> str:
    return "".join((json.dumps(obj) if not isinstance(obj, str) else obj) + "\n" for obj in objects)


def test_each_line_is_its_own_message_and_the_report_names_its_line(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    fcm_emulator.set_outcome("dead", "unregistered")
    fcm_emulator.subscribe("fan-1", "news")
    messages = tmp_path / "messages.jsonl"
    messages.write_text(
        lines(
            {"token": "t1", "title": "Your order 1 shipped", "data": {"order": "1"}},
            "",  # a blank line is skipped, but counted
            {"token": "t2", "body": "Order 2 is late", "data": {"order": "2", "app": "mine"}},
            {"topic": "news", "title": "Extra!"},
            {"token": "dead"},
            {"condition": "'news' in topics", "body": "For news readers"},
            {"token": "t1", "title": "A second message to t1"},
        )
    )
    report = tmp_path / "report.jsonl"
    done = run(
        *v1_args(fcm_emulator, account_file),
        *("--messages-file", str(messages), "--data", '{"app": "shop"}', "--report", str(report)),
    )
    assert done.returncode == 1, done.stderr  # one dead token
    assert done.stdout.startswith("6 target(s): 5 sent, 1 not registered, 0 failed, 0 to retry")
    outcomes = {(line["line"], line["target"]): line["outcome"] for line in report_lines(report)}
    assert outcomes == {
        (1, "t1"): "success",
        (3, "t2"): "success",
        (4, "news"): "success",
        (5, "dead"): "not_registered",
        (6, "'news' in topics"): "success",
        (7, "t1"): "success",
    }
    first, second = fcm_emulator.inbox("t1")
    assert first["notification"] == {"title": "Your order 1 shipped"}
    assert first["data"] == {"app": "shop", "order": "1"}  # the line's data over --data's
    assert second["notification"] == {"title": "A second message to t1"}
    assert fcm_emulator.inbox("t2")[0]["data"] == {"app": "mine", "order": "2"}
    assert len(fcm_emulator.inbox("fan-1")) == 2  # the topic and the condition


def test_messages_are_read_from_standard_input(fcm_emulator: FCMEmulator, account_file: pathlib.Path) -> None:
    text = lines(*({"token": f"tok-{n}", "data": {"n": str(n)}} for n in range(300)))
    done = run(*v1_args(fcm_emulator, account_file), "--messages-file", "-", stdin=text)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("300 target(s): 300 sent,")
    for n in (0, 299):  # (the emulator is shared: a send another test left under way may land too)
        assert {"n": str(n)} in [message.get("data") for message in fcm_emulator.inbox(f"tok-{n}")]


@pytest.mark.parametrize(
    ("bad", "complaint"),
    [
        ("not json", "line 2: not JSON"),
        ('["t3"]', "line 2: a message is a JSON object, not list"),
        ('{"token": "t3", "topic": "news"}', "line 2: give exactly one of token, topic and condition"),
        ('{"title": "no target"}', "line 2: give exactly one of token, topic and condition"),
        ('{"token": "t3", "colour": "red"}', "line 2: unknown field(s) colour"),
        ('{"token": "t3", "data": "x"}', "line 2: data must be a JSON object"),
        ('{"token": 3}', "line 2: a registration id must be a str"),
    ],
)
def test_a_line_that_is_not_a_message_stops_the_command_after_the_lines_before_it(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path, bad: str, complaint: str
) -> None:
    messages = tmp_path / "messages.jsonl"
    messages.write_text(lines({"token": "t1"}, bad, {"token": "t4"}))
    report = tmp_path / "report.jsonl"
    done = run(
        *v1_args(fcm_emulator, account_file), "--messages-file", str(messages), "--report", str(report)
    )
    assert done.returncode == 2
    assert complaint in done.stderr
    assert "the lines before it were sent" in done.stderr
    assert [(line["line"], line["target"]) for line in report_lines(report)] == [(1, "t1")]
    assert fcm_emulator.inbox("t4") == []


def test_messages_file_and_another_target_do_not_go_together(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    messages = tmp_path / "messages.jsonl"
    messages.write_text(lines({"token": "t1"}))
    done = run(*v1_args(fcm_emulator, account_file), "--messages-file", str(messages), "--topic", "news")
    assert done.returncode == 2
    assert "--messages-file gives every target: drop --topic" in done.stderr
    assert sends(fcm_emulator) == 0


def test_retry_rounds_resend_each_line_with_its_own_content(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    fcm_emulator.set_outcome("busy", Answer.unavailable(retry_after=0), "delivered")
    messages = tmp_path / "messages.jsonl"
    messages.write_text(lines({"token": "ok", "data": {"n": "1"}}, {"token": "busy", "data": {"n": "2"}}))
    report = tmp_path / "report.jsonl"
    done = run(
        *v1_args(fcm_emulator, account_file),
        *("--messages-file", str(messages), "--retries", "1", "--report", str(report)),
    )
    assert done.returncode == 0, done.stderr
    assert {(line["line"], line["target"]): line["outcome"] for line in report_lines(report)} == {
        (1, "ok"): "success",
        (2, "busy"): "success",
    }
    assert [m["data"] for m in fcm_emulator.inbox("busy")] == [{"n": "2"}]


def test_an_interrupt_answers_the_lines_in_flight_and_reports_the_rest_not_sent(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    fcm_emulator.latency = 0.05
    messages = tmp_path / "messages.jsonl"
    messages.write_text(lines(*({"token": f"tok-{n:05d}"} for n in range(20000))))
    report = tmp_path / "report.jsonl"
    process = subprocess.Popen(
        command(
            *v1_args(fcm_emulator, account_file), "--messages-file", str(messages), "--report", str(report)
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while sends(fcm_emulator) < 50:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)  # polling the emulator with a deadline
        process.send_signal(signal.SIGINT)
        read_stderr_until(process, "stopping; waiting for the messages in flight")
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    records = report_lines(report)
    assert [record["line"] for record in records] == list(range(1, 20001))  # every line, once, in order
    sent = [r for r in records if r["outcome"] == "success"]
    assert 0 < len(sent) < 20000
    assert all(r["error"] == "NOT_SENT" for r in records if r["outcome"] != "success")
    assert {r["target"] for r in sent} == {
        t for t in (f"tok-{n:05d}" for n in range(20000)) if fcm_emulator.inbox(t)
    }
    assert out.startswith(f"20000 target(s): {len(sent)} sent,")
