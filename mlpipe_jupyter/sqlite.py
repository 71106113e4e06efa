"""One way to open the shared SQLite file (`<store>/mlpipe.db`) from any process.

The run records (execute/records.py) and the pipelines and schedules
(schedule/db.py) live in the same WAL-mode file, which the CLI, the scheduler and
the Jupyter server use at once.

Nothing here ends in a traceback a person must untangle: a file that is not a
database (or is damaged) is moved aside as `mlpipe.db.corrupt-<time>` with one
warning and a fresh one is made; a database another process holds locked is
waited for with backoff, saying so once, and after `BUSY_TIMEOUT_S` raises
`DatabaseBusy`, one line naming the file.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import Conflict

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 30.0
WAL_ATTEMPTS = 20
#: Each try waits this long for the lock inside SQLite before we back off and say so.
LOCK_SLICE_S = 1.0
#: A wait longer than this is worth a line to the person waiting.
SAY_AFTER_S = 3.0


class DatabaseBusy(Conflict):
    """Another process held the records database locked for longer than we wait."""

    def __init__(self, path: Path, waited: float) -> None:
        super().__init__(
            f"the run records database {path} stayed locked by another process for"
            f" {waited:.0f} s; try again when it is done (or stop the process holding it)"
        )


def _locked(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


@contextmanager
def transaction(path: Path, *, write: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection inside one transaction, closed at the end of the block.

    `write=True` takes the write lock up front (BEGIN IMMEDIATE), so two writers
    queue instead of failing half-way. Commits when the block ends normally, rolls
    back when it raises.
    """
    conn = _begin(path, write)
    try:
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()


def _begin(path: Path, write: bool) -> sqlite3.Connection:
    """A connection with its transaction begun, waiting with backoff while it is locked."""
    started = time.monotonic()
    said = False
    pause = 0.05
    while True:
        conn = sqlite3.connect(path, timeout=LOCK_SLICE_S, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(LOCK_SLICE_S * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            return conn
        except sqlite3.OperationalError as exc:
            conn.close()
            if not _locked(exc):
                raise
        waited = time.monotonic() - started
        if waited >= BUSY_TIMEOUT_S:
            raise DatabaseBusy(path, waited)
        if not said and waited >= SAY_AFTER_S:  # ordinary contention is brief: say nothing
            log.warning("waiting for %s: another process holds it locked", path)
            said = True
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def ensure_wal(path: Path) -> None:
    """Switch the file to WAL mode (once per file; it persists). Outside any transaction.

    Two processes switching a fresh file at the same moment: SQLite refuses one at
    once ("database is locked") without waiting for the busy timeout, so retry.
    """
    _create_owner_only(path)
    _set_aside_if_broken(path)
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


def _create_owner_only(path: Path) -> None:
    """Make the folder and an empty database file with the store's modes (owner-only unless
    `$MLPIPE_STORE_MODE=group`, whatever the umask); SQLite gives its -wal and -shm files
    the database file's mode."""
    from .cache import fs as storefs

    storefs.makedirs(path.parent)
    storefs.create_empty(path)


_checked: set[tuple[str, int]] = set()


def _set_aside_if_broken(path: Path) -> None:
    """Move a file that is not a usable SQLite database aside; checked once per process."""
    try:
        marker = (str(path), path.stat().st_ino)
    except FileNotFoundError:
        return
    if marker in _checked:
        return
    problem = None
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        row = conn.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            problem = row[0] if row else "no answer to a check"
    except sqlite3.OperationalError as exc:
        if not _locked(exc):
            problem = str(exc)
    except sqlite3.DatabaseError as exc:
        problem = str(exc)
    finally:
        conn.close()
    if problem is None:
        _checked.add(marker)
        return
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    for suffix in ("", "-wal", "-shm"):
        try:
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
        except FileNotFoundError:
            pass
    log.warning(
        "%s was damaged (%s): moved aside to %s and started a fresh one;"
        " earlier runs and schedules are in the old file", path, problem, aside.name,
    )


def execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run `;`-separated statements inside the caller's transaction (no implicit COMMIT)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)
