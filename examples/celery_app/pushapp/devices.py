"""The device table: the token lifecycle django-fcm-devices handled, in plain sqlite3.

A device is a registration token (and the user it belongs to). Each send result updates the
table: a canonical id replaces the stored token, a dead token is deleted, and a failure that
sending again will not fix is recorded in ``failures``, one row per token (its last one).

Several worker processes write at once. The file is in WAL mode (readers never block the
writer), every change runs in one ``BEGIN IMMEDIATE`` transaction (a writer takes the write
lock up front, so two writers queue instead of one failing half-way), and a writer waits up
to :data:`BUSY_TIMEOUT` seconds for the lock. Every change is idempotent: applying the same
result twice (a redelivered task) leaves the same table.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

from fcmclient import Result
from fcmclient.messages import Message

#: Seconds a writer waits for another process's transaction to end.
BUSY_TIMEOUT = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    token    TEXT PRIMARY KEY,
    user_id  TEXT,
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    token TEXT PRIMARY KEY,
    error TEXT NOT NULL,
    at    REAL NOT NULL
);
"""


def connect(path: str) -> sqlite3.Connection:
    """Open the database in autocommit mode; :func:`transaction` groups the writes."""
    return sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: committed at the end of the block, rolled back on error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def create(path: str) -> None:
    """Create the tables and switch the file to WAL mode (both idempotent)."""
    with closing(connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")  # stored in the file: every connection uses it
        with transaction(db):
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)


def add(db: sqlite3.Connection, tokens: list[str], user_id: str | None = None) -> None:
    """Store tokens (a token already stored is kept as is)."""
    now = time.time()
    with transaction(db):
        db.executemany(
            "INSERT OR IGNORE INTO devices (token, user_id, added_at) VALUES (?, ?, ?)",
            [(token, user_id, now) for token in tokens],
        )


def tokens(db: sqlite3.Connection) -> list[str]:
    """Every stored token."""
    return [row[0] for row in db.execute("SELECT token FROM devices ORDER BY rowid")]


def apply_result(db: sqlite3.Connection, result: Result) -> None:
    """Bring the table in line with one send's result, in one transaction.

    Targets in ``result.retry()`` are left alone: the send task retries them or gives up.
    """
    now = time.time()
    with transaction(db):
        for old, new in result.canonical.items():
            # FCM says the device now answers to `new`. If `new` is stored already (the app
            # registered it again), the UPDATE leaves the row alone and the DELETE removes
            # the old row, a duplicate of the same device; otherwise the row is renamed
            # (keeping its user) and the DELETE finds nothing.
            db.execute("UPDATE OR IGNORE devices SET token = ? WHERE token = ?", (new, old))
            db.execute("DELETE FROM devices WHERE token = ?", (old,))
        db.executemany("DELETE FROM devices WHERE token = ?", [(token,) for token in result.not_registered])
        record_failures(db, result.failed, now)


def record_give_up(
    db: sqlite3.Connection, message: Message, result: Result | None, error: BaseException | None
) -> None:
    """Record the targets the send task gave up on: with the exception that stopped the
    task, or else with the last error FCM gave for each."""
    outcomes = result.outcomes if result is not None else {}
    reasons = {}
    for token in message.targets:
        outcome = outcomes.get(token)
        if error is not None:
            reasons[token] = f"gave up: {type(error).__name__}"
        elif outcome is not None and outcome.error:
            reasons[token] = f"gave up: {outcome.error}"
        else:
            reasons[token] = "gave up: no answer"
    with transaction(db):
        record_failures(db, reasons, time.time())


def record_failures(db: sqlite3.Connection, errors: dict[str, str], now: float) -> None:
    """Store ``{token: error}``, replacing an older failure of the same token."""
    db.executemany(
        "INSERT OR REPLACE INTO failures (token, error, at) VALUES (?, ?, ?)",
        [(token, error, now) for token, error in errors.items()],
    )
