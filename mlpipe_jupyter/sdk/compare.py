"""`mlp.compare(runs)`: runs side by side as a pandas DataFrame (MLflow's column names)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..stores import PathLike


def compare(runs: Iterable[Any], store: PathLike | None = None) -> Any:
    """One row per run (`Run`s, or run ids of `store`): `run_id`, `status`, `start_time`,
    `end_time` (UTC), `params.NAME`, `metrics.STEP.NAME`, as `mlflow.search_runs` names
    them. `NotFound` for a run id the store does not have."""
    from ..experiments.compare import frame, with_lineage
    from .registry import get_run

    found = [get_run(run, store) if isinstance(run, str) else run for run in runs]
    records = [with_lineage(run.record, run.lineage) for run in found]
    return frame(records)
