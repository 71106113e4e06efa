"""Run records in SQLite (`<store>/mlpipe.db`), shared by the CLI, server and scheduler.

WAL journal, a busy timeout, and a fresh connection per call, so several
processes and threads read and write the same file safely. Writes run in
`BEGIN IMMEDIATE` transactions. The schema is created idempotently and its
version kept in the `meta` table.

Times are seconds since the epoch (floats); run ids sort by start time
(`20261122-093012-ab12cd`, UTC).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path
from typing import Any

from ..processes import alive
from ..record import JSON_STEP_FIELDS, STEP_FIELDS
from ..sqlite import ensure_wal, execute_script, transaction
from ..status import RunStatus, StepStatus
from ..stores import db_path
from ..errors import NotFound


SCHEMA_VERSION = 4  # 2: steps.discovered; 3: steps.threads, steps.device; 4: steps.metrics
#: Step columns added after version 1 (name -> SQL type), added by `_migrate` when missing.
_ADDED_COLUMNS = {"discovered": "TEXT", "threads": "INTEGER", "device": "TEXT",
                  "metrics": "TEXT"}
_JSON_FIELDS = JSON_STEP_FIELDS  # JSON text: a list of "file:x from step" lines;
# metrics: {name: number} (the step's; a cached step's are the reused ones)
_UNFINISHED = tuple(s.value for s in StepStatus if not s.finished)
_READY: set[Path] = set()  # databases whose schema this process has checked

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    notebook TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    started REAL,
    finished REAL,
    error TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    retry_of TEXT
);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    reason TEXT,
    worker TEXT,
    duration_s REAL,
    cache_key TEXT,
    notebook TEXT,
    error TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    started REAL,
    finished REAL,
    discovered TEXT,
    threads INTEGER,
    device TEXT,
    metrics TEXT,
    PRIMARY KEY (run_id, name)
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started);
"""
#: Who orchestrates a running run: renewed while it lives (see `renew_lease`). Its own
#: table, created in any schema version, so older databases get it without a migration.
_LEASES = """
CREATE TABLE IF NOT EXISTS leases (
    run_id TEXT PRIMARY KEY REFERENCES runs(run_id) ON DELETE CASCADE,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    until REAL NOT NULL
)
"""
#: A lease lasts this long unless renewed; the orchestrator renews it every third of it.
LEASE_S = 30.0
START_GRACE_S = 120.0


class RunNotFound(NotFound):
    """No run with this id in the store."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"no run '{run_id}' in this store; list runs with `mlpipe runs`")

    def __str__(self) -> str:  # LookupError would show the repr of the message
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.run_id,))


def new_run_id(now: float | None = None) -> str:
    """`20261122-093012-ab12cd`: UTC start time, then 6 random hex digits."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(3)}"


