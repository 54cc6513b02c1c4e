"""The device table: the token lifecycle django-fcm-devices handled, in plain sqlite3.

A device is a registration token (and the user it belongs to). Each send result updates the
table: a canonical id replaces the stored token, a dead token is deleted, and a failure that
sending again will not fix is recorded in ``failures``.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing

from fcmclient import Result
from fcmclient.messages import Message

SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    token    TEXT PRIMARY KEY,
    user_id  TEXT,
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    token TEXT NOT NULL,
    error TEXT NOT NULL,
    at    REAL NOT NULL
);
"""


def connect(path: str) -> sqlite3.Connection:
    """Open the database; several worker processes may write to it at once."""
    return sqlite3.connect(path, timeout=30)


def create(path: str) -> None:
    """Create the tables (idempotent)."""
    with closing(connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")  # readers don't block the workers' writes
        db.executescript(SCHEMA)


def add(db: sqlite3.Connection, tokens: list[str], user_id: str | None = None) -> None:
    """Store tokens (a token already stored is kept as is)."""
    now = time.time()
    with db:
        db.executemany(
            "INSERT OR IGNORE INTO devices (token, user_id, added_at) VALUES (?, ?, ?)",
            [(token, user_id, now) for token in tokens],
        )


def tokens(db: sqlite3.Connection) -> list[str]:
    """Every stored token."""
    return [row[0] for row in db.execute("SELECT token FROM devices ORDER BY rowid")]


def apply_result(db: sqlite3.Connection, result: Result) -> None:
    """Bring the table in line with one send's result, in one transaction."""
    now = time.time()
    with db:
        for old, new in result.canonical.items():
            # FCM says the device now answers to `new`. If `new` is stored already (the app
            # registered it again), the UPDATE is ignored and the old row, a duplicate of
            # the same device, is deleted; otherwise the row is renamed and the DELETE
            # finds nothing.
            db.execute("UPDATE OR IGNORE devices SET token = ? WHERE token = ?", (new, old))
            db.execute("DELETE FROM devices WHERE token = ?", (old,))
        db.executemany("DELETE FROM devices WHERE token = ?", [(token,) for token in result.not_registered])
        db.executemany(
            "INSERT INTO failures (token, error, at) VALUES (?, ?, ?)",
            [(token, error, now) for token, error in result.failed.items()],
        )


def record_give_up(db: sqlite3.Connection, message: Message, result: Result | None) -> None:
    """Record the targets the send task gave up on, with the last error FCM gave."""
    now = time.time()
    outcomes = result.outcomes if result is not None else {}
    rows = []
    for token in message.targets:
        outcome = outcomes.get(token)
        last_error = outcome.error if outcome is not None and outcome.error else "no answer"
        rows.append((token, f"gave up: {last_error}", now))
    with db:
        db.executemany("INSERT INTO failures (token, error, at) VALUES (?, ?, ?)", rows)
