"""Issue 20's key ingredients and entry checks: environment, calendar, installs, loaded code.

Key ingredients (`KeyIngredients.environ`, `.date`, `.records`), known before
the step runs:
- the environment variables the setup or the step reads at a literal name
  (`analysis/ambient.py`), with their values in this process (None: unset).
  The step's job hands the same values to its kernel (`job_environ`), so what
  the kernel sees is what the key says, whatever the worker's environment;
- the day (`today()`), for a step that reads the calendar, unless it says
  `--cache always`: reused within a day, re-run the next;
- for every distribution in `packages`, the sha256 of its `RECORD` (the file
  list with hashes pip wrote): a same-version reinstall with other files is a
  change (`package mypkg 1.0 reinstalled`).

Entry checks (`identity_changed`), from what the step's kernel saw
(`compile/identity.py`, `StepReport.identity`): every module the step had
loaded at its end that lies outside the Python installation, by source hash
(`module plugins.fast changed`), whatever imported it (`sys.path` edits,
`importlib.import_module`, unpickling a value whose class lives there);
distributions first imported while the step ran (plugins), by version and
RECORD; environment variables read at run time by the step's own code or its
local modules, with the value seen.

`MLPIPE_TODAY=YYYY-MM-DD` sets the day the cache keys on (for tests; the
step's own `date.today()` still reads the clock).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from mlpipe_jupyter.analysis.model import Pipeline, Step

    from .keys import KeyIngredients

TODAY_ENV = "MLPIPE_TODAY"


def today() -> str:
    """The local date as YYYY-MM-DD (`MLPIPE_TODAY` overrides it, for tests)."""
    forced = os.environ.get(TODAY_ENV, "").strip()
    if forced:
        return forced
    import datetime

    return datetime.date.today().isoformat()


def _pythons(source: str) -> tuple[str | None, ...]:
    from mlpipe_jupyter.analysis.ipysyntax import python_source

    try:
        return (python_source(source),)
    except (SyntaxError, ValueError):
        return ()


def step_facts(step: Step, pipeline: Pipeline) -> Any:
    """`analysis.ambient.Ambient` of the step, with setup's environment reads added."""
    from dataclasses import replace

    from mlpipe_jupyter.analysis.ambient import scan

    setup = _pythons(pipeline.setup_source) if pipeline.setup_source.strip() else ()
    facts = scan(_pythons(step.source), setup)
    extra = tuple(v for v in scan(setup).environ if v not in facts.environ)
    return replace(facts, environ=facts.environ + extra) if extra else facts


def step_ambient(step: Step, pipeline: Pipeline, packages: dict[str, str],
                 store_dir: Path | None = None) -> dict[str, Any]:
    """{"environ", "date", "records"} for `KeyIngredients`."""
    facts = step_facts(step, pipeline)
    start = _start_environ()
    environ = {name: start.get(name) for name in sorted(facts.environ)}
    always = getattr(step.options, "cache", True) == "always"
    return {
        "environ": environ,
        "date": today() if facts.calendar and not always else "",
        "records": record_hashes(packages),
    }


def _start_environ() -> Any:
    """The environment the notebook started with: in a kernel, before any step changed it
    (those changes flow as `setting:environ`), so a live kernel keys as a pipeline does."""
    settings = sys.modules.get("mlpipe_jupyter.compile.settings")
    start = getattr(settings, "_BASELINE", {}).get("environ") if settings else None
    return start if start is not None else os.environ


def job_environ(step: Step, pipeline: Pipeline) -> dict[str, Any]:
    """`{"environ": {...}}` for a step job's `_mlpipe` config ({} when it reads none)."""
    names = step_facts(step, pipeline).environ
    return {"environ": {n: os.environ.get(n) for n in sorted(names)}} if names else {}


# -- RECORD hashes -------------------------------------------------------------------

_RECORDS: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256
_RECORD_PATHS: dict[str, str | None] = {}
_RECORD_STAMP: tuple[Any, ...] = ()


def _record_path(dist: str) -> str | None:
    global _RECORD_STAMP
    from .modules import _path_stamp

    stamp = _path_stamp()
    if stamp != _RECORD_STAMP:
        _RECORD_PATHS.clear()
        _RECORD_STAMP = stamp
    if dist not in _RECORD_PATHS:
        from importlib.metadata import PackageNotFoundError, distribution

        path = None
        try:
            found = distribution(dist)
            base = getattr(found, "_path", None)
            if base is not None and (Path(base) / "RECORD").is_file():
                path = str(Path(base) / "RECORD")
        except (PackageNotFoundError, ValueError, OSError):
            path = None
        _RECORD_PATHS[dist] = path
    return _RECORD_PATHS[dist]


def record_hash(dist: str) -> str:
    """sha256 of the distribution's RECORD ("" when it has none), memoised by stat."""
    path = _record_path(dist)
    if path is None:
        return ""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    memo = (path, st.st_size, st.st_mtime_ns)
    if memo not in _RECORDS:
        try:
            _RECORDS[memo] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            return ""
    return _RECORDS[memo]


def record_hashes(dists: Iterable[str]) -> dict[str, str]:
    found = {}
    for dist in sorted(dists):
        digest = record_hash(dist)
        if digest:
            found[dist] = digest
    return found


# -- reasons -------------------------------------------------------------------------


def _shown(value: Any) -> str:
    return "(unset)" if value is None else str(value)


