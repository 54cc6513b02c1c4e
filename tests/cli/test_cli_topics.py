"""``fcmclient topics``: subscribe, unsubscribe and list, run as a subprocess against the emulator."""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess

import pytest

from fcmclient.testing import Answer, FCMEmulator
from tests.cli.test_cli import (
    account_file,
    children,
    report_lines,
    run,
    run_on_a_terminal,
    start_a_slow_run,
)

__all__ = ["account_file", "children"]  # fixtures


def topic_args(emulator: FCMEmulator, account: pathlib.Path, *words: str) -> list[str]:
    return ["topics", *words, "--service-account", str(account), "--url", emulator.v1_url("demo")]


def topic_requests(emulator: FCMEmulator, method: str) -> list[str]:
    return [r.targets[0] for r in emulator.requests if r.protocol == "topics" and r.method == method]


def test_subscribe_a_tokens_file_with_every_outcome_reported(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    emu = fcm_emulator
    tokens = [f"tok:{n:03d}/x" for n in range(120)]
    emu.unregister("tok:007/x")
    emu.set_outcome("tok:011/x", Answer.unavailable(retry_after=9))
    emu.set_outcome("tok:013/x", "invalid")
    emu.subscribe("tok:017/x", "news")  # already subscribed: a success
    (tmp_path / "tokens.txt").write_text("\n".join([*tokens, tokens[0]]) + "\n")
    report = tmp_path / "report.jsonl"
    args = ["--tokens-file", str(tmp_path / "tokens.txt"), "--report", str(report), "--chunk-size", "50"]
    done = run(*topic_args(emu, account_file, "subscribe", "/topics/news"), *args)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        "120 target(s): 117 subscribed, 1 not registered, 1 failed, 1 to retry (1 duplicate(s) skipped)",
        "  delete: 1 dead token(s)",
        "  investigate: INVALID_ARGUMENT x1 (sending again as is will not help)",
        "  retry: 1 target(s), in 9.0 s or later",
        f"report: {report} (one JSON line per target)",
    ]
    lines = {line["target"]: line for line in report_lines(report)}
    assert sorted(lines) == sorted(tokens)
    assert (lines["tok:007/x"]["outcome"], lines["tok:007/x"]["action"]) == ("not_registered", "delete")
    assert lines["tok:011/x"]["error"] == "UNAVAILABLE"
    assert lines["tok:000/x"] == {"target": "tok:000/x", "outcome": "success", "action": "keep"}
    alive = set(tokens) - {"tok:007/x", "tok:011/x", "tok:013/x"}
    assert set(emu.subscribers("news")) == alive
    assert sorted(topic_requests(emu, "POST")) == sorted(tokens)  # one request each, the duplicate once


def test_retries_resubscribe_what_asked_for_it(fcm_emulator: FCMEmulator, account_file: pathlib.Path) -> None:
    fcm_emulator.set_outcome("busy", Answer.unavailable(retry_after=1), "delivered")
    done = run(
        *topic_args(fcm_emulator, account_file, "subscribe", "news"), "--token", "busy", "--retries", "1"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 target(s): 1 subscribed,")
    assert "retry round 1: 1 target(s)" in done.stderr
    assert fcm_emulator.subscribers("news") == ["busy"]


def test_unsubscribe_then_list(fcm_emulator: FCMEmulator, account_file: pathlib.Path) -> None:
    emu = fcm_emulator
    emu.subscribe("phone:1", "news", "sport", "weather")
    emu.unregister("dead")
    done = run(
        *topic_args(emu, account_file, "unsubscribe", "sport"), "--token", "phone:1", "--token", "stranger"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2 target(s): 2 unsubscribed, 0 not registered, 0 failed, 0 to retry\n"
    listed = run(*topic_args(emu, account_file, "list", "phone:1"))
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, "news\nweather\n", "")
    refused = run(*topic_args(emu, account_file, "list", "dead"))
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert "UNREGISTERED" in refused.stderr


def test_the_emulator_flag_manages_a_local_emulators_topics() -> None:
    done = run("topics", "subscribe", "news", "--emulator", "--token", "a", "--token", "b")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2 target(s): 2 subscribed, 0 not registered, 0 failed, 0 to retry\n"
    assert done.stderr.startswith("fcmclient: sending to a local emulator, http://127.0.0.1:")
    listed = run("topics", "list", "a", "--emulator")  # another run, another emulator: nothing
    assert (listed.returncode, listed.stdout) == (0, "")


@pytest.mark.parametrize(
    ("words", "says"),
    [
        (["subscribe", "breaking news", "--emulator", "--token", "a"], "' ' at position 8"),
        (["subscribe", "news", "--emulator"], "the token list is empty (--token)"),
        (["unsubscribe", "news", "--api-key", "AAAA-some-legacy-key", "--token", "a"], "needs HTTP v1"),
        (["list", "  ", "--emulator"], "the token is empty"),
        (["subscribe", "news", "--emulator", "--url", "http://127.0.0.1:9/x", "--token", "a"], "--url and"),
        (["rename", "news"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(words: list[str], says: str) -> None:
    done = run("topics", *words)
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()[-1:]
    assert line.startswith("fcmclient: error: ") or line.startswith("usage:")
    assert says in done.stderr
    assert "AAAA-some-legacy-key" not in done.stderr


def test_rejected_credentials_exit_3_with_every_token_reported(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    info = fcm_emulator.service_account_info("other")  # may not manage project demo's topics
    (tmp_path / "other.json").write_text(json.dumps(info))
    report = tmp_path / "r.jsonl"
    done = run(
        *topic_args(fcm_emulator, tmp_path / "other.json", "subscribe", "news"),
        "--token",
        "a",
        "--report",
        str(report),
    )
    assert done.returncode == 3, done.stderr
    assert "credentials rejected" in done.stderr
    assert [(line["target"], line["error"]) for line in report_lines(report)] == [("a", "NOT_SENT")]


def test_progress_bar_on_a_terminal(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    tokens_file = tmp_path / "tokens.txt"
    tokens_file.write_text("".join(f"tok-{n}\n" for n in range(300)))
    args = topic_args(fcm_emulator, account_file, "subscribe", "news")
    status, out, err = run_on_a_terminal([*args, "--tokens-file", str(tokens_file), "--chunk-size", "50"])
    assert status == 0, err
    assert out == "300 target(s): 300 subscribed, 0 not registered, 0 failed, 0 to retry\n"
    assert err.endswith("\rsending [" + "#" * 30 + "] 100% 300 target(s)\r\n")


def test_an_interrupt_finishes_the_calls_in_flight_and_reports_every_token(
    fcm_emulator: FCMEmulator,
    account_file: pathlib.Path,
    tmp_path: pathlib.Path,
    children: list[subprocess.Popen[str]],
) -> None:
    args = topic_args(fcm_emulator, account_file, "subscribe", "news")
    tokens, report, process = start_a_slow_run(
        children, fcm_emulator, tmp_path, args, lambda: fcm_emulator.stats.topic_requests > 0
    )
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    lines = report_lines(report)
    assert sorted(line["target"] for line in lines) == tokens  # every token, once
    done = sorted(line["target"] for line in lines if line["outcome"] == "success")
    assert 20 <= len(done) < 300
    assert {line.get("error") for line in lines if line["outcome"] != "success"} == {"NOT_SENT"}
    assert fcm_emulator.subscribers("news") == done
    assert out.startswith(f"300 target(s): {len(done)} subscribed, 0 not registered, 0 failed")
