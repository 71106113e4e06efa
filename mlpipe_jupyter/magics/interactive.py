"""The interactive cache: a `%%step` cell reuses a stored result exactly when a
pipeline run would (DESIGN "What a cache hit promises", "The live kernel").

It applies when a store is available (`MLPIPE_STORE`, or an existing `.mlpipe`
folder beside the kernel's notebook as Jupyter names it in `__session__`, else
in the working directory: where papermill and `jupyter nbconvert --execute`
start the kernel), the step has no `--no-cache`, and restores are on
(`%pipeline restore off`, `MLPIPE_RESTORE=0`).

The key is the pipeline's (`cache.keys.key_ingredients`) over what *this
kernel executed* (`session.py`): the setup cells as it ran them, the `%%params`
cell and papermill's injected parameters, the steps in the order they first
ran; the parameter values bound in the kernel; each input's identity, the
content hash of its value in the namespace (stored to be hashed; a restored
object keys as the artifact it came from). Never a notebook read from disk.
The lookup and validity check are the pipeline's (`cache.validity.find_entry`):
every file the entry's step read (setup included) re-stated and rehashed when
changed, folders re-listed; modules, packages and Python are in the key. Also,
a file a setup cell read that changed since it ran keeps the step from being
restored or cached: the kernel's values no longer match the files.

On a hit every name the step binds is loaded into the namespace, a generator's
state is put back, the files it wrote are put back on disk, and its displayed
outputs are shown again after one line saying what was checked (`restored from
cache: code, setup, parameters, inputs, files (data.csv), modules unchanged
(run of ...)`): as they were when the entry is signed with our key, else
sanitized (`sanitize.py`). Where an entry of the step exists but is not used,
one line says why (`not restored: file data.csv changed`). On a miss the cell
runs under the pipeline's file tracker (`compile/tracking.py`) and its outputs,
the other names it binds, the files it wrote, its displays and the files it and
the setup read are committed as a `CacheEntry(origin="interactive")`, complete
as a pipeline step's. Anything that keeps a step from being keyed (an undefined
input, an unsavable value, an analysis error) just runs the cell, as without a
store.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from .cellrun import run_body
from .locate import notebook_path
from .recording import recording, replay, result_output
from .session import RecordedStep, Session


_UNBOUND = object()
RESTORE_ENV = "MLPIPE_RESTORE"


@dataclass(frozen=True)
class CachePlan:
    """A step that can be looked up: where, under which key, and what it outputs."""

    store: Any  # cache.store.Store
    key: str
    ingredients: Any  # cache.keys.KeyIngredients
    outputs: tuple[str, ...]  # what later steps read: an entry needs them all
    extras: tuple[str, ...]  # the step's other names, kept when they can be saved
    reads: tuple[str, ...] = ()  # the step's reads (its `file:` inputs are in the key)
    base: Path = field(default_factory=Path.cwd)  # the notebook's folder: the kernel's cwd
    setup_files: tuple[Any, ...] = ()  # FileFacts of what the setup cells read
    setup_listed: tuple[Any, ...] = ()
    setup_tracked: bool = True  # False: a setup cell ran before its reads were watched
    opaque_ok: bool = False  # `--cache always`: an entry whose reads were not all watched


def restores_on(session: Session) -> bool:
    """`%pipeline restore off` and `MLPIPE_RESTORE=0` (or `off`, `false`) turn restores off."""
    env = os.environ.get(RESTORE_ENV, "").strip().lower()
    return session.restore and env not in ("0", "off", "false", "no")


def cached_run(shell: Any, session: Session, step: RecordedStep) -> tuple[Any, str]:
    """Run or restore `step`; return (the value to show as Out, "succeeded" | "cached")."""
    __tracebackhide__ = True  # noqa: F841
    unsafe = None  # why the kernel's state does not match the files: no restore, no save
    try:
        plan = plan_step(shell, session, step)
        if plan is not None:
            session.note_modules()
            unsafe = _setup_changed(plan) or _modules_changed(session, plan)
            if unsafe is not None:
                print(f"mlpipe: step '{step.name}' not restored: {unsafe}")
            elif restores_on(session):
                restored = _lookup_and_restore(shell, session, plan, step.name)
                if restored:
                    return None, "cached"
    except Exception as exc:  # the cache must never stop a cell: run it without
        _warn(step.name, "runs without the cache", exc)
        plan = None
    if plan is None:
        return run_body(shell, step.source), "succeeded"
    started = time.time()
    tracker = _track(plan)
    try:
        with recording(shell) as displays:
            value = run_body(shell, step.source)
    finally:
        from ..compile import tracking

        tracking.stop()
    shown = result_output(shell, value)
    session.note_modules()  # those the step imported: as the key hashed them
    if unsafe is not None or not plan.setup_tracked or _modules_changed(session, plan):
        return value, "succeeded"
    try:
        _save(shell, plan, step.name, displays + ([shown] if shown else []),
              time.time() - started, tracker)
    except Exception as exc:
        _warn(step.name, "ran but was not cached", exc)
    return value, "succeeded"


def _track(plan: CachePlan) -> Any:
    """Start the pipeline's file tracker for the step's body (as a step kernel does)."""
    from ..compile import tracking

    tracking.stop()  # a cell-level tracker (session.py) does not cover a step cell
    local = not plan.store.remote
    try:
        return tracking.start(plan.base, Path(plan.store.root).resolve() if local else None)
    except Exception:  # noqa: BLE001 - without it the entry is not saved
        return None


def _setup_changed(plan: CachePlan) -> str | None:
    """Why the values setup left in this kernel no longer match the files it read."""
    from ..cache.files import HashCache, changed_file, changed_listing

    if not plan.setup_files and not plan.setup_listed:
        return None
    hashes = HashCache.at(plan.store.hash_dir)
    try:
        why = changed_file(plan.setup_files, plan.base, hashes) or changed_listing(
            plan.setup_listed, plan.base)
    finally:
        hashes.save()
    return f"{why} since setup ran; re-run the setup cells" if why else None


def _modules_changed(session: Session, plan: CachePlan) -> str | None:
    """Why this kernel's modules are not the ones the key hashes (edited since imported)."""
    changed = session.modules_changed(plan.ingredients.modules)
    if not changed:
        return None
    return (f"module {', '.join(changed)} changed since this kernel imported it;"
            " restart the kernel (or importlib.reload it)")


