"""Separate Dask processes for tests: spawn each in its own process group, ask the
scheduler for its workers, kill every group at the end whatever the test did."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


def spawn(args: list[str], log: Path, env: dict[str, str] | None = None
          ) -> subprocess.Popen[bytes]:  # fmt: skip
    with open(log, "ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, env=env)


def workers(scheduler_file: Path) -> dict:
    from distributed import Client

    with Client(scheduler_file=str(scheduler_file), timeout="10s") as client:
        return client.scheduler_info(n_workers=-1)["workers"]


def kill_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """Kill each process's whole group (a `dask worker`'s nanny, worker and kernels)."""
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
