"""Which files a step reads, writes, lists and looks for, recorded in all its processes
(DESIGN rule 10, "What the cache watches").

Three mechanisms, merged into one `Tracker`:

- The read watcher (`mlpipe_jupyter/watch/`): an LD_PRELOAD interposer on the C
  library's file calls, loaded into the kernel when the pool starts it and inherited
  by every process the step starts (its exec wrappers put it back into an environment
  that dropped it). It sees what Python does not: C libraries that open files
  themselves (sqlite3, pyarrow, `np.fromfile`, `ctypes`-loaded libraries), child
  processes (joblib/loky, multiprocessing, `subprocess`, `!cat`), code run at import
  time, and failed lookups (`os.path.exists`, ENOENT opens). `start` points
  `$MLPIPE_WATCH_LOG` at a log of this step; `stop` reads it. Its exec wrapper reports
  programs it cannot follow (statically linked, Go, setuid): the step is then opaque.
  Chosen over ptrace (100x the cost per call, one tracer per process) and audit
  hooks plus a `sitecustomize` in Python children (blind to C libraries and to
  non-Python children); measured in `bench/bench_watch.py`.
- A Python audit hook (`sys.addaudithook`) sees every `open` through Python with its
  mode and `os.listdir` / `os.scandir` (so `glob`). It is what a kernel without the
  watcher (a kernel JupyterLab started, a machine without a C compiler) has; there a
  step that starts a program is recorded opaque ("reads not fully tracked: runs
  `cat`"), and `sqlite3.connect` / `ctypes` loads are recorded from their audit events.
- Readers whose C++ code opens files itself (pyarrow's readers, polars) are wrapped at
  their module attributes, for kernels without the watcher.

Each file read gets its fingerprint (size, mtime_ns, ctime_ns, inode) at the first
read; `file_report` re-takes it at the step's end: a file that changed in between is
`changed_during` (the result is not cached). Left out: the Python installation,
system folders (`/usr`, `/etc`, `/proc`, `/sys`, `/dev`, `/run`...), programs on
`$PATH`, the store, the kernel's own runtime and configuration folders, compiled
bytecode and sqlite's `-journal`/`-wal`/`-shm` files.
"""

from __future__ import annotations

import errno
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


Fingerprint = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode

#: the most absent paths one step records (a program probing many names is not a step
#: that depends on each of them)
MAX_ABSENT = 200
_SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")
#: system folders: what is there is the machine's, identified by packages, not files
_SYSTEM_ROOTS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc",
                 "/proc", "/sys", "/dev", "/run", "/var/lib", "/var/cache", "/nix/store")


def fingerprint(path: str) -> Fingerprint | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass
class Tracker:
    """What one step touched, as absolute paths in first-touch order."""

    base: Path
    excluded: tuple[str, ...]
    reads: dict[str, None] = field(default_factory=dict)
    writes: dict[str, None] = field(default_factory=dict)
    listed: dict[str, None] = field(default_factory=dict)
    #: fingerprint of each file read, taken at its first read
    first: dict[str, Fingerprint | None] = field(default_factory=dict)
    #: files written anywhere (not stored when outside the project): never reads
    touched: set[str] = field(default_factory=set)
    #: files opened read-write: a change by the end is the step's own write
    updated: set[str] = field(default_factory=set)
    absent: dict[str, None] = field(default_factory=dict)
    opaque: dict[str, None] = field(default_factory=dict)
    #: the watcher's log for this step (None: no watcher in this kernel)
    log: str | None = None

    def read(self, path: str, fp: Fingerprint | None = None) -> None:
        if path not in self.writes and path not in self.reads and not self._excluded(path):
            self.reads[path] = None
            self.first[path] = fp if fp is not None else fingerprint(path)

    def wrote(self, path: str) -> None:
        """A file written: never a read; stored (to be put back for later steps) unless it
        is in the temp folder outside the project (scratch files, as before issue 20)."""
        self.touched.add(path)
        if path in self.writes or self._excluded(path):
            return
        if path.startswith(_temp_root() + os.sep) and not self.inside(path):
            return
        self.writes[path] = None

    def list(self, path: str) -> None:
        if path not in self.listed and not self._excluded(path):
            self.listed[path] = None

    def missing(self, path: str) -> None:
        if path == str(self.base):
            return
        if len(self.absent) < MAX_ABSENT and not self._excluded(path):
            self.absent[path] = None

    def cannot_follow(self, what: str) -> None:
        self.opaque[what] = None

    def inside(self, path: str) -> bool:
        base = str(self.base)
        return path == base or path.startswith(base + os.sep)

    def _excluded(self, path: str) -> bool:
        if path.endswith(_SQLITE_SIDE_FILES) or "/__pycache__/" in path:
            return True
        if path.startswith(_temp_noise()) and not self.inside(path):
            return True
        return any(path == root or path.startswith(root + os.sep) for root in self.excluded)


