"""What a step's kernel saw of its code and environment, for its cache entry (issue 20).

`begin(cfg)` runs in the cell before setup: it gives the kernel the
environment variables the step's key holds (`cfg["environ"]`, from
`cache/ambient.job_environ`; None unsets), notes which modules are loaded, and
starts noting the environment variables the step's own code and its local
modules read (`os.environ` gets a recording subclass; reads by the Python
installation's code, by mlpipe, and of variables the key or the settings flow
already carries are not noted). `report(base)` runs in the save cell and gives
`StepReport.identity`, which the entry keeps and `cache/ambient.identity_changed`
checks:

- `modules`: every loaded module outside the Python installation, by path and
  source hash, whatever imported it (`sys.path` edits, `importlib` plugins,
  unpickling an input whose class lives in `models.py`);
- `packages`: distributions first imported after setup (plugins the static
  walk cannot see), by version and RECORD hash;
- `environ`: variables read at run time, with the value seen (None: unset).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

_STATE: dict[str, Any] = {"before": frozenset(), "after_setup": None, "known": set(),
                          "reads": {}, "active": False}
_SKIP_FILES = ("/os.py", "/_collections_abc.py", "<frozen os>", "<frozen _collections_abc>")
_INSTALLED: dict[str, bool] = {}
#: set per step by the runner (threads, devices), not by the user: never noted
PER_RUN = ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
           "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS",
           "LOKY_MAX_CPU_COUNT", "MPLBACKEND", "PYDEVD_DISABLE_FILE_VALIDATION", "HOME", "PWD",
           "TMPDIR", "PATH", "PYTHONPATH")


def _caller_counts(depth: int = 8) -> bool:
    """Whether the code reading the environment is the step's or a local module's."""
    from mlpipe_jupyter.cache.modules import is_installed

    frame = sys._getframe(3)
    own = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    while frame is not None and depth:
        name = frame.f_code.co_filename
        if name.endswith(_SKIP_FILES) or name.startswith("<frozen"):
            frame, depth = frame.f_back, depth - 1
            continue
        if name.startswith(own):
            return False
        if name not in _INSTALLED:
            _INSTALLED[name] = not name.startswith("<") and "ipykernel_" not in name \
                and is_installed(name)
        return not _INSTALLED[name]
    return False


def _environ_class() -> type:
    base = type(os.environ)

    class RecordingEnviron(base):  # type: ignore[misc, valid-type]
        def __getitem__(self, key: Any) -> Any:
            try:
                value = super().__getitem__(key)
            except KeyError:
                _note(key, None)
                raise
            _note(key, value)
            return value

        def __setitem__(self, key: Any, value: Any) -> None:
            _written(key)
            super().__setitem__(key, value)

        def __delitem__(self, key: Any) -> None:
            _written(key)
            super().__delitem__(key)

    RecordingEnviron.__name__ = RecordingEnviron.__qualname__ = base.__name__
    return RecordingEnviron


def _written(key: Any) -> None:
    """A variable the step sets itself: what it reads back is its own doing."""
    if _STATE["active"] and isinstance(key, str) and key not in _STATE["reads"]:
        _STATE["known"].add(key)


def _note(key: Any, value: Any) -> None:
    if not _STATE["active"] or not isinstance(key, str) or key in _STATE["reads"] \
            or key in _STATE["known"]:
        return
    try:
        if _caller_counts():
            _STATE["reads"][key] = value
    except Exception:  # noqa: BLE001 - recording must never break the step
        return


def begin(cfg: dict[str, Any]) -> None:
    """Before setup: the key's environment, the modules loaded now, start recording."""
    environ = cfg.get("environ") or {}
    for name, value in environ.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = str(value)
    _STATE["known"] = set(environ) | set(PER_RUN) | {
        n for n in os.environ if n.startswith(("MLPIPE_", "JPY_"))}
    _STATE["before"] = frozenset(sys.modules)
    _STATE["frozen"] = None
    _STATE["reads"] = {}
    try:
        if type(os.environ).__name__ == "_Environ" and not hasattr(
                type(os.environ), "__mlpipe_recording__"):
            cls = _environ_class()
            cls.__mlpipe_recording__ = True  # type: ignore[attr-defined]
            os.environ.__class__ = cls
    except TypeError:  # an interpreter that refuses: run-time reads go unrecorded
        pass
    _STATE["active"] = True


def after_setup(flowed: tuple[str, ...] = ()) -> None:
    """In the load cell: the modules setup loaded; variables the settings flow sets."""
    _STATE["after_setup"] = frozenset(sys.modules)
    _STATE["known"].update(flowed)


def freeze() -> None:
    """At the step's end, before its outputs are saved: what it loaded (the store's own
    imports, cloudpickle and the like, are not the step's)."""
    _STATE["frozen"] = frozenset(sys.modules)
    _STATE["active"] = False


def _new_packages(memo_dir: Path | None) -> dict[str, list[str]]:
    from mlpipe_jupyter.cache.ambient import record_hash
    from mlpipe_jupyter.cache.modules import _distributions, _stdlib, is_installed

    start = _STATE["after_setup"] or _STATE["before"]
    tops = set()
    for name in set(_STATE.get("frozen") or sys.modules) - set(start):
        top = name.partition(".")[0]
        if top in start:  # a submodule of a package loaded before: its package counts
            continue
        module = sys.modules.get(top)
        path = getattr(module, "__file__", None) if module is not None else None
        if top.startswith("_") or _stdlib(top) or not path or not is_installed(path):
            continue
        tops.add(top)
    if not tops:
        return {}
    from importlib.metadata import PackageNotFoundError, version

    mapping = _distributions(memo_dir)
    found: dict[str, list[str]] = {}
    for top in sorted(tops):
        for dist in mapping.get(top, ()):
            if dist in found:
                continue
            try:
                found[dist] = [version(dist), record_hash(dist)]
            except PackageNotFoundError:
                continue
    return found


def report(base: Path, memo_dir: Path | None = None, remote: bool = False) -> dict[str, Any]:
    """`StepReport.identity`: loaded local modules, new distributions, environment reads."""
    from mlpipe_jupyter.cache.ambient import loaded_local_modules

    _STATE["active"] = False
    found: dict[str, Any] = {}
    try:
        modules = loaded_local_modules(base, inside=remote)
        if modules:
            found["modules"] = modules
        packages = _new_packages(memo_dir)
        if packages:
            found["packages"] = packages
    except Exception:  # noqa: BLE001 - a report without identity is still a report
        pass
    reads = {k: v for k, v in _STATE["reads"].items() if k not in _STATE["known"]}
    if reads:
        found["environ"] = dict(sorted(reads.items()))
    return found
