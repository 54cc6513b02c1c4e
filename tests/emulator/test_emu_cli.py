"""``python -m fcmclient.testing`` in a subprocess: its output, its key file, a clean exit."""

from __future__ import annotations

import json
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.emulator.emu_support import JWT_BEARER, TIMEOUT, make_assertion

REPO = Path(__file__).resolve().parents[2]
KEYS = [
    "URL",
    "HOST",
    "PORT",
    "LEGACY_URL",
    "V1_URL",
    "TOKEN_URI",
    "API_KEY",
    "PROJECT_ID",
    "SERVICE_ACCOUNT_FILE",
    "READY",
]


def _start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-m", "fcmclient.testing", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _read_lines(process: subprocess.Popen[str], timeout: float) -> dict[str, str]:
    """Read ``KEY=value`` lines up to ``READY``; a thread reads so a hang cannot block us."""
    stdout = process.stdout
    assert stdout is not None
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stdout:
            lines.put(line)
            if line.startswith("READY="):
                return
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    values: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while "READY" not in values:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            pytest.fail(f"no READY line in time; got {values}")
        if not line:
            pytest.fail(f"the emulator exited early: {process.wait()}")
        key, _, value = line.rstrip("\n").partition("=")
        values[key] = value
    return values


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_subprocess_prints_serves_and_exits_cleanly(signum: signal.Signals) -> None:
    process = _start("--port", "0", "--project", "cli-proj", "--latency", "0", "--history-limit", "10")
    try:
        values = _read_lines(process, timeout=30)
        assert list(values) == KEYS
        port = int(values["PORT"])
        assert values["URL"] == f"http://127.0.0.1:{port}"
        assert values["LEGACY_URL"] == f"http://127.0.0.1:{port}/fcm/send"
        assert values["V1_URL"] == f"http://127.0.0.1:{port}/v1/projects/cli-proj/messages:send"
        assert values["TOKEN_URI"] == f"http://127.0.0.1:{port}/token"
        key_file = Path(values["SERVICE_ACCOUNT_FILE"])
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        info = json.loads(key_file.read_text())
        assert info["project_id"] == "cli-proj"
        assert info["token_uri"] == values["TOKEN_URI"]

        granted = requests.post(
            values["TOKEN_URI"],
            data={"grant_type": JWT_BEARER, "assertion": make_assertion(info)},
            timeout=TIMEOUT,
        )
        token = granted.json()["access_token"]
        with requests.Session() as session:
            sent = session.post(
                values["V1_URL"],
                json={"message": {"token": "t"}},
                headers={"Authorization": f"Bearer {token}"},
                timeout=TIMEOUT,
            )
            assert sent.status_code == 200
            legacy = session.post(
                values["LEGACY_URL"],
                json={"to": "t"},
                headers={"Authorization": f"key={values['API_KEY']}"},
                timeout=TIMEOUT,
            )
            assert legacy.json()["success"] == 1
        process.send_signal(signum)
        assert process.wait(timeout=15) == 0
        assert not key_file.exists()
        assert not key_file.parent.exists()
        assert process.stderr is not None
        assert process.stderr.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_help_mentions_the_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fcmclient.testing", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    for option in ("--host", "--port", "--latency", "--project", "--history-limit"):
        assert option in result.stdout


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ([sys.executable, "-m", "fcmclient.testing"], "python -m fcmclient.testing"),
        ([sys.executable, "-m", "fcmclient", "emulator"], "fcmclient emulator"),
    ],
)
@pytest.mark.parametrize("bad", [["--bogus"], ["--port", "x"], ["--latency"]])
def test_bad_option_is_one_line_and_exit_2(command: list[str], name: str, bad: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [*command, *bad], capture_output=True, text=True, env=env, timeout=TIMEOUT, check=False
    )
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"{name}: error: ")
    assert line.endswith(f"(see {name} --help)")
