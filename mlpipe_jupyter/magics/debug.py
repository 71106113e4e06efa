"""`%pipeline debug STEP [--run RUN_ID]` and `mlp.debug(step, run=None)`: a step of a past run,
opened in this kernel with what that run gave it.

The run is `--run`, else the latest run of this notebook in which the step failed, else the
latest run of it. Its inputs are the exact artifacts that run gave the step, by content hash:
from the `_mlpipe` config papermill injected into the step's executed notebook, or, for a
step that never started, from its producers' results in that run (their cache entries for
cached ones). They are loaded from the store into the kernel's namespace with the step's
parameters and the global random states it received; nothing else runs. The step's cell
(its `%%step` line included, from the notebook as that run analysed it) goes into a new
cell below in JupyterLab (`set_next_input`), and is printed elsewhere; a failed step's
failing line and traceback are shown. Inputs gone from the store (pruned) are named in
one line.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadInput, MlpipeError, NotFound
from ..status import StepStatus

FILE_PREFIX = "file:"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Debugged:
    """What `debug` loaded, and from where."""

    step: str
    run_id: str
    status: str  # the step's status in that run
    notebook: Path | None  # the pipeline notebook
    code: str  # the step's cell(s), `%%step` line included
    inputs: dict[str, str] = field(default_factory=dict)  # var -> artifact key, as loaded
    producers: dict[str, str] = field(default_factory=dict)  # var -> the step that made it
    params: dict[str, Any] = field(default_factory=dict)
    random: tuple[str, ...] = ()  # pseudo inputs installed (`random:numpy`, `setting:...`)
    files: tuple[str, ...] = ()  # files put back on disk (`file:PATH` inputs)
    pruned: tuple[str, ...] = ()  # inputs gone from the store
    error: str | None = None
    traceback: str | None = None  # plain text (no ANSI colours)
    failing_line: str | None = None
    setup_missing: tuple[str, ...] = ()  # names the setup binds, not in this kernel yet

    def summary(self) -> str:
        """What a person reads after `%pipeline debug`: one line per fact."""
        lines = [f"mlpipe: step '{self.step}' of run {self.run_id} ({self.status})"]
        if self.error:
            lines.append(f"  error: {self.error}")
        if self.failing_line:
            lines.append(f"  failing line: {self.failing_line}")
        loaded = [f"{var} (from {self.producers.get(var, '?')}, {key[:12]})"
                  for var, key in self.inputs.items()]  # fmt: skip
        lines.append("  loaded into this kernel: " + (", ".join(loaded) or "no inputs"))
        if self.params:
            lines.append("  parameters: " + ", ".join(f"{k}={v!r}" for k, v in self.params.items()))
        if self.random:
            lines.append("  global state as the step received it: " + ", ".join(self.random))
        if self.files:
            lines.append("  files put back: " + ", ".join(self.files))
        if self.pruned:
            lines.append(pruned_line(self))
        if self.setup_missing:
            lines.append("  not in this kernel yet (nothing else ran): "
                         + ", ".join(self.setup_missing) + "; run the setup cells above")
        return "\n".join(lines)


def pruned_line(found: Debugged) -> str:
    names = ", ".join(f"{v} (from {found.producers.get(v, '?')})" for v in found.pruned)
    return (f"  gone from the store (pruned), not loaded: {names}; run the steps that make them"
            f" again (mlpipe run --until STEP) to debug with them")  # fmt: skip


def debug(
    step: str,
    run: str | None = None,
    *,
    notebook: str | Path | None = None,
    store: str | Path | None = None,
    namespace: dict[str, Any] | None = None,
    shell: Any = None,
    show: bool = True,
) -> Debugged:
    """Load step `step` of run `run` (default: its latest failed run, else its latest run)
    into this kernel's namespace and put its code in a new cell below; what was loaded.

    `notebook`: the pipeline notebook (default: this kernel's own, where Jupyter says
    it); `store`: default as everywhere (`stores.resolve_store`). `NotFound` for a run
    or step that does not exist, `BadInput` for a step whose inputs that run never made.
    """
    from ..stores import resolve_store

    shell = shell if shell is not None else _shell()
    namespace = namespace if namespace is not None else (
        shell.user_ns if shell is not None else None)  # fmt: skip
    if namespace is None:
        raise BadInput("mlp.debug loads into a kernel: call it in IPython or Jupyter, or pass"
                       " namespace=")  # fmt: skip
    path = _notebook(shell, notebook)
    root = resolve_store(store, path)
    record = _choose_run(root, step, run, path)
    found, refs, setup = _open(root, record, step, path)
    _load(root, found, refs, namespace)
    found.setup_missing = tuple(sorted(n for n in setup if n not in namespace))
    if show:
        _show(found, shell)
    return found


# -- which run ---------------------------------------------------------------------


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _notebook(shell: Any, explicit: str | Path | None) -> Path | None:
    if explicit is not None:
        path = Path(explicit).expanduser().resolve()
        if not path.is_file():
            raise NotFound(f"notebook '{explicit}' not found")
        return path
    if shell is None:
        return None
    from .locate import notebook_path

    return notebook_path(shell)


def _choose_run(root: Any, step: str, run: str | None, notebook: Path | None) -> dict[str, Any]:
    from .. import service

    if run is not None:
        record = service.run_record(root, run)
        if step not in record.get("steps", {}):
            known = ", ".join(record.get("steps", {})) or "(none)"
            raise NotFound(f"run {run} has no step '{step}'; its steps: {known}")
        return record
    runs = [r for r in service.runs(root, limit=500) if step in r.get("steps", {})]
    if notebook is not None:
        mine = [r for r in runs if Path(r.get("notebook", "")) == notebook]
        runs = mine or runs
    if not runs:
        raise NotFound(f"no run of step '{step}' in {root}; run the pipeline first"
                       " (%pipeline run, or mlpipe run NOTEBOOK)")  # fmt: skip
    failed = [r for r in runs if r["steps"][step].get("status") == StepStatus.FAILED.value]
    return (failed or runs)[0]


# -- what the run gave the step ----------------------------------------------------


def _open(
    root: Any, record: dict[str, Any], step: str, notebook: Path | None
) -> tuple[Debugged, dict[str, Any], frozenset[str]]:
    """The step as that run analysed it, its code, what its executed notebook says, the
    refs of its inputs (`{var: artifact ref json}`) and the names its setup binds."""
    pipeline, source = _run_pipeline(root, record, notebook)
    try:
        the_step = pipeline.step(step)
    except KeyError:
        raise NotFound(f"step '{step}' is not in the notebook run {record['run_id']} ran"
                       f" ({source})") from None  # fmt: skip
    cells = {c.index: c.source for c in pipeline.cells}
    code = "\n\n".join(cells[i] for i in the_step.cells if i in cells) or the_step.source
    info = record["steps"][step]
    found = Debugged(step, record["run_id"], str(info.get("status")),
                     Path(record["notebook"]) if record.get("notebook") else notebook, code)
    found.producers = dict(the_step.inputs)
    found.error = info.get("error")
    executed = _executed(root, info.get("notebook"))
    config, params = _injected(executed) if executed else (None, {})
    found.params = {p: params.get(p, _default(pipeline, record, p)) for p in the_step.params}
    if config is not None:
        refs = dict(config.get("inputs") or {})
    else:
        refs = _from_producers(root, record, the_step)
    found.inputs = {v: str(ref["key"]) for v, ref in refs.items()}
    if executed:
        found.traceback, found.failing_line = _failure(executed)
    return found, refs, frozenset(pipeline.setup_names)


def _run_pipeline(root: Any, record: dict[str, Any], notebook: Path | None) -> tuple[Any, Path]:
    """The pipeline the run analysed: its snapshot, else the notebook as it is now."""
    from .. import service
    from ..execute.runner import SNAPSHOT_FILE, run_folder
    from ..execute.records import Records

    snapshot = run_folder(Records(service.records_folder(root)), record["run_id"]) / SNAPSHOT_FILE
    source = snapshot if snapshot.is_file() else Path(record.get("notebook") or notebook or "")
    if not source.is_file():
        raise NotFound(f"run {record['run_id']} kept no notebook snapshot and its notebook"
                       f" {source} is gone")  # fmt: skip
    return service.runnable(source), source


def _default(pipeline: Any, record: dict[str, Any], name: str) -> Any:
    return (record.get("params") or {}).get(name, pipeline.params.get(name))


def _executed(root: Any, notebook: str | None) -> dict[str, Any] | None:
    """The step's executed notebook as JSON (None when it never started)."""
    if not notebook:
        return None
    try:
        path = Path(notebook)
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        from ..cache.store import Store

        return json.loads(Store(root).read_bytes(notebook).decode("utf-8"))
    except (OSError, ValueError, MlpipeError):
        return None


