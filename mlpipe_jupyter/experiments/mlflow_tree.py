"""The MLflow run tree of one pipeline run, owned by the orchestrator.

One parent run per pipeline run (experiment: the notebook's name, or the published
pipeline's; params: the pipeline's parameters; tags: the run id, the git commit), and
one child per step, created before the step starts (tags `mlflow.parentRunId`, the
step's name, its cache key; the pipeline's parameters copied). The step's kernel makes
the child its active run (`metrics.start_mlflow`, given the child's id in the step's
`_mlpipe` config, never as `MLFLOW_RUN_ID`); this class sets the child's status from
the step's real outcome. A cached step gets a child tagged `mlpipe.cached=true` with
the reused metrics copied. Step metrics roll up to the parent as `<step>.<metric>`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

MLFLOW_STATUS = {"succeeded": "FINISHED", "failed": "FAILED", "cancelled": "KILLED"}


def resolve_uri(uri: str | None, cwd: str | os.PathLike[str] | None = None) -> str | None:
    """The tracking URI a run uses (`uri`, else `$MLFLOW_TRACKING_URI`), a SQLite file or a
    plain folder made absolute against `cwd` (a run's processes start in other folders)."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or None
    if not uri:
        return None
    base = Path(cwd) if cwd is not None else Path.cwd()
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):]
        if not path.startswith("/"):
            return "sqlite:///" + str((base / path).resolve())
        return uri
    if "://" not in uri and not uri.startswith(("databricks", "file:")):
        return str((base / uri).resolve())  # a folder (MLflow's file store)
    return uri


def experiment_name(notebook: Path) -> str:
    """The notebook's name, or the published pipeline's (`pipelines/NAME/vN/notebook.ipynb`)."""
    parts = notebook.parts
    if len(parts) >= 4 and parts[-4] == "pipelines" and parts[-2][:1] == "v" \
            and parts[-2][1:].isdigit():
        return parts[-3]
    return notebook.stem


def _param(value: Any) -> str:
    import json

    if isinstance(value, (str, bool, int, float)) or value is None:
        text = str(value)  # as mlflow.log_param writes it (True, 0.1, None)
    else:
        text = json.dumps(value, default=repr)
    return text[:6000]  # MLflow's limit on a param value


class MlflowTree:
    """The parent and child runs of one pipeline run in the tracking store at `uri`."""

    def __init__(self, uri: str, experiment: str, run_id: str, params: dict[str, Any],
                 git: dict[str, Any] | None) -> None:
        from mlflow.entities import Param, RunTag
        from mlflow.tracking import MlflowClient

        # MLflow prints "View run ... at" on stdout when a run of a tracking server ends:
        # stdout is the run record (`mlpipe run --json`), the progress view's
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        self.run_id = run_id
        self.params = [Param(k, _param(v)) for k, v in sorted(params.items())]
        self._tag = RunTag
        self.experiment_id = self._experiment(experiment)
        tags = {"mlpipe.run_id": run_id, "mlflow.runName": run_id}
        if git:
            tags["mlflow.source.git.commit"] = git["commit"]
            tags["mlpipe.git.dirty"] = str(git["dirty"]).lower()
        self.parent = self.client.create_run(self.experiment_id, tags=tags).info.run_id
        if self.params:
            self.client.log_batch(self.parent, params=self.params)
        self.children: dict[str, str] = {}

    def _experiment(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        artifacts = None
        if self.uri.startswith("sqlite:///"):  # beside the database, not where mlpipe runs
            folder = Path(self.uri[len("sqlite:///"):].split("?")[0]).parent
            artifacts = (folder / "mlartifacts" / name).as_uri()
        try:
            return self.client.create_experiment(name, artifact_location=artifacts)
        except Exception:  # noqa: BLE001 - another run created it at the same moment
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def child(self, step: str, cache_key: str | None, cached: bool = False) -> str:
        """The child run of `step` (created once); its id."""
        if step in self.children:
            return self.children[step]
        tags = {
            "mlflow.parentRunId": self.parent, "mlflow.runName": step, "mlpipe.step": step,
            "mlpipe.run_id": self.run_id, "mlpipe.cache_key": cache_key or "",
            "mlpipe.cached": str(cached).lower(),
        }
        child = self.client.create_run(self.experiment_id, tags=tags).info.run_id
        if self.params:
            self.client.log_batch(child, params=self.params)
        self.children[step] = child
        return child

    def metrics(self, step: str) -> dict[str, float]:
        """The child's metrics as MLflow holds them (the last value of each)."""
        if step not in self.children:
            return {}
        return dict(self.client.get_run(self.children[step]).data.metrics)

    def log(self, run: str, metrics: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        if metrics:
            self.client.log_batch(run, metrics=[Metric(k, v, now, 0)
                                                for k, v in sorted(metrics.items())])

    def cached(self, step: str, cache_key: str | None, metrics: dict[str, float]) -> None:
        """A cached step: a finished child tagged `mlpipe.cached=true`, its metrics copied."""
        child = self.child(step, cache_key, cached=True)
        self.client.set_tag(child, "mlpipe.cached", "true")
        self.log(child, metrics)
        self.client.set_terminated(child, "FINISHED")
        self.roll_up(step, metrics)

    def ended(self, step: str, ok: bool, cache_key: str | None = None) -> None:
        """The step's real outcome: the child FINISHED or FAILED (with its cache key, which
        a step downstream of one that ran knows only once it is decided)."""
        if step not in self.children:
            return
        child = self.children[step]
        if cache_key:
            self.client.set_tag(child, "mlpipe.cache_key", cache_key)
        self.client.set_terminated(child, "FINISHED" if ok else "FAILED")

    def roll_up(self, step: str, metrics: dict[str, float]) -> None:
        self.log(self.parent, {f"{step}.{k}": v for k, v in metrics.items()})

    def finish(self, status: str) -> None:
        self.client.set_terminated(self.parent, MLFLOW_STATUS.get(status, "FAILED"))
        for child in self.children.values():  # a step the run never finished (skipped)
            run = self.client.get_run(child)
            if run.info.status == "RUNNING":
                self.client.set_terminated(child, "KILLED")
