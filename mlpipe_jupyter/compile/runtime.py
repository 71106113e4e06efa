"""What a step notebook calls inside its kernel: load inputs, save outputs.

`_mlpipe` (the config papermill injects) looks like::

    {"store": "/path/.mlpipe",
     "inputs": {"df": {"key": ..., "format": ..., "size": ..., "type": ...}},
     "outputs": ["model"],
     "result": "/path/.mlpipe/runs/<run_id>/train.result.json",
     "step": "train"}          # optional; the save cell passes it too

An input or output named `file:PATH` is a file passed between steps (DESIGN
rule 8): loading it puts the file back at PATH (relative to the notebook's
folder, the kernel's working directory) unless it already holds those bytes;
saving it stores the file's bytes by content. `begin` (the cell before setup)
starts recording the files the step reads and writes (`tracking.py`); the save
cell writes `{"outputs": {var: ref}, "report": StepReport}` to `cfg["result"]`.

Kept light: only the store (and the serializers it needs) are imported.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlpipe_jupyter.cache.store import (
    ArtifactRef,
    CorruptArtifact,
    Store,
    UnsavableValue,
    atomic_write_json,
)
from mlpipe_jupyter.cache.serializers import offering
from mlpipe_jupyter.compile import latebind
from mlpipe_jupyter.compile import hidden
from mlpipe_jupyter.errors import MlpipeError


class StepInputError(MlpipeError, RuntimeError):
    """An input of the step could not be loaded from the store."""

    def __init__(self, step: str, var: str, reason: str) -> None:
        self.step = step
        self.var = var
        super().__init__(
            f"step '{step}': input '{var}' cannot be loaded: {reason};"
            " re-run the step that produces it (mlpipe run --no-cache)"
        )
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.step, self.var, self.reason))


class MissingOutput(MlpipeError, RuntimeError):
    """The step did not bind a name it should output."""

    def __init__(self, step: str, var: str) -> None:
        self.step = step
        self.var = var
        super().__init__(
            f"step '{step}' should bind '{var}' but did not;"
            f" assign {var} in the step or drop it from --outputs"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.step, self.var))


def _step_name(cfg: dict[str, Any], step: str | None) -> str:
    return step or str(cfg.get("step") or "?")


FILE_PREFIX = "file:"


def begin(cfg: dict[str, Any], step: str | None = None) -> None:
    """Start recording the files this step reads, writes and lists (before setup runs)."""
    from . import tracking

    from mlpipe_jupyter.stores import is_url

    from mlpipe_jupyter.experiments import metrics

    metrics.begin(_step_name(cfg, step))
    mlflow_paths = metrics.start_mlflow(cfg.get("mlflow"))  # the step's child run, if tracked
    store = cfg.get("store")
    hidden.watch()
    from . import identity  # the key's environment; what the step loads and reads (issue 20)

    identity.begin(cfg)
    fresh_display()  # whatever the preloaded kernel pool did (issue 21)
    local = store and not is_url(store)  # files on object storage are no files of the step's
    tracker = tracking.start(Path(os.getcwd()), Path(store).resolve() if local else None)
    if mlflow_paths:  # MLflow's own files (its SQLite file, the run's artifacts): no data
        tracker.excluded = (*tracker.excluded, *mlflow_paths)


def restore_file(store: Store, var: str, ref: ArtifactRef) -> None:
    """Put the file of input `file:PATH` back on disk unless it holds those bytes already."""
    path = Path(os.getcwd()) / var[len(FILE_PREFIX):]
    from . import tracking

    tracker = tracking.stop()  # putting it back is not the step writing it
    try:
        store.restore_file(ref, path)
    finally:
        if tracker is not None:
            tracking.resume(tracker)


def load_inputs(cfg: dict[str, Any], step: str | None = None,
                namespace: dict[str, Any] | None = None, modules: tuple[str, ...] = (),
                attributes: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """The step's input values, by variable name, checked against their checksums; a
    notebook function among them runs against `namespace`, the step's globals (rule 7).

    First the process state a top-to-bottom kernel would have here (issue 21): the
    `modules` earlier steps imported, in notebook order, and the submodules the step
    reaches as attributes of a module (`mpl.pyplot`), are imported; a value saved with
    its producer's notebook functions (`ArtifactRef.names`) gets them in `namespace`
    (those it does not bind already) and loads with them in scope (a formula calling
    `double_it`)."""
    import_earlier(modules, attributes, namespace)
    inputs = cfg.get("inputs") or {}
    if not inputs:
        return hidden.begin(cfg, {})
    store = Store.open(cfg["store"])
    values = {}
    for var, ref_json in inputs.items():
        try:
            ref = ArtifactRef.from_json(ref_json)
            if var.startswith(FILE_PREFIX):
                restore_file(store, var, ref)
                continue
            if namespace is not None and ref.names is not None:
                offer_names(store, ref.names, namespace)
            if namespace is not None:
                with offering(namespace):
                    values[var] = store.get(ref)
                values[var] = latebind.rebind(values[var], namespace)
            else:
                values[var] = store.get(ref)
        except CorruptArtifact as exc:
            _report_corrupt(cfg, var, ref_json, exc)
            raise StepInputError(_step_name(cfg, step), var, str(exc)) from exc
        except (KeyError, ValueError, TypeError) as exc:
            raise StepInputError(_step_name(cfg, step), var, f"bad artifact ref ({exc})") from exc
    return hidden.begin(cfg, values)  # installs the `random:*` states, keeps the rest


def import_earlier(modules: tuple[str, ...], attributes: tuple[tuple[str, str], ...],
                   namespace: dict[str, Any] | None) -> None:
    """Import what earlier steps imported (a submodule of a package this kernel has:
    `import matplotlib as mpl` in setup, `import matplotlib.pyplot` in an earlier step)
    and the submodules the step reaches as `alias.sub`. Import errors are the step's own
    business: they are left for its code to meet, as top to bottom."""
    import importlib
    import importlib.util
    import sys
    import types

    wanted = list(modules)
    for alias, attr in attributes:
        module = (namespace or {}).get(alias)
        if isinstance(module, types.ModuleType) and not hasattr(module, attr):
            wanted.append(f"{module.__name__}.{attr}")
    for name in wanted:
        if name in sys.modules or name.split(".")[0] not in sys.modules:
            continue
        try:
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - not a module (`from m import func`), or broken
            continue


_NAMES: dict[str, dict[str, Any]] = {}


def offer_names(store: Store, ref: ArtifactRef, namespace: dict[str, Any]) -> None:
    """Bind the producer's notebook functions and classes the step does not bind yet."""
    names = _NAMES.get(ref.key)
    if names is None:
        try:
            names = store.get(ref)
        except Exception:  # noqa: BLE001 - pruned or unreadable: the value may not need them
            names = {}
        _NAMES[ref.key] = names = names if isinstance(names, dict) else {}
    for name, value in names.items():
        if name not in namespace:
            namespace[name] = latebind.rebind(value, namespace)


