"""Garbage collection of a store that others may be using at the same time.

Everything here lives in the store itself (a folder or object storage), so that a
team sharing one store sees each other's uses, pins and leases:

    used/<key>.json         when a run or a kernel last took the entry (a hit refreshes it)
    leases/<run_id>.json    what a live run holds: the entries and artifacts it planned
                            to use, until an expiry; `keys: null` while it is planning;
                            `since`: when it started (what it writes after that stays)
    pins/<run_id>.json      a pinned run's entries and artifacts: kept whatever the policy
    latest/<project>.json   what the latest finished run of each notebook used: kept
    gc/marks/<key>.json     phase one: chosen for removal at this time
    gc/pruned/<key>.json    an entry removed: when and by which rule (what a later
                            read of a pruned run's output is told)

A collection runs in two phases. It marks what the policy chooses; it sweeps an entry
only once its mark is older than the grace period, nothing used it since the mark,
nothing protects it now, and no run is still planning (a planning run holds a lease
with no keys yet: it may be about to take anything). Artifacts go last, only when no
entry, pin or lease names them, they are older than the grace period, and no live run
started before they were written (a run writes artifacts before it commits their entry).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from mlpipe_jupyter.stores import project_id

from .retention import Candidate, Choice, Policy, choose

USE_REFRESH_S = 600.0  # a hit rewrites `used/` at most this often per entry and process
PLANNING_LEASE_S = 300.0
RUN_LEASE_S = 24 * 3600.0
_WRITTEN_USE: dict[tuple[str, str], float] = {}


@dataclass(frozen=True)
class GcReport:
    policy: str
    chosen: tuple[dict[str, Any], ...] = ()  # {key, step, project, why, size}
    marked: int = 0
    entries_removed: int = 0
    artifacts_removed: int = 0
    bytes_freed: int = 0
    kept_protected: int = 0
    sweep_blocked: str | None = None  # why nothing was swept now
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy, "dry_run": self.dry_run, "chosen": list(self.chosen),
            "marked": self.marked, "entries_removed": self.entries_removed,
            "artifacts_removed": self.artifacts_removed, "bytes_freed": self.bytes_freed,
            "kept_protected": self.kept_protected, "sweep_blocked": self.sweep_blocked,
        }


# -- small JSON records in the store ----------------------------------------------------

def _read(store: Any, path: Any) -> dict[str, Any] | None:
    try:
        data = json.loads(store.fs.read_bytes(path).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write(store: Any, path: Any, data: dict[str, Any]) -> None:
    store.fs.write(path, (json.dumps(data, sort_keys=True) + "\n").encode())


def _records_in(store: Any, folder: str) -> Iterable[tuple[str, dict[str, Any]]]:
    for path in store.fs.glob(store.root / folder, "*.json"):
        data = _read(store, path)
        if data is not None:
            yield path.stem, data


# -- use ---------------------------------------------------------------------------------

def note_use(store: Any, key: str, now: float | None = None) -> None:
    """Record that `key`'s entry was just taken (at most every USE_REFRESH_S per process)."""
    now = time.time() if now is None else now
    memo = (store.url, key)
    if now - _WRITTEN_USE.get(memo, float("-inf")) < USE_REFRESH_S:
        return
    try:
        _write(store, store.root / "used" / f"{key}.json", {"used": now})
    except OSError:
        return  # a read-only store still serves hits
    _WRITTEN_USE[memo] = now


def last_used(store: Any, key: str) -> float | None:
    data = _read(store, store.root / "used" / f"{key}.json")
    try:
        return float(data["used"]) if data else None
    except (KeyError, TypeError, ValueError):
        return None


# -- leases and pins ---------------------------------------------------------------------

def hold(store: Any, run_id: str, entries: Iterable[Any] | None, now: float | None = None,
         seconds: float | None = None) -> None:
    """Lease what run `run_id` will use: `entries` (CacheEntry) or None while it plans."""
    now = time.time() if now is None else now
    path = store.root / "leases" / f"{run_id}.json"
    since = float((_read(store, path) or {}).get("since") or now)
    if entries is None:
        data: dict[str, Any] = {"keys": None, "artifacts": [],
                                "until": now + (seconds or PLANNING_LEASE_S)}
    else:
        keys, artifacts = _names(entries)
        data = {"keys": keys, "artifacts": artifacts, "until": now + (seconds or RUN_LEASE_S)}
    _write(store, path, {**data, "run_id": run_id, "since": since})


def release(store: Any, run_id: str) -> None:
    store.fs.remove(store.root / "leases" / f"{run_id}.json")


