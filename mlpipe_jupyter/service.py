"""The service layer the SDK is built on: analyse, execute or start a `RunRequest`, read runs.

Each function is a few lines over analysis/, cache/ and execute/. Bad input
(analysis errors, unknown parameters, unsatisfiable resources) raises
`BadInput` with one line per problem, an unknown run `NotFound`. Nothing heavy
is imported here: a fully cached run never loads papermill or Dask.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .errors import BadInput, Conflict, NotFound
from .execute.errors import ResourceError, RunInputError
from .request import RunRequest
from .status import RunStatus
from .stores import PathLike, db_path, resolve_store

if TYPE_CHECKING:
    from .analysis.model import Pipeline
    from .cache.store import Store
    from .execute.records import Records

EventHandler = Callable[[dict[str, Any]], None]
REQUEST_FILE = "request.json"
LOG_FILE = "run.log"

__all__ = [
    "REQUEST_FILE", "ResourceError", "RunInputError", "RunRequest", "cancel", "dag",
    "execute", "plan", "record", "retry_request", "run", "run_record", "runnable", "runs",
    "start", "start_here",
    "store_root",
]


def dag(path_or_cells: PathLike | list[dict[str, Any]]) -> Pipeline:
    """The pipeline of a notebook file, or of unsaved cells in the REST shape."""
    from .analysis import analyze, analyze_notebook, cells_from_json

    if isinstance(path_or_cells, list):
        return analyze(cells_from_json(path_or_cells))
    return analyze_notebook(path_or_cells)  # resolves %%step --uses (issue 25)


def store_root(notebook: PathLike | None, store: PathLike | None) -> Path:
    """The store of `stores.resolve_store` (kept for callers that name it so)."""
    return resolve_store(store, notebook)


def runnable(path: PathLike) -> Pipeline:
    """The notebook's pipeline, or `BadInput` listing every analysis error."""
    from .analysis import NotebookError

    try:
        pipeline = dag(path)
    except NotebookError as exc:
        raise BadInput(str(exc)) from None
    if pipeline.errors:
        raise BadInput("\n".join(str(e) for e in pipeline.errors))
    if not pipeline.steps:
        raise BadInput(f"{path}: no %%step cells; tag cells with %%step NAME to make steps")
    return pipeline


def _prepare(
    request: RunRequest, pipeline: Pipeline | None, status: RunStatus = RunStatus.RUNNING
) -> tuple[Pipeline, Store, Records, RunRequest]:
    """Analyse, check parameters, open the store, and create (or reuse) the run record.

    A reused record that is queued (`record`) starts now; one that ended before it
    started (cancelled while queued) is a `Conflict`.
    """
    from .cache.store import Store
    from .execute.planner import param_values
    from .execute.records import RunNotFound

    if pipeline is None:
        pipeline = _handed_down(request)
    if pipeline is None:
        pipeline = runnable(request.source or request.notebook)
    param_values(pipeline, request.params)  # unknown or missing parameters: BadInput now
    pipeline.select(request.select, exclude=request.exclude, only=request.only)  # unknown steps
    the_store = Store.open(request.store, notebook=request.notebook)
    records = _open_records(the_store.records_root)  # beside the notebook for a URL store
    if request.run_id is not None:
        try:
            found = records.get_run(request.run_id)
        except RunNotFound:
            found = None
        if found is not None:
            if status is RunStatus.RUNNING and not records.begin(request.run_id):
                raise Conflict(f"run {request.run_id} is {found['status']}; it was not started")
            return pipeline, the_store, records, request
    run_id = records.create_run(
        str(request.notebook), dict(request.params), pipeline.order, run_id=request.run_id,
        status=status, retry_of=request.retry_of,
    )
    if status is RunStatus.QUEUED:  # recorded now, started later by this process
        _ANALYSED[run_id] = pipeline
    return pipeline, the_store, records, request.with_run_id(run_id)


#: run id -> the analysis its run was recorded with, until the run starts (one analysis
#: per run: a server records a run, then starts it when a slot frees)
_ANALYSED: dict[str, Pipeline] = {}
ANALYSIS_FILE = "pipeline.pickle"  # the analysis handed to a run's child process


def analysis_of(request: RunRequest) -> Pipeline:
    """The analysis a run of `request` uses: the one it was recorded with when a process
    handed it down (a server's or scheduler's started run), else the notebook analysed now."""
    found = _handed_down(request, keep=True)
    return found if found is not None else runnable(request.source or request.notebook)


