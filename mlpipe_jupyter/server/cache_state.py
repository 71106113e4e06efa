"""Per-step cache state for the sidebar, before anything runs.

With the notebook's path known (so its store is known), each step of the DAG json gets
`"cache_state": {"state", "reason"}` beside the `cache` flag of DESIGN.md:
`cached` (a run now would reuse it), `stale` (it ran before, but something it depends
on changed; the reason says what) or `never` (no cache entry, or `--no-cache`). Read
from the cache index only (the planner's JSON path), at the notebook's default
parameters; it never creates a store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CACHED, STALE, NEVER = "cached", "stale", "never"


def preload() -> None:
    """Import what the first `POST dag` needs (analysis, the store, the planner) on a
    thread as the server starts: a notebook opened later gets its DAG and cache states
    without paying the imports (about 0.3 s of the first answer)."""
    import threading

    def load() -> None:
        try:
            from ..analysis import analyze  # noqa: F401
            from ..cache.store import Store  # noqa: F401
            from ..execute import planner  # noqa: F401
        except Exception:  # noqa: BLE001 - the request imports them itself
            pass

    threading.Thread(target=load, daemon=True, name="mlpipe-dag-preload").start()


def annotate(
    dag: dict[str, Any], pipeline: Any, store_root: Path, base: Path | None = None,
    notebook: Path | None = None,
) -> dict[str, Any]:
    """`dag` with each step's `cache_state` added (unchanged on errors).

    `base` is the notebook's folder: the files, local modules and `--inputs`
    the planner checks are found from it (the same check a run makes, so
    "stale: file data.csv changed" shows before anything runs).
    """
    if pipeline.errors or not pipeline.steps:
        return dag
    states = step_states(pipeline, store_root, base, notebook)
    steps = [{**s, "cache_state": states[s["name"]]} for s in dag["steps"]]
    return {**dag, "steps": steps}


def step_states(
    pipeline: Any, store_root: Path, base: Path | None = None, notebook: Path | None = None
) -> dict[str, dict[str, str]]:
    """Each step's state from the plan a run would make now (`planner.plan_run`, the
    function behind a run and `--dry`), at the notebook's default parameters."""
    never = {"state": NEVER, "reason": "never run: no cache entry"}
    if not (store_root / "cache").is_dir():
        return {step.name: dict(never) for step in pipeline.steps}
    from ..cache.store import Store
    from ..execute import planner

    store = Store.open(store_root)
    folder = Path(base) if base is not None else Path(store_root).resolve().parent
    notebook = Path(notebook) if notebook is not None else folder / "notebook.ipynb"
    if notebook.parent != folder:  # the files it read are found from `base`
        notebook = folder / notebook.name
    _, plan = planner.plan_run(pipeline, store, notebook, {})
    return {name: _state(store, pipeline.step(name), d) for name, d in plan.decisions.items()}


def _state(store: Any, step: Any, decision: Any) -> dict[str, str]:
    from ..execute import planner

    if not step.options.cache:
        return {"state": NEVER, "reason": "--no-cache: runs every time"}
    if decision.action == planner.CACHED:
        return {"state": CACHED, "reason": decision.reason}
    if store.latest_for_step(step.name) is None:
        return {"state": NEVER, "reason": "never run: no cache entry"}
    if decision.action == planner.PENDING:
        return {"state": STALE, "reason": f"upstream re-runs first ({decision.reason})"}
    return {"state": STALE, "reason": decision.reason}