def _lookup_and_restore(shell: Any, session: Session, plan: CachePlan, name: str) -> bool:
    """The pipeline's lookup and validity check; restore on a hit, say why not where an
    entry of the step exists."""
    from ..cache.validity import explain_miss, find_entry

    entry, stale = find_entry(plan.store, plan.ingredients, plan.reads, plan.base,
                              needs=plan.outputs, scan=True, opaque_ok=plan.opaque_ok)
    if entry is not None:
        return _restore(shell, session, plan, entry, name)
    reason = stale or explain_miss(plan.store, plan.ingredients)
    if reason:
        print(f"mlpipe: step '{name}' not restored: {reason}")
    return False


def _warn(name: str, what: str, exc: Exception) -> None:
    print(f"mlpipe: step '{name}' {what} ({type(exc).__name__}: {exc})")


def open_store(shell: Any, step: RecordedStep | None = None) -> Any:
    """`$MLPIPE_STORE`, else an existing `.mlpipe` beside the kernel's notebook (as
    Jupyter names it), else one in the working directory, else None."""
    from ..cache.store import Store
    from ..stores import configured_store, is_url, resolve_store

    configured = configured_store()  # the one store rule (stores.py), made absolute here
    if configured is not None:
        return Store.open(configured)
    root = resolve_store(None, notebook_path(shell), cwd=Path.cwd())
    return Store.open(root) if is_url(root) or Path(root).is_dir() else None


def plan_step(shell: Any, session: Session, step: RecordedStep) -> CachePlan | None:
    """The step's key from the cells this kernel ran and its values, or None."""
    if not step.options.cache:
        return None
    if step.options.kernel:
        # The live cell runs in this kernel, not on the step's kernelspec: its
        # result must not be cached (or served) as the other environment's.
        return None
    store = open_store(shell, step)
    if store is None:
        return None
    session.tracking_root = None if store.remote else Path(store.root).resolve()
    from ..analysis import analyze, cells_from_json
    from ..cache.keys import key_ingredients, step_params
    from ..cache.store import UnsavableValue

    ran = kernel_cells(session, step)
    pipeline = analyze(cells_from_json([c for c, _ in ran]))
    if pipeline.errors:
        # the kernel's cells are no pipeline the cache could stand for (e.g. a cell run
        # after the steps rebinds a setup name: the setup's source no longer says its value)
        return None
    rebound = _setup_names_rebound(pipeline, step)
    if rebound:
        print(f"mlpipe: step '{step.name}' not restored: {', '.join(rebound)} re-bound after"
              " setup ran (a step or a cell after the steps binds it); re-run the setup cells")
        return None  # the setup's source no longer says what the kernel holds
    keyed = _without_own_body(ran, step.name)
    if len(keyed) != len(ran):
        ran, pipeline = keyed, analyze(cells_from_json([c for c, _ in keyed]))
        if pipeline.errors:
            return None
    analysed = pipeline.step(step.name)
    names = shell.user_ns
    params = {n: names[n] for n in step_params(analysed, pipeline) if n in names}
    if any(var not in names for var in analysed.reads if ":" not in var):
        return None  # the cell will raise its NameError itself
    nb = notebook_path(shell)
    base = nb.parent if nb is not None else Path.cwd()  # Jupyter starts kernels there
    try:
        input_keys = {var: _input_key(shell, session, store, var, base)
                      for var in analysed.reads}
        ingredients = key_ingredients(analysed, pipeline, params, input_keys, base=base,
                                      store_dir=store.hash_dir)
    except (UnsavableValue, ValueError, OSError):
        return None
    setup = [ran[i][1] for i in pipeline.setup_cells]
    files = {f.path: f for cell in setup if cell is not None for f in (cell.facts or ())}
    listed = {f.path: f for cell in setup if cell is not None for f in cell.listed}
    extras = tuple(name for name in analysed.binds if name not in analysed.outputs)
    return CachePlan(
        store, ingredients.key(), ingredients, analysed.outputs, extras,
        reads=tuple(analysed.reads), base=base, setup_files=tuple(files.values()),
        setup_listed=tuple(listed.values()),
        setup_tracked=all(cell is not None and cell.facts is not None for cell in setup),
        opaque_ok=getattr(step.options, "cache", True) == "always",
    )