def _handed_down(request: RunRequest, keep: bool = False) -> Pipeline | None:
    """The analysis this run was recorded with: kept by this process (`record`, then
    `start`), or written beside the request by the process that started this child."""
    if request.run_id is None:
        return None
    kept = _ANALYSED.get(request.run_id) if keep else _ANALYSED.pop(request.run_id, None)
    if kept is not None:
        return kept
    from .stores import records_root

    path = records_root(request.store, request.notebook) / "runs" / request.run_id / ANALYSIS_FILE
    try:
        data = path.read_bytes()
    except OSError:
        return None
    import pickle

    try:
        found = pickle.loads(data)  # written by service.start in the store we own (0600)
    except Exception:  # noqa: BLE001 - another version's analysis: analyse again
        return None
    from .analysis.model import Pipeline as Analysed

    return found if isinstance(found, Analysed) else None


def plan(request: RunRequest, *, pipeline: Pipeline | None = None) -> dict[str, Any]:
    """What a run of `request` would do now, without running it (no cluster, no kernel):
    `{"steps": [{"step", "action": "run|cached|skipped", "reason", "cache_key"}], "ms"}`.

    The same function a run plans with (`planner.plan_run`); it creates no store.
    """
    import time

    from .cache.store import Store
    from .execute.planner import plan_run

    started = time.perf_counter()
    pipeline = pipeline if pipeline is not None else runnable(request.source or request.notebook)
    the_store = Store(request.store, notebook=request.notebook)
    _, the_plan = plan_run(
        pipeline, the_store, request.notebook, request.params, no_cache=request.no_cache,
        select=request.select, exclude=request.exclude, only=request.only,
        forced=request.retry_of is None,
    )
    ms = round((time.perf_counter() - started) * 1000, 1)
    return {"steps": the_plan.rows(), "ms": ms}


def retry_request(store: PathLike, run_id: str, **overrides: Any) -> RunRequest:
    """A new run of run `run_id`'s notebook snapshot with its parameters and options, that
    names the run it retries; what succeeded is reused from the cache, the rest runs.

    `NotFound` for an unknown run, `Conflict` for one still running, `BadInput` for a run
    recorded before snapshots were kept.
    """
    from .execute.runner import REQUEST_FILE as SAVED, SNAPSHOT_FILE, run_folder

    record = run_record(store, run_id)
    if record["status"] not in (RunStatus.FAILED.value, RunStatus.CANCELLED.value,
                                RunStatus.SUCCEEDED.value):  # fmt: skip
        raise Conflict(f"run {run_id} is {record['status']}; retry it once it has finished")
    folder = run_folder(_open_records(records_folder(store)), run_id)
    snapshot = folder / SNAPSHOT_FILE
    if not snapshot.is_file():
        raise BadInput(f"run {run_id} kept no notebook snapshot (it predates retries);"
                       f" run the notebook again: mlpipe run {record['notebook']}")
    try:
        saved = RunRequest.from_json((folder / SAVED).read_text(encoding="utf-8"))
    except (OSError, BadInput):
        saved = RunRequest.build(record["notebook"], record["params"], store=store)
    from dataclasses import replace

    return replace(saved, run_id=None, source=snapshot, retry_of=run_id, **overrides)


def _open_records(root: Path) -> Records:
    from .execute.records import Records

    return Records(root)


def execute(
    request: RunRequest, on_event: EventHandler | None = None, *, pipeline: Pipeline | None = None
) -> dict[str, Any]:
    """Run the request to the end in this process; the run record (DESIGN.md shape).

    `pipeline` is the notebook's analysis when the caller has it already.
    """
    from .execute.runner import run_pipeline

    pipeline, the_store, records, request = _prepare(request, pipeline)
    assert request.run_id is not None
    try:
        record = run_pipeline(request, pipeline, the_store, records, on_event)
    except ResourceError:
        raise  # the runner recorded the run failed with this line
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM/SIGHUP through the CLI's handler
        try:
            records.fail_if_running(
                request.run_id, "interrupted (SIGINT/SIGTERM/SIGHUP)", RunStatus.CANCELLED
            )
        except Exception:  # noqa: BLE001 - the interruption matters more
            pass
        raise
    except BaseException as exc:
        _fail_if_running(records, request.run_id, f"{type(exc).__name__}: {exc}")
        raise
    _collect_after(request, on_event)
    return record


def _collect_after(request: RunRequest, on_event: EventHandler | None) -> None:
    """With a configured size cap, collect garbage once the run has committed (DESIGN.md
    "Execution", the store): never fails the run, says what it removed."""
    from .housekeeping import after_run

    try:
        report = after_run(request.store, Path(request.notebook))
    except Exception as exc:  # noqa: BLE001 - a run's result matters more than its cleanup
        message = f"garbage collection after the run failed: {exc}"
    else:
        if report is None or not (report.entries_removed or report.marked):
            return
        message = (f"store over its size cap: removed {report.entries_removed} cache entries"
                   f" and {report.artifacts_removed} artifacts ({report.policy})")
    if on_event is not None:
        try:
            on_event({"event": "warning", "run_id": request.run_id, "message": message})
        except Exception:  # noqa: BLE001
            pass