def notebook_names(namespace: dict[str, Any]) -> dict[str, Any]:
    """The functions and classes the notebook defined (module `__main__`), by name."""
    import types

    return {
        name: value for name, value in namespace.items()
        if isinstance(value, (types.FunctionType, type)) and not name.startswith("_mlpipe")
        and getattr(value, "__module__", None) == latebind.NOTEBOOK_MODULE
    }


def _attach_names(store: Store, refs: dict[str, Any], namespace: dict[str, Any]) -> None:
    """Save the notebook's functions and classes once, beside the pickled outputs that may
    look them up by name as they load (`ArtifactRef.names`)."""
    pickled = [var for var, ref in refs.items()
               if ref.get("format") == "cloudpickle" and ":" not in var]
    names = notebook_names(namespace) if pickled else {}
    if not names:
        return
    try:
        names_ref = store.put("<notebook names>", names).to_json()
    except Exception:  # noqa: BLE001 - a function that cannot be pickled: values load without
        return
    for var in pickled:
        refs[var] = {**refs[var], "names": names_ref}


def fresh_display() -> None:
    """Display settings as a fresh Jupyter kernel has them, for the modules already loaded
    (a preloaded kernel pool imported them outside a kernel): pandas' display options
    (`max_columns` is 0 in a terminal, 20 in a kernel), NumPy's print options."""
    import sys

    pd = sys.modules.get("pandas")
    if pd is not None:
        try:
            ip = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
            pd.reset_option("display")
            pd.set_option("display.max_columns", 20 if hasattr(ip, "kernel") else 0)
        except Exception:  # noqa: BLE001, S110 - an unusual pandas: leave it as it is
            pass
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            np.set_printoptions(edgeitems=3, threshold=1000, floatmode="maxprec", precision=8,
                                suppress=False, linewidth=75, nanstr="nan", infstr="inf",
                                sign="-", formatter=None, legacy=False)
        except Exception:  # noqa: BLE001, S110
            pass


