"""What a step imports, as cache-key ingredients: local module sources, installed versions.

A module is *local* when its file lies outside the Python installation
(`sys.prefix`, `sys.base_prefix`, the stdlib and site-packages folders): the
user's `helpers.py` beside the notebook, their editable package. The normalized
source of every local module the setup or a step imports is a key ingredient,
followed transitively through the local modules' own imports. Every other
imported top-level module contributes the version of the distribution it
comes from (`importlib.metadata`), and the Python version is one ingredient.

Everything is static: imports are read with `ast` (anywhere in the code, so an
import inside a function counts) and resolved with `PathFinder` against the
kernels' search path (the notebook's folder first, as a kernel started there
sees it, then this process's `sys.path`). Nothing is imported or executed.
Per-file facts are memoised by (path, size, mtime), the import-name ->
distribution map by the mtimes of the search path's folders, so a no-change
rerun costs a few stats.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from mlpipe_jupyter.analysis.modpaths import (  # noqa: F401 (re-exported)
    _Resolver, _find, _install_roots, _stdlib, is_installed, search_path,
)

#: (module name, imported names, relative level) of one import statement.
ImportSpec = tuple[str, tuple[str, ...], int]

_MAX_MODULES = 2000  # a runaway walk (a whole library on PYTHONPATH) stops here


@dataclass(frozen=True)
class Environment:
    """The imported code and versions a step's result depends on."""

    modules: dict[str, str] = field(default_factory=dict)  # local module -> sha256 of source
    packages: dict[str, str] = field(default_factory=dict)  # distribution -> version
    python: str = ""
    imports: tuple[str, ...] = ()  # every non-stdlib top-level module imported, found or not


def python_version() -> str:
    info = sys.version_info
    return f"{info.major}.{info.minor}.{info.micro}"


def code_imports(source: str) -> tuple[ImportSpec, ...]:
    """The imports in a cell's (IPython) source; () when it does not parse."""
    return _code_imports(source)


@lru_cache(maxsize=1024)
def _code_imports(source: str) -> tuple[ImportSpec, ...]:
    from mlpipe_jupyter.analysis.ipysyntax import python_source

    try:
        code = python_source(source)
        tree = ast.parse(code) if code is not None else None
    except (SyntaxError, ValueError, RecursionError):
        return ()
    return _imports(tree) if tree is not None else ()


def _imports(tree: ast.AST) -> tuple[ImportSpec, ...]:
    found: list[ImportSpec] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, (), 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names if alias.name != "*")
            found.append((node.module or "", names, node.level))
    return tuple(found)


# -- the Python installation ---------------------------------------------------


# -- per-file facts, memoised by stat ----------------------------------------------

_FILE_FACTS: dict[tuple[str, int, int], tuple[str, tuple[ImportSpec, ...]]] = {}


