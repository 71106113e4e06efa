"""Run one compiled step notebook with papermill on a pre-started kernel.

`run_step(job)` is what a Dask worker executes: it takes a kernel from this
process's pool, runs the step notebook with `_mlpipe` injected as a papermill
parameter, keeps the executed notebook at `job.notebook_path` (written even on
failure, as papermill does), and returns a `StepResult`: the output artifact
refs (never the artifacts) and the step's `StepReport`, read from the result
JSON the save cell writes. A watchdog enforces `--timeout` and stops the step
when its run is cancelled.

Heavy imports (papermill, nbformat) happen here, on the worker, never on the
CLI's fast path.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mlpipe_jupyter.cache.store import ArtifactRef
from mlpipe_jupyter.compile.report import StepReport
from mlpipe_jupyter.status import StepStatus

from .kernels import call, pool_for, retire_in_background
from .events import Failure

KILL_GRACE_S = 2.0


@dataclass(frozen=True)
class StepJob:
    """Everything a worker needs to run one step (pickled to the worker)."""

    run_id: str
    step: str
    notebook: dict[str, Any]  # the compiled step notebook (JSON dict)
    parameters: dict[str, Any]  # papermill parameters: the step's params and `_mlpipe`
    notebook_path: str  # where the executed notebook is kept
    result_path: str  # where the step's save cell writes its output refs
    cwd: str | None  # the source notebook's directory
    timeout: float | None = None
    attempt: int = 1
    cancel_check: tuple[str, str] | None = None  # (store root, run id): polled while running
    # a store on object storage (its URL): the worker shares no filesystem with the notebook,
    # runs in a working folder of its own with `files` (path -> artifact ref) laid out, and
    # uploads the executed notebook and result file (execute/remote.py)
    store_url: str | None = None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    project: str = ""  # the notebook folder's id on workers (remote.project_id)
    kernel_name: str | None = None  # `%%step --kernel`: the kernelspec (None: the default)
    #: the Dask resources the step asked for (`--cpu`, `--gpu`, `--memory`), even those the
    #: cluster does not advertise: they size its thread pools and pin its GPUs
    resources: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class StepResult:
    """What one attempt of a step gave, from the worker to the coordinator."""

    status: StepStatus  # SUCCEEDED | FAILED
    step: str
    worker: str
    duration_s: float
    attempt: int
    outputs: dict[str, ArtifactRef] = field(default_factory=dict)
    displays: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    failure: Failure | None = None
    report: StepReport = field(default_factory=StepReport)
    threads: int | None = None  # the step's BLAS/OpenMP pool size (threads.py)
    devices: str | None = None  # its CUDA_VISIBLE_DEVICES, when it asked for a GPU (gpus.py)

    @property
    def ok(self) -> bool:
        return self.status is StepStatus.SUCCEEDED


def read_result(path: Path) -> tuple[dict[str, ArtifactRef], StepReport]:
    """The output refs and report of a step's result JSON.

    `{"outputs": {var: ref}, "report": {...}}`; a file without `"report"` is
    the older shape, `{var: ref}` alone.
    """
    data = json.loads(path.read_text("utf-8"))
    if isinstance(data.get("outputs"), dict) and isinstance(data.get("report"), dict):
        refs, report = data["outputs"], StepReport.from_json(data["report"])
    else:
        refs, report = data, StepReport()
    return {var: ArtifactRef.from_json(ref) for var, ref in refs.items()}, report


def _report_if_any(path: Path) -> StepReport:
    """A failed step's report, when its runtime wrote one before failing."""
    try:
        return read_result(path)[1]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return StepReport()


class _Watchdog:
    """Interrupts, then kills, the step's kernel on timeout or cancellation."""

    def __init__(self, km: Any, timeout: float | None, cancelled: Callable[[], bool]) -> None:
        self.km = km
        self.timeout = timeout
        self.cancelled = cancelled
        self.fired: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="mlpipe-watchdog")

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()

    def _watch(self) -> None:
        deadline = time.monotonic() + self.timeout if self.timeout else None
        while not self._done.wait(0.25):
            if deadline is not None and time.monotonic() >= deadline:
                self.fired = "timeout"
            elif self.cancelled():
                self.fired = "cancelled"
            else:
                continue
            self._stop_kernel()
            return

    def _stop_kernel(self) -> None:
        try:
            call(self.km.interrupt_kernel())
        except Exception:  # noqa: BLE001 - kill below
            pass
        if self._done.wait(KILL_GRACE_S):
            return
        try:
            import signal

            call(self.km.signal_kernel(signal.SIGKILL))
        except Exception:  # noqa: BLE001
            pass


