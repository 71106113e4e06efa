"""Which files a step reads, writes and lists, recorded inside its kernel (DESIGN rule 10).

Two mechanisms, because no single one sees everything in-process:

- A Python audit hook (`sys.addaudithook`) sees every `open` through Python
  (`open`, `io.open`, `os.open`, and so `pandas.read_csv`, `np.load`,
  `joblib`, `pickle`, `json`, PIL, ...) with its mode, and `os.listdir` /
  `os.scandir` (so `glob`, `pathlib.glob`): wherever the path came from.
  Opens by the import system are left out (modules are key ingredients of
  their own, `cache/modules.py`). Audit hooks cannot be removed, so the hook is
  installed once per kernel and gated by the active `Tracker`.
- Readers whose C++ code opens files itself (pyarrow's Parquet, Feather, CSV,
  ORC and dataset readers, and so `pandas.read_parquet`; polars) are wrapped
  at their module attributes, when already imported and when imported later
  (a `sys.meta_path` finder patches them as they load). A reader outside the
  list is what `--inputs PATH_OR_GLOB` is for.

This was chosen over interposing at the libc level (LD_PRELOAD) because it
needs no native code and no control of how kernels are started (any
kernelspec, any cluster), costs nothing when inactive, and what it misses is
a closed, named list a user can read here. Left out: the Python installation,
the store, `/proc`, `/sys`, `/dev`, `/run`, and the kernel's own runtime and
configuration folders.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

#: module -> (function names whose first argument is a path read, ... written at index 1)
C_READERS: dict[str, tuple[str, ...]] = {
    "pyarrow.parquet": ("read_table", "read_pandas", "read_metadata", "read_schema"),
    "pyarrow.feather": ("read_table", "read_feather"),
    "pyarrow.csv": ("read_csv", "open_csv"),
    "pyarrow.json": ("read_json",),
    "pyarrow.orc": ("read_table",),
    "pyarrow.dataset": ("dataset",),
    "pandas": ("read_parquet", "read_feather", "read_orc"),
    "polars": (
        "read_csv", "read_parquet", "read_ipc", "read_json", "read_ndjson",
        "scan_csv", "scan_parquet", "scan_ipc", "scan_ndjson",
    ),
}
C_WRITERS: dict[str, tuple[str, ...]] = {
    "pyarrow.parquet": ("write_table",),
    "pyarrow.feather": ("write_feather",),
    "pyarrow.csv": ("write_csv",),
    "pyarrow.orc": ("write_table",),
}
_PATH_KEYWORDS = ("source", "path", "path_or_paths", "where", "dest", "output_file", "file")
_WRAPPED = "__mlpipe_tracked__"


@dataclass
class Tracker:
    """What one step touched, as absolute paths in first-touch order."""

    base: Path
    excluded: tuple[str, ...]
    reads: dict[str, None] = field(default_factory=dict)
    writes: dict[str, None] = field(default_factory=dict)
    listed: dict[str, None] = field(default_factory=dict)

    def read(self, path: str) -> None:
        if path not in self.writes and path not in self.reads and not self._excluded(path):
            self.reads[path] = None

    def wrote(self, path: str) -> None:
        if path not in self.writes and not self._excluded(path):
            self.writes[path] = None

    def list(self, path: str) -> None:
        if path not in self.listed and not self._excluded(path):
            self.listed[path] = None

    def _excluded(self, path: str) -> bool:
        return any(path == root or path.startswith(root + os.sep) for root in self.excluded)


_active: Tracker | None = None
_installed = False


def active() -> Tracker | None:
    return _active


def start(base: Path, store_root: Path | None) -> Tracker:
    """Begin recording for one step (the hook and wrappers are installed once)."""
    global _active
    _install()
    folder = Path(base).resolve()
    _active = Tracker(folder, _excluded_roots(store_root, folder))
    return _active


def stop() -> Tracker | None:
    """Stop recording; what was recorded."""
    global _active
    tracker, _active = _active, None
    return tracker


def _excluded_roots(store_root: Path | None, base: Path) -> tuple[str, ...]:
    """Folders whose files are never the step's data: the installation, the store, the
    system's and the kernel's own, and the temp folder (unless the notebook is in it)."""
    import tempfile

    from mlpipe_jupyter.cache.modules import _install_roots

    home = Path.home()
    roots = [*_install_roots(), "/proc", "/sys", "/dev", "/run"]
    roots += [str(home / p) for p in (".cache", ".config", ".ipython", ".jupyter", ".local")]
    if store_root is not None:
        roots.append(str(store_root))
    temp = os.path.realpath(tempfile.gettempdir())
    if not (str(base) == temp or str(base).startswith(temp + os.sep)):
        roots.append(temp)
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        roots.append(jupyter_runtime_dir())
    except Exception:  # noqa: BLE001 - jupyter_core is optional inside a kernel
        pass
    for name in ("IPYTHONDIR", "MPLCONFIGDIR", "JUPYTER_RUNTIME_DIR"):
        if os.environ.get(name):
            roots.append(os.environ[name])
    return tuple(sorted({os.path.realpath(r) for r in roots} | {os.path.abspath(r) for r in roots}))


# -- the audit hook --------------------------------------------------------------


def _abs(path: Any) -> str | None:
    if isinstance(path, int):
        return None
    try:
        return os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return None


#: where opens and listings are the machinery's, not the step's: imports, and the
#: package metadata scans (entry points) that libraries do over every sys.path folder
_MACHINERY = ("/importlib/metadata/", "/importlib_metadata/", "/pkg_resources/",
              "/pkgutil.py", "/site.py", "/linecache.py")


def _from_import_system(depth: int = 12) -> bool:
    frame = sys._getframe(2)
    while frame is not None and depth:
        name = frame.f_code.co_filename
        if name.startswith("<frozen importlib") or any(m in name for m in _MACHINERY):
            return True
        frame, depth = frame.f_back, depth - 1
    return False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    tracker = _active
    if tracker is None:
        return
    if event == "open":
        try:
            path = _abs(args[0])
            if path is None or _from_import_system():
                return
            reading, writing = _access(args[1], args[2] if len(args) > 2 else 0)
            if reading:
                tracker.read(path)
            if writing:
                tracker.wrote(path)
        except Exception:  # noqa: BLE001 - a hook must never break the step
            return
    elif event in ("os.listdir", "os.scandir"):
        try:
            path = _abs(args[0] if args and args[0] is not None else ".")
            if path is not None and not _from_import_system():
                tracker.list(path)
        except Exception:  # noqa: BLE001
            return


def _access(mode: Any, flags: Any) -> tuple[bool, bool]:
    """(reads, writes) of an `open` audit event's mode (or `os.open` flags)."""
    if isinstance(mode, str):
        writing = any(c in mode for c in "wax+")
        return ("r" in mode or "+" in mode, writing)
    flags = int(flags or 0)
    access = flags & os.O_ACCMODE
    writing = access in (os.O_WRONLY, os.O_RDWR) or bool(flags & (os.O_CREAT | os.O_TRUNC))
    return (access in (os.O_RDONLY, os.O_RDWR), writing)


