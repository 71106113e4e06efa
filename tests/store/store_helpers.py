"""Stores filled without kernels: entries with small artifacts, and runs recorded as a
pipeline run records them (notebook, steps, cache keys), at any time (a fake clock)."""

from __future__ import annotations

import os
from pathlib import Path

from mlpipe_jupyter.cache.keys import sha256_text
from mlpipe_jupyter.cache.store import CacheEntry, Store
from mlpipe_jupyter.execute.records import Records
from mlpipe_jupyter.status import RunStatus


def entry(store: Store, project: str, step: str, payload: str, created: float) -> CacheEntry:
    ref = store.put("x", payload)
    made = CacheEntry(step_key=sha256_text(f"{project}|{step}|{payload}"), step=step,
                      outputs={"x": ref}, created=created, project=project)
    store.commit(made)
    return made


def record_run(store: Store, notebook: str, entries: list[CacheEntry], started: float,
               status: str = "succeeded") -> str:
    records = Records(store.records_root)
    run_id = records.create_run(notebook, {}, [e.step for e in entries], started=started)
    for made in entries:
        records.update_step(run_id, made.step, status=status, cache_key=made.step_key)
    records.finish_run(run_id, RunStatus.SUCCEEDED)
    return run_id


def day_run(store: Store, notebook: str, steps: list[str], day: int, t0: float,
            payload: str | None = None) -> tuple[str, list[CacheEntry]]:
    """One day's run of `notebook`: every step's entry new (its data changed that day)."""
    when = t0 + day * 86400.0
    made = [entry(store, notebook, s, payload or f"{notebook}-{s}-day{day}", when) for s in steps]
    return record_run(store, notebook, made, when), made


def age_files(folder: Path, seconds: float) -> None:
    """Make every file under `folder` look `seconds` old (artifacts' grace period)."""
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            os.utime(path, (stat.st_atime - seconds, stat.st_mtime - seconds))