def run(
    path: PathLike,
    params: dict[str, Any] | None = None,
    *,
    on_event: EventHandler | None = None,
    **options: Any,
) -> dict[str, Any]:
    """`execute(RunRequest.build(path, params, **options), on_event)`: the run record."""
    return execute(RunRequest.build(path, params, **options), on_event)


def _fail_if_running(records: Records, run_id: str, error: str) -> None:
    try:
        records.fail_if_running(run_id, error)
    except Exception:  # noqa: BLE001 - the original error matters more
        pass


def record(request: RunRequest) -> RunRequest:
    """Check the notebook and record the run as queued, not started; the request with its
    run id. `start` or `execute` of that request starts it (a server's queue, a scheduled
    fire that records its run before it starts anything)."""
    return _prepare(request, None, RunStatus.QUEUED)[3]


def start(request: RunRequest, *, pipeline: Pipeline | None = None) -> str:
    """Check the notebook, record the run, and run it in a child process; its id at once.

    The request goes to the child as `<store>/runs/<run_id>/request.json`, read by
    `python -m mlpipe_jupyter run --request FILE`, so the caller (the Jupyter
    server, the scheduler, `Pipeline.submit`) imports nothing heavy and stays
    responsive. The child's output goes to `run.log` beside it; if it dies
    without finishing the run, the run is recorded failed.
    """
    analysed, the_store, records, request = _prepare(request, pipeline)
    assert request.run_id is not None
    _ANALYSED.pop(request.run_id, None)
    import pickle

    from .cache import fs as storefs

    folder = the_store.records_root / "runs" / request.run_id  # a local folder
    request_file = folder / REQUEST_FILE
    storefs.write_local(request_file, (request.to_json() + "\n").encode("utf-8"))
    storefs.write_local(folder / ANALYSIS_FILE, pickle.dumps(analysed))  # the child's analysis
    log_path = folder / LOG_FILE
    storefs.create_empty(log_path)  # owner-only, as the rest of the store
    command = [
        sys.executable, "-m", "mlpipe_jupyter", "run", "--request", str(request_file), "--json",
    ]
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=str(request.notebook.parent), start_new_session=True,
        )
    records.hand_over(request.run_id, child.pid)  # the child's run, if this process stops
    threading.Thread(
        target=_reap, args=(child, records, request.run_id, log_path), daemon=True,
        name="mlpipe-reap",
    ).start()
    return request.run_id


def start_here(
    request: RunRequest,
    *,
    pipeline: Pipeline | None = None,
    before: Callable[[RunRequest], RunRequest] | None = None,
) -> str:
    """Check the notebook, record the run, and run it on a thread of this process; its id.

    For a long-lived caller whose runs go to a warm cluster it owns (the Jupyter
    server): no child process to start and no imports to pay, so a no-change
    rerun is recorded finished in milliseconds. `before` runs first on that
    thread and gives the request to execute (the warm cluster started, its
    address set). The run is cancelled, leased and recorded exactly as
    `start`'s child does it.
    """
    pipeline, _, records, request = _prepare(request, pipeline)
    run_id = request.run_id
    assert run_id is not None
    _ANALYSED.pop(run_id, None)

    def work() -> None:
        try:
            execute(before(request) if before is not None else request, pipeline=pipeline)
        except Exception as exc:  # noqa: BLE001 - recorded; the thread has no one to tell
            _fail_if_running(records, run_id, f"{type(exc).__name__}: {exc}")

    threading.Thread(target=work, daemon=True, name=f"mlpipe-run-{run_id}").start()
    return run_id


def _reap(child: subprocess.Popen[bytes], records: Records, run_id: str, log_path: Path) -> None:
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
    """Recent runs of the store, newest first (none when the store does not exist)."""
    folder = records_folder(store)
    if not db_path(folder).exists():
        return []
    return _open_records(folder).list_runs(limit)


def records_folder(store: PathLike) -> Path:
    """Where the runs of `store` are recorded: the folder itself, or for an object-storage
    URL `.mlpipe` in the working directory (`stores.records_root`)."""
    from .stores import location, records_root

    return records_root(location(store))


def run_record(store: PathLike, run_id: str) -> dict[str, Any]:
    """One run's record; `NotFound` when the store has none with this id."""
    from .execute.records import RunNotFound
    from .runids import check_run_id

    check_run_id(run_id)
    if not db_path(records_folder(store)).exists():
        raise NotFound(f"no run '{run_id}' in {store}: that store has no runs")
    try:
        return _open_records(records_folder(store)).get_run(run_id)
    except RunNotFound as exc:
        raise NotFound(f"{exc} (store {store})") from None


def cancel(store: PathLike, run_id: str) -> bool:
    """Ask a running run to stop; False when it has already finished."""
    from .runids import check_run_id

    check_run_id(run_id)
    return _open_records(records_folder(store)).request_cancel(run_id)
