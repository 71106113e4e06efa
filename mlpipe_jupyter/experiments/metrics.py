"""A step's metrics: `mlp.log_metric(name, value, step=None)`, `mlp.log_metrics({...})`.

Called in a step's kernel (the step runtime reports them in `StepReport.metrics`, the
orchestrator keeps them with the step's cache entry and run record), or in the live
kernel (kept in `logged()`). When MLflow has an active run in this kernel (the step's
child run, which the runtime starts when the run tracks to MLflow, or one the user
started in the live kernel) each metric is logged to it too.

A metric is a finite real number (a Python or NumPy scalar, a 0-d array); anything else
is one `BadMetric` line naming the step and the metric. Kept light: no imports beyond
the standard library.
"""

from __future__ import annotations

import math
import os
import re
import sys
from typing import Any

from ..errors import BadInput

#: MLflow's rule for metric names (letters, digits, _ - . space /), at most 250 characters
_NAME = re.compile(r"^[\w\-. /]{1,250}$")

_logged: dict[str, float] = {}  # this kernel's metrics (since the step began)
_step: str | None = None  # the step this kernel runs (None: the live kernel)


class BadMetric(BadInput):
    """A metric that is not a finite number, or a name MLflow cannot take."""


def where() -> str:
    return f"step '{_step}'" if _step else "the live kernel"


def check(name: Any, value: Any, step: str | None = None) -> float:
    """`value` as a float; `BadMetric` (one line naming the step and metric) if it is not
    a finite real number or `name` is not a metric name."""
    here = f"step '{step}'" if step else where()
    if not isinstance(name, str) or not _NAME.match(name):
        raise BadMetric(
            f"{here}: metric name {name!r} is not valid; use letters, digits, _ - . / or"
            " spaces (at most 250)"
        )
    number = _scalar(value)
    if number is None:
        kind = type(value).__name__
        shape = getattr(value, "shape", None)
        shown = f"a {kind}" + (f" of shape {tuple(shape)}" if shape else "")
        raise BadMetric(
            f"{here}: metric '{name}' is {shown}, not a number; log one number"
            " (e.g. float(x.mean()))"
        )
    if math.isnan(number) or math.isinf(number):
        raise BadMetric(
            f"{here}: metric '{name}' is {number}, not a finite number; check how it is"
            " computed"
        )
    return number


