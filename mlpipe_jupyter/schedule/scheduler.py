"""The scheduler service: fires due schedules, each as a run of a published snapshot.

State lives in SQLite only, so a restarted scheduler carries on where it stopped: a
schedule that came due while it was down fires once (missed times are not replayed),
and two schedulers on the same store never fire the same time twice (`claim`).

A fire takes its run id before anything starts: the claim that wins the fire time
records it as the schedule's `last_run_id`, and the starter records the run under it
before it starts a process. A schedule whose previous run is still queued or running
does not start another: that fire is recorded skipped, naming the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from ..execute.records import Records, RunNotFound, new_run_id
from ..request import RunRequest
from ..status import RunStatus
from ..stores import absolute, db_path, records_root
from . import publish, schedules

#: Starts a run of a request and returns its id (at once, or when it has finished).
Starter = Callable[[RunRequest], str]


@dataclass(frozen=True)
class Fired:
    """One firing of a schedule: the run it started, or why it could not start one."""

    schedule: str
    pipeline: str
    version: int | None
    run_id: str | None
    error: str | None
    skipped: str | None = None  # why no run started: the previous one is still going

    def __str__(self) -> str:
        what = f"schedule '{self.schedule}' -> pipeline '{self.pipeline}'"
        if self.version is not None:
            what += f" v{self.version}"
        if self.skipped:
            return f"{what}: skipped: {self.skipped}"
        if self.error:
            return f"{what}: failed: {self.error}"
        return f"{what}: run {self.run_id}"


def start_async(request: RunRequest) -> str:
    """Start the run in a child process (service.start); returns its id at once."""
    from .. import service

    return service.start(request)


def run_blocking(request: RunRequest) -> str:
    """Run to the end in this process (service.execute); returns the run id."""
    from .. import service

    return str(service.execute(request)["run_id"])


def run_published(
    store_root: Path | str,
    name: str,
    *,
    version: int | None = None,
    params: dict[str, Any] | None = None,
    start: Starter = start_async,
    options: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> tuple[publish.Published, str]:
    """Run a published pipeline (latest version unless `version`); returns it and the run id.

    The run's request is built here, once: the snapshot's notebook, `params`, the
    store the pipeline is published in, `options` (scheduler, workers,
    gpu_workers, no_cache), and the run id to record it under, if given.
    """
    store = absolute(records_root(store_root))  # an object-storage URL's records are local
    published = publish.get(store, name, version)
    request = RunRequest.build(
        published.notebook, params, store=published.artifact_store() or store,
        run_id=run_id, **dict(options or {}),
    )
    return published, start(request)


def fire_due(
    store_root: Path | str,
    now: float | None = None,
    start: Starter = start_async,
    options: Mapping[str, Any] | None = None,
) -> list[Fired]:
    """Fire every schedule due at `now` that this process wins the claim for."""
    store_root = absolute(store_root)
    now = time.time() if now is None else now
    fired = []
    for schedule in schedules.due(store_root, now):
        going = _still_going(store_root, schedule.last_run_id)
        if going is not None:
            skip = f"run {schedule.last_run_id} of the previous fire is still {going}"
            if schedules.claim(store_root, schedule, now, skip=skip):
                fired.append(Fired(schedule.name, schedule.pipeline, schedule.version,
                                   None, None, skipped=skip))  # fmt: skip
            continue
        run_id = new_run_id(now)
        if not schedules.claim(store_root, schedule, now, run_id=run_id):
            continue  # another scheduler took it
        fired.append(_fire(store_root, schedule, start, options, run_id))
    return fired


def _still_going(store_root: Path, run_id: str | None) -> str | None:
    """'running' or 'queued' while the run `run_id` is, else None (also when unknown)."""
    if run_id is None or not db_path(store_root).exists():
        return None
    try:
        status = RunStatus(Records(store_root).get_run(run_id)["status"])
    except (RunNotFound, ValueError):
        return None
    return None if status.finished else status.value


def _fire(
    store_root: Path, schedule: schedules.Schedule, start: Starter,
    options: Mapping[str, Any] | None, run_id: str,
) -> Fired:
    """Start the run `run_id` (already the schedule's `last_run_id`) of the fire."""
    version, error = schedule.version, None
    try:
        published, run_id = run_published(
            store_root,
            schedule.pipeline,
            version=schedule.version,
            params=schedule.params,
            start=start,
            options=options,
            run_id=run_id,
        )
        version = published.version
    except Exception as exc:  # a bad schedule must not stop the others
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if _recorded(store_root, run_id):  # it must not stay queued: it never starts
            Records(store_root).fail_if_running(run_id, error)
        else:
            run_id = None  # nothing was recorded under it: the error says why
    schedules.record_fire(store_root, schedule.name, run_id, error)
    return Fired(schedule.name, schedule.pipeline, version, run_id, error)


def _recorded(store_root: Path, run_id: str) -> bool:
    try:
        Records(store_root).get_run(run_id)
        return True
    except RunNotFound:
        return False


def serve(
    store_root: Path | str,
    *,
    interval: float = 30.0,
    once: bool = False,
    start: Starter | None = None,
    log: Callable[[str], None] = print,
) -> list[Fired]:
    """Fire due schedules, waking at the next fire time or every `interval` seconds (to see
    new schedules); with `once`, one pass that waits for its runs to finish (so a test or
    a system cron job sees their results)."""
    store_root = absolute(store_root)
    start = start or (run_blocking if once else start_async)
    everything: list[Fired] = []
    while True:
        for fired in fire_due(store_root, start=start):
            log(str(fired))
            everything.append(fired)
        if once:
            return everything
        time.sleep(min(interval, max(_seconds_to_next(store_root), 0.05)))


def _seconds_to_next(store_root: Path | str) -> float:
    pending = [s.next_run for s in schedules.list_schedules(store_root) if not s.paused]
    pending = [t for t in pending if t is not None]
    return min(pending) - time.time() if pending else 60.0
