"""Progress of a run for a terminal: a tqdm bar on stderr and a summary table.

`ProgressBar` is an `on_event` handler: one bar for the run, one tick per
finished step, the running steps' names as its postfix. `summary_table`
renders a run record's steps (status, reason, worker, duration).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from mlpipe_jupyter.status import FINAL_STEP, StepStatus

DONE = frozenset(s.value for s in FINAL_STEP)


class ProgressBar:
    """One tqdm bar for a run of `steps`, fed by runner events."""

    def __init__(self, steps: list[str], file: TextIO | None = None) -> None:
        from tqdm import tqdm

        self.steps = steps
        self.done: set[str] = set()
        self.running: dict[str, None] = {}
        self.bar = tqdm(
            total=len(steps), unit="step", file=file or sys.stderr, desc="mlpipe",
            dynamic_ncols=True, leave=False, disable=None,  # None: off when not a terminal
        )
        self.file = file or sys.stderr

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "warning":
            self.bar.write(f"mlpipe: warning: {event.get('message')}", file=self.file)
        elif kind == "retry":
            self.bar.write(
                f"mlpipe: retrying step '{event.get('step')}' (attempt {event.get('attempt')}):"
                f" {event.get('error')}",
                file=self.file,
            )
        elif kind == "cluster" and event.get("dashboard"):
            where = "warm cluster" if event.get("kind") == "warm" else "cluster"
            self.bar.write(f"mlpipe: {where} dashboard: {event['dashboard']}", file=self.file)
        elif kind == "step":
            self._step(str(event.get("step")), str(event.get("status")))

    def _step(self, name: str, status: str) -> None:
        if status == StepStatus.RUNNING:
            self.running[name] = None
        elif status in DONE:
            self.running.pop(name, None)
            if name not in self.done:
                self.done.add(name)
                self.bar.update(1)
        self.bar.set_postfix_str(", ".join(self.running), refresh=True)

    def close(self) -> None:
        self.bar.close()


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "-"
    return f"{float(seconds):.2f}s"


def summary_table(record: dict[str, Any]) -> str:
    """The steps of a run record as an aligned text table, then the run's status line."""
    header = ("STEP", "STATUS", "DURATION", "WORKER", "REASON")
    rows = [header]
    for name, step in record.get("steps", {}).items():
        failed = step.get("status") == StepStatus.FAILED
        reason = step.get("error") if failed else step.get("reason")
        rows.append((
            name, str(step.get("status") or "-"), _duration(step.get("duration_s")),
            str(step.get("worker") or "-"), str(reason or "-"),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1]
        for row in rows
    ]
    status = record.get("status")
    lines.append(f"run {record.get('run_id')}: {status}")
    if record.get("error"):
        lines.append(f"error: {record['error']}")
    return "\n".join(lines) + "\n"


def runs_table(records: list[dict[str, Any]]) -> str:
    """Recent runs: id, status, step counts, notebook."""
    import time

    rows = [("RUN", "STATUS", "STARTED", "STEPS", "NOTEBOOK")]
    for rec in records:
        counts: dict[str, int] = {}
        for step in rec.get("steps", {}).values():
            counts[step.get("status")] = counts.get(step.get("status"), 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda x: str(x[0])))
        started = rec.get("started")
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else "-"
        status, notebook = str(rec.get("status")), str(rec.get("notebook"))
        rows.append((rec["run_id"], status, when, summary, notebook))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] for row in rows
    ) + "\n"