# -- wrapped C-backed readers ---------------------------------------------------------


def _paths(value: Any) -> list[str]:
    if isinstance(value, (str, bytes, os.PathLike)):
        path = _abs(value)
        return [path] if path else []
    if isinstance(value, (list, tuple)):
        return [p for item in value for p in _paths(item)]
    return []


def _record(paths: list[str], writing: bool) -> None:
    tracker = _active
    if tracker is None:
        return
    for path in paths:
        if writing:
            tracker.wrote(path)
        elif os.path.isdir(path):
            tracker.list(path)
            for root, _dirs, names in os.walk(path):
                for name in names:
                    tracker.read(os.path.join(root, name))
        else:
            tracker.read(path)


def _wrap(fn: Callable[..., Any], writing: bool) -> Callable[..., Any]:
    position = 1 if writing else 0

    @functools.wraps(fn)
    def tracked(*args: Any, **kwargs: Any) -> Any:
        if _active is not None:
            target = args[position] if len(args) > position else next(
                (kwargs[k] for k in _PATH_KEYWORDS if k in kwargs), None
            )
            _record(_paths(target), writing)
        return fn(*args, **kwargs)

    setattr(tracked, _WRAPPED, True)
    return tracked


def _patch(module: Any) -> None:
    name = getattr(module, "__name__", "")
    for names, writing in ((C_READERS.get(name, ()), False), (C_WRITERS.get(name, ()), True)):
        for attr in names:
            fn = getattr(module, attr, None)
            if callable(fn) and not getattr(fn, _WRAPPED, False):
                setattr(module, attr, _wrap(fn, writing))


class _PatchingFinder:
    """Patches the wrapped readers' modules as they are imported."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in C_READERS and fullname not in C_WRITERS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None and hasattr(
                spec.loader, "exec_module"
            ):
                spec.loader = _PatchingLoader(spec.loader)
                return spec
            if spec is not None:
                return spec
        return None


class _PatchingLoader:
    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        _patch(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


def _install() -> None:
    global _installed
    for name in {*C_READERS, *C_WRITERS}:
        if name in sys.modules:
            _patch(sys.modules[name])
    if _installed:
        return
    sys.addaudithook(_hook)
    sys.meta_path.insert(0, _PatchingFinder())
    _installed = True


# -- the step's report ----------------------------------------------------------------


def file_report(tracker: Tracker | None, store: Any) -> Any:
    """The files part of the step's `StepReport`: facts relative to the notebook folder.

    Files written are stored by content in `store` (`written_keys`: path ->
    artifact key), so a later step or run can put them back.
    """
    from mlpipe_jupyter.cache.files import HashCache, file_fact, listing_fact

    from .report import StepReport

    if tracker is None:
        return StepReport()
    # file hashes are remembered in a local store's folder; in memory on a worker of a URL store
    local = store is not None and not store.remote
    hashes = HashCache.at(store.hash_dir if local else None)
    base = tracker.base
    read = [f for f in (file_fact(p, base, hashes) for p in tracker.reads) if f is not None]
    written, keys = [], {}
    for path in tracker.writes:
        fact = file_fact(path, base, hashes)
        if fact is None:
            continue
        written.append(fact)
        if store is not None:
            keys[fact.path] = store.put_file(path).key
    listed = [f for f in (listing_fact(p, base) for p in tracker.listed) if f is not None]
    hashes.save()
    return StepReport(
        files_read=tuple(sorted(read, key=lambda f: f.path)),
        files_written=tuple(sorted(written, key=lambda f: f.path)),
        written_keys=dict(sorted(keys.items())),
        dirs_listed=tuple(sorted(listed, key=lambda f: f.path)),
    )


def resume(tracker: Tracker) -> None:
    """Go on recording into `tracker` (after a pause, e.g. while inputs are put back)."""
    global _active
    _active = tracker
