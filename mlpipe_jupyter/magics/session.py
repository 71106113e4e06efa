"""What this kernel has run: every cell, in order, and the `%%step`/`%%params` cells.

One `Session` per IPython shell. It is the kernel's side of the cache key
(DESIGN "The live kernel"): the setup, parameters and steps a `%%step` cell is
keyed with are the cells *this kernel executed*, never a notebook read from
disk. IPython's `pre_run_cell` event gives each cell's source and, where the
client sends one (JupyterLab), its cell id: a cell re-run after an edit keeps
its place and takes its new source, so an edited, unsaved setup cell is the
setup the next step is keyed with. Cells without an id (papermill, nbconvert,
an IPython console) are kept in the order they ran; a `%%step` cell is one
cell per step name. Cells run before the session began come from the input
history.

While a plain cell runs, the files it reads are recorded with the pipeline's
tracker (`compile/tracking.py`) and fingerprinted when it ends: a setup cell's
reads are part of every step's entry, as in a pipeline step (whose tracker runs
before setup), and a file changed since setup read it keeps the step from being
restored or cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..analysis.model import StepOptions

_ATTRIBUTE = "_mlpipe_session"
_INJECTED = "# Parameters"  # papermill's injected parameters cell starts so


@dataclass(frozen=True)
class RecordedStep:
    """A `%%step` cell as the kernel last ran it."""

    name: str
    line: str  # the argument line after `%%step`, as written
    options: StepOptions
    source: str  # the cell body (the `%%step` line removed)
    started: float  # time.time() when the cell started
    duration_s: float | None = None  # None while running or when it raised
    status: str = "running"  # running | succeeded | failed | cached
    execution_count: int = 0


@dataclass(frozen=True)
class RecordedParams:
    """The last `%%params` cell the kernel ran."""

    source: str
    defaults: dict[str, Any]
    execution_count: int = 0


@dataclass
class RanCell:
    """One cell of the kernel's notebook as it ran last; `facts` the files it read."""

    source: str
    facts: tuple[Any, ...] | None = None  # FileFacts; None where reads were not tracked
    listed: tuple[Any, ...] = ()


@dataclass
class Session:
    """Per-shell registry of the cells run in this kernel."""

    steps: dict[str, RecordedStep] = field(default_factory=dict)  # first-run order
    params: RecordedParams | None = None
    first_step_count: int | None = None  # execution count of the first `%%step` run
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)  # (name, re-pickled
    # key) -> the key of the artifact it was restored from
    ran: dict[Any, RanCell] = field(default_factory=dict)  # identity -> cell, first-run order
    restore: bool = True  # `%pipeline restore off` sets False
    tracking_root: Any = None  # the store folder the tracker leaves out
    loaded: dict[str, Any] = field(default_factory=dict)  # module -> (file, sha256 when
    # first seen in sys.modules, id of its spec) for local modules, None for installed ones
    _current: Any = None  # identity of the cell running now
    _hooks: tuple[Any, ...] = ()

    def record_step(self, step: RecordedStep) -> None:
        if self.first_step_count is None:
            self.first_step_count = step.execution_count
        self.steps[step.name] = step  # a re-run keeps its first position

    def record_params(self, params: RecordedParams) -> None:
        self.params = params

    # -- the cells this kernel ran -----------------------------------------------------

    def cell_ran(self, source: str, cell_id: str | None) -> Any:
        """Note a cell about to run; returns its identity."""
        identity = _identity(source, cell_id)
        if identity in self.ran:
            self.ran[identity].source = source  # an edited cell keeps its place
            self.ran[identity].facts = None
            self.ran[identity].listed = ()
        else:
            self.ran[identity] = RanCell(source)
        return identity

    def notebook(self) -> list[dict[str, Any]]:
        """The cells this kernel ran, as `cells_from_json` input, in first-run order;
        papermill's injected parameters cell tagged as papermill tags it."""
        cells = []
        for cell in self.ran.values():
            tags = ["injected-parameters"] if _is_injected(cell.source) else []
            cells.append({"cell_type": "code", "source": cell.source,
                          "metadata": {"tags": tags}})
        return cells

    def cells(self) -> list[RanCell]:
        return list(self.ran.values())

    # -- local modules as this kernel imported them --------------------------------------

    def note_modules(self) -> None:
        """Remember the source hash of each local module newly in `sys.modules`."""
        import sys

        from ..analysis.modpaths import is_installed
        from ..cache.files import sha256_file

        for name, module in list(sys.modules.items()):
            known = self.loaded.get(name, False)
            spec = id(getattr(module, "__spec__", None))  # a reload makes a new spec
            if known is None or (known and known[2] == spec):
                continue
            path = getattr(module, "__file__", None)
            if not isinstance(path, str) or not path.endswith(".py") or is_installed(path):
                self.loaded[name] = None
                continue
            try:
                self.loaded[name] = (path, sha256_file(path), spec)
            except OSError:
                self.loaded[name] = None

    def modules_changed(self, names: Any) -> list[str]:
        """The local modules among `names` whose file changed since this kernel imported
        them: the key hashes the file, the kernel runs what it imported."""
        from ..cache.files import sha256_file

        changed = []
        for name in names:
            known = self.loaded.get(name)
            if not known:
                continue
            try:
                if sha256_file(known[0]) != known[1]:
                    changed.append(name)
            except OSError:
                changed.append(name)
        return sorted(changed)


