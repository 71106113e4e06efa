"""`RunTracker`: the orchestrator's side of tracking, one per run (`RunContext.tracker`).

The runner calls it at four points: every step state it records (`on_step`), each
step job it builds (`job_config`: the `--metrics` names and the MLflow child run for the
step's `_mlpipe` config), each result it commits (`result_metrics`: the metrics kept
with the cache entry), and the end of the run (`finish`: `lineage.json`, the parent's
status). MLflow is imported only when a tracking URI is set; an MLflow store that fails
is one warning and the run goes on untracked.
"""

from __future__ import annotations

from typing import Any, Callable

from ..status import StepStatus
from . import lineage


class RunTracker:
    def __init__(self, ctx: Any, tracking_uri: str | None) -> None:
        self.ctx = ctx
        self.keys: dict[str, str] = {}  # step -> the cache key of its decision
        self.metrics: dict[str, dict[str, float]] = {}
        self.lineage: dict[str, dict[str, Any]] = {}
        self.git = lineage.git_state(ctx.notebook.resolve().parent)
        self.tree: Any = None
        uri = None
        if tracking_uri or _env_uri():
            from .mlflow_tree import resolve_uri

            uri = resolve_uri(tracking_uri, ctx.notebook.resolve().parent)
        if uri:
            self._guard("start the MLflow run", lambda: self._start_tree(uri))

    def _start_tree(self, uri: str) -> None:
        from .mlflow_tree import MlflowTree, experiment_name

        self.tree = MlflowTree(uri, experiment_name(self.ctx.notebook), self.ctx.run_id,
                               self.ctx.params, self.git)

    def _guard(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - tracking never stops a run
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            uri = self.tree.uri if self.tree is not None else "the tracking URI"
            self.ctx.emit({"event": "warning", "run_id": self.ctx.run_id, "message": (
                f"MLflow at {uri}: cannot {what} ({type(exc).__name__}: {first[:200]});"
                " the run goes on without MLflow tracking")})
            self.tree = None
            return None

    # -- the runner's calls ---------------------------------------------------

    def on_step(self, step: str, status: StepStatus, fields: dict[str, Any]) -> dict[str, Any]:
        """A step state the runner records; `fields` with the step's metrics added."""
        if fields.get("cache_key"):
            self.keys[step] = fields["cache_key"]
        key = self.keys.get(step)
        if status is StepStatus.CACHED:
            entry = self.ctx.store.lookup(key) if key else None
            metrics = dict(entry.metrics) if entry is not None else {}
            self.metrics[step] = metrics
            self.lineage[step] = lineage.step_lineage(
                entry, status=status.value, cache_key=key, reused=True)
            if self.tree is not None:
                self._guard("record the cached step", lambda: self.tree.cached(step, key, metrics))
            return {**fields, "metrics": metrics}
        if status is StepStatus.SUCCEEDED:
            metrics = self.metrics.get(step, {})
            entry = self.ctx.store.lookup(key) if key else None
            self.lineage[step] = lineage.step_lineage(entry, status=status.value, cache_key=key)
            if self.tree is not None:
                def end() -> None:
                    self.tree.ended(step, True, key)
                    self.tree.roll_up(step, metrics)
                self._guard("end the step's run", end)
            return {**fields, "metrics": metrics}
        if status in (StepStatus.FAILED, StepStatus.SKIPPED):
            self.lineage[step] = lineage.step_lineage(None, status=status.value, cache_key=key)
            if status is StepStatus.FAILED and self.tree is not None:
                self._guard("end the step's run", lambda: self.tree.ended(step, False, key))
        return fields

    def job_config(self, step: Any, decision_key: str | None) -> dict[str, Any]:
        """What the step's `_mlpipe` config gets: `metrics` (--metrics names) and `mlflow`
        (the tracking URI and the step's child run id, created now, before it starts)."""
        config: dict[str, Any] = {}
        if step.options.metrics:
            config["metrics"] = list(step.options.metrics)
        if self.tree is not None:
            key = decision_key or self.keys.get(step.name)
            child = self._guard("create the step's run", lambda: self.tree.child(step.name, key))
            if child:
                config["mlflow"] = {"tracking_uri": self.tree.uri, "run_id": child}
        return config

    def result_metrics(self, result: Any) -> dict[str, float]:
        """A succeeded step's metrics: what it reported, plus what it logged to its MLflow
        child run (`mlflow.log_*`, `autolog()`); kept with the cache entry and the record."""
        metrics = dict(result.report.metrics)
        if self.tree is not None:
            logged = self._guard("read the step's metrics",
                                 lambda: self.tree.metrics(result.step)) or {}
            missing = {k: v for k, v in metrics.items() if k not in logged}
            if missing:
                self._guard("log the step's metrics",
                            lambda: self.tree.log(self.tree.children[result.step], missing))
            metrics = {**logged, **metrics}
        self.metrics[result.step] = metrics
        return metrics

    def finish(self, status: str) -> None:
        """The run ended: its lineage kept with the run, the MLflow parent ended."""
        try:
            path = self.ctx.store.runs_dir / self.ctx.run_id / lineage.LINEAGE_FILE
            self.ctx.store.write_json(path, {
                "run_id": self.ctx.run_id, "git": self.git,
                "params": dict(self.ctx.params),  # every parameter's value, defaults too
                "steps": {name: self.lineage.get(name, {"status": "skipped"})
                          for name in self.ctx.pipeline.order},
            })
        except Exception as exc:  # noqa: BLE001 - a run's result stands without its lineage
            self.ctx.emit({"event": "warning", "message": f"cannot write the lineage: {exc}"})
        if self.tree is not None:
            self._guard("end the run", lambda: self.tree.finish(status))


def _env_uri() -> str | None:
    import os

    return os.environ.get("MLFLOW_TRACKING_URI") or None