def pin(store: Any, run_id: str, entries: Iterable[Any], note: str = "") -> dict[str, Any]:
    keys, artifacts = _names(entries)
    data = {"run_id": run_id, "keys": keys, "artifacts": artifacts, "pinned": time.time(),
            "by": os.environ.get("USER") or os.environ.get("USERNAME") or "", "note": note}
    _write(store, store.root / "pins" / f"{run_id}.json", data)
    return data


def unpin(store: Any, run_id: str) -> bool:
    path = store.root / "pins" / f"{run_id}.json"
    if _read(store, path) is None:
        return False
    store.fs.remove(path)
    return True


def pins(store: Any) -> dict[str, dict[str, Any]]:
    return dict(_records_in(store, "pins"))


def _names(entries: Iterable[Any]) -> tuple[list[str], list[str]]:
    keys, artifacts = set(), set()
    for entry in entries:
        keys.add(entry.step_key)
        artifacts.update(_artifacts(entry))
    return sorted(keys), sorted(artifacts)


def _artifacts(entry: Any) -> set[str]:
    return {ref.key for ref in entry.outputs.values()} | set(entry.written_keys.values())


def note_latest(store: Any, project: str, run_id: str, keys: Iterable[str]) -> None:
    """What the latest finished run of `project` used: kept by every prune, in the store
    itself, so that a team on one bucket (whose run records are each on their own
    machine) keeps each other's latest results."""
    import hashlib

    name = hashlib.sha256(project.encode("utf-8")).hexdigest()[:32]
    _write(store, store.root / "latest" / f"{name}.json",
           {"project": project, "run_id": run_id, "keys": sorted(set(keys)),
            "finished": time.time()})


# -- what a pruned run's reader is told --------------------------------------------------

def pruned(store: Any, key: str) -> dict[str, Any] | None:
    """{"pruned": time, "why": rule, "step"} when the entry `key` was removed by a prune."""
    return _read(store, store.root / "gc" / "pruned" / f"{key}.json")


def pruned_message(store: Any, key: str | None, run_id: str, step: str) -> str | None:
    found = pruned(store, key) if key else None
    if not found:
        return None
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(found.get("pruned", 0))))
    why = found.get("why") or "the retention policy"
    return (f"artifact of run {run_id} step {step} was pruned on {when} by the retention"
            f" policy ({why}); pin runs you need to keep with `mlpipe runs pin RUN_ID`")


# -- collection --------------------------------------------------------------------------

@dataclass
class _Protection:
    keys: dict[str, str] = field(default_factory=dict)  # key -> why it stays
    artifacts: set[str] = field(default_factory=set)
    planning: list[str] = field(default_factory=list)  # runs still planning
    since: float | None = None  # when the oldest live run started: what it writes stays


def _protection(store: Any, records: Any, now: float) -> _Protection:
    found = _Protection()
    for run_id, data in pins(store).items():
        for key in data.get("keys") or ():
            found.keys.setdefault(key, f"pinned run {run_id}")
        found.artifacts.update(data.get("artifacts") or ())
    for run_id, data in _records_in(store, "leases"):
        if float(data.get("until") or 0) < now:
            continue
        started = float(data.get("since") or data.get("until") or now)
        found.since = started if found.since is None else min(found.since, started)
        if data.get("keys") is None:
            found.planning.append(run_id)
        for key in data.get("keys") or ():
            found.keys.setdefault(key, f"held by live run {run_id}")
        found.artifacts.update(data.get("artifacts") or ())
    for _, data in _records_in(store, "latest"):
        for key in data.get("keys") or ():
            found.keys.setdefault(key, f"used by the latest run of {data.get('project')}")
    for notebook, keys in latest_run_keys(records).items():
        for key in keys:
            found.keys.setdefault(key, f"used by the latest run of {notebook}")
    return found


def latest_run_keys(records: Any) -> dict[str, set[str]]:
    """Notebook -> the cache keys its latest finished run used (succeeded or cached steps).
    A run still going is not it: its steps have no keys yet, and its lease protects what
    it takes (a run is recorded before it takes its lease)."""
    if records is None or not Path(records.path).exists():
        return {}
    import sqlite3

    query = """
        SELECT r.notebook, s.cache_key FROM runs r JOIN steps s ON s.run_id = r.run_id
        WHERE s.cache_key IS NOT NULL AND s.status IN ({ok})
          AND r.run_id = (SELECT r2.run_id FROM runs r2 WHERE r2.notebook = r.notebook
                          AND r2.started IS NOT NULL
                          AND r2.status IN ({finished})
                          ORDER BY r2.started DESC LIMIT 1)
    """
    from mlpipe_jupyter.status import RunStatus, StepStatus

    query = query.format(
        ok=", ".join(f"'{s.value}'" for s in (StepStatus.SUCCEEDED, StepStatus.CACHED)),
        finished=", ".join(f"'{s.value}'" for s in RunStatus if s.finished))
    found: dict[str, set[str]] = {}
    try:
        with records._connect() as conn:
            for notebook, key in conn.execute(query):
                found.setdefault(notebook, set()).add(key)
    except sqlite3.Error:
        return {}
    return found


