"""A step gets the cores and GPUs it asks for (issue 27), checked from outside:
`mlpipe run` on a real cluster, the step reporting what its kernel sees."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dask_procs import kill_all, spawn, workers
from nbfiles import write_notebook

from mlpipe_jupyter.execute import gpus, threads

MLPIPE = [sys.executable, "-m", "mlpipe_jupyter"]
DASK = str(Path(sys.executable).with_name("dask"))

#: What the step's kernel sees: its BLAS pools (threadpoolctl), the variables.
REPORT = """import os, json, threadpoolctl
a = np.random.rand(300, 300)
for _ in range(3):
    a = a @ a / 300
print("REPORT", json.dumps({
    "blas": sorted({i["num_threads"] for i in threadpoolctl.threadpool_info()
                    if i["user_api"] == "blas"}),
    "omp": os.environ.get("OMP_NUM_THREADS"), "loky": os.environ.get("LOKY_MAX_CPU_COUNT"),
    "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}))"""


def reports(notebook: Path) -> dict:
    """REPORT lines printed in the executed notebook."""
    found = {}
    for cell in json.loads(notebook.read_text())["cells"]:
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", ""))
            if text.startswith("REPORT "):
                found = json.loads(text[len("REPORT "):])
    return found


def step_rows(store: Path) -> dict:
    with sqlite3.connect(store / "mlpipe.db") as conn:
        return {name: (t, d) for name, t, d in
                conn.execute("SELECT name, threads, device FROM steps")}


def run(args: list[str], cwd: Path, timeout: float = 120) -> None:
    done = subprocess.run([*MLPIPE, "run", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr


def test_threads_follow_the_cores_like_papermill(tmp_path: Path, monkeypatch) -> None:
    import papermill

    # as a user's shell has them: an in-process Dask cluster earlier in this test session
    # (a nanny) leaves the thread variables at 1 in this process, which papermill's kernel
    # would inherit
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)

    write_notebook(tmp_path / "plain.ipynb", ["import numpy as np", REPORT])
    papermill.execute_notebook(str(tmp_path / "plain.ipynb"), str(tmp_path / "plain.out.ipynb"),
                               progress_bar=False, cwd=str(tmp_path))
    plain = reports(tmp_path / "plain.out.ipynb")
    write_notebook(tmp_path / "m.ipynb", [
        "%load_ext mlpipe_jupyter", "import numpy as np",
        "%%step free\n" + REPORT, "%%step one --cpu 1 --after free\n" + REPORT])
    run(["m.ipynb"], tmp_path)
    (run_dir,) = (tmp_path / ".mlpipe" / "runs").iterdir()
    free, one = reports(run_dir / "free.ipynb"), reports(run_dir / "one.ipynb")
    cores = threads.usable_cores()  # alone on its host: every core, as papermill has
    assert free["blas"] == plain["blas"] == [cores]
    assert (free["omp"], free["loky"]) == (str(cores), str(cores))
    assert one == {"blas": [1], "omp": "1", "loky": "1", "cuda": None}
    assert step_rows(tmp_path / ".mlpipe") == {"free": (cores, None), "one": (1, None)}


def test_the_rule() -> None:
    class Worker:
        class state:  # noqa: N801 - the shape of distributed's WorkerState
            total_resources = {"CPU": 8}

    assert threads.step_threads(3, Worker(), 5) == 3
    assert threads.step_threads(None, Worker(), 1) == 8
    assert threads.step_threads(None, Worker(), 3) == 2
    assert threads.step_threads(None, Worker(), 20) == 1
    assert threads.step_threads(None, None, 1) == threads.usable_cores()


def test_running_steps_are_counted_per_cluster() -> None:
    here, other = f"tcp://test-{os.getpid()}:1", f"tcp://test-{os.getpid()}:2"
    with threads.running_step(here), threads.running_step(here), threads.running_step(other):
        assert threads.running_here(here) == 2 and threads.running_here(other) == 1
    assert threads.running_here(here) == 0


def test_devices_are_never_shared_unless_asked() -> None:
    devices = gpus.Devices(gpus.worker_labels(4, None))
    a, b = devices.acquire(1), devices.acquire(2)
    assert [d for d, _ in a] == ["0"] and [d for d, _ in b] == ["1", "2"]
    with pytest.raises(gpus.NoDeviceFree):
        devices.acquire(2)
    half1, half2 = devices.acquire(0.5), devices.acquire(0.5)
    assert half1[0][0] == half2[0][0] == "3"
    devices.release(a)
    assert devices.acquire(1) == [("0", 1.0)]
    assert gpus.worker_labels(2, "5,7") == ["5", "7"]
    assert gpus.worker_labels(1, "") == ["0"]


def test_concurrent_gpu_steps_get_their_own_device(tmp_path: Path) -> None:
    """A real `dask worker --resources GPU=2` (no GPU: the labels are what is checked)
    runs two `--gpu 1` steps at once; each kernel sees a different device."""
    scheduler_file, log = tmp_path / "scheduler.json", tmp_path / "dask.log"
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    procs = [spawn([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                    "--no-dashboard", "--scheduler-file", str(scheduler_file)], log, env)]
    try:
        deadline = time.monotonic() + 30
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        procs.append(spawn([DASK, "worker", "--scheduler-file", str(scheduler_file),
                            "--nthreads", "2", "--no-dashboard", "--host", "127.0.0.1",
                            "--resources", "GPU=2"], log, env))
        while not workers(scheduler_file) and time.monotonic() < deadline + 30:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        # each step waits (up to 30 s) until the other has started: they run at once
        meet = ("import os, time\nopen('{me}.started', 'w').close()\n"
                "t = time.monotonic()\n"
                "while not os.path.exists('{other}.started') and time.monotonic() - t < 30:\n"
                "    time.sleep(0.05)\n"
                "print('DEVICE', os.environ.get('CUDA_VISIBLE_DEVICES'),"
                " os.path.exists('{other}.started'))")
        write_notebook(tmp_path / "g.ipynb", [
            "%load_ext mlpipe_jupyter",
            "%%step a --gpu 1\n" + meet.format(me="a", other="b"),
            "%%step b --gpu 1\n" + meet.format(me="b", other="a")])
        run(["g.ipynb", "--scheduler", address], tmp_path)
    finally:
        kill_all(procs)
    (run_dir,) = (tmp_path / ".mlpipe" / "runs").iterdir()
    seen = {}
    for step in "ab":
        for cell in json.loads((run_dir / f"{step}.ipynb").read_text())["cells"]:
            for out in cell.get("outputs", []):
                text = "".join(out.get("text", ""))
                if text.startswith("DEVICE"):
                    seen[step] = text.split()[1:]
    assert seen["a"][1] == seen["b"][1] == "True"  # they overlapped
    assert {seen["a"][0], seen["b"][0]} == {"0", "1"}
    rows = step_rows(tmp_path / ".mlpipe")
    assert {rows["a"][1], rows["b"][1]} == {"0", "1"}
    assert rows["a"][1] == seen["a"][0]
