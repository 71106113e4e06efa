"""The warm cluster as a user meets it: `mlpipe cluster up|status|down`, `mlpipe run` on it,
the Dask dashboard, a stale record, a worker that dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from mlpipe_jupyter.execute import warmcluster
from mlpipe_jupyter.processes import alive

pytestmark = pytest.mark.integration

CELLS = [
    "import json\nimport numpy as np",
    "%%step load\nvalues = np.arange(5)",
    "%%step total --outputs result\nresult = int(values.sum()) + 0",
]


def mlpipe(*args: str, cwd: Path, timeout: float = 240,
           python_only: bool = False) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """`mlpipe ARGS` (or, with `python_only`, `python ARGS`) in `cwd`."""
    command = [sys.executable, *args] if python_only else [
        sys.executable, "-m", "mlpipe_jupyter", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def shell_cluster(tmp_path: Path) -> Iterator[Path]:
    """`mlpipe cluster up` in tmp_path; always brought down (and its process gone)."""
    up = mlpipe("cluster", "up", "--workers", "2", "--json", cwd=tmp_path, timeout=120)
    assert up.returncode == 0, up.stderr
    pid = json.loads(up.stdout)["pid"]
    try:
        yield tmp_path
    finally:
        mlpipe("cluster", "down", cwd=tmp_path, timeout=60)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_cluster_up_status_run_and_down(shell_cluster: Path, write_notebook) -> None:  # noqa: ANN001
    folder = shell_cluster
    path = write_notebook(CELLS)
    assert path.parent == folder
    record = warmcluster.read_record(folder / ".mlpipe")
    assert record is not None and record.dashboard

    first = mlpipe("run", path.name, "--json", cwd=folder)
    assert first.returncode == 0, first.stderr
    assert f"mlpipe: dashboard: {record.dashboard}" in first.stderr  # the warm one's
    status = mlpipe("cluster", "status", "--json", cwd=folder)
    workers = {w["address"] for w in json.loads(status.stdout)["workers"]}
    ran = json.loads(first.stdout)["steps"]
    assert {s["worker"] for s in ran.values()} <= workers and len(workers) == 2

    path.write_text(path.read_text().replace("+ 0", "+ 1"))  # a leaf edit
    second = mlpipe("-X", "importtime", "-m", "mlpipe_jupyter", "run", path.name, "--json",
                    cwd=folder, python_only=True)
    steps = json.loads(second.stdout)["steps"]
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0]
                for line in second.stderr.splitlines() if line.startswith("import time:")}
    assert "distributed" in imported  # the log is there: it talks to the cluster
    assert not imported & {"papermill", "nbformat", "nbclient", "jupyter_client", "bokeh"}
    assert {n: s["status"] for n, s in steps.items()} == {"load": "cached", "total": "succeeded"}

    deadline = time.monotonic() + 60  # the pools refill between runs
    while time.monotonic() < deadline:
        found = json.loads(mlpipe("cluster", "status", "--json", cwd=folder).stdout)
        if all(w["kernels_ready"] >= 1 for w in found["workers"]):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"no kernels ready between runs: {found}")
    text = mlpipe("cluster", "status", cwd=folder).stdout
    assert "KERNELS READY" in text and record.dashboard in text and "MiB" in text
    with urllib.request.urlopen(record.dashboard, timeout=10) as answer:
        assert answer.status == 200

    down = mlpipe("cluster", "down", cwd=folder)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not alive(record.pid)
    gone = mlpipe("cluster", "status", cwd=folder)
    assert gone.returncode == 1 and "no warm cluster" in gone.stdout


def test_a_stale_record_is_ignored_with_one_line(write_notebook) -> None:  # noqa: ANN001
    path = write_notebook(CELLS)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = warmcluster.ClusterRecord("tcp://127.0.0.1:9", None, int(dead.stdout), time.time())
    warmcluster.write_record(path.parent / ".mlpipe", stale)
    run = mlpipe("run", path.name, "--json", cwd=path.parent)
    assert run.returncode == 0, run.stderr
    said = [line for line in run.stderr.splitlines() if "warm cluster" in line]
    assert len(said) == 1 and "is gone" in said[0], run.stderr
    assert not (path.parent / ".mlpipe" / "cluster.json").exists()


def test_the_dashboard_answers_at_the_printed_address_during_a_run(write_notebook) -> None:  # noqa: ANN001
    path = write_notebook(["import time", "%%step wait\ntime.sleep(8)\ndone = True"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlpipe_jupyter", "run", path.name, "--json"], cwd=path.parent,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stderr is not None
        link = None
        for line in proc.stderr:
            if "dashboard:" in line:
                link = line.split("dashboard:", 1)[1].strip()
                break
        assert link and link.startswith("http://127.0.0.1:"), link
        with urllib.request.urlopen(link, timeout=10) as answer:
            assert answer.status == 200 and b"Dask" in answer.read()
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0 and json.loads(out)["status"] == "succeeded"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_worker_that_dies_is_replaced_and_the_next_run_succeeds(write_notebook) -> None:  # noqa: ANN001
    from mlpipe_jupyter import service

    path = write_notebook(CELLS)
    warm = warmcluster.WarmCluster(workers=2)
    try:
        first = service.run(path, scheduler=warm.address)
        assert first["status"] == "succeeded"
        victim = next(iter(warm.client.scheduler_info()["workers"]))
        pid = warm.client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = warm.client.scheduler_info()["workers"]
            if len(workers) == 2 and victim not in workers:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the dead worker was not replaced")
        path.write_text(path.read_text().replace("+ 0", "+ 2"))
        again = service.run(path, scheduler=warm.address, no_cache=True)
        assert again["status"] == "succeeded", again
        assert {s["status"] for s in again["steps"].values()} == {"succeeded"}
    finally:
        warm.close()


def test_a_wide_dag_gets_its_second_worker_when_steps_wait(write_notebook) -> None:  # noqa: ANN001
    """On a small machine the embedded cluster starts one worker and adds the second only
    once steps wait for it; a wide DAG still runs in parallel."""
    cells = ["import time", "%%step prepare\nbase = 1"]
    cells += [f"%%step b{i}\ntime.sleep(3)\nr{i} = base + {i}" for i in range(4)]
    path = write_notebook(cells)
    run = mlpipe("run", path.name, "--json", cwd=path.parent)
    assert run.returncode == 0, run.stderr
    steps = json.loads(run.stdout)["steps"]
    assert {s["status"] for s in steps.values()} == {"succeeded"}
    assert len({s["worker"] for name, s in steps.items() if name != "prepare"}) == 2


def test_cluster_down_never_stops_a_jupyter_server(tmp_path: Path) -> None:
    server = warmcluster.ClusterRecord("tcp://127.0.0.1:9", None, os.getpid(), time.time(),
                                       owner="server")  # fmt: skip
    warmcluster.write_record(tmp_path / ".mlpipe", server)
    down = mlpipe("cluster", "down", cwd=tmp_path)
    assert down.returncode == 2 and "belongs to a Jupyter server" in down.stderr
    assert warmcluster.read_record(tmp_path / ".mlpipe") == server  # and this process lives
