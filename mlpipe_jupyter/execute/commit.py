"""What the coordinator does around a step attempt: build its job, commit its result.

Kept apart from the Dask adapter (`coordinator.py`): compiling the step
notebook into a `StepJob`, writing the cache entry once a step has fully
succeeded, and keeping the accepted result, are plain functions of the run's
context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlpipe_jupyter.cache.store import ArtifactRef, CacheEntry
from mlpipe_jupyter.stores import project_id

from .engine import StepJob

if TYPE_CHECKING:
    from .engine import StepResult
    from .planner import Decision
    from .runner import RunContext


def step_job(
    ctx: RunContext,
    name: str,
    attempt: int,
    inputs: dict[str, ArtifactRef],
    outputs: tuple[str, ...],
) -> StepJob:
    """The job that runs attempt `attempt` of step `name` with these inputs and outputs."""
    from mlpipe_jupyter.compile.stepnb import compile_step

    step = ctx.pipeline.step(name)
    notebook_path = ctx.store.run_notebook_path(ctx.run_id, name)
    if attempt > 1:
        notebook_path = notebook_path.with_name(f"{name}.attempt{attempt}.ipynb")
    # Each attempt its own result file: an attempt cancelled but still running on its worker
    # (a re-run superseded it) never overwrites the next one's. `keep_result` writes the
    # accepted one to `<step>.result.json`.
    result_path = notebook_path.with_name(f"{name}.attempt{attempt}.result.json")
    store = ctx.store
    mlpipe = {
        "store": store.url,
        "inputs": {var: ref.to_json() for var, ref in inputs.items()},
        "outputs": list(outputs),
        "result": store.url_of(result_path),
        "step": name,
    }
    if getattr(ctx, "tracker", None) is not None:  # --metrics names, its MLflow child run
        mlpipe.update(ctx.tracker.job_config(step, None))
    from mlpipe_jupyter.cache.ambient import job_environ  # the key's env vars (issue 20)

    mlpipe.update(job_environ(step, ctx.pipeline))
    parameters = {p: ctx.params[p] for p in step.params if p in ctx.params}
    return StepJob(
        run_id=ctx.run_id, step=name, notebook=compile_step(ctx.pipeline, name),
        parameters={**parameters, "_mlpipe": mlpipe}, notebook_path=store.url_of(notebook_path),
        result_path=store.url_of(result_path), cwd=str(ctx.notebook.resolve().parent),
        timeout=step.options.timeout, attempt=attempt, **_remote_fields(ctx, step, inputs),
        cancel_check=(store.url if store.remote else str(store.records_root), ctx.run_id),
        kernel_name=step.options.kernel, resources=step.options.resources(),
    )


def _remote_fields(ctx: RunContext, step: Any, inputs: dict[str, ArtifactRef]) -> dict[str, Any]:
    """A store on object storage: the project files the worker lays out (execute/remote.py)."""
    if not ctx.store.remote:
        return {}
    from . import remote

    base = ctx.notebook.resolve().parent
    return {
        "store_url": ctx.store.url, "project": remote.project_id(base),
        "files": remote.project_files(ctx.store, ctx.pipeline, step, base, inputs),
    }


def commit_result(ctx: RunContext, decision: Decision, result: StepResult) -> None:
    """Write the step's cache entry, only now that it has fully succeeded.

    Raises when an output artifact is missing or damaged (`CorruptArtifact`).
    """
    metrics = (ctx.tracker.result_metrics(result) if getattr(ctx, "tracker", None) is not None
               else dict(result.report.metrics))  # kept with the entry: reused when cached
    if decision.key is None:
        return
    entry = CacheEntry(
        step_key=decision.key, step=result.step, outputs=dict(result.outputs),
        displays=list(result.displays), duration_s=result.duration_s, origin="pipeline",
        ingredients=decision.ingredients,
        files_read=result.report.files_read, dirs_listed=result.report.dirs_listed,
        files_written=result.report.files_written, written_keys=dict(result.report.written_keys),
        metrics=metrics,
        paths_absent=result.report.paths_absent, opaque=result.report.opaque,
        identity=dict(getattr(result.report, "identity", None) or {}),
        project=project_id(ctx.notebook),
    )
    ctx.store.commit(entry)


def keep_result(ctx: RunContext, result: StepResult) -> None:
    """Write the accepted attempt's result as `<step>.result.json` (what the SDK reads)."""
    path = ctx.store.run_notebook_path(ctx.run_id, result.step).with_suffix(".result.json")
    outputs = {var: ref.to_json() for var, ref in result.outputs.items()}
    ctx.store.write_json(path, {"outputs": outputs, "report": result.report.to_json()})
