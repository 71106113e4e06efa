"""Run a pipeline: plan from the cache, then run the rest on Dask.

`run_pipeline` reads top to bottom like papermill's `execute_notebook`: plan,
record the cached steps, and only if something must run, start (or connect
to) a cluster, check resources up front, and hand the steps to the
`Coordinator`. A fully cached run never imports `distributed` or papermill.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mlpipe_jupyter.analysis.model import Edge
from mlpipe_jupyter.record import STEP_FIELDS
from mlpipe_jupyter.status import RunStatus, StepStatus

from . import discovered, managers
from .cluster import ClusterOptions
from .errors import ResourceError
from .planner import CACHED, RUN, SKIPPED, Plan, param_values, plan_run

if TYPE_CHECKING:
    from mlpipe_jupyter.analysis.model import Pipeline
    from mlpipe_jupyter.cache.store import Store
    from mlpipe_jupyter.request import RunRequest

    from .records import Records

EventHandler = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class RunOptions:
    no_cache: bool = False
    cluster: ClusterOptions = field(default_factory=ClusterOptions)
    kernel_pool: int | None = None  # kernels kept ready per worker (None: default)
    cancel_poll_s: float = 0.5


@dataclass
class RunContext:
    """What every part of one run shares."""

    run_id: str
    pipeline: Pipeline
    notebook: Path
    store: Store
    records: Records
    params: dict[str, Any]  # full parameter values
    options: RunOptions
    emit: EventHandler
    tracker: Any = None  # experiments.hooks.RunTracker: metrics, lineage, the MLflow tree

    def step_event(self, step: str, status: StepStatus, **fields: Any) -> None:
        """Record a step's new state and tell `on_event`."""
        if self.tracker is not None:
            fields = self.tracker.on_step(step, status, fields)  # adds the step's metrics
        stored = {k: v for k, v in fields.items() if k in _RECORD_FIELDS}
        self.records.update_step(self.run_id, step, status=status, **stored)
        event = {"event": "step", "run_id": self.run_id, "step": step, "status": status.value}
        self.emit({**event, **fields})


_RECORD_FIELDS = set(STEP_FIELDS) - {"status"}  # what a step event may carry into the record


def run_pipeline(
    request: RunRequest,
    pipeline: Pipeline,
    store: Store,
    records: Records,
    on_event: EventHandler | None = None,
) -> dict[str, Any]:
    """Run `request` (its run `request.run_id` already created in `records`); the run record.

    Raises `RunInputError` (unknown parameter) or `ResourceError` (a step no
    worker can satisfy) before any step runs; the run is then recorded failed.
    """
    if request.run_id is None:
        raise ValueError("run_pipeline needs a recorded run: request.run_id is None")
    options = RunOptions(
        no_cache=request.no_cache,
        cluster=ClusterOptions(
            scheduler=request.scheduler, workers=request.workers,
            gpu_workers=request.gpu_workers, manager=managers.spec_for(request),
        ),
    )
    run_id = request.run_id
    ctx = RunContext(
        run_id, pipeline, request.notebook, store, records,
        param_values(pipeline, request.params), options, _safe(on_event),
    )
    with _StoreLease(store, run_id) as held:  # a prune never sweeps what this run takes
        # what earlier runs found at run time, up front (DESIGN rule 10), and the selection
        ctx.pipeline, the_plan = plan_run(
            pipeline, store, ctx.notebook, request.params, no_cache=request.no_cache,
            select=request.select, exclude=request.exclude, only=request.only,
            forced=request.retry_of is None,  # a retry reuses what succeeded
        )
        held.plan(the_plan)
        pipeline = ctx.pipeline
        _snapshot(ctx, request)
        from mlpipe_jupyter.experiments.hooks import RunTracker

        ctx.tracker = RunTracker(ctx, getattr(request, "tracking_uri", None))
        with _Lease(records, run_id):
            ctx.emit({"event": "plan", "run_id": run_id, "steps": the_plan.rows()})
            _record_plan(ctx, the_plan)
            if the_plan.all_cached:
                _finish(ctx, RunStatus.SUCCEEDED)
            else:
                _run_on_cluster(ctx, the_plan)
    return records.get_run(run_id)