def _report_corrupt(cfg: dict[str, Any], var: str, ref_json: Any, exc: CorruptArtifact) -> None:
    """Write the step's result with a report naming the damaged input, before the step
    fails: the coordinator then re-runs the input's producer in this run (issue 10)."""
    from .report import CorruptInput, StepReport

    if not cfg.get("result"):
        return
    problem = "is missing" if exc.reason == "missing" else "failed its checksum"
    report = StepReport(corrupt_inputs=(CorruptInput(var, str(ref_json["key"]), problem),))
    atomic_write_json(Path(cfg["result"]), {"outputs": {}, "report": report.to_json()})


class MissingFile(MlpipeError, RuntimeError):
    """The step did not write a file a later step reads."""

    def __init__(self, step: str, path: str) -> None:
        self.step = step
        self.path = path
        super().__init__(
            f"step '{step}' should write file '{path}' (a later step reads it) but it does"
            f" not exist after the step; write it in the step, or read it with --inputs"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.step, self.path))


def _with_identity(report: Any, store: Any) -> Any:
    """The report with what the kernel saw of code and environment (compile/identity.py)."""
    from . import identity

    if not hasattr(report, "identity"):
        return report
    local = store is not None and not store.remote
    seen = identity.report(Path(os.getcwd()), store.hash_dir if local else None,
                           remote=store is not None and store.remote)
    return replace(report, identity=seen) if seen else report


class FileChangedDuringStep(MlpipeError, RuntimeError):
    """A file the step read changed before the step ended: its result is not cached."""

    def __init__(self, step: str, path: str) -> None:
        self.step = step
        self.path = path
        super().__init__(
            f"step '{step}': file {path} changed while the step ran (after the step read"
            f" it), so its result is not cached; run it again once the file stays put"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.step, self.path))


def save_outputs(cfg: dict[str, Any], namespace: dict[str, Any], step: str | None = None,
                 keep: tuple[str, ...] = ()) -> None:
    """Store each output; write `{"outputs": {var: ref}, "report": ...}` to `cfg["result"]`."""
    from . import tracking

    from mlpipe_jupyter.experiments import metrics

    name = _step_name(cfg, step)
    tracker = tracking.stop()
    metrics.drop_own_reads(tracker)  # SQLite syncing MLflow's folder is no read of data
    metrics.from_variables(list(cfg.get("metrics") or ()), namespace, name)  # --metrics
    ending = hidden.end(cfg, namespace)  # changed random states and inputs: saved below
    outputs = [var for var in cfg.get("outputs") or [] if not hidden.is_pseudo(var)]
    missing = [var for var in outputs if var not in namespace and not var.startswith(FILE_PREFIX)]
    if missing:
        raise MissingOutput(name, missing[0])
    refs: dict[str, Any] = {}
    store = Store.open(cfg["store"]) if cfg.get("store") else None
    for var in outputs:
        assert store is not None, "a step with outputs needs a store"
        if var.startswith(FILE_PREFIX):
            path = Path(os.getcwd()) / var[len(FILE_PREFIX):]
            if not path.is_file():
                raise MissingFile(name, var[len(FILE_PREFIX):])
            refs[var] = store.put_file(path).to_json()
            continue
        try:
            refs[var] = store.put(var, namespace[var]).to_json()
        except UnsavableValue as exc:
            raise UnsavableValue(exc.var, exc.type_name, exc.reason, name) from None
    if store is not None:
        refs.update(hidden.save_rest(store, name, ending, namespace, keep, refs))
        _attach_names(store, refs, namespace)
    report = replace(tracking.file_report(tracker, store), random=ending.random,
                     unseeded=ending.unseeded, inputs_changed=ending.inputs_changed,
                     metrics=metrics.logged())
    report = _with_identity(report, store)
    if cfg.get("result"):  # a local file (on a worker without the store's folder: remote.py)
        atomic_write_json(Path(cfg["result"]), {"outputs": refs, "report": report.to_json()})
    if report.changed_during:  # the coordinator runs it once more, then fails it (issue 20)
        raise FileChangedDuringStep(name, report.changed_during[0])
