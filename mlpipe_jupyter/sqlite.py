"""One way to open the shared SQLite file (`<store>/mlpipe.db`) from any process.

The run records (execute/records.py) and the pipelines and schedules
(schedule/db.py) live in the same WAL-mode file, which the CLI, the scheduler and
the Jupyter server use at once.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

BUSY_TIMEOUT_S = 30.0
WAL_ATTEMPTS = 20


@contextmanager
def transaction(path: Path, *, write: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection inside one transaction, closed at the end of the block.

    `write=True` takes the write lock up front (BEGIN IMMEDIATE), so two writers
    queue instead of failing half-way. Commits when the block ends normally, rolls
    back when it raises.
    """
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()


def ensure_wal(path: Path) -> None:
    """Switch the file to WAL mode (once per file; it persists). Outside any transaction.

    Two processes switching a fresh file at the same moment: SQLite refuses one at
    once ("database is locked") without waiting for the busy timeout, so retry.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(WAL_ATTEMPTS):
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_ATTEMPTS - 1:
                raise
        finally:
            conn.close()
        time.sleep(0.05 * (attempt + 1))


def execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run `;`-separated statements inside the caller's transaction (no implicit COMMIT)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)