_active: Tracker | None = None
_installed = False


@functools.lru_cache(maxsize=1)
def _temp_root() -> str:
    import tempfile

    return os.path.realpath(tempfile.gettempdir())


@functools.lru_cache(maxsize=1)
def _temp_noise() -> tuple[str, ...]:
    """The kernels' and libraries' own files in the temp folder; the rest of it counts."""
    temp = _temp_root()
    names = ("mlpipe-kernel-", "joblib_memmapping", "loky-", "pymp-", "tmp")
    return tuple(os.path.join(temp, n) for n in names)


def active() -> Tracker | None:
    return _active


def start(base: Path, store_root: Path | None) -> Tracker:
    """Begin recording for one step (the hook and wrappers are installed once)."""
    global _active
    _install()
    folder = Path(base).resolve()
    tracker = Tracker(folder, _excluded_roots(store_root, folder))
    from mlpipe_jupyter import watch

    if watch.enabled() and watch.loaded():
        from mlpipe_jupyter.watch.events import new_log

        tracker.log = new_log()
    _active = tracker
    _point_watcher(tracker)
    return tracker


def stop() -> Tracker | None:
    """Stop recording; what was recorded (the watcher's events merged in)."""
    global _active
    tracker, _active = _active, None
    _point_watcher(None)
    if tracker is not None and tracker.log:
        _merge_watched(tracker)
    return tracker


def _point_watcher(tracker: Tracker | None) -> None:
    """Point the interposer (in this process and the ones it starts) at the step's log."""
    from mlpipe_jupyter.watch import ENV_LOG, ENV_SKIP

    if tracker is None or not tracker.log:
        os.environ.pop(ENV_LOG, None)
        return
    os.environ[ENV_SKIP] = ":".join(r for r in tracker.excluded if ":" not in r)
    os.environ[ENV_LOG] = tracker.log  # read by the interposer at each call