def _identity(source: str, cell_id: str | None) -> Any:
    if cell_id:
        return ("id", cell_id)
    first = source.lstrip().split("\n", 1)[0]
    if first.startswith("%%step"):
        words = first.split()
        if len(words) > 1:
            return ("step", words[1])
    if first.startswith("%%params"):
        return ("params",)
    return ("source", source)


def _is_injected(source: str) -> bool:
    return source.lstrip().startswith(_INJECTED + "\n")


def session_for(shell: Any) -> Session:
    """The shell's session, created (and its cells watched) on first use."""
    session = getattr(shell, _ATTRIBUTE, None)
    if session is None:
        session = Session()
        setattr(shell, _ATTRIBUTE, session)
        _watch(shell, session)
    return session


def _watch(shell: Any, session: Session) -> None:
    """Record every cell the shell runs from now; the ones it ran before from history."""
    history = list(getattr(getattr(shell, "history_manager", None), "input_hist_raw", []) or [])
    running = getattr(shell, "execution_count", len(history))
    for source in history[1:running]:
        if source.strip():
            session.cell_ran(source, None)  # untracked: run before the session began
    events = getattr(shell, "events", None)
    if events is None:
        return

    def pre(info: Any) -> None:
        if getattr(info, "silent", False) or not getattr(info, "store_history", True):
            return
        source = info.raw_cell or ""
        if not source.strip():
            return
        session._current = session.cell_ran(source, getattr(info, "cell_id", None))
        if not source.lstrip().startswith(("%%step", "%%params")):
            _start_tracking(shell, session)

    def post(result: Any) -> None:
        identity, session._current = session._current, None
        if identity is None:
            return
        _stop_tracking(session, session.ran.get(identity))

    events.register("pre_run_cell", pre)
    events.register("post_run_cell", post)
    session._hooks = (pre, post)


def _store_folder(shell: Any) -> Any:
    """The local store a `%%step` cell would use (`interactive.open_store`'s rule, without
    opening it), or None: `$MLPIPE_STORE`, else `.mlpipe` beside the notebook Jupyter
    names, else in the working directory. Without one, no cell is tracked: no cost."""
    import os
    from pathlib import Path

    configured = os.environ.get("MLPIPE_STORE")
    if configured:
        return None if "://" in configured else Path(configured).expanduser().resolve()
    folders = [Path.cwd()]
    for hint in (shell.user_ns.get("__session__"), shell.user_ns.get("__vsc_ipynb_file__"),
                 os.environ.get("JPY_SESSION_NAME")):
        if isinstance(hint, str) and hint.endswith(".ipynb"):
            folders.insert(0, Path(hint).expanduser().resolve().parent)
    for folder in folders:
        if (folder / ".mlpipe").is_dir():
            return (folder / ".mlpipe").resolve()
    return None


def _start_tracking(shell: Any, session: Session) -> None:
    import os
    from pathlib import Path

    from ..compile import tracking

    try:
        configured = bool(os.environ.get("MLPIPE_STORE"))
        store = _store_folder(shell)
        if store is None and not configured:
            return
        session.tracking_root = store
        session.note_modules()
        if tracking.active() is None:
            tracking.start(Path.cwd(), store)
    except Exception:  # noqa: BLE001 - tracking must never stop a cell
        pass


def _stop_tracking(session: Session, cell: RanCell | None) -> None:
    """The files the cell read, fingerprinted now (hashes memoised in the store's cache
    folder, so a setup cell re-run on the same big file is hashed once)."""
    from ..cache.files import HashCache, file_fact, listing_fact
    from ..compile import tracking

    tracker = tracking.stop()
    if tracker is None or cell is None:
        return
    try:
        root = session.tracking_root
        hashes = HashCache.at(root / "cache" if root is not None else None)
        base = tracker.base
        cell.facts = tuple(f for f in (file_fact(p, base, hashes) for p in tracker.reads)
                           if f is not None)
        cell.listed = tuple(f for f in (listing_fact(p, base) for p in tracker.listed)
                            if f is not None)
        hashes.save()
    except Exception:  # noqa: BLE001
        cell.facts = None


def forget_session(shell: Any) -> None:
    session = getattr(shell, _ATTRIBUTE, None)
    if session is None:
        return
    events = getattr(shell, "events", None)
    for name, hook in zip(("pre_run_cell", "post_run_cell"), session._hooks):
        try:
            events.unregister(name, hook)
        except (ValueError, AttributeError):
            pass
    delattr(shell, _ATTRIBUTE)
