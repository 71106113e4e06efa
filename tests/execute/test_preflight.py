"""Pre-flight on workers mlpipe did not start: fail in seconds, naming the worker and the step.

Integration: a real `dask scheduler` and two `dask worker` processes, one
started with a PYTHONPATH that holds a module the other lacks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from mlpipe_jupyter.execute.preflight import Needs, probe_worker, problems
from dask_procs import kill_all, spawn, workers
from nbfiles import write_notebook
from mlpipe_jupyter.execute.runner import SNAPSHOT_FILE

DASK = str(Path(sys.executable).with_name("dask"))
MODULE = "mlpipe_pf_extra"


# -- the worker side and the lines, without a cluster -------------------------------------


def test_probe_worker_reports_what_this_process_lacks(tmp_path) -> None:
    answer = probe_worker(["json", "no_such_mlpipe_module"], {"no-such-kernel": ["json"]},
                          str(tmp_path))
    assert answer == {"modules": ["no_such_mlpipe_module"], "kernels": {"no-such-kernel": None},
                      "store": None}
    assert probe_worker([], {}, str(tmp_path / "gone"))["store"] == "no such folder here"


def test_one_line_per_missing_thing_naming_worker_and_steps() -> None:
    need = Needs(
        modules={"sklearn": ["train", "report"], "numpy": ["load"]},
        kernels={"py311": {"torch": ["fit"]}}, kernel_steps={"py311": ["fit"]}, store="/s",
    )
    answers = {
        "tcp://10.0.0.2:1": {"modules": ["sklearn"], "kernels": {"py311": None}, "store": None},
        "tcp://10.0.0.1:1": {"modules": [], "kernels": {"py311": ["torch"]},
                             "store": "not writable here"},
        "tcp://10.0.0.3:1": "did not answer the pre-flight check in 5 s",
    }
    assert problems(need, answers, ["load", "train", "report", "fit"]) == [
        "worker tcp://10.0.0.1:1 cannot import torch in kernel py311, needed by step fit",
        "worker tcp://10.0.0.1:1 cannot reach the store /s (not writable here), needed by"
        " steps load, train, report, fit",
        "worker tcp://10.0.0.2:1 cannot import sklearn, needed by steps train, report",
        "worker tcp://10.0.0.2:1 has no kernelspec py311, needed by step fit",
        "worker tcp://10.0.0.3:1 did not answer the pre-flight check in 5 s, needed by"
        " steps load, train, report, fit",
    ]


# -- a real cluster of separate processes -------------------------------------------------


@pytest.fixture(scope="module")
def uneven_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict, Path]]:
    """(scheduler address, {worker name: address}, the extra module's folder)."""
    folder = tmp_path_factory.mktemp("preflight")
    extra = folder / "extra"
    extra.mkdir()
    (extra / f"{MODULE}.py").write_text("VALUE = 41\n")
    scheduler_file = folder / "scheduler.json"
    log = folder / "dask.log"
    plain = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    procs = [spawn([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(scheduler_file)], log, plain)]
    try:
        deadline = time.monotonic() + 30
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        common = ["--scheduler-file", str(scheduler_file), "--nthreads", "1", "--no-dashboard",
                  "--host", "127.0.0.1"]
        procs.append(spawn([DASK, "worker", *common, "--name", "with"], log,
                           {**plain, "PYTHONPATH": str(extra)}))
        procs.append(spawn([DASK, "worker", *common, "--name", "without"], log, plain))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = workers(scheduler_file)
            if len(found) == 2:
                break
            time.sleep(0.2)
        else:
            raise TimeoutError("timed out waiting for 2 dask workers")
        names = {w["name"]: addr for addr, w in found.items()}
        address = json.loads(scheduler_file.read_text())["address"]
        yield address, names, extra
    finally:
        kill_all(procs)


def _run(folder: Path, train: str, address: str, extra: Path
         ) -> tuple[subprocess.CompletedProcess, float]:
    """`mlpipe run --scheduler` of a two-step notebook whose step train is `train`."""
    notebook = write_notebook(folder / "nb.ipynb", [
        "import json", "%%step load\nxs = [1, 2]", f"%%step train\n{train}",
    ])
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "mlpipe_jupyter", "run", str(notebook), "--scheduler", address],
        capture_output=True, text=True, cwd=notebook.parent, timeout=120,
        env={**os.environ, "PYTHONPATH": str(extra)},
    )
    return done, time.monotonic() - started


@pytest.mark.integration
def test_a_module_one_worker_lacks_fails_in_seconds_naming_it(uneven_cluster, tmp_path) -> None:
    address, names, extra = uneven_cluster
    train = f"import {MODULE}\ny = {MODULE}.VALUE + sum(xs)"
    done, seconds = _run(tmp_path, train, address, extra)
    assert done.returncode == 2, done.stdout + done.stderr
    assert seconds < 10
    lines = [line for line in done.stderr.splitlines()
             if line.startswith("mlpipe: ") and "dashboard" not in line]
    assert lines == [
        f"mlpipe: worker {names['without']} cannot import {MODULE}, needed by step train"
    ], done.stderr
    # nothing ran: no step notebook was executed, no step succeeded
    executed = [p for p in (tmp_path / ".mlpipe" / "runs").glob("*/*.ipynb")
                if p.name != SNAPSHOT_FILE]  # the run's notebook snapshot is no step's
    assert not executed
    runs = subprocess.run([sys.executable, "-m", "mlpipe_jupyter", "runs", "--json"],
                          capture_output=True, text=True, cwd=tmp_path, check=True)
    (run,) = json.loads(runs.stdout)
    assert run["status"] == "failed"


@pytest.mark.integration
def test_what_every_worker_has_passes_and_runs(uneven_cluster, tmp_path) -> None:
    address, _names, extra = uneven_cluster
    done, _seconds = _run(tmp_path, "y = json.dumps(sum(xs))", address, extra)
    assert done.returncode == 0, done.stderr
