"""The interactive cache: a `%%step` cell reuses a stored result when it can.

It applies when a store is available (`MLPIPE_STORE`, or an existing `.mlpipe`
folder beside the kernel's notebook) and the step has no `--no-cache`. The
kernel's notebook is `__session__` under Jupyter; under papermill and `jupyter
nbconvert --execute`, which do not say, it is the notebook in the working
directory that holds this `%%step` cell (nbconvert starts the kernel there;
papermill where it is run), and failing that a `.mlpipe` folder in the working
directory is the store. The key is the pipeline's Merkle key (`cache.keys`): the
step's normalized code, the setup code, the kernel's values of the parameters it
reads, and the artifact keys of its inputs' current values, which are stored
(content-addressed) to be hashed; the global random generators' states
(`random:numpy`, rule 9) are inputs like any other. So a pipeline run reuses an
interactive result, and the reverse, exactly where the inputs are identical.

On a hit every name the step binds is loaded into the namespace (a pipeline
entry keeps them all, not only what later steps read), a generator's state is
put back, and the step's displayed outputs are shown again, after one line
saying so: as they were when the entry is signed with our key, else sanitized
like an untrusted notebook's outputs (`sanitize.py`). A restored value keeps its identity: where pickling it again gives
other bytes (a fitted model), the kernel remembers that those bytes stand for
the artifact it came from, so the next step keys as in the pipeline and hits.
On a miss the cell runs and its outputs, the other names it binds (best
effort) and its displays are committed as a `CacheEntry(origin="interactive")`.
Anything that keeps a step from being keyed (an undefined input, an unsavable
value, an analysis error) just runs the cell, as without a store.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
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

    return entry_changed(entry, Path.cwd(), store.hash_dir) is not None


def cached_run(shell: Any, session: Session, step: RecordedStep) -> tuple[Any, str]:
    """Run or restore `step`; return (the value to show as Out, "succeeded" | "cached")."""
    __tracebackhide__ = True  # noqa: F841
    try:
        plan = plan_step(shell, session, step)
        entry = plan.store.lookup(plan.key) if plan else None
        if entry is not None and _files_changed(entry, plan.store):
            entry = None  # a file it read changed since: run it (issue 8)
        if plan and entry and _restore(shell, session, plan, entry, step.name):
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


def open_store(shell: Any, step: RecordedStep | None = None) -> Any:
    """`$MLPIPE_STORE`, else an existing `.mlpipe` beside the notebook (or, when the
    notebook is unknown, in the working directory), else None."""
    from ..cache.store import Store
    from ..stores import configured_store, is_url, resolve_store

    configured = configured_store()  # the one store rule (stores.py), made absolute here
    if configured is not None:
        return Store.open(configured)
    root = resolve_store(None, kernel_notebook(shell, step))
    return Store.open(root) if is_url(root) or Path(root).is_dir() else None


_MAX_SCANNED = 64  # notebooks in the working directory looked at for this cell
_MAX_BYTES = 20 * 1024 * 1024


def kernel_notebook(shell: Any, step: RecordedStep | None) -> Path | None:
    """The kernel's notebook: `__session__` (Jupyter), else the one notebook in the
    working directory that holds this `%%step` cell (papermill, nbconvert)."""
    path = notebook_path(shell)
    if path is not None or step is None:
        return path
    from ..analysis import NotebookError, read_cells

    wanted = _body_key(step.source)
    found = []
    for candidate in sorted(Path.cwd().glob("*.ipynb"))[:_MAX_SCANNED]:
        try:
            if candidate.stat().st_size > _MAX_BYTES:
                continue
            cells = read_cells(candidate)
        except (OSError, NotebookError):
            continue
        if any(c.kind == "code" and _step_name(c.source) == step.name
               and _body_key(c.source.lstrip().partition("\n")[2]) == wanted for c in cells):
            injected = any("injected-parameters" in c.tags for c in cells)
            found.append((not injected, candidate.stat().st_mtime, candidate))
    # papermill's output notebook holds the same cells plus its injected parameters:
    # the source notebook wins, then the newest
    return max(found)[2].resolve() if found else None


def _body_key(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def plan_step(shell: Any, session: Session, step: RecordedStep) -> CachePlan | None:
    """The step's key from the live notebook and the kernel's values, or None."""
    if not step.options.cache:
        return None
    if step.options.kernel:
        # The live cell runs in this kernel, not on the step's kernelspec: its
        # result must not be cached (or served) as the other environment's.
        return None
    store = open_store(shell, step)
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
    if any(var not in names for var in analysed.reads if ":" not in var):
        return None  # the cell will raise its NameError itself
    try:
        input_keys = {var: _input_key(shell, session, store, var) for var in analysed.reads}
        ingredients = key_ingredients(analysed, pipeline, params, input_keys)
    except (UnsavableValue, ValueError, OSError):
        return None
    extras = tuple(name for name in analysed.binds if name not in analysed.outputs)
    return CachePlan(store, ingredients.key(), ingredients, analysed.outputs, extras)


def _input_key(shell: Any, session: Session, store: Any, var: str) -> str:
    """The artifact key the pipeline would give this input's current value."""
    from ..analysis.hidden import is_pseudo
    from ..compile import hidden

    if var.startswith("file:"):
        path = kernel_notebook(shell, None)
        folder = path.parent if path is not None else Path.cwd()
        return str(store.put_file(folder / var[len("file:"):]).key)
    value = hidden.state_artifact(var) if is_pseudo(var) else shell.user_ns[var]
    key = str(store.put(var, value).key)
    return session.aliases.get((var, key), key)