def _cancel_checker(job: StepJob) -> Callable[[], bool]:
    if not job.cancel_check:
        return lambda: False
    store_root, run_id = job.cancel_check
    last = [0.0, False]

    def cancelled() -> bool:
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            try:
                if job.store_url is not None:  # no records here: a marker in the store
                    from .remote import cancel_marked

                    last[1] = cancel_marked(job.store_url, run_id)
                else:
                    from .records import Records

                    last[1] = bool(Records(store_root).cancel_requested(run_id))
            except Exception:  # noqa: BLE001 - a missing db means no cancel
                last[1] = False
        return bool(last[1])

    return cancelled


def event_topic(run_id: str) -> str:
    """The Dask event topic on which workers report a run's step states."""
    return f"mlpipe-run-{run_id}"


def _dask_worker() -> Any:
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


def _report(job: StepJob, worker: Any, status: str) -> None:
    """Tell the runner that the step started here (a Dask event, if on a worker)."""
    if worker is None:
        return
    try:
        worker.log_event(
            event_topic(job.run_id),
            {"step": job.step, "status": status, "worker": worker.address, "attempt": job.attempt},
        )
    except Exception:  # noqa: BLE001 - progress is best effort
        pass


def _error_line(job: StepJob, exc: BaseException, fired: str | None) -> tuple[Failure, str]:
    """(why, one-line error) for a step that raised `exc`."""
    if fired == "timeout":
        return Failure.TIMEOUT, f"step '{job.step}' timed out after {job.timeout:g}s"
    if fired == "cancelled":
        return Failure.CANCELLED, f"step '{job.step}' cancelled"
    name = type(exc).__name__
    if name == "DeadKernelError":
        return Failure.KERNEL_DIED, f"kernel died, possibly out of memory (step '{job.step}')"
    ename = getattr(exc, "ename", None)
    if ename is not None:
        evalue = str(getattr(exc, "evalue", "")).strip().splitlines()
        where = _cell_role(job, getattr(exc, "source", None))
        detail = f"{ename}: {evalue[0]}" if evalue else str(ename)
        return Failure.ERROR, f"{detail} ({where} of step '{job.step}')"
    text = str(exc).strip().splitlines()
    return Failure.ERROR, f"{name}: {text[0] if text else ''} (step '{job.step}')"


def _cell_role(job: StepJob, source: Any) -> str:
    """Where in the step notebook a failure happened, in the user's terms.

    papermill inserts cells (injected parameters, an error banner), so the
    failing cell is found by its source, not its index.
    """
    text = "".join(source) if isinstance(source, list) else str(source or "")
    for cell in job.notebook.get("cells", []):
        cell_source = cell.get("source", "")
        if isinstance(cell_source, list):
            cell_source = "".join(cell_source)
        if cell_source != text:
            continue
        meta = cell.get("metadata", {}).get("mlpipe", {})
        role = meta.get("role")
        if role == "step" and meta.get("cell") is not None:
            return f"cell {int(meta['cell']) + 1}"
        return {
            "load": "loading the inputs",
            "save": "saving the outputs",
            "resources": "sizing its thread pools",
            "setup": "the setup cells",
            "parameters": "the parameters cell",
        }.get(str(role), "a cell")
    return "a cell"


def _displays(nb: Any) -> list[dict[str, Any]]:
    from mlpipe_jupyter.compile.stepnb import step_displays

    return step_displays(json.loads(json.dumps(nb)))


