"""Cron schedules of published pipelines, kept in the `schedules` table.

A schedule names a published pipeline (its latest version at fire time, or a pinned
one), a cron expression and parameter overrides. `claim_due` hands a due schedule to
exactly one scheduler process: the claim is one UPDATE that moves `next_run` forward
only if nobody else has moved it yet.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from . import cron, db
from .errors import BadInput, Conflict, NotFound
from .publish import check_name
from .publish import get as get_published


@dataclass(frozen=True)
class Schedule:
    name: str
    pipeline: str
    cron: str
    params: dict[str, Any] = field(default_factory=dict)
    version: int | None = None  # None: the latest published version when it fires
    paused: bool = False
    next_run: float | None = None
    last_fired: float | None = None
    last_run_id: str | None = None
    last_error: str | None = None
    created: float = 0.0
    skipped: int = 0  # fires skipped because the previous run was still going
    last_skipped: float | None = None
    last_skip_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pipeline": self.pipeline,
            "version": self.version,
            "cron": self.cron,
            "description": cron.describe(self.cron),
            "params": dict(self.params),
            "paused": self.paused,
            "next_run": _iso(self.next_run) if not self.paused else None,
            "last_fired": _iso(self.last_fired),
            "last_run_id": self.last_run_id,
            "last_error": self.last_error,
            "skipped": self.skipped,
            "last_skipped": _iso(self.last_skipped),
            "last_skip_reason": self.last_skip_reason,
        }


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def add(
    store_root: Path | str,
    name: str,
    cron_expr: str,
    *,
    pipeline: str | None = None,
    params: dict[str, Any] | None = None,
    version: int | None = None,
    now: float | None = None,
    published_only: bool = False,
) -> Schedule:
    """Create a schedule; Conflict if the name is taken, BadInput for a bad cron or params.

    With `published_only` (the CLI and the server), the pipeline must be published
    (NotFound otherwise) and the params must be its parameters (BadInput), so a typo
    fails now rather than at every firing.
    """
    check_name(name, "schedule")
    pipeline = check_name(pipeline or name)
    expr = cron.normalize(cron_expr)
    params = dict(params or {})
    if not all(isinstance(key, str) for key in params):
        raise BadInput("schedule params must map parameter names to values")
    if published_only:
        _check_published(store_root, pipeline, version, params)
    now = time.time() if now is None else now
    next_run = _next_after(expr, now)
    with db.connect(store_root, write=True) as conn:
        if conn.execute("SELECT 1 FROM schedules WHERE name = ?", (name,)).fetchone():
            raise Conflict(
                f"schedule '{name}' already exists; remove it first (`mlpipe schedule remove {name}`)"
            )
        conn.execute(
            "INSERT INTO schedules (name, pipeline, version, cron, params, paused, next_run,"
            " created) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
            (name, pipeline, version, expr, json.dumps(params), next_run, now),
        )
    return get(store_root, name)


def _check_published(store_root: Path | str, pipeline: str, version: int | None,
                     params: dict[str, Any]) -> None:
    published = get_published(store_root, pipeline, version)
    try:
        spec = json.loads(published.spec.read_text(encoding="utf-8"))
        known = spec["dag"]["params"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # an unreadable spec is reported when the schedule fires
    unknown = sorted(set(params) - set(known))
    if unknown:
        listed = ", ".join(known) or "(none)"
        raise BadInput(f"unknown parameter '{unknown[0]}' for pipeline '{pipeline}';"
                       f" its parameters are: {listed}")


def _next_after(expr: str, ts: float) -> float:
    return cron.next_time(expr, datetime.fromtimestamp(ts).astimezone()).timestamp()


def get(store_root: Path | str, name: str) -> Schedule:
    with db.connect(store_root) as conn:
        row = conn.execute("SELECT * FROM schedules WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFound(f"schedule '{name}' does not exist; see `mlpipe schedule list`")
    return _from_row(row)


def list_schedules(store_root: Path | str) -> list[Schedule]:
    with db.connect(store_root) as conn:
        rows = conn.execute("SELECT * FROM schedules ORDER BY name").fetchall()
    return [_from_row(row) for row in rows]


def remove(store_root: Path | str, name: str) -> None:
    with db.connect(store_root, write=True) as conn:
        deleted = conn.execute("DELETE FROM schedules WHERE name = ?", (name,)).rowcount
    if not deleted:
        raise NotFound(f"schedule '{name}' does not exist; see `mlpipe schedule list`")


def set_paused(
    store_root: Path | str, name: str, paused: bool, now: float | None = None
) -> Schedule:
    """Pause, or resume from now on (missed fire times are not made up)."""
    current = get(store_root, name)
    now = time.time() if now is None else now
    next_run = current.next_run if paused else _next_after(current.cron, now)
    with db.connect(store_root, write=True) as conn:
        conn.execute(
            "UPDATE schedules SET paused = ?, next_run = ? WHERE name = ?",
            (int(paused), next_run, name),
        )
    return get(store_root, name)


def due(store_root: Path | str, now: float) -> list[Schedule]:
    with db.connect(store_root) as conn:
        rows = conn.execute(
            "SELECT * FROM schedules WHERE paused = 0 AND next_run <= ? ORDER BY next_run, name",
            (now,),
        ).fetchall()
    return [_from_row(row) for row in rows]


def claim(
    store_root: Path | str,
    schedule: Schedule,
    now: float,
    *,
    run_id: str | None = None,
    skip: str | None = None,
) -> bool:
    """Move `schedule` to its next fire time after `now`; True only for the one caller
    that moved it (another process that read the same row gets False).

    In the same UPDATE, the fire is recorded: as the run `run_id` it is about to start
    (so a fire killed while it starts is never left without its run id), or, with
    `skip`, as a skipped fire and why.
    """
    next_run = _next_after(schedule.cron, now)
    if skip is not None:
        what = ("skipped = skipped + 1, last_skipped = ?, last_skip_reason = ?", (now, skip))
    else:
        what = ("last_fired = ?, last_run_id = ?, last_error = NULL", (now, run_id))
    with db.connect(store_root, write=True) as conn:
        claimed = conn.execute(
            f"UPDATE schedules SET next_run = ?, {what[0]} "
            "WHERE name = ? AND paused = 0 AND next_run = ?",
            (next_run, *what[1], schedule.name, schedule.next_run),
        ).rowcount
    return claimed == 1


def record_fire(
    store_root: Path | str, name: str, run_id: str | None, error: str | None
) -> None:
    with db.connect(store_root, write=True) as conn:
        conn.execute(
            "UPDATE schedules SET last_run_id = ?, last_error = ? WHERE name = ?",
            (run_id, error, name),
        )


def _from_row(row: Any) -> Schedule:
    return Schedule(
        name=row["name"],
        pipeline=row["pipeline"],
        version=row["version"],
        cron=row["cron"],
        params=json.loads(row["params"] or "{}"),
        paused=bool(row["paused"]),
        next_run=row["next_run"],
        last_fired=row["last_fired"],
        last_run_id=row["last_run_id"],
        last_error=row["last_error"],
        created=row["created"],
        skipped=row["skipped"] or 0,
        last_skipped=row["last_skipped"],
        last_skip_reason=row["last_skip_reason"],
    )