def reasons(old: KeyIngredients, new: KeyIngredients) -> list[str]:
    found: list[str] = []
    for name in sorted(set(old.environ) | set(new.environ)):
        if name in old.environ and name in new.environ \
                and old.environ[name] != new.environ[name]:
            found.append(f"environment {name} {_shown(old.environ[name])} ->"
                         f" {_shown(new.environ[name])}")
        elif name not in old.environ or name not in new.environ:
            found.append(f"environment {name} now read" if name in new.environ
                         else f"environment {name} no longer read")
    if old.date != new.date:
        if old.date and new.date:
            found.append(f"date {old.date} -> {new.date}")
        else:
            found.append("reads the calendar" if new.date else "no longer reads the calendar")
    for dist in sorted(set(old.records) & set(new.records)):
        if old.records[dist] != new.records[dist] \
                and old.packages.get(dist) == new.packages.get(dist):
            found.append(f"package {dist} {new.packages.get(dist, '')} reinstalled".replace(
                "  ", " "))
    return found


# -- entry checks: what the step's kernel saw ---------------------------------------------


def identity_changed(identity: dict[str, Any] | None, base: Path) -> str | None:
    """Why what a step saw at run time no longer holds; None if it does.

    `identity` is `StepReport.identity`: {"modules": {name: [path, sha256]},
    "packages": {dist: [version, record sha256]}, "environ": {var: value}}.
    A module path is relative to `base` (the notebook's folder) or absolute.
    """
    if not identity:
        return None
    from .modules import _file_facts

    for name, (path, digest) in sorted((identity.get("modules") or {}).items()):
        full = path if os.path.isabs(path) else os.path.join(base, path)
        facts = _file_facts(full)
        if facts is None:
            return f"module {name} removed"
        if facts[0] != digest:
            return f"module {name} changed"
    for dist, (version, record) in sorted((identity.get("packages") or {}).items()):
        now = installed_version(dist)
        if now is None:
            return f"package {dist} {version} -> (none)"
        if now != version:
            return f"package {dist} {version} -> {now}"
        if record and record_hash(dist) not in ("", record):
            return f"package {dist} {version} reinstalled"
    start = _start_environ()
    for var, seen in sorted((identity.get("environ") or {}).items()):
        if start.get(var) != seen:
            return f"environment {var} {_shown(seen)} -> {_shown(start.get(var))}"
    return None


_VERSIONS: dict[str, str | None] = {}
_VERSIONS_STAMP: tuple[Any, ...] = ()


def installed_version(dist: str) -> str | None:
    """The installed version of `dist` (None: not installed), memoised while the search
    path's folders keep their mtimes (an install or uninstall changes them)."""
    global _VERSIONS_STAMP
    from .modules import _path_stamp

    stamp = _path_stamp()
    if stamp != _VERSIONS_STAMP:
        _VERSIONS.clear()
        _VERSIONS_STAMP = stamp
    if dist not in _VERSIONS:
        from importlib.metadata import PackageNotFoundError, version

        try:
            _VERSIONS[dist] = version(dist)
        except PackageNotFoundError:
            _VERSIONS[dist] = None
    return _VERSIONS[dist]


def relative_module_path(path: str, base: Path) -> str:
    """A module file as an entry records it: relative to `base` when under it."""
    try:
        return Path(path).resolve().relative_to(Path(base).resolve()).as_posix()
    except ValueError:
        return os.path.abspath(path)


def loaded_local_modules(base: Path, exclude: Iterable[str] = (),
                         inside: bool = False) -> dict[str, list[str]]:
    """{module: [path, source sha256]} of the loaded modules outside the installation
    (not mlpipe's own, nor `__main__`); with `inside`, only those under `base` (a worker
    of a URL store: its other files are not the project's, and not where a plan looks)."""
    from .modules import _file_facts, is_installed

    own = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    skip = set(exclude)
    found: dict[str, list[str]] = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path or name == "__main__" or name in skip or not isinstance(path, str):
            continue
        if path.startswith(own) or not path.endswith((".py", ".so", ".pyd")) \
                or is_installed(path):
            continue
        if "ipykernel_" in path or "/ipython-input-" in path:  # a cell's code, not a file
            continue
        facts = _file_facts(path)
        shown = relative_module_path(path, base)
        if facts is not None and not (inside and os.path.isabs(shown)):
            found[name] = [shown, facts[0]]
    return dict(sorted(found.items()))



def record_stamps(origin: str, module: str) -> list[tuple[str, float]]:
    """(RECORD path, mtime) of the distribution named like `module`'s top-level package
    beside its files (`numpy` -> `numpy-2.4.6.dist-info`): what a kernel pool that
    preloaded it is retired on (a same-version reinstall rewrites RECORD), as the key
    holds its hash. One listing of the package's folder: cheap enough for every `take`."""
    top = module.split(".")[0].lower().replace("-", "_")
    package = os.path.dirname(origin)
    site = os.path.dirname(package) if os.path.basename(origin) == "__init__.py" else package
    found = []
    try:
        names = os.listdir(site)
    except OSError:
        return []
    for name in names:
        if name.endswith(".dist-info") and name.lower().replace("-", "_").startswith(top + "_"):
            path = os.path.join(site, name, "RECORD")
            try:
                found.append((path, os.stat(path).st_mtime))
            except OSError:
                continue
    return found


def with_kernel_identity(report: Any, base: Path) -> Any:
    """A live kernel's cell report with the local modules the kernel has loaded (all of
    them: which ones this cell used cannot be told apart, so a change to any re-runs it)."""
    from dataclasses import replace

    if not hasattr(report, "identity"):
        return report
    try:
        modules = loaded_local_modules(base)
    except Exception:  # noqa: BLE001 - an entry without them is checked as before
        return report
    return replace(report, identity={**report.identity, "modules": modules}) if modules \
        else report
