"""Real forked processes for the fork-safety tests: run a function in a child, get its report back.

Every wait is bounded: a child that has not reported by its deadline is killed and the test
fails, saying it hung. Children leave through ``os._exit``, so nothing of pytest runs twice.
Also the functions that ``multiprocessing`` children run (spawned ones import this module).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fcmclient import FCM, JSONMessage, Result, TopicResult

#: Python 3.12+ warns when a process with threads forks; forking one is what these tests do.
FORK_WARNING = "ignore:This process .* is multi-threaded, use of fork:DeprecationWarning"


def c_fork() -> int:
    """Fork from C, holding the GIL and running no Python at-fork hook (as uWSGI does)."""
    # CPython's own hazard, not fcm-client's: a thread of the parent (the emulator's) that
    # has waited a switch interval for the GIL asks its holder to drop it; a child forked
    # from C right then drops it at its first bytecode and waits for ever for a thread it
    # does not have. A long interval across the fork keeps such a request from being made.
    fork: Callable[[], int] = ctypes.PyDLL(None).fork
    interval = sys.getswitchinterval()
    sys.setswitchinterval(60.0)
    try:
        return fork()
    finally:
        sys.setswitchinterval(interval)


class Forked:
    """A child forked now that runs ``action`` (after a byte arrives on ``gate``, if given) and
    reports its JSON-serialisable return value, or its traceback.

    :param fork: what forks (``os.fork``, or a C fork that runs no Python hooks).
    """

    def __init__(
        self, action: Callable[[], Any], gate: int | None = None, fork: Callable[[], int] = os.fork
    ) -> None:
        read, write = os.pipe()
        pid = fork()
        if pid == 0:  # the child: never returns
            status, payload = 1, {"error": "no report"}
            try:
                os.close(read)
                if gate is not None:
                    os.read(gate, 1)
                payload = {"value": action()}
                status = 0
            except BaseException:
                payload = {"error": traceback.format_exc()}
            finally:
                try:
                    data = json.dumps(payload).encode()
                    while data:
                        data = data[os.write(write, data) :]
                finally:
                    os._exit(status)
        assert pid > 0, "fork failed"
        os.close(write)
        self.pid = pid
        self._read: int | None = read

    def report(self, deadline: float) -> Any:
        """The child's return value; fails the test if it has not reported by ``deadline``
        (``time.monotonic()``): the child is then killed, it hung."""
        assert self._read is not None, "reported already"
        chunks: list[bytes] = []
        try:
            while True:
                ready, _, _ = select.select([self._read], [], [], max(deadline - time.monotonic(), 0.0))
                if not ready:
                    raise AssertionError(f"child {self.pid} did not report by its deadline: it hangs")
                chunk = os.read(self._read, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            self.kill()
        payload = json.loads(b"".join(chunks))
        if "error" in payload:
            raise AssertionError(f"child {self.pid} failed:\n{payload['error']}")
        return payload["value"]

    def kill(self) -> None:
        """Kill the child unless it has exited, and reap it (idempotent)."""
        if self._read is None:
            return
        os.close(self._read)
        self._read = None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)  # it has written its report, or it hangs
        os.waitpid(self.pid, 0)


def audience(name: str, size: int, dead_every: int) -> tuple[list[str], list[str]]:
    """``size`` tokens named after ``name``, and the ones (every ``dead_every``-th) to script dead."""
    tokens = [f"{name}-{i:04d}" for i in range(size)]
    return tokens, tokens[::dead_every]


def verdicts(result: Result | TopicResult, elapsed: float) -> dict[str, Any]:
    """Where each target of ``result`` ended, as plain lists (to cross a pipe), and the time taken."""
    retry = result.retry()  # a message to the targets left, or (a TopicResult's) their list
    retried = retry.targets if retry is not None and not isinstance(retry, list) else retry or []
    return {
        "success": sorted(result.success),
        "not_registered": sorted(result.not_registered),
        "failed": sorted(result.failed),
        "retry": sorted(retried),
        "elapsed": elapsed,
        "pid": os.getpid(),
    }


def expected(tokens: Sequence[str], dead: Sequence[str]) -> dict[str, list[str]]:
    """The verdicts of a send to ``tokens`` whose ``dead`` ones are scripted unregistered."""
    return {
        "success": sorted(set(tokens) - set(dead)),
        "not_registered": sorted(dead),
        "failed": [],
        "retry": [],
    }


def buckets(report: Mapping[str, Any]) -> dict[str, list[str]]:
    """The verdicts of a report, without its time and pid."""
    return {key: report[key] for key in ("success", "not_registered", "failed", "retry")}


def timed_send(client: FCM, tokens: Sequence[str]) -> dict[str, Any]:
    """Send one multicast to ``tokens`` and report its verdicts and duration."""
    started = time.monotonic()
    result = client.send(JSONMessage(list(tokens), {"from": str(os.getpid())}))
    return verdicts(result, time.monotonic() - started)


def timed_subscribe(client: FCM, tokens: Sequence[str], topic: str) -> dict[str, Any]:
    """Subscribe ``tokens`` to ``topic`` and report the verdicts and duration."""
    started = time.monotonic()
    result = client.subscribe_to_topic(tokens, topic)
    return verdicts(result, time.monotonic() - started)


def _report_to(results: Any, action: Callable[[], Any]) -> None:
    """Put ``action()``'s value, or its traceback, on a multiprocessing queue."""
    try:
        results.put({"value": action()})
    except BaseException:
        results.put({"error": traceback.format_exc()})


def send_from_spawned(
    info: dict[str, str], url: str, tokens: list[str], options: dict[str, Any], results: Any
) -> None:
    """What a spawned child runs: nothing is inherited, so it builds its own FCM."""

    def send() -> Any:
        with FCM.from_service_account(info, url=url, **options) as client:
            return timed_send(client, tokens)

    _report_to(results, send)


def send_from_forked(client: FCM, tokens: list[str], results: Any) -> None:
    """What a forked child runs: the parent's FCM, used before the fork."""
    _report_to(results, lambda: timed_send(client, tokens))
