"""`Run`: one pipeline run, read from its store's records; its steps and their outputs.

A `Run` holds a run id, the absolute store root (or its URL) and the local folder
of its records (the store itself, or `.mlpipe` beside the notebook for a URL
store: `stores.records_root`). Its record is re-read
while the run is unfinished and kept once it has finished. `run["train"]` is
the outputs of step `train` (a read-only mapping); `run["train"]["model"]`
loads that value from the store, checked against its checksum.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Conflict, MlpipeError, NotFound, StepFailed
from ..status import RunStatus, StepStatus


@dataclass(frozen=True)
class StepInfo:
    """A step's line of the run record: what it did and why."""

    name: str
    status: StepStatus
    reason: str | None
    duration_s: float | None
    notebook: Path | None  # the executed step notebook (its log and traceback)
    error: str | None
    worker: str | None
    cache_key: str | None
    threads: int | None = None  # the step's BLAS/OpenMP pool size
    device: str | None = None  # the CUDA_VISIBLE_DEVICES a --gpu step got
    #: the step's metrics (`mlp.log_metric`, `--metrics`, MLflow); a cached step's are reused
    metrics: dict[str, float] = field(default_factory=dict)
    attempt: int = 0  # retries taken (0: the first try)
    started: float | None = None  # epoch seconds
    finished: float | None = None
    discovered: list[str] = field(default_factory=list)  # dependencies found at run time

    @property
    def metrics_reused(self) -> bool:
        """Whether `metrics` come from the run that made the reused cache entry."""
        return self.status is StepStatus.CACHED

    @classmethod
    def from_record(cls, name: str, step: Mapping[str, Any]) -> StepInfo:
        """The step `name` of a run record's `steps`."""
        notebook = step.get("notebook")
        return cls(
            name=name, status=StepStatus(step.get("status", StepStatus.PENDING)),
            reason=step.get("reason"), duration_s=step.get("duration_s"),
            notebook=Path(notebook) if notebook else None, error=step.get("error"),
            worker=step.get("worker"), cache_key=step.get("cache_key"),
            threads=step.get("threads"), device=step.get("device"),
            metrics=dict(step.get("metrics") or {}), attempt=int(step.get("attempt") or 0),
            started=step.get("started"), finished=step.get("finished"),
            discovered=list(step.get("discovered") or []),
        )  # fmt: skip


class Run:
    """A pipeline run: `id`, `status`, `record`, `steps`, outputs by `run[STEP][VAR]`."""

    def __init__(self, run_id: str, store: Path | str, record: dict[str, Any] | None = None,
                 *, records: Path | None = None) -> None:
        from ..stores import location, records_root

        self._id = run_id
        self._store = location(store)
        self._records = records_root(self._store) if records is None else Path(records)
        self._record = record

    @property
    def id(self) -> str:
        """The run id (`20261122-093012-ab12cd`)."""
        return self._id

    @property
    def store(self) -> Path | str:
        """The store root (a folder, or an object-storage URL) that holds the run's outputs."""
        return self._store

    @property
    def record(self) -> dict[str, Any]:
        """The run record (DESIGN.md shape) as a dict, read now unless the run has finished."""
        if self._record is None or not RunStatus(self._record["status"]).finished:
            from .. import service

            self._record = service.run_record(self._records, self._id)
        return self._record

    @property
    def status(self) -> RunStatus:
        """`queued` (waiting for a server's slot), `running`, `succeeded`, `failed` or
        `cancelled`."""
        return RunStatus(self.record["status"])

    @property
    def steps(self) -> dict[str, StepInfo]:
        """Each step's `StepInfo`, by name, in pipeline order."""
        return {n: StepInfo.from_record(n, s) for n, s in self.record.get("steps", {}).items()}

    @property
    def params(self) -> dict[str, Any]:
        """The parameters the run was given (`-p NAME VALUE`, `params=`)."""
        return dict(self.record.get("params") or {})

    @property
    def metrics(self) -> dict[str, dict[str, float]]:
        """Each step's metrics, by step name (steps with none left out)."""
        return {n: dict(s["metrics"]) for n, s in self.record.get("steps", {}).items()
                if s.get("metrics")}

    @property
    def lineage(self) -> dict[str, Any]:
        """What each step was made from: `{"run_id", "git": {"commit", "dirty"} | None,
        "params" (every parameter's value), "steps": {STEP: {"status", "cache_key", "reused", "code", "setup", "params",
        "files": [{"path", "size", "sha256"}], "modules", "packages", "python", "kernel",
        "upstream": {VAR: {"step", "artifact"}}, "metrics"}}}` (experiments/lineage.py)."""
        from ..cache.store import Store
        from ..experiments.lineage import from_record

        return from_record(Store(self._store), self.record)

    def __getitem__(self, step: str) -> StepOutputs:
        """The outputs of `step`; `NotFound` for a step the run does not have."""
        steps = self.steps
        if step not in steps:
            known = ", ".join(steps) or "(none)"
            raise NotFound(f"run {self._id} has no step '{step}'; its steps: {known}")
        return StepOutputs(self, steps[step])

    def wait(self, timeout: float | None = None, *, raise_on_failure: bool = False,
             poll_s: float = 0.2) -> Run:  # fmt: skip
        """Block until the run has finished (`TimeoutError` after `timeout` seconds); this run.

        With `raise_on_failure`, a run that did not succeed raises `StepFailed`
        naming its first failed step and that step's error.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.status.finished:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"run {self._id} still {self.status} after {timeout} s")
            time.sleep(poll_s)
        if raise_on_failure and self.status is not RunStatus.SUCCEEDED:
            raise StepFailed(self._failure())
        return self

    @property
    def retry_of(self) -> str | None:
        """The id of the run this one retries (`Run.retry`, `mlpipe retry`), else None."""
        return self.record.get("retry_of")

    def retry(self, *, submit: bool = False, on_event: Any = None) -> Run:
        """A new run of this run's notebook snapshot and parameters; the new `Run`.

        The steps that succeeded are reused from the cache, the failed, cancelled
        and not-started ones run; its record names this run (`retry_of`). Runs to the
        end in this process, or with `submit=True` in a child process (returns at once).
        `Conflict` while this run is still running.
        """
        from .. import service
        from ..stores import records_root

        request = service.retry_request(self._records, self._id)
        folder = records_root(request.store, request.notebook)
        if submit:
            return Run(service.start(request), request.store, records=folder)
        record = service.execute(request, on_event)
        return Run(record["run_id"], request.store, record, records=folder)

    def pin(self, note: str = "") -> None:
        """Keep this run's results whatever the retention policy (`mlpipe runs pin`)."""
        from ..housekeeping import pin_run

        pin_run(self.store, self.id, note)

    def unpin(self) -> bool:
        """Let the retention policy apply to this run again; False when it was not pinned."""
        from ..housekeeping import unpin_run

        return unpin_run(self.store, self.id)

    def cancel(self) -> None:
        """Ask the run to stop; `Conflict` when it has already finished."""
        from .. import service

        if self.status.finished or not service.cancel(self._records, self._id):
            raise Conflict(f"run {self._id} already {self.status}; nothing to cancel")

    def _failure(self) -> str:
        for step in self.steps.values():
            if step.status is StepStatus.FAILED:
                where = f"; its notebook: {step.notebook}" if step.notebook else ""
                return f"run {self._id}: step '{step.name}' failed: {step.error}{where}"
        error = self.record.get("error")
        return f"run {self._id} {self.status}" + (f": {error}" if error else "")

    def __repr__(self) -> str:
        status = self._record.get("status") if self._record else "?"
        return f"<Run {self._id} {status} in {self._store}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and (other.id, other.store) == (self._id, self._store)

    def __hash__(self) -> int:
        return hash((self._id, self._store))


