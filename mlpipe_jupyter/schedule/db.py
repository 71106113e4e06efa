"""The SQLite file the CLI, the scheduler and the Jupyter server share: `<store>/mlpipe.db`.

The run records own the `runs` and `steps` tables (execute/records.py); this package
owns `pipelines` and `schedules`, created here idempotently on the same file. WAL mode
and a busy timeout let several processes read and write at once.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..sqlite import ensure_wal, execute_script, transaction
from ..stores import DB_NAME


SCHEMA = """
CREATE TABLE IF NOT EXISTS pipelines (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest TEXT NOT NULL,
    source TEXT NOT NULL,
    created REAL NOT NULL,
    steps INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS schedules (
    name TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    version INTEGER,
    cron TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    paused INTEGER NOT NULL DEFAULT 0,
    next_run REAL,
    last_fired REAL,
    last_run_id TEXT,
    last_error TEXT,
    created REAL NOT NULL,
    skipped INTEGER NOT NULL DEFAULT 0,
    last_skipped REAL,
    last_skip_reason TEXT
);
"""
#: Columns added since the table was first made: (name, declaration), added where missing.
ADDED_COLUMNS = (
    ("skipped", "INTEGER NOT NULL DEFAULT 0"),  # fires skipped: the previous run still going
    ("last_skipped", "REAL"),
    ("last_skip_reason", "TEXT"),
)


_READY: set[Path] = set()  # databases whose tables this process has created


@contextmanager
def connect(store_root: Path | str, *, write: bool = False) -> Iterator[sqlite3.Connection]:
    """One connection per call; `write=True` takes the write lock up front (BEGIN IMMEDIATE).

    Commits when the block ends normally, rolls back when it raises.
    """
    path = Path(store_root).resolve() / DB_NAME
    if path not in _READY:
        ensure_wal(path)
        with transaction(path, write=True) as conn:
            execute_script(conn, SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(schedules)")}
            for name, declaration in ADDED_COLUMNS:
                if name not in columns:
                    conn.execute(f"ALTER TABLE schedules ADD COLUMN {name} {declaration}")
        _READY.add(path)
    with transaction(path, write=write) as conn:
        yield conn
