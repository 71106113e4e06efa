"""A per-step progress view for `%pipeline run`, driven only by run events.

`ProgressModel` is pure: it folds events (`{"event": "step", "step", "status",
"reason"?, "duration_s"?, "worker"?, "error"?}` and `{"event": "run", "status",
"run_id"?}`) into rows. `WidgetView` shows the rows with ipywidgets, one
`HBox` per step; `TextView` prints a line per change where widgets are not
available. `progress_view()` picks one. None of them needs a kernel.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..status import FINAL_STEP, RunStatus, StepStatus

#: state -> (badge colour, IntProgress bar style)
STATES: dict[str, tuple[str, str]] = {
    StepStatus.PENDING: ("#90a4ae", ""),
    StepStatus.QUEUED: ("#607d8b", ""),
    StepStatus.RUNNING: ("#1565c0", "info"),
    StepStatus.SUCCEEDED: ("#2e7d32", "success"),
    StepStatus.CACHED: ("#00838f", "success"),
    StepStatus.FAILED: ("#c62828", "danger"),
    StepStatus.SKIPPED: ("#9e9e9e", "warning"),
}
DONE = FINAL_STEP


@dataclass(frozen=True)
class StepRow:
    """What the view shows for one step."""

    name: str
    status: str = StepStatus.PENDING
    reason: str = ""
    started: float | None = None  # when it began running (this process's clock)
    duration_s: float | None = None  # final duration, from the event when given
    worker: str = ""
    error: str = ""

    def elapsed(self, now: float) -> float | None:
        if self.duration_s is not None:
            return self.duration_s
        return None if self.started is None else max(now - self.started, 0.0)

    def detail(self) -> str:
        """The reason column: the error for a failed step, else why it ran or was reused."""
        text = self.error if self.status == StepStatus.FAILED and self.error else self.reason
        return f"{text} [{self.worker}]" if self.worker and self.status in DONE else text


class ProgressModel:
    """Rows for every step, updated from run events; pure and deterministic."""

    def __init__(self, steps: list[str]) -> None:
        self.rows: dict[str, StepRow] = {name: StepRow(name) for name in steps}
        self.run_status = RunStatus.RUNNING
        self.run_id = ""

    def apply(self, event: Mapping[str, Any], now: float) -> str | None:
        """Fold one event in; return the step whose row changed, if any."""
        if event.get("event") == "run":
            self.run_status = str(event.get("status", self.run_status))
            self.run_id = str(event.get("run_id") or self.run_id)
            return None
        name = event.get("step")
        if event.get("event") != "step" or not isinstance(name, str):
            return None
        row = self.rows.get(name) or StepRow(name)
        status = str(event.get("status", row.status))
        started = row.started
        if status == StepStatus.RUNNING and row.status != StepStatus.RUNNING:
            started = now
        duration = event.get("duration_s")
        if duration is None and status in DONE and started is not None:
            duration = now - started
        new = replace(
            row,
            status=status,
            reason=str(event.get("reason") or row.reason),
            started=started,
            duration_s=float(duration) if duration is not None else row.duration_s,
            worker=str(event.get("worker") or row.worker),
            error=_last_line(event.get("error")) or row.error,
        )
        if new == self.rows.get(name):
            return None
        self.rows[name] = new
        return name

    def running(self) -> list[str]:
        return [name for name, row in self.rows.items() if row.status == StepStatus.RUNNING]

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for row in self.rows.values():
            counts[row.status] = counts.get(row.status, 0) + 1
        parts = ", ".join(f"{n} {status}" for status, n in counts.items())
        run = f"run {self.run_id}" if self.run_id else "run"
        return f"{run}: {self.run_status} ({parts})"


def format_elapsed(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


class TextView:
    """One printed line per step change, for consoles and plain nbconvert output."""

    def __init__(self, model: ProgressModel, write: Callable[[str], None] = print) -> None:
        self.model = model
        self.write = write
        self._finished = False

    def show(self) -> None:
        self.write(f"mlpipe: running {len(self.model.rows)} steps")

    def update(self, changed: str | None, now: float) -> None:
        if changed is None:
            if self.model.run_status != RunStatus.RUNNING and not self._finished:
                self._finished = True
                self.write(f"mlpipe: {self.model.summary()}")
            return
        row = self.model.rows[changed]
        elapsed = format_elapsed(row.elapsed(now))
        line = f"mlpipe: {row.name:<20} {row.status:<9} {elapsed:>7}  {row.detail()}"
        self.write(line.rstrip())


class WidgetView:
    """An ipywidgets table: name, state badge, progress bar, elapsed time, reason."""

    def __init__(self, model: ProgressModel) -> None:
        import ipywidgets as w

        self.model = model
        self.header = w.HTML(value=self._header())
        self.cells: dict[str, dict[str, Any]] = {}
        rows = [self._row(w, name) for name in model.rows]
        self.box = w.VBox([self.header, *rows])

    def _row(self, w: Any, name: str) -> Any:
        cells = {
            "name": w.Label(value=name, layout=w.Layout(width="160px")),
            "badge": w.HTML(layout=w.Layout(width="90px")),
            "bar": w.IntProgress(min=0, max=2, value=0, layout=w.Layout(width="120px")),
            "elapsed": w.Label(layout=w.Layout(width="64px")),
            "reason": w.Label(layout=w.Layout(flex="1")),
        }
        self.cells[name] = cells
        self._paint(name, time.time())
        return w.HBox(list(cells.values()))

    def show(self) -> None:
        from IPython.display import display

        display(self.box)

    def update(self, changed: str | None, now: float) -> None:
        if changed is not None and changed not in self.cells:
            import ipywidgets as w

            self.box.children = (*self.box.children, self._row(w, changed))
        for name in {changed, *self.model.running()} - {None}:
            self._paint(str(name), now)
        self.header.value = self._header()

    def _paint(self, name: str, now: float) -> None:
        row = self.model.rows[name]
        color, bar_style = STATES.get(row.status, ("#90a4ae", ""))
        cells = self.cells[name]
        cells["badge"].value = (
            f'<span style="background:{color};color:#fff;border-radius:8px;'
            f'padding:1px 8px;font-size:11px">{row.status}</span>'
        )
        cells["bar"].value = 2 if row.status in DONE else 1 if row.status == StepStatus.RUNNING else 0
        cells["bar"].bar_style = bar_style
        cells["elapsed"].value = format_elapsed(row.elapsed(now))
        cells["reason"].value = row.detail()

    def _header(self) -> str:
        return f"<b>mlpipe</b> {_escape(self.model.summary())}"


class ProgressView:
    """The `on_event` callback: folds each event into the model and repaints."""

    def __init__(self, model: ProgressModel, view: TextView | WidgetView) -> None:
        self.model = model
        self.view = view
        self._lock = threading.Lock()  # the runner may call from another thread

    def __call__(self, event: Mapping[str, Any]) -> None:
        with self._lock:
            now = time.time()
            self.view.update(self.model.apply(event, now), now)


def progress_view(steps: list[str], *, widgets: bool | None = None) -> ProgressView:
    """A shown view over `steps`: widgets in a kernel that can show them, else text."""
    model = ProgressModel(steps)
    view: TextView | WidgetView
    if widgets or (widgets is None and _widgets_available()):
        view = WidgetView(model)
    else:
        view = TextView(model)
    view.show()
    return ProgressView(model, view)


def _widgets_available() -> bool:
    """ipywidgets imports and a kernel front end can show it (not a terminal IPython)."""
    from IPython import get_ipython

    if getattr(get_ipython(), "kernel", None) is None:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _last_line(value: Any) -> str:
    text = str(value or "").strip()
    return text.splitlines()[-1] if text else ""


def _escape(text: str) -> str:
    from html import escape

    return escape(text)