def _scalar(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if type(value).__module__.split(".")[0] in ("numpy", "torch", "jax", "jaxlib"):
        try:
            if getattr(value, "ndim", 0) == 0 and getattr(value, "dtype", None) is not None:
                kind = str(value.dtype)
                if any(k in kind for k in ("int", "float", "bool")) and "complex" not in kind:
                    return float(value.item())
        except (TypeError, ValueError, AttributeError):
            return None
    return None


def log_metric(name: str, value: Any, step: int | None = None) -> float:
    """Record metric `name` = `value` for this step (the last value counts); the value.

    `step` is MLflow's step index (a training epoch), passed on to MLflow when it
    tracks this kernel. A value that is not a finite number raises `BadMetric`.
    """
    number = check(name, value)
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise BadMetric(f"{where()}: metric '{name}': step={step!r} must be a whole number")
    _logged[name] = number
    mlflow = sys.modules.get("mlflow")
    if mlflow is not None and mlflow.active_run() is not None:
        mlflow.log_metric(name, number, step=step)
    return number


def log_metrics(metrics: dict[str, Any], step: int | None = None) -> dict[str, float]:
    """`log_metric` for each item of `metrics`; all are checked before any is recorded."""
    if not isinstance(metrics, dict):
        raise BadMetric(f"{where()}: log_metrics takes a dict of name -> number,"
                        f" got a {type(metrics).__name__}")
    checked = {name: check(name, value) for name, value in metrics.items()}
    return {name: log_metric(name, number, step=step) for name, number in checked.items()}


def logged() -> dict[str, float]:
    """The metrics recorded in this kernel so far (this step's, in a step's kernel)."""
    return dict(_logged)


def begin(step: str | None) -> None:
    """A step starts in this kernel: its metrics start empty (the step runtime calls it)."""
    global _step
    _step = step
    _logged.clear()


def from_variables(names: list[str], namespace: dict[str, Any], step: str) -> dict[str, float]:
    """`%%step --metrics auc f1`: the final values of those variables, logged as metrics."""
    found: dict[str, float] = {}
    for name in names:
        if name not in namespace:
            raise BadMetric(
                f"step '{step}': --metrics {name}: the step did not bind {name}; assign it"
                " in the step or drop it from --metrics"
            )
        found[name] = check(name, namespace[name], step)
    for name, number in found.items():
        log_metric(name, number)
    return found


def start_mlflow(spec: dict[str, Any] | None) -> tuple[str, ...]:
    """Make the step's MLflow child run (created by the orchestrator) this kernel's active
    run, so `mlflow.log_*` and `autolog()` land in it. The orchestrator, not this kernel,
    ends it with the step's real outcome: MLflow's exit hook is taken off.

    The paths MLflow itself writes and reads here (a SQLite tracking file, the run's local
    artifact folder) are returned: they are no data of the step (`runtime.begin` keeps
    them out of its file tracking), nor are git's files read when MLflow asks for a commit.
    """
    if not spec:
        return ()
    import atexit

    try:
        import mlflow
    except ImportError:  # a --kernel environment without MLflow: the step runs untracked
        print(f"mlpipe: step '{_step}': mlflow is not installed in this kernel's environment;"
              " its MLflow calls are not tracked", file=sys.stderr)
        return ()
    os.environ.pop("MLFLOW_RUN_ID", None)  # the run is the child given here, nothing else
    mlflow.set_tracking_uri(spec["tracking_uri"])
    run = mlflow.start_run(run_id=spec["run_id"])
    try:
        from mlflow.tracking import fluent

        atexit.unregister(fluent._safe_end_run)
    except (ImportError, AttributeError):  # another MLflow version: the orchestrator's end wins
        pass
    _untracked_git()
    try:  # MLflow's context tags (git commit of the kernel's main file...) resolved now,
        from mlflow.tracking.context.registry import resolve_tags  # before file tracking

        resolve_tags()  # starts: its providers keep them, so autolog reads no git files later
    except Exception:  # noqa: BLE001 - another MLflow version: only the tracking's noise
        pass
    paths = tuple(p for p in (_local(spec["tracking_uri"]), _local(run.info.artifact_uri)) if p)
    for path in paths:  # the folders above them, made or synced as MLflow writes
        parent = os.path.dirname(path)
        while parent and parent not in _own_folders and parent != os.path.dirname(parent):
            _own_folders.add(parent)
            parent = os.path.dirname(parent)
    return paths


_own_folders: set[str] = set()  # folders above MLflow's own files (SQLite syncs them,
# the artifact folder is made while the step runs)


def drop_own_reads(tracker: Any) -> None:
    """Forget the step's "reads" of the folders above MLflow's SQLite file and artifacts:
    SQLite opens its folder to sync it as it writes (seen by the file watcher) and the
    artifact folder is made as the step logs one; neither is the step reading data."""
    if tracker is None:
        return
    for folder in _own_folders:
        for table in (tracker.reads, tracker.first, tracker.listed, tracker.absent):
            table.pop(folder, None)


def _local(uri: str | None) -> str | None:
    """The local path of a `sqlite:///`, `file://` or plain-path URI (else None)."""
    if not uri:
        return None
    from urllib.parse import unquote, urlparse

    if uri.startswith("sqlite:///"):
        return os.path.abspath(uri[len("sqlite:///"):].split("?")[0])
    if uri.startswith("file:"):
        return os.path.abspath(unquote(urlparse(uri).path))
    return os.path.abspath(uri) if "://" not in uri else None


def _untracked_git() -> None:
    """GitPython's repository lookups (MLflow's source-commit tags) read `HEAD` files up
    the folder tree: not the step's data, so they run with file tracking paused."""
    try:
        import git
    except ImportError:
        return
    init = git.Repo.__init__
    if getattr(init, "_mlpipe_paused", False):
        return

    def paused(*args: Any, **kwargs: Any) -> None:
        from mlpipe_jupyter.compile import tracking

        tracker = tracking.stop()
        try:
            init(*args, **kwargs)
        finally:
            if tracker is not None:
                tracking.resume(tracker)

    paused._mlpipe_paused = True  # type: ignore[attr-defined]
    git.Repo.__init__ = paused  # type: ignore[method-assign]


__all__ = ["BadMetric", "check", "log_metric", "log_metrics", "logged"]
