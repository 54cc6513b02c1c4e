"""Real processes for the integration tests: a redis-server and a Celery worker.

Everything listens on 127.0.0.1 on ports picked at run time, and every process started here
is stopped in the fixture's teardown, whatever the test did. Without redis-server these
tests skip locally (``bash scripts/ensure-redis.sh`` installs it) but fail under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping

import pytest

#: An app a worker imports, configured by its environment: not a module for pytest to import.
collect_ignore = [
    "fork_app.py",
    "each_app.py",
    "topic_app.py",
]  # the workers import them, with their environment

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "celery_app"
IN_CI = os.environ.get("CI") == "true"


def require(ok: bool, reason: str) -> None:
    """Skip locally when something is missing; fail in CI, where nothing may skip."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: these tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A port nothing listens on right now (redis has no --port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def wait_for(check: Callable[[], bool], timeout: float, what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready after {timeout} s")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process group we started, then SIGKILL it if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    with contextlib.suppress(ProcessLookupError):  # prefork children may outlive their parent
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def tail(path: pathlib.Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@pytest.fixture
def redis_url(tmp_path: pathlib.Path) -> Iterator[str]:
    """A private redis-server on a free port of 127.0.0.1, without persistence."""
    executable = shutil.which("redis-server")
    require(
        executable is not None,
        "redis-server is not on PATH; run `bash scripts/ensure-redis.sh` to install it",
    )
    assert executable is not None
    log = tmp_path / "redis.log"
    for _attempt in range(3):  # the port may be taken between the probe and the start
        port = free_port()
        command = [executable, "--port", str(port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
        with log.open("ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(functools.partial(redis_ping, port), 10.0, "redis-server", process)
        except RuntimeError:
            stop(process)
            continue
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            # Celery's AsyncResults unsubscribe from redis as they are collected: collect the
            # test's now, while redis runs, not in some later test after it stopped.
            gc.collect()
            stop(process)
        return
    raise RuntimeError(f"redis-server did not start:\n{tail(log)}")


class Worker:
    """A running ``celery worker`` process and its log."""

    def __init__(self, process: subprocess.Popen[bytes], log: pathlib.Path) -> None:
        self.process = process
        self.log = log

    def tail(self) -> str:
        return tail(self.log)


@pytest.fixture
def start_worker(tmp_path: pathlib.Path) -> Iterator[Callable[..., Worker]]:
    """Start ``celery -A APP worker`` (prefork, 2 processes; APP is ``pushapp.tasks`` unless
    given) with extra env vars."""
    started: list[Worker] = []

    def start(env: Mapping[str, str], app: str = "pushapp.tasks") -> Worker:
        log = tmp_path / f"worker-{len(started)}.log"
        path = os.pathsep.join([str(EXAMPLE), str(ROOT), os.environ.get("PYTHONPATH", "")])
        command = [sys.executable, "-m", "celery", "-A", app, "worker"]
        command += ["--pool", "prefork", "--concurrency", "2", "--loglevel", "INFO"]
        command += ["--hostname", f"test-{os.getpid()}-{len(started)}@127.0.0.1"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=EXAMPLE,
                env={**os.environ, **env, "PYTHONPATH": path},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        worker = Worker(process, log)
        started.append(worker)
        try:
            wait_for(lambda: " ready." in log.read_text(errors="replace"), 60.0, "celery worker", process)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{worker.tail()}") from None
        return worker

    try:
        yield start
    finally:
        for worker in started:
            stop(worker.process)