def _merge_watched(tracker: Tracker) -> None:
    """Fold the watcher's events (all processes of the step) into `tracker`; the log
    is consumed (a paused tracker's log goes on from where it was)."""
    from mlpipe_jupyter.watch import events as ev

    assert tracker.log is not None
    log, tracker.log = tracker.log, None  # the hooks below must not see their own reads
    modules = {os.path.abspath(f) for f in (getattr(m, "__file__", None)
                                             for m in list(sys.modules.values())) if f}
    on_path = {os.path.realpath(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p}
    search = {os.path.abspath(p or ".") for p in sys.path}
    for event in ev.read(log):
        if event.op == ev.UNFOLLOWABLE:  # "/sbin/ldconfig (statically linked)"
            tracker.cannot_follow(f"runs `{os.path.basename(event.path.split(' (')[0])}`")
            continue
        path = os.path.normpath(event.path)
        if path in modules or tracker._excluded(path) or os.path.dirname(path) in on_path:
            continue
        if event.op == ev.OPEN_WRITE:
            if not event.errno:
                if tracker.inside(path):
                    tracker.wrote(path)
                else:
                    tracker.touched.add(path)
        elif event.errno in (errno.ENOENT, errno.ENOTDIR):
            # a failed lookup: in the project any probe counts; outside it, a failed open
            if path not in tracker.reads and (
                    tracker.inside(path) or event.op in (ev.OPEN_READ, ev.OPEN_UPDATE)):
                tracker.missing(path)
        elif event.errno:
            continue
        elif event.op in (ev.OPEN_READ, ev.OPEN_UPDATE, ev.LIBRARY):
            if path not in tracker.touched:
                tracker.read(path, event.fingerprint)
            if event.op == ev.OPEN_UPDATE:
                tracker.updated.add(path)
        elif event.op == ev.FOLDER and path not in search:
            tracker.list(path)
    try:
        os.unlink(log)
    except OSError:
        pass
    tracker.log = ev.new_log()


def _excluded_roots(store_root: Path | None, base: Path) -> tuple[str, ...]:
    """Folders whose files are never the step's data: the installation, the system's,
    the store, the kernel's own runtime and configuration (never one holding the notebook)."""
    from mlpipe_jupyter.cache.modules import _install_roots
    from mlpipe_jupyter.watch.events import log_dir

    home = Path.home()
    roots = [*_install_roots(), *_SYSTEM_ROOTS, str(log_dir())]
    roots += [str(home / p) for p in (".cache", ".ipython", ".jupyter", ".local", ".pyenv")]
    if store_root is not None:
        roots.append(str(store_root))
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        roots.append(jupyter_runtime_dir())
    except Exception:  # noqa: BLE001 - jupyter_core is optional inside a kernel
        pass
    for name in ("IPYTHONDIR", "MPLCONFIGDIR", "JUPYTER_RUNTIME_DIR"):
        if os.environ.get(name):
            roots.append(os.environ[name])
    found = {os.path.realpath(r) for r in roots} | {os.path.abspath(r) for r in roots}
    here = str(base) + os.sep
    return tuple(sorted(r for r in found if not here.startswith(r.rstrip(os.sep) + os.sep)))


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


#: what the import system opens: module code; anything else opened while importing
#: (`weights.txt` read at a module's top level, `pkgutil.get_data`) is a read
_MODULE_FILES = (".py", ".pyc", ".pyo", ".so", ".pyd", ".pth", ".egg-link")
#: audit events of a step starting a program: without the watcher its reads are unseen
_STARTS = {"subprocess.Popen": 0, "os.system": 0, "os.exec": 0, "os.posix_spawn": 0,
           "os.spawn": 1, "pty.spawn": 0}


def _hook(event: str, args: tuple[Any, ...]) -> None:
    tracker = _active
    if tracker is None:
        return
    if event == "open":
        try:
            path = _abs(args[0])
            if path is None or (path.endswith(_MODULE_FILES) and _from_import_system()):
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
    elif tracker.log is None and event in _STARTS:
        tracker.cannot_follow(f"runs `{_program(args[_STARTS[event]])}`")
    elif tracker.log is None and event in ("sqlite3.connect", "ctypes.dlopen"):
        try:
            path = _abs(args[0]) if args and isinstance(args[0], (str, bytes)) else None
            if path and os.path.isfile(path):
                tracker.read(path)
        except Exception:  # noqa: BLE001
            return


def _program(command: Any) -> str:
    """The program a `subprocess`/`os.system`/`os.exec` audit event starts, by name."""
    import shlex

    try:
        if isinstance(command, (list, tuple)):
            command = command[0]
        if isinstance(command, bytes):
            command = os.fsdecode(command)
        if isinstance(command, os.PathLike):
            command = os.fspath(command)
        words = shlex.split(str(command)) if isinstance(command, str) else []
        return os.path.basename(words[0]) if words else "a program"
    except Exception:  # noqa: BLE001
        return "a program"


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
    artifact key), so a later step or run can put them back. Each file read keeps
    the fingerprint of its first read; one whose fingerprint is another now changed
    while the step ran (`changed_during`), unless the step opened it read-write (then
    it is the step's own write, like sqlite's INSERT into the database it reads).
    """
    from mlpipe_jupyter.cache.files import HashCache, file_fact, listing_fact, relative

    from .report import StepReport

    if tracker is None:
        return StepReport()
    # file hashes are remembered in a local store's folder; in memory on a worker of a URL store
    local = store is not None and not store.remote
    hashes = HashCache.at(store.hash_dir if local else None)
    base = tracker.base
    read, changed = [], []
    for path in tracker.reads:
        if path in tracker.touched:
            continue
        first = tracker.first.get(path)
        if first is None and not os.path.lexists(path):
            tracker.missing(path)  # `try: open(...) except FileNotFoundError`
            continue
        if first is not None and fingerprint(path) not in (first, None):
            if path in tracker.updated:
                tracker.wrote(path)
                continue
            changed.append(relative(path, base))
        fact = file_fact(path, base, hashes, first)
        if fact is not None:
            read.append(fact)
    written, keys = [], {}
    for path in tracker.writes:
        fact = file_fact(path, base, hashes)
        if fact is None:
            continue
        written.append(fact)
        if store is not None:
            keys[fact.path] = store.put_file(path).key
    listed = [f for f in (listing_fact(p, base) for p in tracker.listed) if f is not None]
    absent = {relative(p, base) for p in tracker.absent
              if p not in tracker.touched and not (p in tracker.reads and tracker.first.get(p))}
    hashes.save()
    return StepReport(
        files_read=tuple(sorted(read, key=lambda f: f.path)),
        files_written=tuple(sorted(written, key=lambda f: f.path)),
        written_keys=dict(sorted(keys.items())),
        dirs_listed=tuple(sorted(listed, key=lambda f: f.path)),
        paths_absent=tuple(sorted(absent)),
        opaque=tuple(tracker.opaque),
        changed_during=tuple(sorted(set(changed))),
    )


def resume(tracker: Tracker) -> None:
    """Go on recording into `tracker` (after a pause, e.g. while inputs are put back)."""
    global _active
    _active = tracker
    _point_watcher(tracker)
