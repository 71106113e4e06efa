"""Experiment tracking: step metrics, the MLflow run tree, lineage, runs compared.

- `metrics.py`: `log_metric` / `log_metrics` (a step's kernel or the live kernel) and the
  checks of a metric's value; what the step runtime reports as `StepReport.metrics`.
- `hooks.py`: `RunTracker`, the orchestrator's side (one per run, `RunContext.tracker`):
  the metrics kept with each cache entry and run record, the lineage file, the MLflow tree.
- `mlflow_tree.py`: the parent run per pipeline run and one child per step (MLflow client).
- `lineage.py`: what each step of a run was made from; `git_state`.
- `compare.py`: runs side by side (rows with MLflow's column names) and explained (`diff`).

Nothing here is imported by `import mlpipe_jupyter`; MLflow only when a tracking URI is set.
"""
