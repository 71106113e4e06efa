"""Helpers of the server tests: a notebook writer and the fake execution backend."""

from __future__ import annotations

import threading
from dataclasses import asdict
import time
from pathlib import Path
from typing import Any

from nbfiles import write_notebook  # noqa: F401 - the tests import it from here

from mlpipe_jupyter.request import RunRequest
from mlpipe_jupyter.server import MlpipeService

TWO_STEPS = [
    "%%params\nscale = 2",
    "import math",
    "%%step load\nnumbers = [1, 2, 3]",
    "%%step total\nresult = sum(numbers) * scale",
]


class FakeService(MlpipeService):
    """MlpipeService with an in-memory execution backend: a run succeeds `RUN_S` after it
    starts (a thread flips it), unless cancelled first. Everything else is the real code."""

    RUN_S = 0.3

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.records: dict[str, dict[str, Any]] = {}
        self.started: list[dict[str, Any]] = []

    def backend_start(self, request: RunRequest) -> str:
        run_id = f"20260101-000000-{len(self.records):06d}"
        notebook, params, store = request.notebook, request.params, request.store
        self.started.append({**asdict(request), "request": request})
        step_nb = store / "runs" / run_id / "load.ipynb"
        step_nb.parent.mkdir(parents=True, exist_ok=True)
        step_nb.write_text("{}")
        self.records[run_id] = {
            "run_id": run_id, "notebook": str(notebook), "status": "running",
            "started": time.time(), "finished": None, "params": params, "store": str(store),
            "steps": {"load": {"status": "running", "notebook": str(step_nb)},
                      "total": {"status": "pending", "notebook": None}},
        }  # fmt: skip
        threading.Timer(self.RUN_S, self._finish, args=(run_id, "succeeded")).start()
        return run_id

    def _finish(self, run_id: str, status: str) -> None:
        record = self.records[run_id]
        if record["status"] == "running":
            record["status"] = status
            for step in record["steps"].values():
                step["status"] = "succeeded" if status == "succeeded" else "skipped"

    def backend_runs(self, store: Path) -> list[dict[str, Any]]:
        return [r for r in self.records.values() if r["store"] == str(store)]

    def backend_record(self, store: Path, run_id: str) -> dict[str, Any] | None:
        record = self.records.get(run_id)
        return record if record and record["store"] == str(store) else None

    def backend_cancel(self, store: Path, run_id: str) -> None:
        self._finish(run_id, "cancelled")

    def backend_dashboard_link(self) -> str | None:
        return None
