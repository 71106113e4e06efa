"""A server killed (SIGKILL) with a run going and one queued behind it: the next reader
(`mlpipe runs`) records the queued run failed, "the server stopped before it started
this queued run"; the running run, in its own process, goes on and succeeds."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from server_helpers import write_notebook
from test_server_installed_config import Server

from mlpipe_jupyter import service

pytestmark = pytest.mark.integration

CELLS = [
    "%%params\npause = 0.0",
    "import time",
    "%%step wait --outputs done\ntime.sleep(pause)\ndone = True",
]


def test_a_queued_run_of_a_killed_server_is_recorded_failed(tmp_path):
    root = tmp_path / "root"
    write_notebook(root / "pipe.ipynb", CELLS)
    server = Server("jupyter_server", root, tmp_path, "--MlpipeService.max_concurrent_runs=1",
                    "--MlpipeService.warm_cluster=False")  # fmt: skip
    try:
        server.wait_up()
        body = {"path": "pipe.ipynb", "params": {"pause": 6.0}, "no_cache": True}
        _, going = server.request("mlpipe/api/runs", "POST", body)
        _, waiting = server.request("mlpipe/api/runs", "POST", {"path": "pipe.ipynb"})
        _, record = server.request(f"mlpipe/api/runs/{waiting['run_id']}")
        assert record["status"] == "queued", record
    finally:
        server.process.kill()  # kill -9: no shutdown hook runs
        server.stop()

    listed = subprocess.run(
        [sys.executable, "-m", "mlpipe_jupyter", "runs", "--json", "--store", str(root / ".mlpipe")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    runs = {r["run_id"]: r for r in json.loads(listed.stdout)}
    queued = runs[waiting["run_id"]]
    assert queued["status"] == "failed", queued
    assert queued["error"].startswith("the server stopped before it started this queued run")
    assert {s["status"] for s in queued["steps"].values()} == {"skipped"}

    deadline = time.monotonic() + 240
    while service.run_record(root / ".mlpipe", going["run_id"])["status"] == "running":
        assert time.monotonic() < deadline, "the running run did not finish"
        time.sleep(0.5)
    assert service.run_record(root / ".mlpipe", going["run_id"])["status"] == "succeeded"