SNAPSHOT_FILE = "notebook.ipynb"  # the notebook as this run analysed it, for a retry
REQUEST_FILE = "request.json"


def run_folder(records: Records, run_id: str) -> Path:
    """`<records root>/runs/<run_id>`: the run's request and notebook snapshot (local)."""
    return Path(records.path).parent / "runs" / run_id


def _snapshot(ctx: RunContext, request: RunRequest) -> None:
    """Keep the notebook this run analysed and its request beside the run (`mlpipe retry`)."""
    from mlpipe_jupyter.cache import fs as storefs

    folder = run_folder(ctx.records, ctx.run_id)
    try:
        source = Path(request.source or request.notebook).read_bytes()
        storefs.write_local(folder / SNAPSHOT_FILE, source)
        if not (folder / REQUEST_FILE).exists():  # service.start wrote it already
            storefs.write_local(folder / REQUEST_FILE, (request.to_json() + "\n").encode())
    except OSError as exc:  # the run goes on; only a retry of it will miss the snapshot
        ctx.emit({"event": "warning", "message": f"could not keep the notebook snapshot: {exc}"})


class _StoreLease:
    """The run's lease in the store (`cache.gc`): while it plans, no prune sweeps anything;
    once planned, the entries it will reuse are kept until it ends."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store, self.run_id = store, run_id

    def __enter__(self) -> _StoreLease:
        from mlpipe_jupyter.cache import gc

        _quietly(gc.hold, self.store, self.run_id, None)
        return self

    def plan(self, the_plan: Plan) -> None:
        from mlpipe_jupyter.cache import gc

        taken = [d.entry for d in the_plan.decisions.values() if d.entry is not None]
        _quietly(gc.hold, self.store, self.run_id, taken)

    def __exit__(self, *exc: object) -> None:
        from mlpipe_jupyter.cache import gc

        _quietly(gc.release, self.store, self.run_id)


def _quietly(call: Callable[..., Any], *args: Any) -> None:
    """A lease the store cannot take (read-only, unreachable) must not stop the run."""
    try:
        call(*args)
    except OSError:
        pass


class _Lease:
    """Renew this process's lease on the run while it orchestrates (records.reap)."""

    def __init__(self, records: Records, run_id: str) -> None:
        import threading

        self.records, self.run_id = records, run_id
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._renew, daemon=True, name="mlpipe-lease")

    def __enter__(self) -> _Lease:
        self.records.renew_lease(self.run_id)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()

    def _renew(self) -> None:
        from .records import LEASE_S

        while not self.stopped.wait(LEASE_S / 3):
            try:
                self.records.renew_lease(self.run_id)
            except Exception:  # noqa: BLE001 - a busy database: the next renewal retries
                pass


def _finish(ctx: RunContext, status: RunStatus) -> None:
    _note_latest(ctx)  # before the run's lease goes: its entries are never unprotected
    ctx.records.finish_run(ctx.run_id, status)
    if ctx.tracker is not None:
        ctx.tracker.finish(RunStatus(status).value)  # lineage.json, the MLflow parent's end
    ctx.emit({"event": "run", "run_id": ctx.run_id, "status": status.value})


def _note_latest(ctx: RunContext) -> None:
    """Record in the store what this, now the notebook's latest run, used (`cache.gc`):
    retention keeps it, for everyone sharing the store."""
    from mlpipe_jupyter.cache import gc
    from mlpipe_jupyter.stores import project_id

    try:
        steps = ctx.records.get_run(ctx.run_id)["steps"].values()
        keys = [s["cache_key"] for s in steps
                if s.get("cache_key") and s.get("status") in (StepStatus.SUCCEEDED, StepStatus.CACHED)]
        gc.note_latest(ctx.store, project_id(ctx.notebook), ctx.run_id, keys)
    except OSError:
        pass  # a read-only store: nothing to protect there


