"""The server's warm cluster: runs from REST use it, it is shared with `mlpipe run` in the
same folder, its dashboard is the sidebar's link, and it closes after `idle_timeout`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from server_helpers import write_notebook
from test_server_routes import call, wait_finished

from mlpipe_jupyter.execute import warmcluster

pytestmark = pytest.mark.integration

CELLS = [
    "import json",
    "%%step load\nnumbers = [1, 2, 3]",
    "%%step total --outputs result\nresult = sum(numbers) + 0",
]


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"mlpipe_jupyter": True}},
        "MlpipeService": {"idle_timeout": 6.0, "workers": 1},
    }


@pytest.fixture
def notebook(jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    return write_notebook(jp_root_dir / "pipe.ipynb", CELLS)


async def run(jp_fetch: Any) -> dict[str, Any]:
    status, started = await call(jp_fetch, "runs", "POST", {"path": "pipe.ipynb"})
    assert status == 202, started
    return await wait_finished(jp_fetch, started["run_id"], timeout=240)


async def test_runs_share_one_warm_cluster_until_it_idles_out(jp_fetch, notebook) -> None:
    first = await run(jp_fetch)
    assert first["status"] == "succeeded", first
    record = warmcluster.read_record(notebook.parent / ".mlpipe")
    assert record is not None and record.owner == "server" and record.dashboard
    _, status = await call(jp_fetch, "status")
    assert status["dashboard_link"] == record.dashboard  # the sidebar's link
    answer = await asyncio.to_thread(urllib.request.urlopen, record.dashboard, timeout=10)
    assert answer.status == 200

    notebook.write_text(notebook.read_text().replace("+ 0", "+ 1"))  # a leaf edit
    second = await run(jp_fetch)
    assert {n: s["status"] for n, s in second["steps"].items()} == {
        "load": "cached", "total": "succeeded"
    }
    assert second["steps"]["total"]["worker"] == first["steps"]["total"]["worker"]

    notebook.write_text(notebook.read_text().replace("+ 1", "+ 2"))
    shell = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "mlpipe_jupyter", "run", "pipe.ipynb", "--json"],
        cwd=notebook.parent, capture_output=True, text=True, timeout=240,
    )
    assert shell.returncode == 0, shell.stderr
    assert f"dashboard: {record.dashboard}" in shell.stderr  # `mlpipe run` used it too
    assert json.loads(shell.stdout)["steps"]["total"]["worker"] == first["steps"]["total"]["worker"]

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while loop.time() < deadline:
        _, status = await call(jp_fetch, "status")
        if not status["dashboard_link"]:
            break
        await asyncio.sleep(0.5)
    assert not status["dashboard_link"], "the warm cluster did not close when idle"
    assert warmcluster.read_record(notebook.parent / ".mlpipe") is None


class TestWarmOnOpen:
    @pytest.fixture
    def jp_server_config(self) -> dict[str, Any]:
        return {
            "ServerApp": {"jpserver_extensions": {"mlpipe_jupyter": True}},
            "MlpipeService": {"warm_on_open": True, "workers": 1},
        }

    async def test_opening_a_notebook_with_steps_starts_its_kernels(self, jp_fetch, notebook) -> None:
        cells = [{"source": source, "tags": []} for source in CELLS]
        status, _ = await call(jp_fetch, "dag", "POST", {"cells": cells, "path": "pipe.ipynb"})
        assert status == 200
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        found = None
        while loop.time() < deadline:
            if (record := warmcluster.read_record(notebook.parent / ".mlpipe")) is not None:
                found = await asyncio.to_thread(warmcluster.status, notebook.parent / ".mlpipe")
                if found and all(w["kernels_ready"] >= 1 for w in found["workers"]):
                    break
            await asyncio.sleep(0.5)
        assert found and found["owner"] == "server" and record is not None, found
        assert all(w["kernels_ready"] >= 1 for w in found["workers"]), found
        _, server = await call(jp_fetch, "status")
        assert server["dashboard_link"] == found["dashboard"]