def _file_facts(path: str) -> tuple[str, tuple[ImportSpec, ...]] | None:
    """(sha256 of the normalized source, its imports) of a module file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    memo = (path, st.st_size, st.st_mtime_ns)
    if memo in _FILE_FACTS:
        return _FILE_FACTS[memo]
    from mlpipe_jupyter.analysis.normalize import normalize_code

    from .hashing import sha256_text

    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    try:
        text = data.decode("utf-8")
        tree = ast.parse(text)
        facts = (sha256_text(ast.unparse(tree)), _imports(tree))
    except (UnicodeDecodeError, SyntaxError, ValueError, RecursionError):
        # not Python we can parse (a compiled extension, bad syntax): its bytes count
        text = data.decode("utf-8", "replace")
        facts = (hashlib.sha256(data).hexdigest() if "\0" in text else sha256_text(
            normalize_code(text)), ())
    _FILE_FACTS[memo] = facts
    return facts


# -- the walk ------------------------------------------------------------------------


def environment(
    sources: Iterable[str], base: Path, memo_dir: Path | None = None
) -> Environment:
    """Local modules (transitively) and distribution versions of what `sources` import.

    `base` is the notebook's folder (the kernels' working directory);
    `memo_dir` is where the import-name -> distribution map may be memoised.
    """
    resolver = _Resolver(search_path(base))
    modules: dict[str, str] = {}
    tops: set[str] = set()
    pending: list[tuple[ImportSpec, str]] = []  # (import, importing package)
    for source in sources:
        pending.extend((spec, "") for spec in code_imports(source))
    seen: set[str] = set()
    imported: set[str] = set()
    while pending and len(modules) < _MAX_MODULES:
        (module, names, level), package = pending.pop()
        for name in _candidates(module, names, level, package):
            if name in seen:
                continue
            seen.add(name)
            top = name.partition(".")[0]
            if _stdlib(top):
                break
            imported.add(top)
            spec = resolver.spec(name)
            if spec is None:
                continue
            origin = spec.origin
            if not origin or origin in ("built-in", "frozen") or not os.path.isfile(origin):
                tops.add(top)  # a namespace package: its submodules are candidates too
                continue
            if is_installed(origin):
                tops.add(top)
                continue
            facts = _file_facts(origin)
            if facts is None:
                continue
            modules[name] = facts[0]
            tops.add(top)
            own_package = name if spec.submodule_search_locations else name.rpartition(".")[0]
            pending.extend((imp, own_package) for imp in facts[1])
    return Environment(
        modules=dict(sorted(modules.items())),
        packages=installed_versions(sorted(tops), memo_dir),
        python=python_version(),
        imports=tuple(sorted(imported)),
    )


def _candidates(module: str, names: tuple[str, ...], level: int, package: str) -> list[str]:
    """The modules an import statement may load, outermost first."""
    if level:
        parts = package.split(".") if package else []
        if level - 1 > len(parts) or not package:
            return []
        anchor = ".".join(parts[: len(parts) - (level - 1)])
        module = f"{anchor}.{module}" if module else anchor
    if not module:
        return []
    pieces = module.split(".")
    found = [".".join(pieces[: i + 1]) for i in range(len(pieces))]
    found.extend(f"{module}.{name}" for name in names)  # `from pkg import sub`
    return found


# -- installed distributions ----------------------------------------------------------

_DISTS: dict[tuple[tuple[str, int], ...], dict[str, list[str]]] = {}


def _path_stamp() -> tuple[tuple[str, int], ...]:
    stamp = []
    for entry in sys.path:
        try:
            stamp.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            continue
    return tuple(stamp)


def _distributions(memo_dir: Path | None) -> dict[str, list[str]]:
    """`importlib.metadata.packages_distributions()`, memoised by the path's mtimes.

    A pip install or upgrade creates and removes `*.dist-info` folders, which
    changes their parent's mtime; versions themselves are always read fresh.
    """
    stamp = _path_stamp()
    if stamp in _DISTS:
        return _DISTS[stamp]
    memo = memo_dir / "distributions.json" if memo_dir is not None else None
    mapping: dict[str, list[str]] | None = None
    if memo is not None:
        try:
            data = json.loads(memo.read_text("utf-8"))
            if tuple((str(a), int(b)) for a, b in data["stamp"]) == stamp:
                mapping = {k: list(v) for k, v in data["map"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            mapping = None
    if mapping is None:
        from importlib.metadata import packages_distributions

        mapping = {k: sorted(set(v)) for k, v in packages_distributions().items()}
        if memo is not None:
            try:
                from .fs import atomic_write_json

                atomic_write_json(memo, {"stamp": [list(s) for s in stamp], "map": mapping})
            except OSError:
                pass
    _DISTS.clear()
    _DISTS[stamp] = mapping
    return mapping


def installed_versions(tops: Iterable[str], memo_dir: Path | None = None) -> dict[str, str]:
    """{distribution: version} of the distributions providing the top-level modules."""
    tops = list(tops)
    if not tops:
        return {}
    from importlib.metadata import PackageNotFoundError, version

    mapping = _distributions(memo_dir)
    versions: dict[str, str] = {}
    for top in tops:
        for dist in mapping.get(top, ()):
            if dist in versions:
                continue
            try:
                versions[dist] = version(dist)
            except PackageNotFoundError:
                continue
    return dict(sorted(versions.items()))
