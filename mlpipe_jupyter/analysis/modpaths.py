"""Where a module lives, found without importing it: the Python installation's roots,
the search path a kernel started in a folder has, and a resolver of dotted names.

Facts, not I/O beyond `PathFinder`'s directory listings: the analysis (`ambient.py`) and
the cache (`cache/modules.py`) both ask them, so they live in the lower layer.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from functools import lru_cache
from importlib.machinery import BuiltinImporter, FrozenImporter, ModuleSpec, PathFinder
from pathlib import Path


@lru_cache(maxsize=1)
def _install_roots() -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            roots.add(sysconfig.get_path(name))
        except KeyError:
            continue
    try:
        roots.update(site.getsitepackages())
    except AttributeError:  # some virtualenv site modules lack it
        pass
    user = getattr(site, "getusersitepackages", lambda: None)()
    if user:
        roots.add(user)
    return tuple(sorted({os.path.realpath(r) for r in roots if r}))


def is_installed(path: str) -> bool:
    """True for a file of the Python installation (prefixes, stdlib, site-packages)."""
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root + os.sep) for root in _install_roots())


def search_path(base: Path) -> list[str]:
    """What a kernel started in `base` searches: `base`, then this process's path.

    This process's `''` (its own working directory) is left out: a kernel's is `base`.
    """
    rest = [p for p in sys.path if p and os.path.realpath(p) != os.path.realpath(base)]
    return [str(base), *rest]


# -- resolving without importing -----------------------------------------------


def _find(name: str, path: list[str] | None) -> ModuleSpec | None:
    try:
        spec = PathFinder.find_spec(name, path)
    except (ImportError, ValueError, OSError):
        spec = None
    if spec is not None or path is not None and "." in name:
        return spec
    standard = (PathFinder, BuiltinImporter, FrozenImporter)
    for finder in sys.meta_path:  # editable installs' finders (setuptools, hatch)
        if isinstance(finder, type) and issubclass(finder, standard):
            continue
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        try:
            spec = find(name, None)
        except Exception:  # noqa: BLE001 - a third-party finder must not break planning
            spec = None
        if spec is not None:
            return spec
    return None


class _Resolver:
    """Resolves dotted module names against one search path, remembering answers."""

    def __init__(self, path: list[str]) -> None:
        self.path = path
        self.specs: dict[str, ModuleSpec | None] = {}

    def spec(self, name: str) -> ModuleSpec | None:
        if name not in self.specs:
            parent, _, _ = name.rpartition(".")
            if not parent:
                self.specs[name] = _find(name, self.path)
            else:
                outer = self.spec(parent)
                locations = getattr(outer, "submodule_search_locations", None) if outer else None
                self.specs[name] = _find(name, list(locations)) if locations else None
        return self.specs[name]


def _stdlib(top: str) -> bool:
    return top in sys.builtin_module_names or top in getattr(sys, "stdlib_module_names", ())
