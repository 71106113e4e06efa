"""The run slots on a real server with the execution faked (fast): runs beyond
max_concurrent_runs are queued at once, start in the order they came, and a queued run
cancelled never starts. tests/server/test_server_limits.py does it with real runs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from server_helpers import FakeService
from test_server_routes import call


@pytest.fixture
def jp_server_config(store_dir: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"mlpipe_jupyter": True}},
        "MlpipeExtension": {"service_class": FakeService},
        "MlpipeService": {"store_dir": str(store_dir), "max_concurrent_runs": 2},
    }


async def test_runs_beyond_the_limit_queue_and_start_in_order(jp_fetch, notebook, service):
    service.RUN_S = 0.4
    ids = [(await call(jp_fetch, "runs", "POST", {"path": "pipe.ipynb"}))[1]["run_id"]
           for _ in range(5)]  # fmt: skip
    _, listed = await call(jp_fetch, "runs")
    now = {r["run_id"]: r["status"] for r in listed}
    assert [now[i] for i in ids] == ["running", "running", "queued", "queued", "queued"]
    _, status = await call(jp_fetch, "status")
    assert (status["max_concurrent_runs"], status["runs_running"], status["runs_queued"]) == (2, 2, 3)

    deadline, peak = time.monotonic() + 30, 0
    while time.monotonic() < deadline:
        _, listed = await call(jp_fetch, "runs")
        statuses = [r["status"] for r in listed]
        peak = max(peak, statuses.count("running"))
        if set(statuses) == {"succeeded"}:
            break
        await asyncio.sleep(0.05)
    assert set(statuses) == {"succeeded"} and peak == 2
    assert [s["run_id"] for s in service.started] == ids  # first in, first out


async def test_a_queued_run_cancelled_never_starts(jp_fetch, notebook, service):
    service.RUN_S = 0.5
    ids = [(await call(jp_fetch, "runs", "POST", {"path": "pipe.ipynb"}))[1]["run_id"]
           for _ in range(3)]  # fmt: skip
    status, answer = await call(jp_fetch, f"runs/{ids[2]}", "DELETE")
    assert (status, answer) == (202, {"run_id": ids[2], "status": "cancelled"})
    await asyncio.sleep(1.5)  # both running runs ended: a slot was free
    assert [s["run_id"] for s in service.started] == ids[:2]
    _, record = await call(jp_fetch, f"runs/{ids[2]}")
    assert record["status"] == "cancelled"


def test_the_default_limit_is_half_the_cores(monkeypatch):
    from mlpipe_jupyter.server import MlpipeService

    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert MlpipeService().max_concurrent_runs == 8
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert MlpipeService().max_concurrent_runs == 1
    assert MlpipeService(max_concurrent_runs=3).max_concurrent_runs == 3
