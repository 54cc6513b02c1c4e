"""gevent and eventlet: monkey-patched processes send, fork and send again, every verdict their own.

Monkey-patching has to happen before socket and threading are imported, so each case runs
``tests/guarantees/green_send.py`` in a process of its own (the venv's python) against the
emulator running here. The dev extra installs both libraries; without them these tests skip
locally and fail in CI.

Green threads, unlike threads, survive a fork: a send under way in one when the process
forks goes on in the child too. The child's copy must neither read an answer to a request
its parent wrote nor send anything the parent sends.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from fcmclient._http.session import total_seconds
from fcmclient.testing import FCMEmulator
from tests.forking import audience, buckets, expected

SCRIPT = pathlib.Path(__file__).with_name("green_send.py")
DEAD_EVERY = 10
BOUND = 10.0 + 2 * total_seconds(2.0)  # the script's send_timeout and timeout
STARTUP = 30.0  # a new interpreter imports and patches everything first
LIBRARIES = [("gevent", "threading"), ("eventlet", "thread")]


def run(
    library: str,
    scenario: str,
    emu: FCMEmulator,
    info: dict[str, str],
    tmp_path: pathlib.Path,
    name: str,
    size: int,
) -> dict[str, Any]:
    """Run the script; the reports it printed, after checking what it patched."""
    if importlib.util.find_spec(library) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{library} is not installed (the dev extra installs it)")
        pytest.skip(f"{library} is not installed")
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps(info))
    command = [sys.executable, str(SCRIPT), library, scenario, str(key_file), emu.v1_url("demo")]
    command += [name, str(size), str(DEAD_EVERY)]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=STARTUP + 2 * BOUND, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    # Nothing of fcm-client's failed, in a thread or at exit (some releases of gevent and
    # eventlet print their own noise from logging's shutdown; that is theirs).
    assert "fcmclient" not in completed.stderr, completed.stderr[-3000:]
    output = json.loads(completed.stdout.splitlines()[-1])
    patched = dict(LIBRARIES)[library]
    assert output["patched"] == {"socket": True, patched: True}
    reports: dict[str, Any] = output["reports"]
    return reports


def script_dead(emu: FCMEmulator, *names: str, size: int) -> None:
    for name in names:
        for token in audience(name, size, DEAD_EVERY)[1]:
            emu.set_outcome(token, "unregistered")


@pytest.mark.parametrize("library", [library for library, _ in LIBRARIES])
def test_a_monkey_patched_process_sends_2000_tokens_with_exact_verdicts(
    library: str, fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str], tmp_path: pathlib.Path
) -> None:
    emu = fcm_emulator
    script_dead(emu, library, size=2000)
    reports = run(library, "send", emu, fcm_service_account, tmp_path, library, 2000)
    tokens, dead = audience(library, 2000, DEAD_EVERY)
    assert buckets(reports[library]) == expected(tokens, dead)
    assert reports[library]["elapsed"] <= BOUND
    assert all(len(emu.inbox(token)) == 1 for token in tokens if token not in dead)


@pytest.mark.parametrize("library", [library for library, _ in LIBRARIES])
def test_a_monkey_patched_process_subscribes_500_tokens_with_exact_verdicts(
    library: str, fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str], tmp_path: pathlib.Path
) -> None:
    emu = fcm_emulator
    name = f"{library}-topic"
    script_dead(emu, name, size=500)
    reports = run(library, "subscribe", emu, fcm_service_account, tmp_path, name, 500)
    tokens, dead = audience(name, 500, DEAD_EVERY)
    assert buckets(reports[name]) == expected(tokens, dead)
    assert reports[name]["elapsed"] <= BOUND
    assert emu.subscribers(name) == sorted(set(tokens) - set(dead))


@pytest.mark.parametrize("library", [library for library, _ in LIBRARIES])
def test_a_monkey_patched_process_forked_after_a_send_gets_exactly_its_own_verdicts(
    library: str, fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str], tmp_path: pathlib.Path
) -> None:
    """Issue 17's experiment in a green world: send, fork, then parent and child send at once."""
    emu = fcm_emulator
    names = [f"{library}-parent", f"{library}-child"]
    script_dead(emu, *names, size=200)
    reports = run(library, "fork-after", emu, fcm_service_account, tmp_path, library, 200)
    for name in names:
        assert buckets(reports[name]) == expected(*audience(name, 200, DEAD_EVERY)), name
        assert reports[name]["elapsed"] <= BOUND
    assert reports[names[0]]["pid"] != reports[names[1]]["pid"]


def consistent(report: dict[str, Any], tokens: list[str], dead: list[str]) -> None:
    """No answer was misattributed: every target once, no live token unregistered, no dead
    one delivered, nothing failed; the rest is in retry()."""
    placed = report["success"] + report["not_registered"] + report["failed"] + report["retry"]
    assert sorted(placed) == sorted(tokens)
    assert set(report["success"]).isdisjoint(dead)
    assert set(report["not_registered"]) <= set(dead)
    assert report["failed"] == []


def test_a_send_under_way_in_a_green_thread_at_a_fork_is_never_answered_in_the_child(
    fcm_emulator: FCMEmulator, fcm_service_account: dict[str, str], tmp_path: pathlib.Path
) -> None:
    """gevent carries every green thread into a forked child, a send under way included.

    The child's copy of the send reads no answer to a request its parent wrote (those are
    transport errors there) and writes no request (the rest is not sent): no token gets a
    verdict that is not its own, and none is sent twice. The parent's send goes on; only the
    requests whose answers the child's copy took from the shared sockets are in its retry().
    (eventlet strands such green threads in the child instead: they never resume there.)
    """
    library = "gevent"
    emu = fcm_emulator
    emu.latency = 0.01  # the send lasts long enough to fork in its middle
    name, size = f"{library}-during", 400
    script_dead(emu, name, size=size)
    reports = run(library, "fork-during", emu, fcm_service_account, tmp_path, name, size)
    tokens, dead = audience(name, size, DEAD_EVERY)
    parent, child = reports["parent"], reports["child"]
    consistent(parent, tokens, dead)
    consistent(child, tokens, dead)
    assert parent["pid"] != child["pid"]
    assert len(parent["retry"]) <= 64  # at most the requests in flight at the fork
    assert all(len(emu.inbox(token)) <= 1 for token in tokens)
    assert len(parent["success"]) + len(parent["not_registered"]) >= size - 64