class StepOutputs(Mapping[str, Any]):
    """The outputs of one step of a run: `outputs["model"]` loads the value from the store.

    A step saves the names a later step reads, plus those given with `--outputs`.
    Reading from a step that failed or was skipped raises `StepFailed`; from a
    step still to finish, `Conflict`.
    """

    def __init__(self, run: Run, step: StepInfo) -> None:
        self._run = run
        self._step = step
        self._refs: dict[str, dict[str, Any]] | None = None

    @property
    def step(self) -> StepInfo:
        """The step these are the outputs of."""
        return self._step

    def refs(self) -> dict[str, dict[str, Any]]:
        """The artifact reference (key, format, size, type) of each output, by name."""
        if self._refs is None:
            self._refs = self._find_refs()
        return self._refs

    def __getitem__(self, var: str) -> Any:
        from ..cache.store import ArtifactRef, Store

        refs = self.refs()
        if var not in refs:
            known = ", ".join(refs) or "(none)"
            raise NotFound(
                f"step '{self._step.name}' of run {self._run.id} has no output '{var}';"
                f" its outputs: {known} (a step saves the names later steps read, plus"
                " --outputs NAME)"
            )
        store = Store(self._run.store)
        try:
            return store.get(ArtifactRef.from_json(refs[var]))
        except NotFound:
            raise
        except MlpipeError:
            from ..cache.gc import pruned_message

            said = pruned_message(store, self._step.cache_key, self._run.id, self._step.name)
            if said:
                raise NotFound(said) from None
            raise

    def __iter__(self) -> Iterator[str]:
        return iter(self.refs())

    def __len__(self) -> int:
        return len(self.refs())

    def _find_refs(self) -> dict[str, dict[str, Any]]:
        from ..cache.store import Store

        step, run = self._step, self._run
        if step.status in (StepStatus.FAILED, StepStatus.SKIPPED):
            why = step.error or step.reason or step.status.value
            raise StepFailed(f"step '{step.name}' of run {run.id} {step.status}: {why}")
        if not step.status.ok:
            raise Conflict(
                f"step '{step.name}' of run {run.id} is {step.status}; wait for the run"
                " (run.wait()) before reading its outputs"
            )
        store = Store(run.store)
        result = store.runs_dir / run.id / f"{step.name}.result.json"
        data = None
        if step.status is StepStatus.SUCCEEDED:
            try:
                data = json.loads(store.read_bytes(result).decode("utf-8"))
            except (OSError, ValueError):
                data = None
        if isinstance(data, dict):
            if isinstance(data.get("outputs"), dict) and isinstance(data.get("report"), dict):
                data = data["outputs"]  # {"outputs": {var: ref}, "report": ...}; else {var: ref}
            return {k: v for k, v in data.items() if isinstance(v, dict) and "key" in v}
        return self._from_cache_entry()

    def _from_cache_entry(self) -> dict[str, dict[str, Any]]:
        from ..cache.store import Store

        step, run = self._step, self._run
        store = Store(run.store)
        entry = store.lookup(step.cache_key) if step.cache_key else None
        if entry is None:
            from ..cache.gc import pruned_message

            said = pruned_message(store, step.cache_key, run.id, step.name)
            if said:
                raise NotFound(said)
            raise NotFound(
                f"the outputs of step '{step.name}' of run {run.id} are no longer in the"
                f" store {run.store} (pruned); run the pipeline again"
            )
        return {var: ref.to_json() for var, ref in entry.outputs.items()}
