"""The example Celery app (examples/celery_app) in a real worker, against the emulator.

A real redis-server and a real ``celery worker`` (prefork, 2 processes) send 2,000 tokens
through the FCM emulator running in this process, with scripted outcomes: dead tokens,
invalid tokens, tokens failing once or twice with ``Retry-After: 1`` before succeeding,
tokens that never succeed (given up after ``PUSHAPP_MAX_RETRIES``) and, on the legacy
protocol, canonical ids. Then every token must be in exactly one final state, sent exactly
as often as scripted (so never again after a success), each resend must arrive at least its
``Retry-After`` after the failed send, and the SQLite file must show the replacements,
deletions and failures.

The test runs once per protocol. HTTP v1 is what Google answers today, so the whole plan
runs there: one request per token, an access token per worker process, v1 error codes.
Canonical ids exist only in legacy answers (v1 has none), so only the legacy run can show
the token table's replacements, including a replacement by a token that is stored already.
Each run takes a few seconds, most of it the two 1-second retry waits.
"""

from __future__ import annotations

import collections
import importlib
import json
import pathlib
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from types import ModuleType
from typing import Any

import pytest

from fcmclient.testing import Answer, FCMEmulator
from tests.celery.conftest import EXAMPLE, IN_CI, Worker

if IN_CI:
    import celery  # noqa: F401  # CI installs the celery extra: a missing one must fail
else:
    pytest.importorskip("celery", reason="the celery extra is not installed")

TOKENS = 2000
MAX_RETRIES = 2
RETRY_AFTER = 1.0

FLAKY = Answer.unavailable(retry_after=RETRY_AFTER)


def token(protocol: str, i: int) -> str:
    return f"{protocol}-{i:04d}"


def plan(protocol: str, i: int) -> tuple[list[Answer | str], str]:
    """What the emulator answers for token ``i``, send by send, and its final state."""
    if i % 10 == 3:
        return ["unregistered"], "deleted"
    if i % 10 == 5:
        return [FLAKY, "delivered"], "delivered"
    if i % 20 == 7:
        return [FLAKY, FLAKY, "delivered"], "delivered"
    if i % 50 == 9:
        return ["invalid"], "failed"
    if i % 1000 == 1:
        return [FLAKY] * (MAX_RETRIES + 1), "gave_up"
    if protocol == "legacy" and i % 10 == 4:
        return [Answer.canonical(f"new-{i:04d}")], "replaced"
    if protocol == "legacy" and i % 10 == 6:  # the new token (i + 1) is stored already
        return [Answer.canonical(token(protocol, i + 1))], "merged"
    return ["delivered"], "delivered"