def _safe(on_event: EventHandler | None) -> EventHandler:
    def emit(event: dict[str, Any]) -> None:
        if on_event is not None:
            try:
                on_event(event)
            except Exception:  # noqa: BLE001 - a broken progress view must not stop the run
                pass

    return emit


def _record_plan(ctx: RunContext, the_plan: Plan) -> None:
    for name, decision in the_plan.decisions.items():
        if decision.action == SKIPPED:
            ctx.step_event(name, StepStatus.SKIPPED, reason=decision.reason,
                           cache_key=decision.key)  # fmt: skip
        elif decision.action == CACHED:
            entry = decision.entry
            ctx.step_event(
                name, StepStatus.CACHED, reason=decision.reason, cache_key=decision.key,
                duration_s=0.0, saved_s=entry.duration_s if entry else None,
            )
        else:
            status = StepStatus.QUEUED if decision.action == RUN else StepStatus.PENDING
            ctx.step_event(name, status, reason=decision.reason, cache_key=decision.key)


def _width(pipeline: Pipeline, names: list[str]) -> int:
    """How many of `names` could run at once: the most at one depth of the DAG."""
    wanted = set(names)
    depth: dict[str, int] = {}
    for name in pipeline.order:
        parents = [p for p in pipeline.parents(name) if p in wanted]
        depth[name] = 1 + max((depth[p] for p in parents), default=-1)
    levels: dict[int, int] = {}
    for name in names:
        levels[depth[name]] = levels.get(depth[name], 0) + 1
    return max(levels.values(), default=1)


def _right_sized(options: ClusterOptions, width: int) -> ClusterOptions:
    """No more CPU workers than steps that could run at once (a chain gets one).

    Each worker is a process with its own kernel pool; one that no step can
    use only takes CPU from the ones that run.
    """
    if options.manager is not None:  # a manager asked for no workers is scaled to the width
        return replace(options, manager=replace(options.manager, width=max(1, width)))
    if options.scheduler:
        return options
    cpus = min(2, os.cpu_count() or 1) if options.workers is None else options.workers
    workers = min(cpus, max(1, width))
    if options.workers is None and workers > 1 and (os.cpu_count() or 1) <= SMALL_MACHINE:
        # Every worker pays ~2-4 s of CPU to start (Dask, papermill, the setup's imports in
        # its fork server): on a small machine that costs more than short parallel steps
        # save. Start one; `_Grower` adds the others once steps wait for a worker.
        return replace(options, workers=workers, start_workers=1)
    return replace(options, workers=workers)


SMALL_MACHINE = 2  # cores
GROW_AFTER_S = 2.0  # a step waiting this long for a worker starts another (~a start's cost)


def _steps_waiting(dask_scheduler: Any) -> int:
    """Tasks the scheduler holds beyond one per worker thread (run on the scheduler)."""
    busy = sum(1 for ts in dask_scheduler.tasks.values()
               if ts.state in ("processing", "queued", "no-worker"))  # fmt: skip
    return busy - sum(ws.nthreads for ws in dask_scheduler.workers.values())


class _Grower:
    """Start the embedded cluster's deferred workers while steps wait for one."""

    def __init__(self, handle: Any) -> None:
        import threading

        self.handle = handle
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True, name="mlpipe-grow")

    def __enter__(self) -> _Grower:
        if self.handle.deferred:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()

    def _watch(self) -> None:
        waiting_since: float | None = None
        while self.handle.deferred and not self.stopped.wait(0.25):
            try:
                waiting = self.handle.client.run_on_scheduler(_steps_waiting) > 0
            except Exception:  # noqa: BLE001 - the cluster is closing
                return
            now = time.monotonic()
            if not waiting:
                waiting_since = None
            elif waiting_since is None:
                waiting_since = now
            elif now - waiting_since >= GROW_AFTER_S:
                self.handle.grow()
                waiting_since = None


