"""The ``fcmclient`` command, run as a subprocess against the emulator."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from fcmclient.testing import FCMEmulator, Outcome

from .conftest import make_private_key_pem


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in ("GOOGLE_APPLICATION_CREDENTIALS", "FCM_API_KEY")
    }
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "fcmclient", *args],
        capture_output=True,
        text=True,
        env=clean,
        input=stdin,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def account_file(fcm_emulator: FCMEmulator, tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(fcm_emulator.service_account_info("demo")))
    return path


def v1_args(emulator: FCMEmulator, account: pathlib.Path) -> list[str]:
    return ["send", "--service-account", str(account), "--url", emulator.v1_url("demo")]


def test_five_thousand_tokens_with_mixed_outcomes(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    tokens = [f"device-{n:05d}" for n in range(5000)]
    expected: dict[str, tuple[str, str]] = {}
    for n, token in enumerate(tokens):
        if n % 10 == 1:
            fcm_emulator.set_outcome(token, "unregistered")
            expected[token] = ("not_registered", "delete")
        elif n % 25 == 2:
            fcm_emulator.set_outcome(token, "invalid")
            expected[token] = ("failed", "investigate")
        elif n % 50 == 3:
            fcm_emulator.set_outcome(token, Outcome.unavailable(retry_after=7))
            expected[token] = ("retry", "retry")
        else:
            expected[token] = ("success", "keep")
    tokens_file = tmp_path / "tokens.txt"
    tokens_file.write_text("\n".join(tokens) + "\n\n")
    report = tmp_path / "report.jsonl"
    done = run(
        *v1_args(fcm_emulator, account_file),
        "--tokens-file",
        str(tokens_file),
        "--title",
        "Hello",
        "--data",
        '{"n": 1}',
        "--report",
        str(report),
    )
    assert done.returncode == 1, done.stderr
    counts = {
        bucket: sum(v[0] == bucket for v in expected.values())
        for bucket in ("success", "not_registered", "failed", "retry")
    }
    assert done.stdout.splitlines()[0] == (
        f"5000 target(s): {counts['success']} delivered, 0 to replace (canonical), {counts['not_registered']} not registered, "
        f"{counts['failed']} failed, {counts['retry']} to retry after 7.0 s"
    )
    assert f"failed: INVALID_ARGUMENT x{counts['failed']}" in done.stdout
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert [line["target"] for line in lines] == tokens
    assert {line["target"]: (line["outcome"], line["action"]) for line in lines} == expected
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    assert sum(len(fcm_emulator.inbox(token)) for token in tokens) == counts["success"]


def test_retries_wait_and_finish_the_job(fcm_emulator: FCMEmulator, account_file: pathlib.Path) -> None:
    fcm_emulator.set_outcome("b", Outcome.unavailable(retry_after=1), "delivered")
    done = run(*v1_args(fcm_emulator, account_file), "--token", "a", "--token", "b", "--retries", "2")
    assert done.returncode == 0, done.stderr
    assert "retry round 1: 1 target(s) in 1.0 s" in done.stderr
    assert done.stdout.startswith("2 target(s): 2 delivered")
    assert len(fcm_emulator.inbox("b")) == 1


def test_without_retries_nothing_is_resent(fcm_emulator: FCMEmulator, account_file: pathlib.Path) -> None:
    fcm_emulator.set_outcome("b", Outcome.unavailable(retry_after=1), "delivered")
    done = run(*v1_args(fcm_emulator, account_file), "--token", "b")
    assert done.returncode == 1
    assert sum(1 for r in fcm_emulator.requests if r.protocol == "v1") == 1


def test_topic_with_data_file_and_options(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    data = tmp_path / "data.json"
    data.write_text('{"score": "3:1"}')
    done = run(
        *v1_args(fcm_emulator, account_file),
        "--topic",
        "news",
        "--data-file",
        str(data),
        "--ttl",
        "60",
        "--priority",
        "high",
        "--collapse-key",
        "score",
    )
    assert done.returncode == 0, done.stderr
    (sent,) = [r for r in fcm_emulator.requests if r.protocol == "v1"]
    assert isinstance(sent.body, dict)
    message = sent.body["message"]
    assert message["topic"] == "news"
    assert message["data"] == {"score": "3:1"}
    assert message["android"] == {"collapse_key": "score", "priority": "HIGH", "ttl": "60s"}


def test_tokens_from_stdin_through_the_legacy_api(fcm_emulator: FCMEmulator) -> None:
    fcm_emulator.set_outcome("old", Outcome.canonical("new"))
    done = run(
        "send",
        "--tokens-file",
        "-",
        "--url",
        fcm_emulator.legacy_url,
        env={"FCM_API_KEY": fcm_emulator.api_key},
        stdin="old\nother\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("2 target(s): 2 delivered, 1 to replace (canonical)")
    assert fcm_emulator.api_key not in done.stdout + done.stderr


def test_dry_run_delivers_nothing(fcm_emulator: FCMEmulator, account_file: pathlib.Path) -> None:
    done = run(*v1_args(fcm_emulator, account_file), "--token", "a", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert fcm_emulator.inbox("a") == []


def test_rejected_credentials_exit_3_with_the_report(
    fcm_emulator: FCMEmulator, tmp_path: pathlib.Path
) -> None:
    forged: dict[str, Any] = dict(
        fcm_emulator.service_account_info("demo"), private_key=make_private_key_pem()
    )
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged))
    report = tmp_path / "r.jsonl"
    done = run(
        "send",
        "--service-account",
        str(path),
        "--url",
        fcm_emulator.v1_url("demo"),
        "--token",
        "a",
        "--report",
        str(report),
    )
    assert done.returncode == 3
    assert done.stderr.startswith("fcmclient: credentials rejected:")
    assert "Traceback" not in done.stderr
    assert forged["private_key"].splitlines()[1] not in done.stdout + done.stderr
    assert json.loads(report.read_text())["outcome"] == "retry"


def test_emulator_flag_sends_to_a_local_emulator() -> None:
    done = run("send", "--emulator", "--token", "a", "--token", "b", "--title", "hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("2 target(s): 2 delivered")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["send", "--token", "a"], "no credentials"),
        (
            ["send", "--token", "a", "--service-account", "/nonexistent/sa.json"],
            "cannot read service-account file",
        ),
        (["send", "--token", "a", "--service-account", "{bad}"], "cannot read service-account file"),
        (["send", "--token", "a", "--emulator", "--data", "{not json"], "--data is not valid JSON"),
        (["send", "--token", "a", "--emulator", "--data", "[1]"], "--data must be a JSON object"),
        (["send", "--tokens-file", "{empty}", "--emulator"], "the token list is empty"),
        (["send", "--token", "a", "--emulator", "--shiny"], "unrecognized arguments: --shiny"),
        (["send", "--emulator"], "exactly one kind"),
        (["send", "--token", "a", "--topic", "t", "--emulator"], "exactly one kind"),
        (["send", "--token", "a", "--emulator", "--api-key", "k"], "one kind of credentials"),
        (["send", "--token", "a", "--service-account", "{invalid}"], "not valid JSON"),
        (["send", "--token", "a", "--service-account", "{incomplete}"], "lacks private_key"),
        (["send", "--token", "a", "--emulator", "--ttl", "soon"], "invalid int value"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, tmp_path: pathlib.Path) -> None:
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "invalid.json").write_text("{ nope")
    (tmp_path / "incomplete.json").write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "p",
                "client_email": "a@b",
                "token_uri": "http://127.0.0.1:9/t",
            }
        )
    )
    bad = tmp_path / "bad.json"
    bad.mkdir()
    paths = {
        "{empty}": tmp_path / "empty.txt",
        "{invalid}": tmp_path / "invalid.json",
        "{incomplete}": tmp_path / "incomplete.json",
        "{bad}": bad,
    }
    done = run(*[str(paths.get(arg, arg)) for arg in args])
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("fcmclient: error: ")
    assert message in lines[0]


def test_demo_explains_every_outcome() -> None:
    done = run("demo")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "remove: the token is dead" in out
    assert "retry after 1.0 s (UNAVAILABLE)" in out
    assert "update: replace the stored token by watch-gina-v2" in out
    assert "holds 1 message(s)" in out


def test_emulator_command_is_the_testing_entry_point() -> None:
    done = run("emulator", "--help")
    assert done.returncode == 0
    assert "--port" in done.stdout
