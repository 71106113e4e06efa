"""Process-wide settings flowing in notebook order, inside the step's kernel.

The static side is `analysis/ambient.py`: a step that changes numpy's print
options, pandas options, the `decimal` context, `os.environ`, the `warnings`
filters or matplotlib's `rcParams` binds `setting:<kind>`, and later steps
read it. Here, each kind reads as a flat mapping (`read`) and is written back
(`write`). A step's `setting:<kind>` artifact (`artifact`) is the whole
mapping at its end, the same in a pipeline kernel and a live one; for
`os.environ` it is the difference from the baseline (`baseline()`, after
setup in a step's kernel, when the extension loads in a live one), so that
the machine's own variables stay out of it. `install` writes one back, as a
top-to-bottom run would have the settings.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Callable

#: keys of matplotlib's rcParams that belong to the kernel, not to the notebook
_RC_SKIP = frozenset({"backend", "backend_fallback", "interactive", "webagg.port",
                      "savefig.directory"})


def _numpy_read() -> dict[str, Any]:
    import numpy as np

    found = {f"print.{k}": v for k, v in np.get_printoptions().items()}
    found.update({f"err.{k}": v for k, v in np.geterr().items()})
    return found


def _numpy_write(values: dict[str, Any]) -> None:
    import numpy as np

    printing = {k[len("print."):]: v for k, v in values.items() if k.startswith("print.")}
    errors = {k[len("err."):]: v for k, v in values.items() if k.startswith("err.")}
    for key, value in printing.items():
        try:
            np.set_printoptions(**{key: value})
        except (TypeError, ValueError):
            continue
    if errors:
        np.seterr(**errors)


def _pandas_options() -> list[str]:
    from pandas._config import config

    return sorted(config._registered_options)  # noqa: SLF001 - no public list of options


def _pandas_read() -> dict[str, Any]:
    import pandas as pd

    found = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key in _pandas_options():
            try:
                found[key] = pd.get_option(key)
            except Exception:  # noqa: BLE001 - a deprecated or broken option
                continue
    return found


def _pandas_write(values: dict[str, Any]) -> None:
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, value in values.items():
            try:
                pd.set_option(key, value)
            except Exception:  # noqa: BLE001
                continue


def _decimal_read() -> dict[str, Any]:
    import decimal

    ctx = decimal.getcontext()
    found: dict[str, Any] = {name: getattr(ctx, name) for name in
                             ("prec", "rounding", "Emin", "Emax", "capitals", "clamp")}
    found["traps"] = tuple(sorted(s.__name__ for s, on in ctx.traps.items() if on))
    return found


def _decimal_write(values: dict[str, Any]) -> None:
    import decimal

    ctx = decimal.getcontext()
    for name, value in values.items():
        if name == "traps":
            for signal in list(ctx.traps):
                ctx.traps[signal] = signal.__name__ in value
        else:
            setattr(ctx, name, value)


def _environ_read() -> dict[str, Any]:
    return dict(os.environ)


def _environ_write(values: dict[str, Any]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _category(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _warnings_read() -> dict[str, Any]:
    rows = []
    for action, message, category, module, lineno in warnings.filters:
        rows.append((action, getattr(message, "pattern", message) or "", _category(category),
                     getattr(module, "pattern", module) or "", lineno))
    return {"filters": tuple(rows)}


def _resolve(name: str) -> type:
    import importlib

    module, _, qualname = name.partition(":")
    value: Any = importlib.import_module(module)
    for part in qualname.split("."):
        value = getattr(value, part)
    return value


def _warnings_write(values: dict[str, Any]) -> None:
    import re

    if "filters" not in values:
        return
    rows = []
    for action, message, category, module, lineno in values["filters"]:
        try:
            cls = _resolve(category)
        except (ImportError, AttributeError):
            continue
        rows.append((action, re.compile(message, re.I) if message else None, cls,
                     re.compile(module) if module else None, lineno))
    warnings.filters[:] = rows
    mutated = getattr(warnings, "_filters_mutated", None) or getattr(
        warnings, "_filters_mutated_lock_held", None)
    if mutated is not None:
        try:
            mutated()
        except Exception:  # noqa: BLE001 - an interpreter without the hook re-reads filters
            pass


def _matplotlib_read() -> dict[str, Any]:
    import matplotlib

    return {k: v for k, v in dict.items(matplotlib.rcParams) if k not in _RC_SKIP}


def _matplotlib_write(values: dict[str, Any]) -> None:
    import matplotlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, value in values.items():
            try:
                matplotlib.rcParams[key] = value
            except (KeyError, ValueError, TypeError):
                continue


#: kind -> (module that must be loaded for it to exist, read, write)
KINDS: dict[str, tuple[str, Callable[[], dict[str, Any]], Callable[[dict[str, Any]], None]]] = {
    "environ": ("os", _environ_read, _environ_write),
    "numpy": ("numpy", _numpy_read, _numpy_write),
    "pandas": ("pandas", _pandas_read, _pandas_write),
    "decimal": ("decimal", _decimal_read, _decimal_write),
    "warnings": ("warnings", _warnings_read, _warnings_write),
    "matplotlib": ("matplotlib", _matplotlib_read, _matplotlib_write),
}

_BASELINE: dict[str, dict[str, Any]] = {}
_MISSING = object()


def _read(kind: str, load: bool = False) -> dict[str, Any] | None:
    module, read, _write = KINDS[kind]
    if module not in sys.modules and not load:
        return None
    try:
        return read()
    except Exception:  # noqa: BLE001 - a library too old or broken: nothing to carry
        return None


def baseline(force: bool = False) -> None:
    """Remember the environment as it is now: what `setting:environ` is taken against."""
    if force or "environ" not in _BASELINE:
        _BASELINE["environ"] = dict(os.environ)


def artifact(kind: str) -> dict[str, Any]:
    """The value a step saves as `setting:KIND`: the settings now (for `environ`, what
    differs from the baseline)."""
    now = _read(kind, load=True) or {}
    if kind != "environ":
        return {"setting": kind, "changed": dict(sorted(now.items())), "removed": []}
    base = _BASELINE.get(kind) or {}
    changed = {k: v for k, v in sorted(now.items()) if base.get(k, _MISSING) != v}
    removed = sorted(k for k in base if k not in now) if kind == "environ" else []
    return {"setting": kind, "changed": changed, "removed": removed}


def install(kind: str, value: Any) -> None:
    """Apply a `setting:KIND` artifact on top of this kernel's baseline."""
    if kind not in KINDS or not isinstance(value, dict):
        return
    _module, _read_fn, write = KINDS[kind]
    values = dict(value.get("changed") or {})
    if kind == "environ":
        values.update({k: None for k in value.get("removed") or ()})
    try:
        write(values)
    except Exception:  # noqa: BLE001 - best effort: a setting that cannot be put back
        pass