def _recorded_cluster(
    ctx: RunContext, options: ClusterOptions, warn: Callable[[str], None]
) -> ClusterOptions:
    """The warm cluster recorded in the run's store, when the run names no cluster of its own.

    `mlpipe cluster up` and the Jupyter server record theirs (warmcluster.py); a
    record whose process is gone is ignored with one warning line.
    """
    if options != ClusterOptions():
        return options
    from .warmcluster import live_record

    record = live_record(ctx.records.path.parent, warn)
    return options if record is None else replace(options, scheduler=record.address)


def _rekey(ctx: RunContext) -> None:
    """Key this run's results as the next plan (with what it discovered) will (rekey.py)."""
    from .rekey import rekey

    steps = ctx.records.get_run(ctx.run_id)["steps"]
    keys = {
        name: step["cache_key"] for name, step in steps.items()
        if step.get("status") == StepStatus.SUCCEEDED and step.get("cache_key")
    }
    pipeline = discovered.with_discovered(
        ctx.pipeline, discovered.load(ctx.store, ctx.notebook), discovered.carried_generators()
    )
    try:
        rekey(pipeline, ctx.store, ctx.params, keys, base=ctx.notebook.resolve().parent)
    except Exception as exc:  # noqa: BLE001 - the run's results stand; the next run re-keys
        ctx.emit({"event": "warning", "message": f"could not re-key this run's results: {exc}"})


def _run_on_cluster(ctx: RunContext, the_plan: Plan) -> RunStatus:
    from . import cluster as clusters
    from .coordinator import Coordinator  # imports distributed

    started = time.perf_counter()
    warn = lambda message: ctx.emit({"event": "warning", "message": message})  # noqa: E731
    steps = [ctx.pipeline.step(n) for n in the_plan.needing_run()]
    width = _width(ctx.pipeline, the_plan.needing_run())
    options = _recorded_cluster(ctx, ctx.options.cluster, warn)
    from .coordinator import pool_spec

    options = replace(options, pool=pool_spec(ctx))  # the embedded workers start it
    handle = clusters.start(_right_sized(options, width), warn)
    try:
        ctx.emit({
            "event": "cluster", "kind": handle.kind, "workers": handle.workers(),
            "seconds": round(time.perf_counter() - started, 3), "dashboard": handle.dashboard,
        })
        try:
            ignore = clusters.check_resources(steps, handle.workers())
            from .preflight import check_kernelspecs, check_workers

            check_kernelspecs(steps)  # here too: a pending step's key will need its kernel
            if not handle.ours and handle.kind != "warm":  # workers of unknown environments
                check_workers(ctx, steps, handle.client)
        except ResourceError as exc:  # and PreflightError
            ctx.records.fail_if_running(ctx.run_id, str(exc))
            if ctx.tracker is not None:
                ctx.tracker.finish(RunStatus.FAILED.value)  # the MLflow parent ends failed too
            raise
        asked = sorted({k for s in steps for k in s.options.resources()} & ignore)
        if asked:
            warn(
                f"no worker advertises {' or '.join(asked)}, so --cpu/--memory are not enforced"
                ' on this cluster; start workers with --resources "CPU=N,MEMORY=BYTES" to'
                " enforce them"
            )
        coordinator = Coordinator(ctx, the_plan.for_run(), handle.client, ignore)
        with _Grower(handle):
            status = coordinator.run(release_pool=handle.kind == "scheduler")  # warm: kept
        discovered.save(ctx.store, ctx.notebook, [
            Edge(d.writer, d.reader, (d.var,)) for d in coordinator.discovered
        ])
        if coordinator.discovered:
            _rekey(ctx)
        # Before the cluster shuts down (seconds): the sidebar and CLI see the end at once.
        _finish(ctx, status)
        return status
    finally:
        handle.close()