def kernel_cells(session: Session, step: RecordedStep) -> list[tuple[dict[str, Any], Any]]:
    """The cells this kernel ran, each with its `RanCell`, this step's cell as it runs now."""
    cells = list(zip(session.notebook(), session.cells()))
    live = f"%%step {step.line}\n{step.source}"
    for json_cell, _ in cells:
        if _step_name(json_cell["source"]) == step.name:
            json_cell["source"] = live
            return cells
    return [*cells, ({"cell_type": "code", "source": live, "metadata": {"tags": []}}, None)]


def _setup_names_rebound(pipeline: Any, step: RecordedStep) -> list[str]:
    """Setup names this step reads that a cell the kernel ran after setup binds (a step, a
    cell run after the steps, this step itself): the key says the setup's value, the
    kernel may hold another."""
    from ..analysis.ipysyntax import python_source
    from ..analysis.visitor import cell_facts

    bound = {name for other in pipeline.steps for name in other.binds}
    # a name the step takes from an upstream step is keyed by its value: no matter
    rebound = bound & set(pipeline.setup_names) - set(pipeline.step(step.name).reads)
    if not rebound:
        return []
    code = python_source(step.source)
    try:
        facts = cell_facts(code) if code is not None else None
    except SyntaxError:
        facts = None
    if facts is None:
        return sorted(rebound)
    return sorted(rebound & (set(facts.reads) | set(facts.deferred)))


def _without_own_body(cells: list[tuple[dict[str, Any], Any]],
                      name: str) -> list[tuple[dict[str, Any], Any]]:
    """Without the untagged cells run after this step's cell (up to the next step): in
    the kernel a step is keyed by its `%%step` cell alone, the same on every re-run,
    whatever was run after it (its body cells run live after a restore)."""
    kept, inside = [], False
    for json_cell, cell in cells:
        source = json_cell["source"]
        if source.lstrip().startswith("%%step"):
            inside = _step_name(source) == name
        elif inside and not source.lstrip().startswith("%%params") \
                and "injected-parameters" not in json_cell["metadata"].get("tags", []):
            continue
        kept.append((json_cell, cell))
    return kept


def _input_key(shell: Any, session: Session, store: Any, var: str, base: Path) -> str:
    """The artifact key the pipeline would give this input's current value."""
    from ..analysis.hidden import is_pseudo
    from ..compile import hidden

    if var.startswith("file:"):
        return str(store.put_file(base / var[len("file:"):]).key)
    value = hidden.state_artifact(var) if is_pseudo(var) else shell.user_ns[var]
    key = str(store.put(var, value).key)
    return session.aliases.get((var, key), key)


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
        values = _load_outputs(shell, plan.store, entry)
    except CorruptArtifact as exc:  # a flipped byte: the entry is dropped and the cell runs
        plan.store.invalidate(entry.step_key)
        print(f"mlpipe: step '{name}' runs: a cached output of it is {exc.reason}")
        return False
    for var, value in values.items():
        if is_pseudo(var):
            hidden.install_state(var, value)
        else:
            shell.user_ns[var] = value
    _put_back_files(plan, entry)
    _remember_identities(session, plan.store, entry, values)
    from ..cache.validity import checked

    print(f"mlpipe: step '{name}' restored from cache:"
          f" {checked(entry, plan.ingredients, plan.base)}")
    displays, trusted = _displays_to_show(plan.store, entry)
    replay(displays, trusted=trusted)
    return True


