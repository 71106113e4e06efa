"""A real Dask cluster of separate processes: `dask scheduler` + 2 `dask worker`s.

Session-scoped (starting it costs a few seconds); every process is started in
its own process group and killed at teardown, whatever the tests did.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from dask_procs import kill_all, spawn, workers

DASK = str(Path(sys.executable).with_name("dask"))


@dataclass
class DaskProcesses:
    address: str
    scheduler_file: Path

    def worker_address(self, name: str) -> str:
        """The current address of worker `name` ("gpu" or "cpu"); a restart changes it."""
        found = {w["name"]: addr for addr, w in workers(self.scheduler_file).items()}
        return found[name]


def _wait_for(predicate, timeout: float, what: str):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


def _two(found: dict) -> dict | None:
    return found if len(found) == 2 else None


@pytest.fixture(scope="session")
def dask_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskProcesses]:
    yield from _dask_processes(tmp_path_factory.mktemp("dask"))


@pytest.fixture
def own_dask_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskProcesses]:
    """A cluster of the test's own, for a test that kills its workers."""
    yield from _dask_processes(tmp_path_factory.mktemp("own-dask"))


def _dask_processes(folder: Path) -> Iterator[DaskProcesses]:
    scheduler_file = folder / "scheduler.json"
    log = folder / "dask.log"
    procs = [spawn([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(scheduler_file)], log)]
    try:
        _wait_for(scheduler_file.exists, 30, "the dask scheduler")
        common = ["--scheduler-file", str(scheduler_file), "--nthreads", "1",
                  "--no-dashboard", "--host", "127.0.0.1"]
        procs.append(spawn([DASK, "worker", *common, "--name", "cpu"], log))
        procs.append(spawn([DASK, "worker", *common, "--name", "gpu", "--resources", "GPU=1"],
                            log))
        _wait_for(lambda: _two(workers(scheduler_file)), 60, "2 dask workers")
        address = json.loads(scheduler_file.read_text())["address"]
        yield DaskProcesses(address, scheduler_file)
    finally:
        kill_all(procs)

