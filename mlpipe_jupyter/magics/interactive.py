"""The interactive cache: a `%%step` cell reuses a stored result when it can.

It applies when a store is available (`MLPIPE_STORE`, or an existing `.mlpipe`
folder beside the kernel's notebook) and the step has no `--no-cache`. The key
is the pipeline's Merkle key (`cache.keys`): the step's normalized code, the
setup code, the kernel's values of the parameters it reads, and the artifact
keys of its inputs' current values, which are stored (content-addressed) to be
hashed. So a pipeline run reuses an interactive result, and the reverse, exactly
where the inputs are identical.

On a hit the step's stored names are loaded into the namespace and its displayed
outputs shown again, after one line saying so; on a miss the cell runs and its
outputs (plus, best effort, the other names it binds, so that a later hit gives
them back too) and displays are committed as a `CacheEntry(origin="interactive")`.
Anything that keeps a step from being keyed (an undefined input, an unsavable
value, an analysis error) just runs the cell, as without a store.
"""

from __future__ import annotations

import os
import time
from types import ModuleType
from dataclasses import dataclass, replace
from typing import Any

from .cellrun import run_body
from .locate import notebook_path, session_cells
from .recording import recording, replay, result_output
from .session import RecordedStep, Session


_UNBOUND = object()


@dataclass(frozen=True)
class CachePlan:
    """A step that can be looked up: where, under which key, and what it outputs."""

    store: Any  # cache.store.Store
    key: str
    ingredients: Any  # cache.keys.KeyIngredients
    outputs: tuple[str, ...]  # what later steps read: an entry needs them all
    extras: tuple[str, ...]  # the step's other names, kept when they can be saved


def _files_changed(entry: Any, store: Any) -> bool:
    from pathlib import Path

    from ..cache.files import entry_changed

    return entry_changed(entry, Path.cwd(), store.cache_dir) is not None


def cached_run(shell: Any, session: Session, step: RecordedStep) -> tuple[Any, str]:
    """Run or restore `step`; return (the value to show as Out, "succeeded" | "cached")."""
    __tracebackhide__ = True  # noqa: F841
    try:
        plan = plan_step(shell, session, step)
        entry = plan.store.lookup(plan.key) if plan else None
        if entry is not None and _files_changed(entry, plan.store):
            entry = None  # a file it read changed since: run it (issue 8)
        if plan and entry and _restore(shell, plan, entry, step.name):
            return None, "cached"
    except Exception as exc:  # the cache must never stop a cell: run it without
        _warn(step.name, "runs without the cache", exc)
        plan = None
    if plan is None:
        return run_body(shell, step.source), "succeeded"
    started = time.time()
    with recording(shell) as displays:
        value = run_body(shell, step.source)
    shown = result_output(shell, value)
    try:
        _save(shell, plan, step.name, displays + ([shown] if shown else []),
              time.time() - started)
    except Exception as exc:
        _warn(step.name, "ran but was not cached", exc)
    return value, "succeeded"


def _warn(name: str, what: str, exc: Exception) -> None:
    print(f"mlpipe: step '{name}' {what} ({type(exc).__name__}: {exc})")


def open_store(shell: Any) -> Any:
    """`$MLPIPE_STORE`, else an existing `.mlpipe` beside the notebook, else None."""
    from ..cache.store import STORE_ENV, Store

    if os.environ.get(STORE_ENV):
        return Store.open(os.environ[STORE_ENV])
    path = notebook_path(shell)
    if path is not None and Store.default_root(path).is_dir():
        return Store.open(Store.default_root(path))
    return None


def plan_step(shell: Any, session: Session, step: RecordedStep) -> CachePlan | None:
    """The step's key from the live notebook and the kernel's values, or None."""
    if not step.options.cache:
        return None
    store = open_store(shell)
    if store is None:
        return None
    from ..analysis import analyze
    from ..cache.keys import key_ingredients, step_params
    from ..cache.store import UnsavableValue

    pipeline = analyze(live_cells(shell, session, step))
    if any(error.step in (step.name, None) for error in pipeline.errors):
        return None
    analysed = pipeline.step(step.name)
    names = shell.user_ns
    params = {n: names[n] for n in step_params(analysed, pipeline) if n in names}
    if any(var not in names for var in analysed.reads):
        return None  # the cell will raise its NameError itself
    try:
        input_keys = {var: store.put(var, names[var]).key for var in analysed.reads}
        ingredients = key_ingredients(analysed, pipeline, params, input_keys)
    except (UnsavableValue, ValueError):
        return None
    extras = tuple(name for name in analysed.binds if name not in analysed.outputs)
    return CachePlan(store, ingredients.key(), ingredients, analysed.outputs, extras)


def live_cells(shell: Any, session: Session, step: RecordedStep) -> list[Any]:
    """The kernel's notebook (or session) with this step's cell as it runs now."""
    from ..analysis import Cell, cells_from_json, read_cells

    path = notebook_path(shell)
    if path is None:
        return cells_from_json(session_cells(shell, session))
    live = f"%%step {step.line}\n{step.source}"
    cells = read_cells(path)
    for i, cell in enumerate(cells):
        if cell.kind == "code" and _step_name(cell.source) == step.name:
            cells[i] = replace(cell, source=live)
            return cells
    return [*cells, Cell(index=len(cells), kind="code", source=live)]


def _step_name(source: str) -> str | None:
    from ..analysis import StepLineError, parse_step_line

    first = source.lstrip().split("\n", 1)[0]
    if not first.startswith("%%step"):
        return None
    try:
        return parse_step_line(first[len("%%step"):])[0]
    except StepLineError:
        return None


def _restore(shell: Any, plan: CachePlan, entry: Any, name: str) -> bool:
    from ..cache.store import CorruptArtifact

    try:
        values = {var: plan.store.get(ref) for var, ref in entry.outputs.items()}
    except CorruptArtifact:
        return False
    shell.user_ns.update(values)
    print(
        f"mlpipe: step '{name}' restored from cache (key {plan.key[:12]}…);"
        f" use %%step {name} --no-cache to re-run"
    )
    replay(entry.displays)
    return True


def _save(shell: Any, plan: CachePlan, name: str, displays: list[dict[str, Any]],
          duration_s: float) -> None:
    from ..cache.store import CacheEntry, UnsavableValue

    missing = [var for var in plan.outputs if var not in shell.user_ns]
    if missing:
        print(f"mlpipe: step '{name}' not cached: it did not bind {', '.join(missing)}")
        return
    try:
        refs = {var: plan.store.put(var, shell.user_ns[var]) for var in plan.outputs}
    except UnsavableValue as exc:
        print(f"mlpipe: step '{name}' not cached: {exc}")
        return
    for var in plan.extras:  # so that a hit gives back what the cell would have bound
        value = shell.user_ns.get(var, _UNBOUND)
        if value is _UNBOUND or isinstance(value, ModuleType):
            continue
        try:
            refs[var] = plan.store.put(var, value)
        except UnsavableValue:
            continue
    plan.store.commit(CacheEntry(
        step_key=plan.key, step=name, outputs=refs, displays=displays,
        duration_s=duration_s, origin="interactive", ingredients=plan.ingredients,
    ))