def _load_outputs(shell: Any, store: Any, entry: Any) -> dict[str, Any]:
    """The entry's values: functions and classes first, then the rest, each loading with the
    kernel's names and those already loaded in scope, and its producer's notebook names
    offered (a formula model that calls `double_it`, issue 21)."""
    from ..cache.serializers import offering
    from ..compile.runtime import offer_names

    refs = sorted(((var, ref) for var, ref in entry.outputs.items()
                   if not var.startswith("file:")),
                  key=lambda item: item[1].type not in ("function", "type"))
    scope = dict(shell.user_ns)
    values: dict[str, Any] = {}
    for var, ref in refs:
        if ref.names is not None:
            offer_names(store, ref.names, scope)
        with offering(scope):
            values[var] = scope[var] = store.get(ref)
    return values


def _file_refs(entry: Any) -> dict[str, Any]:
    """Path -> ArtifactRef of every file the entry's step wrote."""
    from ..cache.serializers import FILE_FORMAT
    from ..cache.store import ArtifactRef

    refs = {var[len("file:"):]: ref for var, ref in entry.outputs.items()
            if var.startswith("file:")}
    sizes = {f.path: f.size for f in entry.files_written}
    for path, key in entry.written_keys.items():
        if path not in refs and path in sizes:
            refs[path] = ArtifactRef(key, FILE_FORMAT, sizes[path], "file")
    return refs


def _put_back_files(plan: CachePlan, entry: Any) -> None:
    """The files the step wrote, on disk as running it would leave them."""
    for path, ref in _file_refs(entry).items():
        if not path.startswith("../") and not os.path.isabs(path):
            plan.store.restore_file(ref, plan.base / path)


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
          duration_s: float, tracker: Any) -> None:
    from ..cache.serializers import FILE_FORMAT
    from ..cache.store import ArtifactRef, CacheEntry, UnsavableValue
    from ..cache.ambient import with_kernel_identity
    from ..cache.validity import note_entry
    from ..compile import tracking

    if tracker is None:
        return  # what the step read is unknown: a later run could not check the entry
    report = tracking.file_report(tracker, plan.store)
    report = with_kernel_identity(report, plan.base)  # loaded local modules (issue 20)
    changed = getattr(report, "changed_during", ())
    if changed:  # as in a pipeline step: a result of a file that changed meanwhile
        print(f"mlpipe: step '{name}' not cached: {', '.join(map(str, changed))}"
              " changed while it ran")
        return
    written = {f.path: f for f in report.files_written}
    saved = [var for var in plan.outputs if not var.startswith("file:")]
    missing = [var for var in saved if ":" not in var and var not in shell.user_ns]
    missing += [var for var in plan.outputs
                if var.startswith("file:") and var[len("file:"):] not in written]
    if missing:
        print(f"mlpipe: step '{name}' not cached: it did not bind {', '.join(missing)}")
        return
    try:
        refs = {var: plan.store.put(var, _value(shell, var)) for var in saved}
    except UnsavableValue as exc:
        print(f"mlpipe: step '{name}' not cached: {exc}")
        return
    for path, key in report.written_keys.items():  # as a pipeline step stores them
        if not path.startswith("../"):
            refs[f"file:{path}"] = ArtifactRef(key, FILE_FORMAT, written[path].size, "file")
    for var in plan.extras:  # so that a hit gives back what the cell would have bound
        if var.startswith(("random:", "setting:")):  # hidden state: random, settings
            refs[var] = plan.store.put(var, _value(shell, var))
            continue
        if ":" in var:
            continue
        value = shell.user_ns.get(var, _UNBOUND)
        if value is _UNBOUND or isinstance(value, ModuleType):
            continue
        try:
            refs[var] = plan.store.put(var, value)
        except UnsavableValue:
            continue
    # the setup's reads are the step's too, as in a pipeline step (tracked before setup)
    read = {f.path: f for f in plan.setup_files}
    read.update((f.path, f) for f in report.files_read)
    listed = {f.path: f for f in plan.setup_listed}
    listed.update((f.path, f) for f in report.dirs_listed)
    entry = CacheEntry(
        step_key=plan.key, step=name, outputs=refs, displays=displays,
        duration_s=duration_s, origin="interactive", ingredients=plan.ingredients,
        files_read=tuple(sorted(read.values(), key=lambda f: f.path)),
        dirs_listed=tuple(sorted(listed.values(), key=lambda f: f.path)),
        files_written=report.files_written, written_keys=dict(report.written_keys),
        **_entry_extras(report),
    )
    plan.store.commit(entry)
    note_entry(plan.store, entry)


def _entry_extras(report: Any) -> dict[str, Any]:
    """The report's other facts a cache entry keeps (paths looked for and not found...),
    as a pipeline step's entry keeps them."""
    from dataclasses import fields

    from ..cache.store import CacheEntry

    known = {f.name for f in fields(CacheEntry)}
    base = {"step_key", "step", "outputs", "displays", "created", "duration_s", "origin",
            "ingredients", "files_read", "dirs_listed", "files_written", "written_keys"}
    return {f.name: getattr(report, f.name) for f in fields(report)
            if f.name in known and f.name not in base}
