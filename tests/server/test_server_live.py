"""What the sidebar reads while a run goes: a step's log so far, GPU slots, the proxied dashboard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlpipe_jupyter.server import live
from test_server_routes import call


def _partial_notebook() -> dict[str, Any]:
    """A step notebook as papermill leaves it mid-run: one cell done, one running."""
    done = {"cell_type": "code", "source": "print('hello')", "metadata": {"papermill": {"status": "completed"}},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hello\n"]}]}  # fmt: skip
    running = {"cell_type": "code", "source": "train()", "metadata": {"papermill": {"status": "running"}},
               "outputs": [{"output_type": "stream", "name": "stderr", "text": "epoch 1/3\n"}]}  # fmt: skip
    return {"cells": [{"cell_type": "markdown", "source": "# x", "metadata": {}}, done, running]}


async def test_step_log_is_the_output_so_far(jp_fetch: Any, notebook: Path, service: Any) -> None:
    status, started = await call(jp_fetch, "runs", "POST", {"path": notebook.name})
    assert status == 202, started
    run_id = started["run_id"]
    step_nb = Path(service.records[run_id]["steps"]["load"]["notebook"])
    step_nb.write_text(json.dumps(_partial_notebook()))
    status, log = await call(jp_fetch, f"runs/{run_id}/steps/load/log")
    assert status == 200, log
    assert (log["cells_done"], log["cells_total"]) == (1, 2)
    assert log["text"] == "hello\nepoch 1/3\n"
    status, error = await call(jp_fetch, f"runs/{run_id}/steps/nope/log")
    assert status == 404 and "has no step 'nope'" in error["message"]


async def test_step_log_before_the_notebook_exists_is_empty(jp_fetch: Any, notebook: Path) -> None:
    _, started = await call(jp_fetch, "runs", "POST", {"path": notebook.name})
    status, log = await call(jp_fetch, f"runs/{started['run_id']}/steps/total/log")
    assert status == 200 and log["text"] == "" and log["cells_total"] == 0


@pytest.fixture
def jp_server_config(store_dir: Path) -> dict[str, Any]:
    from server_helpers import FakeService

    return {
        "ServerApp": {"jpserver_extensions": {"mlpipe_jupyter": True}},
        "MlpipeExtension": {"service_class": FakeService},
        "MlpipeService": {"store_dir": str(store_dir), "gpu_workers": 0},
    }


async def test_status_says_no_worker_has_a_gpu(jp_fetch: Any) -> None:
    status, data = await call(jp_fetch, "status")
    assert status == 200 and data["gpu_slots"] == 0
    assert data["dashboard_proxy"] is None  # no cluster yet


def test_dashboard_proxy_path_for_a_local_dashboard_only() -> None:
    assert live.proxy_path("http://127.0.0.1:8787/status") == "proxy/8787/status"
    assert live.proxy_path("http://localhost:41023/status") == "proxy/41023/status"
    assert live.proxy_path("http://dask.example.org:8787/status") is None
    assert live.proxy_path(None) is None
