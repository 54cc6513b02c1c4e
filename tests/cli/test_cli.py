"""The ``fcmclient`` command, run as a subprocess against the emulator."""

from __future__ import annotations

import array
import fcntl
import json
import os
import pathlib
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fcmclient.testing import Answer, FCMEmulator
from tests.conftest import make_private_key_pem

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"
ACCESS_TOKEN = re.compile(r"emu\.[0-9a-f]{40}")  # what the emulator's token endpoint issues


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "fcmclient", *args]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GOOGLE_APPLICATION_CREDENTIALS", "FCM_API_KEY")}
    env.update(extra or {})
    return env


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | bytes | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    data = stdin.decode("latin-1") if isinstance(stdin, bytes) else stdin
    return subprocess.run(
        command(*args),
        capture_output=True,
        text=True,
        encoding="latin-1" if isinstance(stdin, bytes) else None,
        env=clean_env(env),
        input=data,
        timeout=timeout,
        check=False,
    )


def report_lines(path: pathlib.Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def account_file(fcm_emulator: FCMEmulator, tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(fcm_emulator.service_account_info("demo")))
    return path


def v1_args(emulator: FCMEmulator, account: pathlib.Path) -> list[str]:
    return ["send", "--service-account", str(account), "--url", emulator.v1_url("demo")]


def send_file(
    emulator: FCMEmulator, account: pathlib.Path, tmp_path: pathlib.Path, tokens: bytes, *args: str
) -> tuple[subprocess.CompletedProcess[str], pathlib.Path]:
    """Send through v1 to the tokens of ``tmp_path/tokens.txt``; returns the run and its report."""
    (tmp_path / "tokens.txt").write_bytes(tokens)
    report = tmp_path / "report.jsonl"
    files = ["--tokens-file", str(tmp_path / "tokens.txt"), "--report", str(report)]
    return run(*v1_args(emulator, account), *files, *args), report


def sends(emulator: FCMEmulator, protocol: str = "v1") -> int:
    return sum(1 for request in emulator.requests if request.protocol == protocol)


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
            fcm_emulator.set_outcome(token, Answer.unavailable(retry_after=7))
            expected[token] = ("retry", "retry")
        else:
            expected[token] = ("success", "keep")
    data = ("\n".join(tokens) + "\n\n").encode()
    done, report = send_file(
        fcm_emulator, account_file, tmp_path, data, "--title", "Hello", "--data", '{"n": 1}'
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    counts = {
        bucket: sum(v[0] == bucket for v in expected.values()) for bucket in ("success", "failed", "retry")
    }
    assert counts == {"success": 4200, "failed": 200, "retry": 100}  # and 500 not registered
    assert done.stdout == (
        "5000 target(s): 4200 sent, 500 not registered, 200 failed, 100 to retry\n"
        "  delete: 500 dead token(s)\n"
        "  investigate: INVALID_ARGUMENT x200 (sending again as is will not help)\n"
        "  retry: 100 target(s), in 7.0 s or later\n"
        f"report: {report} (one JSON line per target)\n"
    )
    lines = report_lines(report)
    assert [line["target"] for line in lines] == tokens  # every target once, in input order
    assert {line["target"]: (line["outcome"], line["action"]) for line in lines} == expected
    by_target = {line["target"]: line for line in lines}
    assert by_target["device-00000"]["message_id"].startswith("projects/demo/messages/")
    assert by_target["device-00001"]["error"] == "UNREGISTERED"
    assert by_target["device-00002"]["error"] == "INVALID_ARGUMENT"
    assert by_target["device-00003"]["error"] == "UNAVAILABLE"
    assert sum(len(fcm_emulator.inbox(token)) for token in tokens) == 4200
    assert sends(fcm_emulator) == 5000  # no retry without --retries
    # The CLI reference shows this very run's summary.
    assert "\n".join("    " + line for line in done.stdout.splitlines()[:4]) in (DOCS / "cli.rst").read_text()


def test_a_messy_tokens_file_is_cleaned_and_duplicates_sent_once(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    # A byte-order mark, CRLF line ends, blank lines, surrounding spaces, duplicates, no final newline.
    data = b"\xef\xbb\xbfalpha\r\n\r\n  beta \r\nalpha\r\n\t\r\ngamma\r\nbeta\r\ndelta"
    done, report = send_file(fcm_emulator, account_file, tmp_path, data, "--token", "gamma")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        "4 target(s): 4 sent, 0 not registered, 0 failed, 0 to retry (3 duplicate(s) skipped)"
    )
    assert [line["target"] for line in report_lines(report)] == ["gamma", "alpha", "beta", "delta"]
    assert sorted(r.targets[0] for r in fcm_emulator.requests if r.protocol == "v1") == [
        "alpha",
        "beta",
        "delta",
        "gamma",
    ]


def test_retries_wait_result_delay_and_finish_the_job(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    fcm_emulator.set_outcome("b", Answer.unavailable(retry_after=1), "delivered")
    fcm_emulator.set_outcome("c", Answer.unavailable(retry_after=1), Answer.unavailable(retry_after=1))
    report = tmp_path / "r.jsonl"
    done = run(
        *v1_args(fcm_emulator, account_file),
        *("--token", "a", "--token", "b", "--token", "c"),
        *("--retries", "1", "--report", str(report)),
    )
    assert done.returncode == 1, done.stderr
    assert re.fullmatch(r"retry round 1: 2 target\(s\), the first in [01]\.\d s\n", done.stderr)
    assert done.stdout.startswith("3 target(s): 2 sent, 0 not registered, 0 failed, 1 to retry\n")
    assert "  retry: 1 target(s), in 1.0 s or later\n" in done.stdout
    assert {line["target"]: line["outcome"] for line in report_lines(report)} == {
        "a": "success",
        "b": "success",
        "c": "retry",
    }
    b_sends = [r.received_at for r in fcm_emulator.requests if r.targets == ("b",)]
    assert len(b_sends) == 2
    assert b_sends[1] - b_sends[0] >= 0.9  # Retry-After: 1 was honoured (never less)
    assert len(fcm_emulator.inbox("b")) == 1


def test_without_retries_nothing_is_resent(fcm_emulator: FCMEmulator, account_file: pathlib.Path) -> None:
    fcm_emulator.set_outcome("b", Answer.unavailable(retry_after=1), "delivered")
    done = run(*v1_args(fcm_emulator, account_file), "--token", "b")
    assert done.returncode == 1
    assert sends(fcm_emulator) == 1


def test_topic_with_data_file_and_options(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    data = tmp_path / "data.json"
    data.write_text('{"score": "3:1"}')
    done = run(
        *v1_args(fcm_emulator, account_file),
        *("--topic", "news", "--data-file", str(data), "--title", "Goal", "--body", "3:1"),
        *("--ttl", "60", "--priority", "high", "--collapse-key", "score"),
    )
    assert done.returncode == 0, done.stderr
    (sent,) = [r for r in fcm_emulator.requests if r.protocol == "v1"]
    assert isinstance(sent.body, dict)
    message = sent.body["message"]
    assert message["topic"] == "news"
    assert message["data"] == {"score": "3:1"}
    assert message["notification"] == {"title": "Goal", "body": "3:1"}
    assert message["android"] == {"collapse_key": "score", "priority": "HIGH", "ttl": "60s"}


def test_condition_target(fcm_emulator: FCMEmulator, account_file: pathlib.Path) -> None:
    condition = "'news' in topics && 'sport' in topics"
    done = run(*v1_args(fcm_emulator, account_file), "--condition", condition, "--data", '{"k": "v"}')
    assert done.returncode == 0, done.stderr
    (sent,) = [r for r in fcm_emulator.requests if r.protocol == "v1"]
    assert isinstance(sent.body, dict)
    assert sent.body["message"]["condition"] == condition


def test_service_account_from_the_environment(fcm_emulator: FCMEmulator, account_file: pathlib.Path) -> None:
    done = run(
        "send",
        *("--url", fcm_emulator.v1_url("demo"), "--token", "a"),
        env={"GOOGLE_APPLICATION_CREDENTIALS": str(account_file), "FCM_API_KEY": "unused"},
    )
    assert done.returncode == 0, done.stderr
    assert sends(fcm_emulator) == 1
    assert sends(fcm_emulator, "legacy") == 0


def test_tokens_from_stdin_through_the_legacy_api(fcm_emulator: FCMEmulator, tmp_path: pathlib.Path) -> None:
    fcm_emulator.set_outcome("old", Answer.canonical("new"))
    report = tmp_path / "r.jsonl"
    done = run(
        "send",
        *("--tokens-file", "-", "--url", fcm_emulator.legacy_url, "--report", str(report)),
        env={"FCM_API_KEY": fcm_emulator.api_key},
        stdin="old\nother\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "2 target(s): 2 sent, 0 not registered, 0 failed, 0 to retry\n"
        "  replace: 1 token(s) have a new canonical token\n"
    )
    assert report_lines(report)[0]["action"] == "replace"
    assert report_lines(report)[0]["canonical_id"] == "new"
    assert fcm_emulator.api_key not in done.stdout + done.stderr + report.read_text()


def test_the_report_feeds_the_next_run(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """The recipe of docs/cli.rst: send again the report's ``retry`` targets, from stdin."""
    fcm_emulator.set_outcome("c", Answer.unavailable(retry_after=30), "delivered")
    fcm_emulator.set_outcome("e", "unregistered")
    first = tmp_path / "first.jsonl"
    done = run(
        *v1_args(fcm_emulator, account_file),
        "--tokens-file",
        "-",
        "--report",
        str(first),
        stdin="a\nb\nc\nd\ne\n",
    )
    assert done.returncode == 1
    again = "".join(line["target"] + "\n" for line in report_lines(first) if line["action"] == "retry")
    assert again == "c\n"
    second = tmp_path / "second.jsonl"
    done = run(
        *v1_args(fcm_emulator, account_file), "--tokens-file", "-", "--report", str(second), stdin=again
    )
    assert done.returncode == 0, done.stderr
    assert [(line["target"], line["outcome"]) for line in report_lines(second)] == [("c", "success")]
    assert len(fcm_emulator.inbox("c")) == 1


def test_legacy_sends_chunks_of_registration_ids(fcm_emulator: FCMEmulator, tmp_path: pathlib.Path) -> None:
    tokens_file = tmp_path / "tokens.txt"
    tokens_file.write_text("".join(f"t{n}\n" for n in range(2500)))
    done = run(
        *("send", "--api-key", fcm_emulator.api_key, "--url", fcm_emulator.legacy_url),
        *("--tokens-file", str(tokens_file), "--chunk-size", "1000"),
    )
    assert done.returncode == 0, done.stderr
    assert [len(r.targets) for r in fcm_emulator.requests if r.protocol == "legacy"] == [1000, 1000, 500]
    assert done.stdout.startswith("2500 target(s): 2500 sent,")


def test_a_request_refused_or_unreachable_as_a_whole_settles_each_target(
    fcm_emulator: FCMEmulator, tmp_path: pathlib.Path
) -> None:
    fcm_emulator.set_outcome("a", Answer.http_error(400))
    refused = tmp_path / "refused.jsonl"
    done = run(
        *("send", "--api-key", fcm_emulator.api_key, "--url", fcm_emulator.legacy_url),
        *("--token", "a", "--token", "b", "--report", str(refused)),
    )
    assert done.returncode == 1
    assert "  investigate: HTTP_400 x2 (sending again as is will not help)\n" in done.stdout
    assert [(line["outcome"], line["error"]) for line in report_lines(refused)] == [
        ("failed", "HTTP_400")
    ] * 2
    unreachable = tmp_path / "unreachable.jsonl"
    with socket.socket() as closed:  # a port that was free a moment ago: nothing listens there
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    done = run(
        *("send", "--api-key", "k", "--url", f"http://127.0.0.1:{port}/fcm/send", "--token", "a"),
        *("--report", str(unreachable)),
    )
    assert done.returncode == 1
    assert done.stdout.startswith("1 target(s): 0 sent, 0 not registered, 0 failed, 1 to retry\n")
    (line,) = report_lines(unreachable)
    assert (line["outcome"], line["error"]) == ("retry", "TRANSPORT_ERROR")
    assert line["detail"].startswith("ConnectionError: ")


def test_dry_run_delivers_nothing(fcm_emulator: FCMEmulator, account_file: pathlib.Path) -> None:
    done = run(*v1_args(fcm_emulator, account_file), "--token", "a", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 target(s): 1 valid (dry run, nothing delivered),")
    (sent,) = [r for r in fcm_emulator.requests if r.protocol == "v1"]
    assert isinstance(sent.body, dict)
    assert sent.body["validate_only"] is True
    assert fcm_emulator.inbox("a") == []


def test_rejected_key_exit_3_with_a_complete_report(
    fcm_emulator: FCMEmulator, tmp_path: pathlib.Path
) -> None:
    forged: dict[str, Any] = dict(
        fcm_emulator.service_account_info("demo"), private_key=make_private_key_pem()
    )
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged))
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("a\nb\nc\nd\ne\n")
    report = tmp_path / "r.jsonl"
    done = run(
        *("send", "--service-account", str(path), "--url", fcm_emulator.v1_url("demo")),
        *("--tokens-file", str(tokens), "--chunk-size", "2", "--report", str(report)),
    )
    assert done.returncode == 3
    (line,) = done.stderr.splitlines()
    assert line.startswith("fcmclient: credentials rejected: ")
    assert "invalid_grant" in line
    assert forged["private_key"].splitlines()[1] not in done.stdout + done.stderr
    assert [(r["target"], r["outcome"], r["error"]) for r in report_lines(report)] == [
        (token, "retry", "NOT_SENT") for token in "abcde"
    ]
    assert sends(fcm_emulator) == 0


def test_permission_denied_mid_run_keeps_what_was_settled(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    tokens = [f"t{n}" for n in range(6)]
    fcm_emulator.set_outcome("t3", Answer.http_error(403))
    fcm_emulator.set_outcome("t1", "unregistered")
    done, report = send_file(
        fcm_emulator, account_file, tmp_path, "\n".join(tokens).encode(), "--chunk-size", "2"
    )
    assert done.returncode == 3, done.stderr
    assert "fcmclient: credentials rejected: FCM refused the send (HTTP 403" in done.stderr
    outcomes = {line["target"]: (line["outcome"], line.get("error")) for line in report_lines(report)}
    assert outcomes["t0"] == ("success", None)
    assert outcomes["t1"] == ("not_registered", "UNREGISTERED")
    assert outcomes["t4"] == outcomes["t5"] == ("retry", "NOT_SENT")
    assert sorted(outcomes) == tokens
    assert done.stdout.startswith("6 target(s): ")


def test_rejected_legacy_key_exit_3_and_no_secret_in_output(
    fcm_emulator: FCMEmulator, tmp_path: pathlib.Path
) -> None:
    report = tmp_path / "r.jsonl"
    secret = "AAAA-not-the-right-server-key"
    done = run(
        *("send", "--api-key", secret, "--url", fcm_emulator.legacy_url),
        *("--token", "a", "--token", "b", "--report", str(report)),
    )
    assert done.returncode == 3
    assert done.stderr.startswith("fcmclient: credentials rejected: FCM rejected the API key (HTTP 401)")
    assert secret not in done.stdout + done.stderr + report.read_text()
    assert [line["error"] for line in report_lines(report)] == ["NOT_SENT", "NOT_SENT"]


def test_no_access_token_or_key_in_any_output(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    fcm_emulator.set_outcome("x", "third_party_auth_error")
    fcm_emulator.set_outcome("y", Answer.http_error(401))
    report = tmp_path / "r.jsonl"
    done = run(
        *v1_args(fcm_emulator, account_file),
        *("--token", "w", "--token", "x", "--token", "y", "--report", str(report)),
    )
    assert done.returncode == 3, done.stderr
    info = json.loads(account_file.read_text())
    everything = done.stdout + done.stderr + report.read_text()
    assert not ACCESS_TOKEN.search(everything)
    assert "Bearer" not in everything
    assert info["private_key"].splitlines()[1] not in everything


def test_emulator_flag_sends_to_a_local_emulator() -> None:
    done = run("send", "--emulator", "--token", "a", "--token", "b", "--title", "hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2 target(s): 2 sent, 0 not registered, 0 failed, 0 to retry\n"
    assert re.fullmatch(r"fcmclient: sending to a local emulator, http://127\.0\.0\.1:\d+/\S+\n", done.stderr)


def bad_input_cases(tmp_path: pathlib.Path, emulator: FCMEmulator) -> dict[str, pathlib.Path]:
    info = emulator.service_account_info("demo")
    files = {
        "{sa}": json.dumps(info),
        "{empty}": "\n \r\n\n",
        "{invalid}": "{ nope",
        "{incomplete}": json.dumps({k: v for k, v in info.items() if k != "private_key"}),
        "{badkey}": json.dumps(dict(info, private_key="-----BEGIN PRIVATE KEY-----\nAAAA\n")),
        "{user}": json.dumps({"type": "authorized_user", "client_id": "x", "refresh_token": "y"}),
        "{list}": "[1, 2]",
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / (name.strip("{}") + ".json")
        paths[name].write_text(text)
    paths["{binary}"] = tmp_path / "tokens.gz"
    paths["{binary}"].write_bytes(b"\x1f\x8b\x08\x00\xff\xfe tokens\n")
    paths["{dir}"] = tmp_path
    paths["{missing}"] = tmp_path / "missing.json"
    return paths


SA = ["--service-account", "{sa}", "--url", "{url}"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["send", "--token", "a"], "no credentials: give --service-account FILE"),
        (["send", "--token", "a", "--service-account", "{missing}"], "cannot read service-account file"),
        (["send", "--token", "a", "--service-account", "{dir}"], "cannot read service-account file"),
        (["send", "--token", "a", "--service-account", "{invalid}"], "is not valid JSON"),
        (["send", "--token", "a", "--service-account", "{list}"], "does not hold a JSON object"),
        (["send", "--token", "a", "--service-account", "{incomplete}"], "lacks private_key"),
        (["send", "--token", "a", "--service-account", "{badkey}"], "not a usable PEM RSA key"),
        (["send", "--token", "a", "--service-account", "{user}"], "is not a service-account key"),
        (["send", "--token", "a", "--env-sa", "{missing}"], "GOOGLE_APPLICATION_CREDENTIALS: cannot read"),
        (["send", "--token", "a", *SA, "--data", "{not json"], "--data is not valid JSON"),
        (["send", "--token", "a", *SA, "--data", "[1]"], "--data must be a JSON object, got list"),
        (["send", "--token", "a", *SA, "--data-file", "{invalid}"], "is not valid JSON"),
        (["send", "--token", "a", *SA, "--data-file", "{missing}"], "cannot read data file"),
        (["send", "--token", "a", *SA, "--data", "{}", "--data-file", "{sa}"], "not both"),
        (["send", "--tokens-file", "{empty}", *SA], "the token list is empty"),
        (["send", "--tokens-file", "-", *SA], "the token list is empty (standard input)"),
        (["send", "--tokens-file", "{missing}", *SA], "cannot read tokens file"),
        (["send", "--tokens-file", "{binary}", *SA], "line 1: not UTF-8 text"),
        (["send", "--token", "a", *SA, "--shiny"], "unrecognized arguments: --shiny (see fcmclient --help)"),
        (["send", "--token", "a", *SA, "--api-kee", "s3cret"], "unrecognized arguments: --api-kee (see"),
        (["send", "--token", "a", *SA, "--api-kee=s3cret"], "unrecognized arguments: --api-kee (see"),
        (["send", "--token", "a", *SA, "--ttl", "soon"], "argument --ttl: not a whole number"),
        (["send", "--token", "a", *SA, "--timeout", "0"], "argument --timeout: must be a positive"),
        (["send", "--token", "a", *SA, "--retries", "-1"], "argument --retries: must be 0 or more"),
        (["send", *SA], "exactly one kind"),
        (["send", "--token", "a", "--topic", "t", *SA], "exactly one kind"),
        (["send", "--token", "a", "--emulator", "--api-key", "k"], "one kind of credentials"),
        (["send", "--token", "a", "--api-key", "k", "--project-id", "p"], "--project-id is for HTTP v1"),
        (["send", "--token", "a", "--api-key", "k", "--chunk-size", "1001"], "at most 1000"),
        (["send", "--token", "a", *SA, "--report", "{dir}"], "cannot write report"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: pathlib.Path, fcm_emulator: FCMEmulator
) -> None:
    paths = bad_input_cases(tmp_path, fcm_emulator)
    env = {}
    if "--env-sa" in args:
        index = args.index("--env-sa")
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(paths[args[index + 1]])
        args = args[:index] + args[index + 2 :]
    argv = [fcm_emulator.v1_url("demo") if arg == "{url}" else str(paths.get(arg, arg)) for arg in args]
    done = run(*argv, env=env, stdin="\n\n")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("fcmclient: error: ")
    assert message in lines[0]
    assert "s3cret" not in lines[0]
    assert fcm_emulator.requests == []  # nothing was sent, not even a token request


def test_an_undecodable_line_after_the_first_chunk_stops_with_exit_2(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    done, report = send_file(fcm_emulator, account_file, tmp_path, b"a\nb\nc\n\xff\nd\n", "--chunk-size", "2")
    tokens_file = tmp_path / "tokens.txt"
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"fcmclient: error: tokens file '{tokens_file}', line 4: not UTF-8 text; the targets before it were sent"
    ]
    # a and b went out as the first chunk; c was read with the bad line and went out before the stop.
    assert [line["target"] for line in report_lines(report)] == ["a", "b", "c"]
    assert sends(fcm_emulator) == 3


def run_on_a_terminal(args: list[str]) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal (stdout stays a pipe); return status, stdout, stderr."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            command(*args), stdout=subprocess.PIPE, stderr=terminal, env=clean_env(), text=True
        )
        os.close(terminal)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed: the process is gone
                break
            if not chunk:
                break
            seen += chunk
        assert process.stdout is not None
        with process.stdout:
            out = process.stdout.read()
        status = process.wait(timeout=60)
    finally:
        os.close(controller)
    return status, out, seen.decode()


def test_progress_bar_on_a_terminal_only(
    fcm_emulator: FCMEmulator, account_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    tokens_file = tmp_path / "tokens.txt"
    tokens_file.write_text("".join(f"tok-{n}\n" for n in range(600)))
    args = [*v1_args(fcm_emulator, account_file), "--tokens-file", str(tokens_file), "--chunk-size", "50"]
    status, out, err = run_on_a_terminal(args)
    assert status == 0, err
    assert out == "600 target(s): 600 sent, 0 not registered, 0 failed, 0 to retry\n"
    assert err.startswith("\rsending [")
    assert err.endswith("\rsending [" + "#" * 30 + "] 100% 600 target(s)\r\n")
    fractions = [int(p) for p in re.findall(r"\] +(\d+)% ", err)]
    assert fractions == sorted(fractions)
    piped = run(*args)
    assert piped.stderr == ""
    assert piped.stdout == out


def test_tokens_typed_at_a_terminal(fcm_emulator: FCMEmulator, account_file: pathlib.Path) -> None:
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        command(*v1_args(fcm_emulator, account_file), "--tokens-file", "-"),
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
        text=True,
    ) as process:
        os.close(terminal)
        os.write(controller, b"typed-1\ntyped-2\n\x04")  # two lines, then Ctrl-D
        out, err = process.communicate(timeout=60)
    os.close(controller)
    assert process.returncode == 0, err
    assert err == "fcmclient: reading tokens from the terminal, one per line; end with Ctrl-D\n"
    assert out.startswith("2 target(s): 2 sent,")


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts: killed if still running, and their pipes closed, when it ends
    (a failed test must not leave a command running, nor its pipes to later tests)."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def start_and_wait_for_sends(
    children: list[subprocess.Popen[str]], args: list[str], ready: Callable[[], bool], timeout: float = 30
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env(), text=True
    )
    children.append(process)
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return process


def start_a_slow_run(
    children: list[subprocess.Popen[str]],
    emulator: FCMEmulator,
    tmp_path: pathlib.Path,
    args: list[str],
    ready: Callable[[], bool],
) -> tuple[list[str], pathlib.Path, subprocess.Popen[str]]:
    """Start ``args`` on 300 tokens in chunks of 20, each answer 0.3 s late, and wait for
    ``ready``: the tokens, the report's path and the process."""
    emulator.latency = 0.3
    tokens = [f"tok-{n:03d}" for n in range(300)]
    tokens_file = tmp_path / "tokens.txt"
    tokens_file.write_text("\n".join(tokens))
    report = tmp_path / "r.jsonl"
    files = ["--tokens-file", str(tokens_file), "--chunk-size", "20", "--report", str(report)]
    return tokens, report, start_and_wait_for_sends(children, [*args, *files], ready)


def read_stderr_until(process: subprocess.Popen[str], text: str, timeout: float = 30) -> str:
    """Read the child's stderr, unbuffered, up to ``text``; what was read (communicate() gets the rest)."""
    assert process.stderr is not None
    fd = process.stderr.fileno()
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0.0))
        assert ready, f"no {text!r} on stderr within {timeout} s, only {seen!r}"
        chunk = os.read(fd, 4096)
        assert chunk, f"stderr closed before {text!r}: {seen!r}"
        seen += chunk.decode()
    return seen


def bytes_in_pipe(pipe: Any) -> int:
    """How many bytes written to ``pipe`` the reader at the other end has not read yet."""
    count = array.array("i", [0])
    fcntl.ioctl(pipe.fileno(), termios.FIONREAD, count)
    return count[0]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_finishes_the_sends_in_flight_and_reports_every_target(
    signum: int,
    fcm_emulator: FCMEmulator,
    account_file: pathlib.Path,
    tmp_path: pathlib.Path,
    children: list[subprocess.Popen[str]],
) -> None:
    tokens, report, process = start_a_slow_run(
        children, fcm_emulator, tmp_path, v1_args(fcm_emulator, account_file), lambda: sends(fcm_emulator) > 0
    )
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "stopping; waiting for the sends in flight" in err
    assert err.endswith("fcmclient: interrupted: the targets not sent are marked NOT_SENT\n")
    lines = report_lines(report)
    assert sorted(line["target"] for line in lines) == tokens  # every target, once
    sent = [line["target"] for line in lines if line["outcome"] == "success"]
    not_sent = [line["target"] for line in lines if line.get("error") == "NOT_SENT"]
    assert len(sent) + len(not_sent) == 300
    assert 20 <= len(sent) < 300
    assert sorted({r.targets[0] for r in fcm_emulator.requests if r.protocol == "v1"}) == sorted(sent)
    assert out.startswith(
        f"300 target(s): {len(sent)} sent, 0 not registered, 0 failed, {len(not_sent)} to retry"
    )


def test_a_second_interrupt_abandons_the_sends_in_flight(
    fcm_emulator: FCMEmulator,
    account_file: pathlib.Path,
    tmp_path: pathlib.Path,
    children: list[subprocess.Popen[str]],
) -> None:
    fcm_emulator.latency = 5.0
    tokens_file = tmp_path / "tokens.txt"
    tokens_file.write_text("\n".join(f"tok-{n}" for n in range(10)))
    report = tmp_path / "r.jsonl"
    process = start_and_wait_for_sends(
        children,
        [
            *v1_args(fcm_emulator, account_file),
            *("--tokens-file", str(tokens_file), "--chunk-size", "4", "--report", str(report)),
        ],
        lambda: sends(fcm_emulator) == 4,
    )
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    # The second interrupt only once the first was seen (two signals sent at once can merge).
    first = read_stderr_until(process, "stopping; waiting for the sends in flight")
    process.send_signal(signal.SIGINT)
    out, rest = process.communicate(timeout=60)
    err = first + rest
    assert time.monotonic() - started < 4.0  # did not wait for the 5 s answers
    assert process.returncode == 130, err
    assert "fcmclient: abandoned: the targets in flight are marked INTERRUPTED" in err
    errors = {line["target"]: line["error"] for line in report_lines(report)}
    assert errors == {f"tok-{n}": "INTERRUPTED" if n < 4 else "NOT_SENT" for n in range(10)}
    assert out.startswith("10 target(s): 0 sent, 0 not registered, 0 failed, 10 to retry")


def test_a_second_interrupt_leaves_a_pipe_that_never_ends(
    fcm_emulator: FCMEmulator,
    account_file: pathlib.Path,
    tmp_path: pathlib.Path,
    children: list[subprocess.Popen[str]],
) -> None:
    """After the first interrupt the rest of stdin is read for the report; a writer that never
    closes the pipe cannot hold the command: the second interrupt ends it."""
    fcm_emulator.latency = 0.3
    report = tmp_path / "r.jsonl"
    args = [*v1_args(fcm_emulator, account_file), "--tokens-file", "-", "--chunk-size", "20"]
    process = subprocess.Popen(
        command(*args, "--report", str(report)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
        text=True,
    )
    children.append(process)
    assert process.stdin is not None
    process.stdin.write("".join(f"tok-{n}\n" for n in range(110)))
    process.stdin.flush()  # and the pipe stays open, like a stuck producer
    deadline = time.monotonic() + 30
    while sends(fcm_emulator) == 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    while not report.exists() or len(report.read_text().splitlines()) < 20:  # the chunk in flight
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # One more line: the child takes it from the pipe only once it has handed out every line
    # it read before, so when the pipe is empty again the 110 lines are all settled.
    process.stdin.write("tok-110\n")
    process.stdin.flush()
    while bytes_in_pipe(process.stdin):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130  # with the pipe still open (communicate() would close it)
    assert process.stdout is not None
    assert process.stderr is not None
    out, err = process.stdout.read(), process.stderr.read()
    assert err.rstrip().endswith("; standard input was not read to its end")
    lines = report_lines(report)
    targets = [line["target"] for line in lines]
    assert targets[:110] == [f"tok-{n}" for n in range(110)]  # what the pipe held was read and reported
    assert targets[110:] in ([], ["tok-110"])  # the last line may be cut by the second interrupt
    assert sum(line["outcome"] == "success" for line in lines) == 20
    assert all(line["error"] == "NOT_SENT" for line in lines if line["outcome"] != "success")
    assert out.startswith(f"{len(lines)} target(s): 20 sent,")


def test_demo_says_what_to_do_for_every_bucket() -> None:
    done = run("demo")
    assert done.returncode == 0, done.stderr
    rows = {  # token -> what to do; a token listed twice keeps its last row
        cells[0]: cells[2]
        for cells in (re.split(r"\s{2,}", line.strip()) for line in done.stdout.splitlines())
        if len(cells) == 3 and cells[0] != "token"
    }
    assert rows["phone-bob"] == "remove: the token is dead, delete it"
    assert rows["phone-carol"].startswith("investigate INVALID_ARGUMENT: ")
    assert rows["watch-frank"].startswith("investigate SENDER_ID_MISMATCH: ")
    assert rows["tablet-erin"] in ("nothing: FCM accepted it",)  # after its retry
    assert "retry after 1.0 s (UNAVAILABLE)" in done.stdout
    assert "retry after 1.0 s (QUOTA_EXCEEDED)" in done.stdout
    assert rows["watch-gina"] == "update: replace the stored token by watch-gina-v2"
    assert "holds 1 message(s): retried once, delivered once" in done.stdout


def test_the_console_script_is_the_same_command() -> None:
    script = pathlib.Path(sys.executable).parent / "fcmclient"
    assert script.exists(), "pip install -e . installs the fcmclient console script"
    done = subprocess.run(
        [str(script), "send", "--help"], capture_output=True, text=True, env=clean_env(), check=False
    )
    assert done.returncode == 0
    assert "--tokens-file FILE" in done.stdout
    assert "--report FILE" in done.stdout


def test_emulator_command_is_the_testing_entry_point() -> None:
    done = run("emulator", "--help")
    assert done.returncode == 0
    assert "--port" in done.stdout