@pytest.fixture
def pushapp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], ModuleType]]:
    """Import the example app here (the producer side) once the env is set."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    imported: list[ModuleType] = []

    def load() -> ModuleType:
        for name in [n for n in sys.modules if n == "pushapp" or n.startswith("pushapp.")]:
            del sys.modules[name]
        tasks = importlib.import_module("pushapp.tasks")
        imported.append(tasks)
        return tasks

    yield load
    for tasks in imported:
        tasks.app.close()
    for name in [n for n in sys.modules if n == "pushapp" or n.startswith("pushapp.")]:
        del sys.modules[name]


def rows(path: pathlib.Path, query: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return list(db.execute(query))


@pytest.mark.parametrize("protocol", ["v1", "legacy"])
def test_2000_tokens_through_a_real_worker(
    protocol: str,
    redis_url: str,
    start_worker: Callable[[Mapping[str, str]], Worker],
    pushapp: Callable[[], ModuleType],
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = tmp_path / "devices.sqlite3"
    with FCMEmulator() as emu:
        env = {
            "PUSHAPP_BROKER_URL": redis_url,
            "PUSHAPP_RESULT_BACKEND": redis_url,
            "PUSHAPP_DB": str(database),
            "PUSHAPP_MAX_RETRIES": str(MAX_RETRIES),
            "FCM_SERVICE_ACCOUNT": "",
            "FCM_API_KEY": "",
        }
        if protocol == "v1":
            key_file = tmp_path / "service-account.json"
            key_file.write_text(json.dumps(emu.service_account_info("demo")))
            env.update(FCM_SERVICE_ACCOUNT=str(key_file), FCM_URL=emu.v1_url("demo"))
        else:
            env.update(FCM_API_KEY=emu.api_key, FCM_URL=emu.legacy_url)
        for name, value in env.items():
            monkeypatch.setenv(name, value)

        tokens = [token(protocol, i) for i in range(TOKENS)]
        plans = {t: plan(protocol, i) for i, t in enumerate(tokens)}
        for t, (outcomes, _) in plans.items():
            emu.set_outcome(t, *outcomes)

        tasks = pushapp()
        tasks.devices.create(str(database))
        with closing(tasks.devices.connect(str(database))) as db:
            tasks.devices.add(db, tokens, user_id="u")

        worker = start_worker(env)
        started = time.monotonic()
        group = tasks.notify_all({"n": 1}, message_title="Hi")
        try:
            summaries = group.get(timeout=60)
        except Exception as exc:
            raise AssertionError(f"the sends did not finish: {exc!r}\n{worker.tail()}") from exc
        elapsed = time.monotonic() - started
        requests = [r for r in emu.requests if r.protocol == protocol]
        token_requests = emu.token_requests

    # Every token was sent exactly as often as scripted: never again after a success.
    sends: dict[str, list[float]] = collections.defaultdict(list)
    for request in requests:
        for target in request.targets:
            sends[target].append(request.received_at)
    assert set(sends) == set(tokens)
    wrong = {t: len(sends[t]) for t in tokens if len(sends[t]) != len(plans[t][0])}
    assert wrong == {}, f"tokens sent a wrong number of times: {dict(list(wrong.items())[:10])}"

    # Each resend arrived at least its Retry-After after the failed send (every failure here
    # asked for RETRY_AFTER): the emulator stamps each request as it arrives.
    gaps = {t: [b - a for a, b in zip(sends[t], sends[t][1:], strict=False)] for t in tokens}
    all_gaps = [gap for token_gaps in gaps.values() for gap in token_gaps]
    assert len(all_gaps) == sum(len(outcomes) - 1 for outcomes, _ in plans.values())
    early = {t: [round(g, 3) for g in token_gaps if g < RETRY_AFTER] for t, token_gaps in gaps.items()}
    early = {t: token_gaps for t, token_gaps in early.items() if token_gaps}
    assert early == {}, f"resent before Retry-After: {dict(list(early.items())[:10])}"

    # Both pool processes sent, each with its own FCM: on v1, one access token per process.
    log = worker.log.read_text(errors="replace")
    processes = set(re.findall(r"/(ForkPoolWorker-\d+)\]", log))
    assert len(processes) == 2, f"tasks ran in {sorted(processes)}\n{worker.tail()}"
    if protocol == "v1":
        assert token_requests == len(processes)

    # Every token ends in exactly one final state.
    devices = {row[0] for row in rows(database, "SELECT token FROM devices")}
    failures = rows(database, "SELECT token, error FROM failures")
    failed_at = collections.Counter(t for t, _ in failures)
    for t in tokens:
        observed = []
        if emu.inbox(t):
            observed.append("delivered")
        if failed_at[t]:
            observed.append("failed")
        if t not in devices and not emu.inbox(t):
            observed.append("deleted")
        expected = plans[t][1]
        expected = {"replaced": "delivered", "merged": "delivered"}.get(expected, expected)
        expected = {"gave_up": "failed"}.get(expected, expected)
        assert observed == [expected], f"{t}: {observed}, planned {plans[t][1]}"
        if expected == "delivered":
            assert len(emu.inbox(t)) == 1, f"{t} delivered {len(emu.inbox(t))} times"
            assert emu.inbox(t)[0]["notification"] == {"title": "Hi"}

    # The device table: dead tokens deleted, canonical ids replaced or merged.
    states = {t: state for t, (_, state) in plans.items()}
    expected_devices = {t for t, s in states.items() if s not in ("deleted", "replaced", "merged")}
    expected_devices |= {f"new-{t[-4:]}" for t, s in states.items() if s == "replaced"}
    assert devices == expected_devices
    assert rows(database, "SELECT COUNT(*) FROM devices") == [(len(expected_devices),)]
    merged_into = [token(protocol, int(t[-4:]) + 1) for t, s in states.items() if s == "merged"]
    assert set(merged_into) <= devices
    assert rows(database, "SELECT DISTINCT user_id FROM devices") == [("u",)]  # renamed rows kept it

    # The failures table: invalid tokens, and the tokens given up on, once each.
    invalid = "INVALID_ARGUMENT" if protocol == "v1" else "InvalidRegistration"
    unavailable = "UNAVAILABLE" if protocol == "v1" else "Unavailable"
    expected_failures = sorted(
        [(t, invalid) for t, s in states.items() if s == "failed"]
        + [(t, f"gave up: {unavailable}") for t, s in states.items() if s == "gave_up"]
    )
    assert sorted(failures) == expected_failures
    assert sum(s["gave_up"] for s in summaries) == sum(s == "gave_up" for s in states.values())

    counts = collections.Counter(states.values())
    print(
        f"\n[{protocol}] {TOKENS} tokens, {len(summaries)} chunk tasks, finished in "
        f"{elapsed:.2f} s: {len(requests)} send requests, {log.count('Retry in ')} task retries "
        f"({len(all_gaps)} token resends), smallest retry gap {min(all_gaps):.3f} s; "
        f"final states {dict(counts)}"
    )
