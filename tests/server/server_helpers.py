"""Helpers of the server tests: a notebook writer and the fake execution backend."""

from __future__ import annotations

import threading
from dataclasses import asdict
import time
from pathlib import Path
from typing import Any

from nbfiles import write_notebook  # noqa: F401 - the tests import it from here

from mlpipe_jupyter.errors import Conflict
from mlpipe_jupyter.request import RunRequest
from mlpipe_jupyter.server import MlpipeService

TWO_STEPS = [
    "%%params\nscale = 2",
    "import math",
    "%%step load\nnumbers = [1, 2, 3]",
    "%%step total\nresult = sum(numbers) * scale",
]


class FakeService(MlpipeService):
    """MlpipeService with an in-memory execution backend: a run is recorded queued, and
    succeeds `RUN_S` after it starts (a thread flips it), unless cancelled first.
    Everything else, the run slots included, is the real code."""

    RUN_S = 0.3

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.records: dict[str, dict[str, Any]] = {}
        self.started: list[dict[str, Any]] = []

    def backend_record_run(self, request: RunRequest) -> RunRequest:
        run_id = request.run_id or f"20260101-000000-{len(self.records):06d}"
        notebook, params, store = request.notebook, request.params, request.store
        self.records[run_id] = {
            "run_id": run_id, "notebook": str(notebook), "status": "queued",
            "started": time.time(), "finished": None, "params": params, "store": str(store),
            "steps": {"load": {"status": "pending", "notebook": None},
                      "total": {"status": "pending", "notebook": None}},
        }  # fmt: skip
        return request.with_run_id(run_id)

    def backend_start(self, request: RunRequest) -> str:
        run_id = str(request.run_id)
        record = self.records[run_id]
        if record["status"] != "queued":
            raise Conflict(f"run {run_id} is {record['status']}; it was not started")
        self.started.append({**asdict(request), "request": request})
        step_nb = request.store / "runs" / run_id / "load.ipynb"
        step_nb.parent.mkdir(parents=True, exist_ok=True)
        step_nb.write_text("{}")
        record["status"] = "running"
        record["steps"]["load"] = {"status": "running", "notebook": str(step_nb)}
        threading.Timer(self.RUN_S, self._finish, args=(run_id, "succeeded")).start()
        return run_id

    def _finish(self, run_id: str, status: str) -> None:
        record = self.records[run_id]
        if record["status"] in ("running", "queued"):
            record["status"] = status
            for step in record["steps"].values():
                step["status"] = "succeeded" if status == "succeeded" else "skipped"

    def backend_runs(self, store: Path) -> list[dict[str, Any]]:
        return [r for r in self.records.values() if r["store"] == str(store)]

    def backend_record(self, store: Path, run_id: str) -> dict[str, Any] | None:
        record = self.records.get(run_id)
        return record if record and record["store"] == str(store) else None

    def backend_in_progress(self, request: RunRequest) -> bool:
        return self.records[str(request.run_id)]["status"] in ("running", "queued")

    def backend_renew(self, waiting: list[RunRequest]) -> None:
        pass

    def backend_fail(self, request: RunRequest, error: str) -> None:
        self._finish(str(request.run_id), "failed")
        self.records[str(request.run_id)]["error"] = error

    def backend_cancel(self, store: Path, run_id: str) -> None:
        """A queued run ends at once; a running one soon after (as its process stops)."""
        if self.records[run_id]["status"] == "queued":
            self._finish(run_id, "cancelled")
        else:
            threading.Timer(0.05, self._finish, args=(run_id, "cancelled")).start()

    def backend_dashboard_link(self) -> str | None:
        return None