class Records:
    """The runs and steps tables of one store."""

    def __init__(self, store_root: str | Path) -> None:
        from mlpipe_jupyter.cache.fs import makedirs

        self.path = db_path(store_root)
        makedirs(self.path.parent)  # owner-only unless MLPIPE_STORE_MODE=group
        if self.path.resolve() not in _READY:
            self._create_schema()
            _READY.add(self.path.resolve())

    def _connect(self, write: bool = False) -> ContextManager[sqlite3.Connection]:
        return transaction(self.path, write=write)

    def _create_schema(self) -> None:
        ensure_wal(self.path)
        self._create_tables()
        with self._connect(write=True) as conn:
            conn.execute(_LEASES)
            _add_run_columns(conn)

    def _create_tables(self) -> None:
        with self._connect() as conn:
            found = conn.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone() if _has_table(conn, "meta") else None
        if found is not None:
            if int(found[0]) > SCHEMA_VERSION:
                raise RuntimeError(
                    f"run records {self.path} were written by a newer mlpipe-jupyter"
                    f" (schema {found[0]} > {SCHEMA_VERSION}); upgrade mlpipe-jupyter"
                )
            if int(found[0]) < SCHEMA_VERSION:
                self._migrate()
            return
        with self._connect(write=True) as conn:
            execute_script(conn, _SCHEMA)
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    def _migrate(self) -> None:
        """Add the step columns an older version lacks (`_ADDED_COLUMNS`; idempotent,
        several processes may race)."""
        with self._connect(write=True) as conn:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(steps)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in columns:
                    conn.execute(f"ALTER TABLE steps ADD COLUMN {column} {kind}")
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
            )

    # -- writing -------------------------------------------------------------

    def create_run(
        self,
        notebook: str,
        params: dict[str, Any],
        steps: Sequence[str],
        *,
        run_id: str | None = None,
        started: float | None = None,
        status: RunStatus = RunStatus.RUNNING,
        retry_of: str | None = None,
    ) -> str:
        """Record a new run (running, or `queued` to start later with `begin`) with its
        steps pending, in pipeline order; `retry_of` the run it retries."""
        started = time.time() if started is None else started
        run_id = run_id or new_run_id(started)
        status = RunStatus(status)
        if status.finished:
            raise ValueError(f"a run is created queued or running, not {status.value!r}")
        with self._connect(write=True) as conn:
            conn.execute(
                "INSERT INTO runs (run_id, notebook, status, params, started, retry_of)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, str(notebook), status.value,
                 json.dumps(params, sort_keys=True, default=repr), started, retry_of),
            )
            conn.executemany(
                "INSERT INTO steps (run_id, name, position) VALUES (?, ?, ?)",
                [(run_id, name, i) for i, name in enumerate(steps)],
            )
            # the creator's, until the runner renews it: long enough for a child process
            # (a server-started run) to start on a loaded machine; a queued run's creator
            # (the server) renews it while the run waits
            _lease(conn, run_id, time.time() + START_GRACE_S)
        return run_id

    def begin(self, run_id: str) -> bool:
        """A queued run starts now: it becomes running, its lease this process's (the
        start grace). True if the run is running now (it was queued, or already running),
        False if it ended before it started (cancelled while queued, or reaped)."""
        with self._connect(write=True) as conn:
            status = self._require_run(conn, run_id)
            if status == RunStatus.QUEUED:
                conn.execute(
                    "UPDATE runs SET status = 'running', started = ? WHERE run_id = ?",
                    (time.time(), run_id),
                )
                _lease(conn, run_id, time.time() + START_GRACE_S)
                return True
            return status == RunStatus.RUNNING

    def in_progress(self, run_id: str) -> bool:
        """Whether the run still takes one of a server's run slots: queued or running in
        the records, or finished there while the process that ran it (a child of this
        one, on this machine) is still closing its cluster and kernels."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT runs.status, leases.host, leases.pid FROM runs LEFT JOIN leases"
                " ON leases.run_id = runs.run_id WHERE runs.run_id = ?", (run_id,),
            ).fetchone()
        if row is None:
            return False
        if not RunStatus(row["status"]).finished:
            return True
        child = row["host"] == _HOST and row["pid"] not in (None, os.getpid())
        return bool(child and alive(row["pid"]))

    def renew_lease(self, run_id: str, seconds: float = LEASE_S) -> None:
        """This process orchestrates `run_id` for `seconds` more (called every third of it)."""
        with self._connect(write=True) as conn:
            _lease(conn, run_id, time.time() + seconds)

    def hand_over(self, run_id: str, pid: int) -> None:
        """The process `pid` (a child this one started) orchestrates `run_id` from now: the
        lease is its own for the start grace, so the run lives on if this one stops first."""
        with self._connect(write=True) as conn:
            _lease(conn, run_id, time.time() + START_GRACE_S, pid)

    def reap(self) -> list[str]:
        """Record failed every running or queued run whose orchestrator is gone; their ids.

        Gone: its lease expired (nobody renewed it for `LEASE_S`), or it was held by a
        process of this machine that no longer exists (kill -9 is seen at once). A run
        with no lease (recorded by an older version) is left alone. A queued run's
        orchestrator is the server that queued it: when that server stopped, the run
        never starts (the next server does not start it behind the user's back).
        """
        now = time.time()
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT runs.run_id, runs.status, leases.host, leases.pid, leases.until"
                " FROM runs JOIN leases ON leases.run_id = runs.run_id"
                " WHERE runs.status IN ('running', 'queued')"
            ).fetchall()
        dead = [row for row in rows if row["until"] < now
                or (row["host"] == _HOST and not alive(row["pid"]))]
        reaped = []
        for row in dead:
            when = time.strftime("%H:%M:%S", time.localtime(min(row["until"], now)))
            who = f"process {row['pid']} on {row['host']}, last seen before {when}"
            why = (f"the server stopped before it started this queued run ({who}); start it again"
                   if row["status"] == RunStatus.QUEUED
                   else f"the orchestrator stopped ({who}); run it again")
            if self.fail_if_running(row["run_id"], why):
                reaped.append(row["run_id"])
        return reaped

    def update_step(self, run_id: str, name: str, **fields: Any) -> None:
        """Set some of a step's fields (`status`, `reason`, `worker`, `duration_s`, ...)."""
        unknown = sorted(set(fields) - set(STEP_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown step field(s) {', '.join(unknown)}; use {', '.join(STEP_FIELDS)}"
            )
        if "status" in fields:
            try:
                fields["status"] = StepStatus(fields["status"]).value
            except ValueError:
                known = ", ".join(s.value for s in StepStatus)
                raise ValueError(
                    f"step status {fields['status']!r} is not one of {known}"
                ) from None
        for column in _JSON_FIELDS:
            if fields.get(column) is not None:
                value = fields[column]
                fields[column] = json.dumps(dict(value) if isinstance(value, dict)
                                            else list(value))
        if not fields:
            return
        columns = ", ".join(f"{column} = ?" for column in fields)
        with self._connect(write=True) as conn:
            cursor = conn.execute(
                f"UPDATE steps SET {columns} WHERE run_id = ? AND name = ?",
                (*fields.values(), run_id, name),
            )
            if cursor.rowcount == 0:
                self._require_run(conn, run_id)
                raise ValueError(f"run '{run_id}' has no step '{name}'")

    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        """Close the run; steps still pending, queued or running become skipped."""
        finals = [s.value for s in RunStatus if s.finished]
        if status not in finals:
            raise ValueError(f"a run finishes as one of {', '.join(finals)}, not {status!r}")
        status = RunStatus(status).value
        now = time.time()
        with self._connect(write=True) as conn:
            cursor = conn.execute(
                "UPDATE runs SET status = ?, finished = ?, error = ? WHERE run_id = ?",
                (status, now, error, run_id),
            )
            if cursor.rowcount == 0:
                raise RunNotFound(run_id)
            conn.execute(
                "UPDATE steps SET status = 'skipped', reason = COALESCE(reason, ?)"
                f" WHERE run_id = ? AND status IN ({', '.join('?' * len(_UNFINISHED))})",
                (f"run {status}", run_id, *_UNFINISHED),
            )

    def fail_if_running(
        self, run_id: str, error: str | None, status: RunStatus = RunStatus.FAILED
    ) -> bool:
        """Record the run failed (or `status`) with the first line of `error`, unless it
        already ended (a queued run ends so too, never started).

        The one way to end a run from outside its coordinator (the runner on bad
        input, the service when the run raised or was interrupted, a reader that
        finds its orchestrator gone). False when the run had finished already.
        """
        with self._connect(write=True) as conn:
            if RunStatus(self._require_run(conn, run_id)).finished:
                return False
            _end(conn, run_id, error, RunStatus(status))
            return True

    def request_cancel(self, run_id: str) -> bool:
        """Ask a running run to stop (a queued one is cancelled at once, never started);
        False when it has already finished."""
        with self._connect(write=True) as conn:
            status = self._require_run(conn, run_id)
            if RunStatus(status).finished:
                return False
            conn.execute("UPDATE runs SET cancel_requested = 1 WHERE run_id = ?", (run_id,))
            if status == RunStatus.QUEUED:  # in the same transaction: it cannot start now
                _end(conn, run_id, "cancelled while queued; it never started",
                     RunStatus.CANCELLED)  # fmt: skip
            return True

    # -- reading -------------------------------------------------------------

    def cancel_requested(self, run_id: str) -> bool:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT cancel_requested FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        if row is None:
            raise RunNotFound(run_id)
        return bool(row[0])

    def get_run(self, run_id: str) -> dict[str, Any]:
        """The run record: run fields and `steps` {name: {...}} in pipeline order."""
        self.reap()
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            steps = conn.execute(
                "SELECT * FROM steps WHERE run_id = ? ORDER BY position", (run_id,)
            ).fetchall()
        return _run_record(row, steps)

    def list_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest runs first, each a full run record."""
        self.reap()
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM runs ORDER BY started DESC, run_id DESC LIMIT ?", (limit,)
            ).fetchall()
            ids = [row["run_id"] for row in rows]
            marks = ", ".join("?" * len(ids))
            query = f"SELECT * FROM steps WHERE run_id IN ({marks}) ORDER BY run_id, position"
            steps = conn.execute(query, ids).fetchall() if ids else []
        by_run: dict[str, list[sqlite3.Row]] = {}
        for step in steps:
            by_run.setdefault(step["run_id"], []).append(step)
        return [_run_record(row, by_run.get(row["run_id"], [])) for row in rows]

    @staticmethod
    def _require_run(conn: sqlite3.Connection, run_id: str) -> str:
        row = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(run_id)
        return str(row[0])


_HOST = socket.gethostname()


def _lease(conn: sqlite3.Connection, run_id: str, until: float, pid: int | None = None) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO leases (run_id, host, pid, until) VALUES (?, ?, ?, ?)",
        (run_id, _HOST, os.getpid() if pid is None else pid, until),
    )


def _end(conn: sqlite3.Connection, run_id: str, error: str | None, ending: RunStatus) -> None:
    """End a run that has not finished: `ending`, the first line of `error`, its
    unfinished steps skipped (why it was to run no longer matters: why it did not finish)."""
    line = (error or "").strip().splitlines()
    conn.execute(
        "UPDATE runs SET status = ?, finished = ?, error = ? WHERE run_id = ?",
        (ending.value, time.time(), line[0] if line else None, run_id),
    )
    conn.execute(
        "UPDATE steps SET status = 'skipped', reason = ?"
        f" WHERE run_id = ? AND status IN ({', '.join('?' * len(_UNFINISHED))})",
        (f"run {ending.value}", run_id, *_UNFINISHED),
    )


#: Run columns added after version 3 (name -> SQL type), added where missing on open.
_ADDED_RUN_COLUMNS = {"retry_of": "TEXT"}


def _add_run_columns(conn: sqlite3.Connection) -> None:
    columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    for column, kind in _ADDED_RUN_COLUMNS.items():
        if column not in columns:
            try:
                conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
            except sqlite3.OperationalError as exc:  # another process added it first
                if "duplicate column" not in str(exc):
                    raise


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return conn.execute(query, (name,)).fetchone() is not None


def _run_record(row: sqlite3.Row, steps: Sequence[sqlite3.Row]) -> dict[str, Any]:
    return {
        "run_id": row["run_id"],
        "notebook": row["notebook"],
        "status": row["status"],
        "started": row["started"],
        "finished": row["finished"],
        "params": json.loads(row["params"] or "{}"),
        "error": row["error"],
        "cancel_requested": bool(row["cancel_requested"]),
        "retry_of": row["retry_of"],
        "steps": {step["name"]: _step_record(step) for step in steps},
    }


def _step_record(row: sqlite3.Row) -> dict[str, Any]:
    record = {f: row[f] for f in STEP_FIELDS}
    for column in _JSON_FIELDS:
        empty: Any = {} if column == "metrics" else []
        record[column] = json.loads(record[column]) if record[column] else empty
    return record