def _injected(executed: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """`_mlpipe` and the parameter values from the cell papermill injected (literals only)."""
    for cell in executed.get("cells", []):
        if "injected-parameters" not in (cell.get("metadata", {}).get("tags") or []):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        values: dict[str, Any] = {}
        for node in ast.parse(source).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name):  # fmt: skip
                try:
                    values[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    continue
        config = values.pop("_mlpipe", None)
        return (config if isinstance(config, dict) else None), values
    return None, {}


def _from_producers(root: Any, record: dict[str, Any], step: Any) -> dict[str, Any]:
    """A step that never started: its inputs from what its producers made in that run."""
    from ..cache.store import Store

    store = Store(root)
    refs: dict[str, Any] = {}
    for var, producer in step.inputs:
        info = record["steps"].get(producer, {})
        outputs = _producer_outputs(store, record["run_id"], producer, info)
        if var not in outputs:
            raise BadInput(
                f"step '{step.name}' never started in run {record['run_id']} and its input"
                f" {var} was not made there (step '{producer}' {info.get('status', '?')});"
                f" pick a run where it ran: %pipeline debug {step.name} --run RUN_ID"
            )
        refs[var] = outputs[var]
    return refs


def _producer_outputs(store: Any, run_id: str, producer: str, info: dict[str, Any]) -> dict[str, Any]:
    status = info.get("status")
    if status == StepStatus.SUCCEEDED.value:
        try:
            data = json.loads(store.read_bytes(store.runs_dir / run_id / f"{producer}.result.json"))
            return dict(data.get("outputs") or {})
        except (OSError, ValueError, MlpipeError):
            return {}
    if status == StepStatus.CACHED.value and info.get("cache_key"):
        entry = store.lookup(info["cache_key"])
        if entry is not None:
            return {var: ref.to_json() for var, ref in entry.outputs.items()}
    return {}


def _failure(executed: dict[str, Any]) -> tuple[str | None, str | None]:
    """The traceback of the executed notebook's error (plain text) and its failing line."""
    for cell in executed.get("cells", []):
        for output in cell.get("outputs") or []:
            if output.get("output_type") != "error":
                continue
            text = _ANSI.sub("", "\n".join(output.get("traceback") or []))
            marked = [line.strip() for line in text.splitlines() if line.lstrip().startswith("-")
                      and ">" in line.split(" ", 1)[0]]  # fmt: skip
            line = marked[-1] if marked else None
            if line is not None:
                line = re.sub(r"^-+>\s*\d*\s*", "", line).strip() or line
            return text, line
    return None, None


# -- into the kernel ---------------------------------------------------------------


def _load(root: Any, found: Debugged, refs: dict[str, Any], namespace: dict[str, Any]) -> None:
    from ..analysis.hidden import is_pseudo
    from ..cache.store import ArtifactRef, Store
    from ..compile import latebind

    store = Store(root)
    values: dict[str, Any] = {}
    pseudo: dict[str, Any] = {}
    files: list[str] = []
    pruned: list[str] = []
    folder = found.notebook.parent if found.notebook is not None else Path.cwd()
    for var, ref_json in refs.items():
        try:
            ref = ArtifactRef.from_json(ref_json)
            if var.startswith(FILE_PREFIX):
                store.restore_file(ref, folder / var[len(FILE_PREFIX):])
                files.append(var[len(FILE_PREFIX):])
            elif is_pseudo(var) or ":" in var:  # random:GEN, setting:KIND
                pseudo[var] = store.get(ref)
            else:
                values[var] = store.get(ref)
        except (MlpipeError, OSError, KeyError, ValueError, TypeError):
            pruned.append(var)
    from ..compile.hidden import install_state

    for var, artifact in pseudo.items():
        install_state(var, artifact)
    for var, value in values.items():
        namespace[var] = latebind.rebind(value, namespace)
    namespace.update(found.params)
    found.random, found.files = tuple(pseudo), tuple(files)
    found.pruned = tuple(pruned)
    for var in pruned:
        found.inputs.pop(var, None)
    for var in [*pseudo, *(FILE_PREFIX + f for f in files)]:
        found.inputs.pop(var, None)


def _show(found: Debugged, shell: Any) -> None:
    print(found.summary())
    if found.traceback:
        print(found.traceback)
    if shell is not None and hasattr(shell, "kernel") and hasattr(shell, "set_next_input"):
        shell.set_next_input(found.code, replace=False)
        print("mlpipe: the step's code is in a new cell below; run it there, fix it, then"
              " run it as the %%step cell it is")
    else:
        print("mlpipe: the step's code:\n" + found.code)


# -- the magic ---------------------------------------------------------------------


def pipeline_debug(shell: Any, line: str) -> Debugged:
    """`%pipeline debug STEP [--run RUN_ID] [--notebook NB] [--store PATH]`."""
    from .args import parse, parser

    p = parser("%pipeline debug")
    p.add_argument("step")
    p.add_argument("--run")
    p.add_argument("--notebook")
    p.add_argument("--store")
    args = parse(p, line)
    debug(args.step, args.run, notebook=args.notebook, store=args.store, shell=shell)
    return None  # type: ignore[return-value]  # printed; no Out[] repr


__all__ = ["Debugged", "debug", "pipeline_debug"]