def project_of_keys(records: Any) -> dict[str, str]:
    """cache key -> the notebook whose run made or used it (for entries older than `project`)."""
    if records is None or not Path(records.path).exists():
        return {}
    import sqlite3

    found: dict[str, str] = {}
    try:
        with records._connect() as conn:
            rows = conn.execute(
                "SELECT s.cache_key, r.notebook FROM steps s JOIN runs r ON r.run_id = s.run_id"
                " WHERE s.cache_key IS NOT NULL ORDER BY r.started")
            for key, notebook in rows:
                found[key] = project_id(notebook)  # the entries' own spelling of it
    except sqlite3.Error:
        return {}
    return found


def artifact_sizes(store: Any) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for path in store.fs.glob(store.artifacts_dir, "*/*"):
        name = path.name.split(".")[0]
        if len(name) == 64:
            try:
                sizes[name] = store.fs.size(path)
            except FileNotFoundError:
                continue
    return sizes


def collect(store: Any, policy: Policy, *, records: Any = None, dry_run: bool = False,
            grace_s: float = 0.0, now: float | None = None) -> GcReport:
    """Apply `policy` to `store` in two phases (see the module's docstring)."""
    now = time.time() if now is None else now
    entries = store.entries()
    guard = _protection(store, records, now)
    owners = project_of_keys(records)
    candidates = [
        Candidate(
            key=e.step_key, project=getattr(e, "project", "") or owners.get(e.step_key, ""),
            step=e.step, last_used=max(last_used(store, e.step_key) or 0.0, e.created),
            artifacts=frozenset(_artifacts(e)),
            protected=guard.keys.get(e.step_key) or (
                "made while a run is live" if guard.since is not None and e.created >= guard.since
                else None),
        )
        for e in entries
    ]
    sizes = artifact_sizes(store)
    chosen = choose(candidates, sizes, policy, now)
    by_key = {c.key: c for c in candidates}
    shown = tuple(_shown(by_key[c.key], c, sizes) for c in chosen)
    protected = sum(1 for c in candidates if c.protected)
    if dry_run:
        return GcReport(policy.describe(), shown, kept_protected=protected, dry_run=True)
    marks = dict(_records_in(store, "gc/marks"))
    for choice in chosen:
        if choice.key not in marks:
            marks[choice.key] = {"marked": now, "why": choice.why}
            _write(store, store.root / "gc" / "marks" / f"{choice.key}.json", marks[choice.key])
    blocked = (f"run {', '.join(sorted(guard.planning))} is planning" if guard.planning
               else None)
    removed = 0
    chosen_keys = {c.key for c in chosen}
    for key, mark in marks.items():
        cand = by_key.get(key)
        unmark = cand is None or key not in chosen_keys or cand.protected or (
            cand.last_used > float(mark.get("marked", 0)))
        if unmark:
            store.fs.remove(store.root / "gc" / "marks" / f"{key}.json")
            continue
        if blocked or float(mark.get("marked", 0)) + grace_s > now:
            continue
        _write(store, store.root / "gc" / "pruned" / f"{key}.json",
               {"pruned": now, "why": mark.get("why", ""), "step": cand.step,
                "project": cand.project})
        store.fs.remove(store.entry_path(key))
        store.fs.remove(store.root / "gc" / "marks" / f"{key}.json")
        removed += 1
    artifacts = freed = 0
    if not blocked:
        kept = {a for c in candidates if c.key in by_key and store_has_entry(store, c.key)
                for a in c.artifacts}
        # what a live run wrote and has not committed yet is newer than its lease
        older_than = now - grace_s if guard.since is None else min(now - grace_s, guard.since)
        artifacts, freed = store._remove_unreferenced(kept | guard.artifacts, older_than)
    return GcReport(policy.describe(), shown, marked=len(chosen), entries_removed=removed,
                    artifacts_removed=artifacts, bytes_freed=freed, kept_protected=protected,
                    sweep_blocked=blocked)


def store_has_entry(store: Any, key: str) -> bool:
    try:
        store.fs.size(store.entry_path(key))
    except FileNotFoundError:
        return False
    return True


def _shown(cand: Candidate, choice: Choice, sizes: dict[str, int]) -> dict[str, Any]:
    return {"key": cand.key, "step": cand.step, "project": cand.project, "why": choice.why,
            "size": sum(sizes.get(a, 0) for a in cand.artifacts)}
