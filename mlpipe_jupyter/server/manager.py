"""MlpipeService: what the REST handlers call (thin handlers, fat manager).

It validates request bodies, resolves notebook paths inside the server root, picks the
store by the one rule (`stores.resolve_store`), builds one `RunRequest` per run, and
calls `mlpipe_jupyter.service` (runs) and `mlpipe_jupyter.schedule` (published
pipelines, schedules).

Where things live: with `store_dir` (or `$MLPIPE_STORE`) set, everything is there.
Otherwise a notebook's runs and the pipelines published from it go to `.mlpipe`
beside it, exactly as `mlpipe run` / `mlpipe publish` put them, and a schedule goes
to the store of the pipeline it fires. The GET routes read every store they know:
the server's own (`<root>/.mlpipe`), and each `.mlpipe` found under the root (see
discovery.py), so what the CLI made shows here, also after a restart. Its methods are plain blocking functions; the
handlers run them on a thread pool, and runs themselves go to the execution service's
background workers, so the server's event loop never waits on a pipeline.

Swap it with `c.MlpipeExtension.service_class = "my.module.Service"`; a subclass can
override just the `backend_*` methods, which are the only calls into the execution
service (the tests do that).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, TypeVar

from traitlets import Bool, Dict, Float, Int, Unicode, default
from traitlets.config import LoggingConfigurable

from ..errors import BadInput, Conflict, NotFound
from ..request import RunRequest
from ..schedule import cron, publish, scheduler, schedules
from ..status import RunStatus
from ..stores import records_root, resolve_store
from . import cache_state, live, validate
from .discovery import StoreFinder
from .paths import relative_to_root, resolve_inside, resolve_notebook
from .slots import RunSlots, SlotBackend

T = TypeVar("T")


def _store_settings(signing_key_file: str, store_mode: str) -> None:
    """The store's key and modes as the environment the CLI, kernels and child runs read."""
    from ..cache.fs import MODE_ENV, store_mode as checked_mode
    from ..cache.signing import KEY_FILE_ENV

    if signing_key_file:
        os.environ[KEY_FILE_ENV] = str(Path(signing_key_file).expanduser().resolve())
    if store_mode:
        os.environ[MODE_ENV] = store_mode
        checked_mode()  # BadInput for anything but owner or group


