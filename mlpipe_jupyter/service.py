"""The functions the CLI, the magics, the scheduler and the Jupyter server call.

Each is a few lines over analysis/, cache/ and execute/. Bad input (analysis
errors, unknown parameters, unsatisfiable resources) raises `RunInputError`
(a `ValueError`) with one line per problem. Nothing heavy is imported here:
a fully cached run never loads papermill or Dask.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .execute.errors import ResourceError, RunInputError

if TYPE_CHECKING:
    from .analysis.model import Pipeline
    from .cache.store import Store

PathLike = str | os.PathLike[str]

__all__ = [
    "ResourceError", "RunInputError", "cancel", "dag", "run", "run_record", "runs",
    "start_run_async", "store_root",
]


def dag(path_or_cells: PathLike | list[dict[str, Any]]) -> Pipeline:
    """The pipeline of a notebook file, or of unsaved cells in the REST shape."""
    from .analysis import analyze, cells_from_json, read_cells

    if isinstance(path_or_cells, list):
        return analyze(cells_from_json(path_or_cells))
    return analyze(read_cells(path_or_cells))


def store_root(notebook: PathLike | None, store: PathLike | None) -> Path:
    """`store` if given, else `$MLPIPE_STORE`, else `.mlpipe` beside the notebook (or here)."""
    from .cache.store import Store

    if store:
        return Path(store).expanduser()
    if notebook is None:
        env = os.environ.get("MLPIPE_STORE")
        return Path(env).expanduser() if env else Path.cwd() / ".mlpipe"
    return Store.default_root(notebook)


def _runnable(path: PathLike) -> Pipeline:
    """The notebook's pipeline, or `RunInputError` listing every analysis error."""
    from .analysis import NotebookError

    try:
        pipeline = dag(path)
    except NotebookError as exc:
        raise RunInputError(str(exc)) from None
    if pipeline.errors:
        raise RunInputError("\n".join(str(e) for e in pipeline.errors))
    if not pipeline.steps:
        raise RunInputError(f"{path}: no %%step cells; tag cells with %%step NAME to make steps")
    return pipeline


def _prepare(
    path: PathLike, params: dict[str, Any] | None, store: Any, run_id: str | None
) -> tuple[Pipeline, Store, Any, str]:
    """Analyse, check parameters, open the store, and create (or reuse) the run record."""
    from .cache.store import Store
    from .execute.planner import param_values
    from .execute.records import RunNotFound

    pipeline = _runnable(path)
    param_values(pipeline, params or {})  # unknown or missing parameters: RunInputError now
    the_store = Store.open(store_root(path, store))
    records = _open_records(the_store.root)
    if run_id is not None:
        try:
            records.get_run(run_id)
            return pipeline, the_store, records, run_id
        except RunNotFound:
            pass
    notebook = str(Path(path).resolve())
    run_id = records.create_run(notebook, dict(params or {}), pipeline.order, run_id=run_id)
    return pipeline, the_store, records, run_id


def _open_records(root: Path) -> Any:
    from .execute.records import Records

    return Records(root)


def run(
    path: PathLike,
    params: dict[str, Any] | None = None,
    *,
    store: PathLike | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    gpu_workers: int | None = None,
    no_cache: bool = False,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Run the notebook as a pipeline to the end; the run record (DESIGN.md shape)."""
    from .execute.cluster import ClusterOptions
    from .execute.runner import RunOptions, run_pipeline

    pipeline, the_store, records, run_id = _prepare(path, params, store, run_id)
    options = RunOptions(
        no_cache=no_cache,
        cluster=ClusterOptions(scheduler=scheduler, workers=workers, gpu_workers=gpu_workers),
    )
    try:
        return run_pipeline(
            pipeline, Path(path), the_store, records, run_id, params, options, on_event
        )
    except ResourceError:
        raise
    except BaseException as exc:
        _fail_if_running(records, run_id, f"{type(exc).__name__}: {exc}")
        raise


def _fail_if_running(records: Any, run_id: str, error: str) -> None:
    try:
        if records.get_run(run_id)["status"] == "running":
            records.finish_run(run_id, "failed", error=error.splitlines()[0] if error else None)
    except Exception:  # noqa: BLE001 - the original error matters more
        pass


def start_run_async(
    path: PathLike,
    params: dict[str, Any] | None = None,
    *,
    store: PathLike | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    gpu_workers: int | None = None,
    no_cache: bool = False,
) -> str:
    """Check the notebook, record the run, and run it in a child process; its id at once.

    The child is `python -m mlpipe_jupyter run ... --run-id ID`, so the caller
    (the Jupyter server, the scheduler) imports nothing heavy and stays
    responsive. Its output goes to `<store>/runs/<run_id>/run.log`; if it dies
    without finishing the run, the run is recorded failed.
    """
    _, the_store, records, run_id = _prepare(path, params, store, None)
    log_path = the_store.runs_dir / run_id / "run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "mlpipe_jupyter", "run", str(Path(path).resolve()),
        "--store", str(the_store.root), "--run-id", run_id, "--json",
        "--params-json", json.dumps(params or {}, default=repr),
    ]
    if no_cache:
        command.append("--no-cache")
    if scheduler:
        command += ["--scheduler", scheduler]
    if workers is not None:
        command += ["--workers", str(workers)]
    if gpu_workers is not None:
        command += ["--gpu-workers", str(gpu_workers)]
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=str(Path(path).resolve().parent), start_new_session=True,
        )
    threading.Thread(
        target=_reap, args=(child, records, run_id, log_path), daemon=True, name="mlpipe-reap"
    ).start()
    return run_id


def _reap(child: subprocess.Popen[bytes], records: Any, run_id: str, log_path: Path) -> None:
    code = child.wait()
    if code not in (0, 1):
        tail = ""
        try:
            lines = [x for x in log_path.read_text("utf-8", "replace").splitlines() if x.strip()]
            tail = f": {lines[-1]}" if lines else ""
        except OSError:
            pass
        _fail_if_running(records, run_id, f"the run process exited with code {code}{tail}")


def runs(store: PathLike, limit: int = 50) -> list[dict[str, Any]]:
    """Recent runs of the store, newest first."""
    return _open_records(Path(store)).list_runs(limit)


def run_record(store: PathLike, run_id: str) -> dict[str, Any]:
    """One run's record; `RunNotFound` (a `LookupError`) when there is none."""
    return _open_records(Path(store)).get_run(run_id)


def cancel(store: PathLike, run_id: str) -> bool:
    """Ask a running run to stop; False when it has already finished."""
    return _open_records(Path(store)).request_cancel(run_id)