def live_cells(shell: Any, session: Session, step: RecordedStep) -> list[Any]:
    """The kernel's notebook (or session) with this step's cell as it runs now."""
    from ..analysis import Cell, cells_from_json, read_cells

    path = kernel_notebook(shell, step)
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


def _restore(shell: Any, session: Session, plan: CachePlan, entry: Any, name: str) -> bool:
    from ..analysis.hidden import is_pseudo
    from ..cache.store import CorruptArtifact
    from ..compile import hidden

    try:
        values = {var: plan.store.get(ref) for var, ref in entry.outputs.items()
                  if not var.startswith("file:")}
    except CorruptArtifact as exc:  # a flipped byte: the entry is dropped and the cell runs
        plan.store.invalidate(entry.step_key)
        print(f"mlpipe: step '{name}' runs: a cached output of it is {exc.reason}")
        return False
    for var, value in values.items():
        if is_pseudo(var):
            hidden.install_state(var, value)
        else:
            shell.user_ns[var] = value
    _remember_identities(session, plan.store, entry, values)
    print(
        f"mlpipe: step '{name}' restored from cache (key {plan.key[:12]}…);"
        f" use %%step {name} --no-cache to re-run"
    )
    displays, trusted = _displays_to_show(plan.store, entry)
    replay(displays, trusted=trusted)
    return True


def _displays_to_show(store: Any, entry: Any) -> tuple[list[dict[str, Any]], bool]:
    """(the entry's displays, whether they are trusted): shown as they are only when
    the entry file's signature verifies with our key, and then those very bytes.

    `Store.lookup` already ignores an unsigned or badly signed entry, so an entry
    that reaches a restore is signed; this is the second line: should a store ever
    hand over an entry it did not verify, or the file change after the lookup, its
    displays are sanitized as an untrusted notebook's outputs (`sanitize.py`).
    """
    import json

    from ..cache.signing import verify

    try:
        data = json.loads(store.read_bytes(store.entry_path(entry.step_key)).decode("utf-8"))
        if isinstance(data, dict) and verify(data) is None and isinstance(
                data.get("displays"), list):
            return data["displays"], True
    except (OSError, ValueError, TypeError, RuntimeError):
        pass
    return list(entry.displays), False


def _remember_identities(session: Session, store: Any, entry: Any,
                         values: dict[str, Any]) -> None:
    """Where a restored value pickles to other bytes, those bytes (under its name) stand
    for the artifact it came from; the latest restore of a name wins."""
    for var, value in values.items():
        ref = entry.outputs[var]
        if ref.format != "cloudpickle" or ":" in var:
            continue  # Parquet, .npy and random states are written the same way again
        try:
            again = str(store.put(var, value).key)
        except Exception:  # noqa: BLE001 - then the next step simply keys by content
            continue
        session.aliases[(var, again)] = ref.key


def _value(shell: Any, var: str) -> Any:
    """A name's value for saving; a generator's state artifact for `random:GEN`."""
    from ..analysis.hidden import is_pseudo
    from ..compile import hidden

    return hidden.state_artifact(var) if is_pseudo(var) else shell.user_ns[var]


def _save(shell: Any, plan: CachePlan, name: str, displays: list[dict[str, Any]],
          duration_s: float) -> None:
    from ..cache.store import CacheEntry, UnsavableValue

    saved = [var for var in plan.outputs if not var.startswith("file:")]
    missing = [var for var in saved if ":" not in var and var not in shell.user_ns]
    if missing:
        print(f"mlpipe: step '{name}' not cached: it did not bind {', '.join(missing)}")
        return
    if len(saved) != len(plan.outputs):
        return  # a file a later step reads: only a pipeline run records those
    try:
        refs = {var: plan.store.put(var, _value(shell, var)) for var in saved}
    except UnsavableValue as exc:
        print(f"mlpipe: step '{name}' not cached: {exc}")
        return
    for var in plan.extras:  # so that a hit gives back what the cell would have bound
        if var.startswith("random:"):
            refs[var] = plan.store.put(var, _value(shell, var))
            continue
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
