"""MlpipeService: what the REST handlers call (thin handlers, fat manager).

It validates request bodies, resolves notebook paths inside the server root, picks the
store, and calls `mlpipe_jupyter.service` (runs) and `mlpipe_jupyter.schedule`
(published pipelines, schedules). Its methods are plain blocking functions; the
handlers run them on a thread pool, and runs themselves go to the execution service's
background workers, so the server's event loop never waits on a pipeline.

Swap it with `c.MlpipeExtension.service_class = "my.module.Service"`; a subclass can
override just the `backend_*` methods, which are the only calls into the execution
service (the tests do that).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from traitlets import Bool, Float, Int, Unicode
from traitlets.config import LoggingConfigurable

from ..schedule import cron, publish, scheduler, schedules
from ..schedule.errors import BadInput, Conflict, NotFound
from . import cache_state, validate
from .paths import relative_to_root, resolve_inside, resolve_notebook

FINISHED = ("succeeded", "failed", "cancelled")


class MlpipeService(LoggingConfigurable):
    """The server side of mlpipe: DAGs, runs, published pipelines, schedules."""

    root_dir = Unicode("", help="The server root; set from ServerApp.root_dir.").tag(config=True)
    store_dir = Unicode(
        "",
        help="Store for published pipelines and schedules, and for every run if set. "
        "Default: $MLPIPE_STORE, else .mlpipe in the server root (published pipelines) "
        "and .mlpipe beside each notebook (runs, as `mlpipe run` does).",
    ).tag(config=True)
    scheduler_address = Unicode(
        "", help="Dask scheduler for runs (default: a LocalCluster per run)."
    ).tag(config=True)
    dashboard_link = Unicode("", help="Dask dashboard URL shown in the sidebar.").tag(config=True)
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

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._run_stores: dict[str, Path] = {}  # runs started here -> their store
        self._stores: list[Path] = []  # every store seen, for GET runs

    # stores -------------------------------------------------------------------------
    @property
    def store_root(self) -> Path:
        """The store of published pipelines and schedules."""
        configured = self.store_dir or os.environ.get("MLPIPE_STORE", "")
        if configured:
            return Path(os.path.expanduser(configured)).resolve()
        return Path(self.root_dir).resolve() / ".mlpipe"

    def run_store(self, notebook: Path) -> Path:
        """Where a run of `notebook` keeps its records and cache (as `mlpipe run` would)."""
        store = self._store_of(notebook)
        self._remember(store)
        return store

    def _store_of(self, notebook: Path) -> Path:
        configured = self.store_dir or os.environ.get("MLPIPE_STORE", "")
        return Path(configured).resolve() if configured else notebook.parent / ".mlpipe"

    def _remember(self, store: Path) -> None:
        if store not in self._stores:
            self._stores.append(store)

    def known_stores(self) -> list[Path]:
        stores = [self.store_root, *self._stores]
        return [s for i, s in enumerate(stores) if s not in stores[:i] and s.exists()]

    # the DAG ------------------------------------------------------------------------
    def dag(self, body: dict[str, Any]) -> dict[str, Any]:
        """Analyze unsaved cells (`cells`) or a saved notebook (`path`)."""
        from ..analysis import NotebookError, analyze, cells_from_json, read_cells

        body = validate.body(body)
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
        pipeline = analyze(cells)
        dag = pipeline.to_json()
        if notebook is None:
            return dag
        try:
            return cache_state.annotate(dag, pipeline, self._store_of(notebook), notebook.parent)
        except Exception:  # the DAG matters more than its cache states
            self.log.warning("mlpipe: cache state of %s unavailable", notebook, exc_info=True)
            return dag

    # runs ---------------------------------------------------------------------------
    def start_run(self, body: dict[str, Any]) -> dict[str, Any]:
        body = validate.body(body)
        notebook = resolve_notebook(self.root_dir, body.get("path"))
        params = validate.params(body.get("params", {}))
        no_cache = validate.flag(body, "no_cache")
        address = validate.optional_str(body, "scheduler") or self.scheduler_address or None
        store = self.run_store(notebook)
        run_id = self.backend_start(notebook, params, store, **self._cluster(no_cache, address))
        self._run_stores[run_id] = store
        return {"run_id": run_id, "path": relative_to_root(self.root_dir, notebook)}

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

    def cancel_run(self, run_id: str) -> dict[str, Any]:
        store, record = self._find_run(run_id)
        if record.get("status") in FINISHED:
            raise Conflict(f"run {run_id} already {record['status']}; nothing to cancel")
        self.backend_cancel(store, run_id)
        return {"run_id": run_id, "status": "cancelling"}

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

    def _find_run(self, run_id: str) -> tuple[Path, dict[str, Any]]:
        validate.identifier(run_id, "run id")
        stores = [self._run_stores[run_id]] if run_id in self._run_stores else []
        for store in stores + self.known_stores():
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
        return publish.list_pipelines(self.store_root)

    def publish(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        body = validate.body(body)
        notebook = resolve_notebook(self.root_dir, body.get("path"))
        name = body.get("name") or notebook.stem
        published, created = publish.publish(notebook, name, self.store_root)
        return {**published.to_json(), "created": created}, created

    def run_pipeline(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        body = validate.body(body)
        version = validate.optional_int(body, "version")
        params = validate.params(body.get("params", {}))
        published, run_id = scheduler.run_published(
            self.store_root, name, version=version, params=params, start=self._start_snapshot
        )
        self._run_stores[run_id] = self.store_root
        return {"run_id": run_id, "pipeline": name, "version": published.version}

    def _start_snapshot(self, notebook: Path, params: dict[str, Any], store: Path) -> str:
        """Start a run of a published snapshot (a scheduler.Starter)."""
        return self.backend_start(
            notebook, params, store, **self._cluster(False, self.scheduler_address or None)
        )

    def _cluster(self, no_cache: bool, scheduler: str | None) -> dict[str, Any]:
        """backend_start's keywords: a scheduler, or the sizes of a LocalCluster (not both,
        as `mlpipe run` takes `--scheduler` or `--workers`)."""
        local = scheduler is None
        return {"no_cache": no_cache, "scheduler": scheduler,
                "workers": self.workers if local else None,
                "gpu_workers": self.gpu_workers if local else None}  # fmt: skip

    def list_schedules(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in schedules.list_schedules(self.store_root)]

    def add_schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        body = validate.body(body)
        name = validate.optional_str(body, "name")
        expr = validate.optional_str(body, "cron")
        if not name or not expr:
            raise BadInput("a schedule needs 'name' and 'cron' (and 'pipeline' if not the name)")
        schedule = schedules.add(
            self.store_root,
            name,
            expr,
            pipeline=validate.optional_str(body, "pipeline"),
            params=validate.params(body.get("params", {})),
            version=validate.optional_int(body, "version"),
            published_only=True,
        )
        return schedule.to_json()

    def update_schedule(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        body = validate.body(body)
        if not isinstance(body.get("paused"), bool):
            raise BadInput("'paused' must be true or false")
        return schedules.set_paused(self.store_root, name, body["paused"]).to_json()

    def remove_schedule(self, name: str) -> None:
        schedules.remove(self.store_root, name)

    def cron_preview(self, expr: str | None) -> dict[str, Any]:
        if not expr:
            raise BadInput("query parameter 'cron' is required, e.g. ?cron=0%206%20*%20*%20*")
        return cron.preview(expr)

    def fire_due_schedules(self) -> list[str]:
        """One pass of the scheduler, starting runs through this service's backend."""
        fired = scheduler.fire_due(self.store_root, start=self._start_snapshot)
        for item in fired:
            self.log.info("mlpipe: %s", item)
            if item.run_id:
                self._run_stores[item.run_id] = self.store_root
        return [str(item) for item in fired]

    def status(self) -> dict[str, Any]:
        from .. import __version__

        return {
            "version": __version__,
            "root_dir": str(Path(self.root_dir).resolve()),
            "store": str(self.store_root),
            "scheduler_address": self.scheduler_address or None,
            "workers": self.workers,
            "gpu_workers": self.gpu_workers,
            "dashboard_link": self.dashboard_link or self.backend_dashboard_link(),
        }

    # the execution service: the only calls into it ---------------------------------------
    def backend_start(
        self, notebook: Path, params: dict[str, Any], store: Path, *, no_cache: bool,
        scheduler: str | None, workers: int | None = None, gpu_workers: int | None = None,
    ) -> str:  # fmt: skip
        from .. import service

        try:
            return service.start_run_async(
                str(notebook), params, store=str(store), no_cache=no_cache, scheduler=scheduler,
                workers=workers, gpu_workers=gpu_workers,
            )
        except ValueError as exc:  # the notebook cannot run: analysis errors, bad params
            raise BadInput(str(exc)) from exc

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

    def backend_dashboard_link(self) -> str | None:
        from .. import service

        link = getattr(service, "dashboard_link", None)
        return link() if callable(link) else None


__all__ = ["MlpipeService", "resolve_inside"]