class MlpipeService(LoggingConfigurable):
    """The server side of mlpipe: DAGs, runs, published pipelines, schedules."""

    root_dir = Unicode("", help="The server root; set from ServerApp.root_dir.").tag(config=True)
    store_dir = Unicode(
        "",
        help="One store for every run, published pipeline and schedule. Default: "
        "$MLPIPE_STORE, else .mlpipe beside each notebook (as `mlpipe run` and `mlpipe "
        "publish` do); the routes also read every .mlpipe found under the root.",
    ).tag(config=True)
    signing_key_file = Unicode(
        "",
        help="A file holding the key cache entries are signed with (a team shares one to "
        "share results); sets $MLPIPE_SIGNING_KEY_FILE for this server and the runs it "
        "starts. Default: $MLPIPE_SIGNING_KEY(_FILE), else a per-user key.",
    ).tag(config=True)
    store_mode = Unicode(
        "",
        help="'owner' (folders 0700, files 0600: the default) or 'group' (0770/0660, a team "
        "folder on a shared filesystem) for what a local store creates; sets "
        "$MLPIPE_STORE_MODE for this server and the runs it starts.",
    ).tag(config=True)
    scheduler_address = Unicode(
        "", help="Dask scheduler for runs (default: a LocalCluster per run)."
    ).tag(config=True)
    dashboard_link = Unicode("", help="Dask dashboard URL shown in the sidebar.").tag(config=True)
    retention = Dict(
        help="The store's retention policy for the runs this server starts and `GET store`:"
        " {'keep_last': 3, 'older_than': '30d', 'max_size': '50GB', 'grace': '10m'} (like"
        " [tool.mlpipe.retention] in pyproject.toml); with max_size, a run that leaves the"
        " store over it collects garbage. Sets $MLPIPE_RETENTION for the runs it starts.",
    ).tag(config=True)
    tracking_uri = Unicode(
        "", help="MLflow tracking URI of the runs the server starts (like `mlpipe run "
        "--tracking-uri`): a parent run per pipeline run, a child per step. Default: "
        "$MLFLOW_TRACKING_URI, else no MLflow.",
    ).tag(config=True)
    cluster_class = Unicode(
        "", help="A Dask cluster manager to start for each run, by import path (like `mlpipe "
        "run --cluster`, e.g. dask_jobqueue.SLURMCluster); unused with a scheduler address.",
    ).tag(config=True)
    cluster_options = Dict(
        help="Keyword arguments for cluster_class (like --cluster-option NAME=VALUE), e.g. "
        "{'queue': 'gpu', 'cores': 8}.",
    ).tag(config=True)
    workers = Int(
        None, allow_none=True,
        help="CPU workers of the LocalCluster of each run the server starts (like "
        "`mlpipe run --workers`; default: the engine's choice). Unused with a scheduler.",
    ).tag(config=True)  # fmt: skip
    gpu_workers = Int(
        None, allow_none=True,
        help="GPU workers of that LocalCluster (like `mlpipe run --gpu-workers`; default: one "
        "per GPU found). More than the GPUs found still labels them GPU=1, with the engine's "
        "warning: set 1 to run `--gpu 1` steps on the CPU of a machine without a GPU.",
    ).tag(config=True)  # fmt: skip
    runs_limit = Int(50, help="How many runs GET runs returns.").tag(config=True)
    fire_schedules = Bool(
        False,
        help="Also fire due schedules from the server (like `mlpipe scheduler`; both can run "
        "at once, each fire time is claimed by exactly one).",
    ).tag(config=True)
    fire_interval = Float(30.0, help="Seconds between checks for due schedules.").tag(config=True)
    max_concurrent_runs = Int(
        help="How many runs this server runs at once (REST, the sidebar, published "
        "pipelines, its own schedule fires); the others are recorded `queued` and start "
        "in order as runs end. Default: half the cores, at least 1.",
    ).tag(config=True)

    warm_cluster = Bool(
        True,
        help="Keep one warm Dask cluster in the server, with kernels started ahead of time, "
        "for the runs it starts (and `%pipeline run` / `mlpipe run` on its notebooks): "
        "started on the first run; a notebook with %%step cells that opens gets its "
        "kernels started there. Unused with `scheduler_address`.",
    ).tag(config=True)
    idle_timeout = Float(
        900.0, help="Seconds without work after which the warm cluster closes (0: never)."
    ).tag(config=True)
    warm_on_open = Bool(
        False,
        help="Also start the warm cluster when a notebook with %%step cells opens, not only on "
        "the first run (off by default: a server that only shows notebooks starts no workers).",
    ).tag(config=True)

    @default("max_concurrent_runs")
    def _default_max_concurrent_runs(self) -> int:
        return max(1, (os.cpu_count() or 1) // 2)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _store_settings(self.signing_key_file, self.store_mode)
        if self.retention:
            from ..housekeeping import RETENTION_ENV, policy_from

            policy_from(dict(self.retention), "c.MlpipeService.retention")  # one line if bad
            os.environ[RETENTION_ENV] = json.dumps(dict(self.retention))
        self._run_stores: dict[str, Path] = {}  # runs started here -> their store
        self._stores: list[Path] = []  # stores used by this process
        self._finder: StoreFinder | None = None
        self._slots: RunSlots | None = None

    # stores -------------------------------------------------------------------------
    @property
    def store_root(self) -> Path:
        """The server's own store: `store_dir`, else $MLPIPE_STORE, else `<root>/.mlpipe`."""
        return resolve_store(self.store_dir or None, None, cwd=self._root())

    def _root(self) -> Path:
        return Path(self.root_dir or ".").resolve()

    def run_store(self, notebook: Path) -> Path | str:
        """Where a run of `notebook` keeps its cache (as `mlpipe run` would): a folder, which
        also holds its records, or an object-storage URL (records beside the notebook)."""
        store = self._store_of(notebook)
        self._remember(records_root(store, notebook))
        return store

    def _store_of(self, notebook: Path) -> Path:
        return resolve_store(self.store_dir or None, notebook, cwd=self._root())

    def _remember(self, store: Path) -> None:
        if store not in self._stores:
            self._stores.append(store)

    def known_stores(self, fresh: bool = False) -> list[Path]:
        """The server's store, those it used, and every store found under the root."""
        if self._finder is None or self._finder.root != self._root():
            self._finder = StoreFinder(self._root())
        own = records_root(self.store_root, cwd=self._root())
        stores = [own, *self._stores, *self._finder.stores(fresh)]
        unique = {s.resolve(): s for s in reversed(stores)}  # first mention wins
        ordered = [s for s in stores if unique.get(s.resolve()) is s]
        return [s for s in ordered if s.exists()]

    def _first(self, find: Callable[[Path], T], missing: str) -> tuple[Path, T]:
        """The first known store where `find` does not raise NotFound, and what it found;
        else NotFound(`missing`) (a store made since the last scan is looked for first)."""
        for fresh in (False, True):
            for store in self.known_stores(fresh):
                try:
                    return store, find(store)
                except NotFound:
                    continue
        raise NotFound(missing)

    # the DAG ------------------------------------------------------------------------
    def dag(self, body: dict[str, Any]) -> dict[str, Any]:
        """Analyze unsaved cells (`cells`) or a saved notebook (`path`)."""
        from ..analysis import NotebookError, analyze, cells_from_json, read_cells

        body = validate.body(body, ("cells", "path", "params", "select", "exclude", "only"))
        notebook = None
        try:
            if "cells" in body:
                cells = cells_from_json(body["cells"], where="'cells'")
                if body.get("path"):  # where the unsaved notebook lives: its cache
                    notebook = resolve_inside(self.root_dir, body["path"])
            elif "path" in body:
                notebook = resolve_notebook(self.root_dir, body["path"])
                cells = read_cells(notebook)
            else:
                raise BadInput("request needs 'cells' (the unsaved notebook) or 'path'")
        except NotebookError as exc:
            raise BadInput(str(exc)) from None
        if notebook is None:
            pipeline = analyze(cells)
        else:  # %%step --uses resolved from the notebook's folder (issue 25)
            from ..analysis.graph import analyze_at

            pipeline = analyze_at(cells, notebook)
        dag = pipeline.to_json()
        if notebook is None:
            return dag
        if any(body.get(k) for k in ("select", "exclude", "only")):  # the plan of that run
            dag = {**dag, "plan": self._plan(notebook, pipeline, body)}
        self.warm_up(notebook, pipeline)
        try:
            return cache_state.annotate(
                dag, pipeline, self._store_of(notebook), notebook.parent, notebook
            )
        except Exception:  # the DAG matters more than its cache states
            self.log.warning("mlpipe: cache state of %s unavailable", notebook, exc_info=True)
            return dag

    def _plan(self, notebook: Path, pipeline: Any, body: dict[str, Any]) -> dict[str, Any]:
        """`POST dag` with a selection: `{"steps": [{"step", "action", "reason"}], "ms"}`."""
        from .. import service

        if pipeline.errors or not pipeline.steps:
            raise BadInput("\n".join(str(e) for e in pipeline.errors) or "no %%step cells")
        request = RunRequest.build(
            notebook, validate.params(body.get("params", {})), store=self.run_store(notebook),
            select=validate.selection(body, "select"), only=validate.selection(body, "only"),
            exclude=validate.selection(body, "exclude"),
        )
        return service.plan(request, pipeline=pipeline)

    # runs ---------------------------------------------------------------------------
    def start_run(self, body: dict[str, Any]) -> dict[str, Any]:
        body = validate.body(
            body, ("path", "params", "no_cache", "scheduler", "select", "exclude", "only")
        )
        notebook = resolve_notebook(self.root_dir, body.get("path"))
        params = validate.params(body.get("params", {}))
        no_cache = validate.flag(body, "no_cache")
        address = validate.optional_str(body, "scheduler") or self.scheduler_address or None
        store = self.run_store(notebook)
        request = RunRequest.build(
            notebook, params, store=store, select=validate.selection(body, "select"),
            exclude=validate.selection(body, "exclude"), only=validate.selection(body, "only"),
            **self._cluster(no_cache, address),
        )
        run_id = self.submit_run(request)
        self._run_stores[run_id] = records_root(store, notebook)
        return {"run_id": run_id, "path": relative_to_root(self.root_dir, notebook)}

    def retry_run(self, run_id: str) -> dict[str, Any]:
        """`POST runs/ID/retry`: a new run of the run's notebook snapshot and parameters
        (what succeeded is reused, the rest runs), on this server's cluster."""
        from .. import service

        store = self._find_run(run_id)[0]
        saved = service.retry_request(store, run_id)
        request = RunRequest.build(
            saved.notebook, saved.params, store=saved.store, select=saved.select,
            exclude=saved.exclude, only=saved.only, source=saved.source, retry_of=run_id,
            **self._cluster(saved.no_cache, self.scheduler_address or None),
        )
        new_id = self.submit_run(request)
        self._run_stores[new_id] = store
        return {"run_id": new_id, "retry_of": run_id,
                "path": relative_to_root(self.root_dir, saved.notebook)}  # fmt: skip

    def list_runs(self, limit: int | None = None) -> list[dict[str, Any]]:
        limit = limit or self.runs_limit
        found: dict[str, dict[str, Any]] = {}
        for store in self.known_stores():
            for record in self.backend_runs(store):
                found.setdefault(record["run_id"], self._present(record))
        newest = sorted(found.values(), key=lambda r: (r.get("started") or 0, r["run_id"]))
        return newest[::-1][:limit]

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self._present(self._find_run(run_id)[1])

    def run_lineage(self, run_id: str) -> dict[str, Any]:
        """`GET runs/ID?lineage=1`: the run record plus `lineage` (experiments/lineage.py)."""
        from ..cache.store import Store
        from ..experiments.lineage import from_record

        store, record = self._find_run(run_id)
        return {**self._present(record), "lineage": from_record(Store(store), record)}

    def compare_runs(self, ids: tuple[str, ...]) -> dict[str, Any]:
        """`GET runs/compare?ids=A,B`: `{"columns", "runs"}`, one flat row per run with
        MLflow's column names (`params.lr`, `metrics.evaluate.auc`, `duration.train`)."""
        from ..cache.store import Store
        from ..experiments.compare import rows, with_lineage
        from ..experiments.lineage import from_record

        if len(ids) < 2:
            raise BadInput("ids: name two runs or more, as in runs/compare?ids=A,B")
        found_runs = [self._find_run(run_id) for run_id in ids]
        columns, found = rows(with_lineage(record, from_record(Store(store), record))
                              for store, record in found_runs)
        return {"columns": columns, "runs": found}

    def cancel_run(self, run_id: str) -> dict[str, Any]:
        """Cancel a run: a queued one at once (it never starts), a running one stops."""
        store, record = self._find_run(run_id)
        if record.get("status") not in (RunStatus.RUNNING, RunStatus.QUEUED):
            raise Conflict(f"run {run_id} already {record['status']}; nothing to cancel")
        self.backend_cancel(store, run_id)
        after = self.backend_record(store, run_id) or record
        done = after.get("status") == RunStatus.CANCELLED
        return {"run_id": run_id, "status": "cancelled" if done else "cancelling"}

    # the run slots (max_concurrent_runs) -------------------------------------------------
    @property
    def slots(self) -> RunSlots:
        if self._slots is None:
            backend = SlotBackend(
                start=self.backend_start, in_progress=self.backend_in_progress,
                renew=self.backend_renew, failed=self._start_failed,
            )
            self._slots = RunSlots(self.max_concurrent_runs, backend)
        return self._slots

    def submit_run(self, request: RunRequest) -> str:
        """Record the run (queued), then start it now or when a slot frees; its id."""
        return self.slots.submit(self.backend_record_run(request))

    def _start_failed(self, request: RunRequest, exc: BaseException) -> None:
        if not isinstance(exc, Conflict):  # Conflict: cancelled while queued
            self.log.error("mlpipe: run %s could not start", request.run_id, exc_info=exc)
        self.backend_fail(request, f"{type(exc).__name__}: {exc}")

    def step_notebook(self, run_id: str, step: str) -> dict[str, Any]:
        """The executed notebook of one step, as a path the frontend can open."""
        record = self._find_run(run_id)[1]
        steps = record.get("steps", {})
        if step not in steps:
            raise NotFound(f"run {run_id} has no step '{step}'; its steps: {', '.join(steps)}")
        notebook = steps[step].get("notebook")
        if not notebook or not Path(notebook).exists():
            status = steps[step].get("status", "unknown")
            raise NotFound(f"step '{step}' of run {run_id} has no executed notebook ({status})")
        relative = relative_to_root(self.root_dir, notebook)
        if relative is None:
            raise NotFound(
                f"the executed notebook of step '{step}' is outside the server root ({notebook}); "
                "set MlpipeService.store_dir to a folder inside the root to open it here"
            )
        return {"run_id": run_id, "step": step, "path": relative}

    def step_log(self, run_id: str, step: str) -> dict[str, Any]:
        """A step's output so far (its executed notebook as papermill left it)."""
        return live.step_log(run_id, step, self._find_run(run_id)[1])

    def gpu_slots(self) -> int | None:
        """GPU workers the server's own cluster has (None with a scheduler or cluster_class)."""
        if self.scheduler_address or self.cluster_class:
            return None
        if self.gpu_workers is not None:
            return self.gpu_workers
        found = self.__dict__.get("_gpus_found")
        if found is None:
            from ..execute.cluster import detect_gpus

            found = self.__dict__["_gpus_found"] = len(detect_gpus())
        return found

    def _find_run(self, run_id: str) -> tuple[Path, dict[str, Any]]:
        validate.identifier(run_id, "run id")
        stores = [self._run_stores[run_id]] if run_id in self._run_stores else []
        for fresh in (False, True):  # a store made since the last scan: look again
            for store in stores + self.known_stores(fresh):
                record = self.backend_record(store, run_id)
                if record is not None:
                    return store, record
        raise NotFound(f"run {run_id} not found; GET runs lists the known runs")

    def _present(self, record: dict[str, Any]) -> dict[str, Any]:
        """The run record with root-relative `path`s the frontend can open."""
        steps = {
            name: {**step, "path": relative_to_root(self.root_dir, step.get("notebook"))}
            for name, step in record.get("steps", {}).items()
        }
        return {**record, "path": relative_to_root(self.root_dir, record.get("notebook")),
                "steps": steps}  # fmt: skip

    # published pipelines and schedules ----------------------------------------------------
    def list_pipelines(self) -> list[dict[str, Any]]:
        rows = [
            {**row, "store": str(store)}
            for store in self.known_stores() for row in publish.list_pipelines(store)
        ]
        return sorted(rows, key=lambda row: row["name"])

    def publish(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        body = validate.body(body, ("path", "name"))
        notebook = resolve_notebook(self.root_dir, body.get("path"))
        name = validate.optional_str(body, "name") or notebook.stem
        store = self.run_store(notebook)  # beside the notebook, as `mlpipe publish` does
        published, created = publish.publish(notebook, name, store)
        return {**published.to_json(), "created": created, "store": str(store)}, created

    def pipeline_store(self, name: str, version: int | None = None) -> Path:
        """The store the pipeline `name` is published in (NotFound names what is)."""
        publish.check_name(name)
        what = f"pipeline '{name}'" + (f" version {version}" if version is not None else "")
        known = sorted({f"{p['name']} v{p['version']}" for p in self.list_pipelines()})
        listed = f"published: {', '.join(known)}" if known else "nothing is published yet"
        missing = (f"{what} is not published in any store the server reads ({listed});"
                   " publish it with `mlpipe publish` or POST pipelines")  # fmt: skip
        return self._first(lambda s: publish.get(s, name, version), missing)[0]

    def run_pipeline(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        body = validate.body(body, ("version", "params"))
        version = validate.optional_int(body, "version")
        params = validate.params(body.get("params", {}))
        store = self.pipeline_store(name, version)
        published, run_id = scheduler.run_published(
            store, name, version=version, params=params, start=self.submit_run,
            options=self._cluster(False, self.scheduler_address or None),
        )
        self._run_stores[run_id] = store
        return {"run_id": run_id, "pipeline": name, "version": published.version}

    def _cluster(self, no_cache: bool, scheduler: str | None) -> dict[str, Any]:
        """A run request's cluster options: a scheduler, or the sizes of a LocalCluster
        (not both, as `mlpipe run` takes `--scheduler` or `--workers`)."""
        local = scheduler is None
        manager = self.cluster_class or None if local else None  # cluster_class: its own cluster
        return {"no_cache": no_cache, "scheduler": scheduler,
                "workers": self.workers if local and not manager else None,
                "gpu_workers": self.gpu_workers if local and not manager else None,
                "cluster": manager,
                "cluster_options": dict(self.cluster_options) if manager else None,
                "tracking_uri": self.tracking_uri or None}  # fmt: skip

    def list_schedules(self) -> list[dict[str, Any]]:
        rows = [
            {**s.to_json(), "store": str(store)}
            for store in self.known_stores() for s in schedules.list_schedules(store)
        ]
        return sorted(rows, key=lambda row: row["name"])

    def add_schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        body = validate.body(body, ("name", "cron", "pipeline", "version", "params"))
        name = validate.optional_str(body, "name")
        expr = validate.optional_str(body, "cron")
        if not name or not expr:
            raise BadInput("a schedule needs 'name' and 'cron' (and 'pipeline' if not the name)")
        pipeline = validate.optional_str(body, "pipeline") or name
        version = validate.optional_int(body, "version")
        params = validate.params(body.get("params", {}))
        publish.check_name(name, "schedule")
        cron.normalize(expr)  # a bad cron is 400 before the pipeline is looked up
        for store in self.known_stores():  # one name across the stores the routes show
            if any(s.name == name for s in schedules.list_schedules(store)):
                raise Conflict(f"schedule '{name}' already exists (in {store}); remove it first")
        schedule = schedules.add(
            self.pipeline_store(pipeline, version), name, expr, pipeline=pipeline,
            params=params, version=version, published_only=True,
        )
        return schedule.to_json()

    def _schedule_store(self, name: str) -> Path:
        missing = f"schedule '{name}' does not exist; GET schedules lists them"
        return self._first(lambda s: schedules.get(s, name), missing)[0]

    def update_schedule(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        body = validate.body(body, ("paused",))
        if "paused" not in body:
            raise BadInput("the body needs 'paused': true (pause) or false (resume)")
        validate.flag(body, "paused")
        return schedules.set_paused(self._schedule_store(name), name, body["paused"]).to_json()

    def remove_schedule(self, name: str) -> None:
        schedules.remove(self._schedule_store(name), name)

    def cron_preview(self, expr: str | None) -> dict[str, Any]:
        if not expr:
            raise BadInput("query parameter 'cron' is required, e.g. ?cron=0%206%20*%20*%20*")
        return cron.preview(expr)

    def fire_due_schedules(self) -> list[str]:
        """One pass of the scheduler over every known store, through this service's backend."""
        fired = []
        for store in self.known_stores():
            options = self._cluster(False, self.scheduler_address or None)
            for item in scheduler.fire_due(store, start=self.submit_run, options=options):
                self.log.info("mlpipe: %s", item)
                if item.run_id:
                    self._run_stores[item.run_id] = store
                fired.append(str(item))
        return fired

    def store_info(self) -> dict[str, Any]:
        """The server's store: size by notebook and step, entries, pins, layout format."""
        from ..housekeeping import store_info

        return store_info(self.store_root)

    def status(self) -> dict[str, Any]:
        from .._version import __version__

        link = self.dashboard_link or self.backend_dashboard_link()
        return {
            "version": __version__,
            "root_dir": str(Path(self.root_dir).resolve()),
            "store": str(self.store_root),
            "scheduler_address": self.scheduler_address or None,
            "workers": self.workers,
            "gpu_workers": self.gpu_workers,
            "dashboard_link": link,
            "dashboard_proxy": live.proxy_path(link),
            "gpu_slots": self.gpu_slots(),
            "max_concurrent_runs": self.max_concurrent_runs,
            "runs_running": len(self.slots.running()),
            "runs_queued": len(self.slots.waiting()),
        }

    # the execution service: the only calls into it ---------------------------------------
    def backend_record_run(self, request: RunRequest) -> RunRequest:
        """Check the notebook and record the run queued (`service.record`); the request
        with its run id (the one it carries, if any)."""
        from .. import service

        return service.record(request)

    def backend_start(self, request: RunRequest) -> str:
        """Start the recorded run in a child process (`service.start`); its id."""
        from .. import service

        if self.uses_warm_cluster(request):
            return self.backend_start_warm(request)
        return service.start(request)

    def backend_in_progress(self, request: RunRequest) -> bool:
        """Whether the run still holds a slot (queued, running, or its process closing)."""
        return _records(request).in_progress(str(request.run_id))

    def backend_renew(self, waiting: list[RunRequest]) -> None:
        """This server still holds these queued runs (their leases, records.reap)."""
        for request in waiting:
            _records(request).renew_lease(str(request.run_id))

    def backend_fail(self, request: RunRequest, error: str) -> None:
        """Record failed a recorded run that could not start (unless it ended already)."""
        _records(request).fail_if_running(str(request.run_id), error)

    def backend_runs(self, store: Path) -> list[dict[str, Any]]:
        from .. import service

        return list(service.runs(str(store)))

    def backend_record(self, store: Path, run_id: str) -> dict[str, Any] | None:
        from .. import service

        try:
            return service.run_record(str(store), run_id)
        except LookupError:
            return None

    def backend_cancel(self, store: Path, run_id: str) -> None:
        from .. import service

        service.cancel(str(store), run_id)

    # the warm cluster (execute/warmcluster.py, server/warm.py) ----------------------------
    @property
    def warm(self) -> Any:
        """This server's `WarmClusterOwner` (it starts nothing until asked)."""
        owner = self.__dict__.get("_warm_owner")
        if owner is None:
            from .warm import WarmClusterOwner

            owner = self.__dict__["_warm_owner"] = WarmClusterOwner(self.workers, self.gpu_workers)
        return owner

    def manage_warm_cluster(self) -> None:
        """The server extension closes the warm cluster (idle, shutdown): runs may use it.

        A service outside a server (a script, a test) has nobody to close one, so its
        runs start as child processes with a cluster of their own.
        """
        self.__dict__["_warm_managed"] = True

    def uses_warm_cluster(self, request: RunRequest) -> bool:
        return bool(self.warm_cluster) and self.__dict__.get("_warm_managed", False) \
            and request.scheduler is None \
            and not getattr(request, "cluster", None)  # a cluster manager: its own cluster

    def backend_start_warm(self, request: RunRequest) -> str:
        """Run the recorded run on a thread of the server, on the warm cluster; its id."""
        from dataclasses import replace

        from .. import service

        def on_warm_cluster(request: RunRequest) -> RunRequest:
            cluster = self.warm.ensure(self._local_store(request.store))
            return replace(request, scheduler=cluster.address, workers=None, gpu_workers=None)

        return service.start_here(request, before=on_warm_cluster)

    def warm_up(self, notebook: Path, pipeline: Any) -> None:
        """A notebook with steps opened: start its folder's kernels on the warm cluster.

        Only once the cluster runs (the first run starts it), unless `warm_on_open`.
        """
        running = self.warm.cluster is not None or self.warm_on_open
        if self.warm_cluster and self.__dict__.get("_warm_managed", False) and running \
                and not self.scheduler_address and pipeline.steps and not pipeline.errors:
            store = self._local_store(self._store_of(notebook))
            self.warm.prepare_in_background(notebook, pipeline.setup_source, store)

    @staticmethod
    def _local_store(store: Any) -> Path | None:
        """Where the warm cluster's record goes: the store, when it is a local folder."""
        text = str(store)
        return None if "://" in text else Path(text)

    def close_idle_warm_cluster(self) -> bool:
        return self.warm.close_if_idle(self.idle_timeout)

    def close_warm_cluster(self) -> None:
        self.warm.close()

    def backend_dashboard_link(self) -> str | None:
        """The server's warm cluster's dashboard, else that of the cluster `mlpipe cluster up`
        recorded in the server's store while it lives; None when neither runs."""
        warm = self.warm.dashboard()
        if warm:
            return warm
        from ..execute.warmcluster import live_record

        try:
            record = live_record(self.store_root)
        except OSError:
            return None
        return record.dashboard if record is not None else None


def _records(request: RunRequest) -> Any:
    """The run records of `request` (beside the notebook for a URL store)."""
    from ..execute.records import Records
    from ..stores import records_root

    return Records(records_root(request.store, request.notebook))


__all__ = ["MlpipeService", "resolve_inside"]
