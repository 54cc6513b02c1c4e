"""The example's SQLite device table under two processes writing at once.

Two real Python processes apply send results to one SQLite file concurrently, the way two
prefork worker processes do, with renames (canonical ids), merges into a token the other
process owns, deletions and failures, each result twice (a redelivered task). Every
transaction must succeed (no "database is locked") and the table must end exactly as the
results say, whatever the interleaving.
"""

from __future__ import annotations

import importlib
import json
import os
import pathlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from types import ModuleType

import pytest

from tests.celery.conftest import EXAMPLE, ROOT

TOKENS = 2000
BATCH = 20

# Run in each process: apply the results of every other batch of 20 tokens.
CHILD = """
import json, pathlib, sys, time
from contextlib import closing
from fcmclient import JSONMessage, Result
from fcmclient.outcomes import Outcome
from pushapp import devices

database, me, tokens, batch, where = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
where = pathlib.Path(where)

def outcome(i):
    kind = i % 5
    if kind == 0:
        return Outcome.not_registered("NotRegistered")
    if kind == 1:
        return Outcome.success(f"m{i}", canonical_id=f"n{i:04d}")
    if kind == 2:  # merge into a stored token of the next batch, which the other process applies
        return Outcome.success(f"m{i}", canonical_id=f"d{(i + batch + 2) % tokens:04d}")
    if kind == 3:
        return Outcome.failed("INVALID_ARGUMENT")
    return Outcome.success(f"m{i}")

results = []
for start in range(me * batch, tokens, 2 * batch):
    message = JSONMessage([f"d{i:04d}" for i in range(start, start + batch)])
    results.append(Result.from_outcomes(message, [outcome(i) for i in range(start, start + batch)], 1000))

(where / f"ready-{me}").touch()
deadline = time.monotonic() + 30
while not (where / "go").exists():  # polling, bounded: the two writers start together
    assert time.monotonic() < deadline, "the parent never said go"
    time.sleep(0.002)
spans = []
for result in results + results:  # the second round is a redelivered task: nothing changes
    began = time.monotonic()
    with closing(devices.connect(database)) as db:
        devices.apply_result(db, result)
    spans.append((began, time.monotonic()))
print(json.dumps(spans))
"""


@pytest.fixture
def devices(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(EXAMPLE))
    yield importlib.import_module("pushapp.devices")
    for name in [n for n in sys.modules if n == "pushapp" or n.startswith("pushapp.")]:
        del sys.modules[name]


def test_two_processes_apply_results_at_once(devices: ModuleType, tmp_path: pathlib.Path) -> None:
    database = str(tmp_path / "devices.sqlite3")
    devices.create(database)
    with closing(devices.connect(database)) as db:
        devices.add(db, [f"d{i:04d}" for i in range(TOKENS)], user_id="u")
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(ROOT)])}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, database, str(me), str(TOKENS), str(BATCH), str(tmp_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me in (0, 1)
    ]
    try:
        deadline = time.monotonic() + 30
        while not all((tmp_path / f"ready-{me}").exists() for me in (0, 1)):
            assert all(child.poll() is None for child in children), [c.communicate() for c in children]
            assert time.monotonic() < deadline, "the writers did not start"
            time.sleep(0.01)
        (tmp_path / "go").touch()
        outputs = [child.communicate(timeout=60) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()

    for child, (_, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
    first, second = (json.loads(out) for out, _ in outputs)
    assert len(first) == len(second) == TOKENS // BATCH  # each result of its half, twice
    # The writers really ran at once: some transactions of one overlapped the other's.
    overlapping = sum(a0 < b1 and b0 < a1 for a0, a1 in first for b0, b1 in second)
    assert overlapping > 0

    with closing(sqlite3.connect(database)) as db:
        stored = {token for (token,) in db.execute("SELECT token FROM devices")}
        failures = list(db.execute("SELECT token, error FROM failures ORDER BY token"))
        users = {user for (user,) in db.execute("SELECT DISTINCT user_id FROM devices")}
    kept = {f"d{i:04d}" for i in range(TOKENS) if i % 5 in (3, 4)}  # failed, or plain success
    renamed = {f"n{i:04d}" for i in range(TOKENS) if i % 5 == 1}
    assert stored == kept | renamed
    assert failures == [(f"d{i:04d}", "INVALID_ARGUMENT") for i in range(TOKENS) if i % 5 == 3]
    assert users == {"u"}