def import_papermill() -> Any:
    """Import papermill without jsonschema's 1.5-2.5 s IRI grammar.

    jsonschema builds a lark grammar for the "iri" formats when
    `rfc3987_syntax` imports; notebooks never use those formats, so in our
    worker processes that optional module is marked absent before jsonschema
    loads (it then skips those format checks, as when it is not installed).
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    import papermill

    return papermill


def _execute(job: StepJob, km: Any, notebook: dict[str, Any] | None = None) -> Any:
    papermill = import_papermill()
    import nbformat

    from mlpipe_jupyter.cache import fs as storefs

    storefs.makedirs(Path(job.notebook_path).parent)  # owner-only (MLPIPE_STORE_MODE)
    storefs.create_empty(job.notebook_path)  # papermill's writes keep this file's mode
    return papermill.execute_notebook(
        nbformat.from_dict(job.notebook if notebook is None else notebook),
        job.notebook_path,
        parameters=job.parameters,
        km=km,
        kernel_name=job.kernel_name
        or job.notebook.get("metadata", {}).get("kernelspec", {}).get("name"),
        progress_bar=False,
        request_save_on_cell_execute=False,
        log_output=False,
    )


#: The step notebook's cells that run the user's code or load it: the thread pools are
#: sized and the GPUs pinned before the first of them (after the parameters and `begin`,
#: which sets the environment the step's key holds).
_USER_ROLES = ("setup", "load", "step", "save")


def _sized(notebook: dict[str, Any], n_threads: int, devices: str | None) -> dict[str, Any]:
    """The step notebook with a cell that sizes the kernel's thread pools and pins its
    GPUs (threads.apply) before the setup imports anything; it prints nothing. A cell, not
    a separate request to the kernel: that cost 30 ms a step."""
    from .threads import apply_code

    cell = {"cell_type": "code", "execution_count": None, "id": "mlpipe-resources",
            "metadata": {"mlpipe": {"role": "resources"}, "tags": ["mlpipe-injected"]},
            "outputs": [], "source": apply_code(n_threads, devices)}
    cells = list(notebook.get("cells", []))
    at = next((i for i, c in enumerate(cells)
               if c.get("metadata", {}).get("mlpipe", {}).get("role") in _USER_ROLES), 0)
    return {**notebook, "cells": [*cells[:at], cell, *cells[at:]]}


def run_step(job: StepJob) -> StepResult:
    """Run the step on a kernel from this process's pool, its thread pools sized and its
    GPUs pinned (threads.py, gpus.py) before its first cell."""
    from . import gpus, threads

    started = time.perf_counter()
    dask_worker = _dask_worker()
    cluster = threads.cluster_of(dask_worker)
    try:
        with threads.running_step(cluster), \
                gpus.pinned(dask_worker, job.resources.get("GPU")) as devices:
            n = threads.step_threads(job.resources.get("CPU"), dask_worker,
                                     threads.running_here(cluster))
            return _run_step(job, dask_worker, started, n, devices)
    except gpus.NoDeviceFree as exc:  # Dask counted GPUs this worker's devices do not have
        worker = str(dask_worker.address) if dask_worker else socket.gethostname()
        return StepResult(
            StepStatus.FAILED, job.step, worker, time.perf_counter() - started, job.attempt,
            error=f"step '{job.step}': no free GPU on worker {worker} ({exc}); give the"
                  " worker as many GPU resources as it has devices",
            failure=Failure.ERROR,
        )


def _run_step(
    job: StepJob, dask_worker: Any, started: float, n_threads: int, devices: str | None
) -> StepResult:
    worker = str(dask_worker.address) if dask_worker else socket.gethostname()
    _report(job, dask_worker, StepStatus.RUNNING.value)
    asked = job
    if job.store_url is not None:
        from . import remote

        job = remote.prepare(job)  # local paths in a working folder of this worker's
    result_file = Path(job.result_path)
    result_file.unlink(missing_ok=True)
    km = pool_for(job.cwd, kernel_name=job.kernel_name).take()
    watchdog = _Watchdog(km, job.timeout, _cancel_checker(job))
    placed = {"threads": n_threads, "devices": devices}
    try:
        with watchdog:
            nb = _execute(job, km, _sized(job.notebook, n_threads, devices))
        outputs, report = read_result(result_file)
        return StepResult(
            StepStatus.SUCCEEDED, job.step, worker, time.perf_counter() - started, job.attempt,
            outputs=outputs, displays=_displays(nb), report=report, **placed,
        )
    except Exception as exc:  # noqa: BLE001 - every failure becomes a result
        failure, error = _error_line(job, exc, watchdog.fired)
        return StepResult(
            StepStatus.FAILED, job.step, worker, time.perf_counter() - started, job.attempt,
            error=error, failure=failure, report=_report_if_any(result_file), **placed,
        )
    finally:
        retire_in_background(km)
        if asked is not job:
            _upload(asked, job)


def _upload(asked: StepJob, here: StepJob) -> None:
    """Keep the executed notebook and result in the store (best effort: the result's refs
    already travel back in the `StepResult`)."""
    from . import remote

    try:
        remote.finish(asked, here)
    except Exception as exc:  # noqa: BLE001 - the step's outcome stands
        import logging

        logging.getLogger(__name__).warning(
            "step '%s': could not upload its executed notebook: %s", asked.step, exc
        )
