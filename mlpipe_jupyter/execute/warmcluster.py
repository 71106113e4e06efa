"""A warm cluster: one Dask cluster, its kernel pools ready, kept between runs.

A cold `mlpipe run` pays for a cluster, worker imports and kernels every time.
A `WarmCluster` is the embedded cluster (cluster.py's workers and GPU labels,
the Dask dashboard) kept alive, with the scheduler's metadata `mlpipe/warm`
set so that any run that connects to it knows to leave its kernel pools in
place. Runs stay apart: every step still gets a fresh kernel (never one that
ran another step), a worker that dies is replaced by its nanny (the pool
plugin is re-applied to the new one), and resources are the embedded
cluster's, exactly.

Two owners use it:
- the Jupyter server (`server/manager.py`): started on the first run, closed
  after `MlpipeService.idle_timeout` or with the server;
- `mlpipe cluster up` (cli/cluster.py): a detached process running `serve`.
Either writes `<store>/cluster.json` (`ClusterRecord`): `mlpipe run`,
`%pipeline run` and the SDK use the cluster recorded in the run's store while
its process lives; a record whose process is gone is ignored with one line.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from mlpipe_jupyter.processes import alive

from .handle import _SHARED, _SHARED_LOCK, WARM_KEY, shared_client  # noqa: F401 (re-exported)

RECORD = "cluster.json"
UP_TIMEOUT_S = 90.0
DEFAULT_IDLE_S = 3600.0

Warn = Callable[[str], None]


@dataclass(frozen=True)
class ClusterRecord:
    address: str
    dashboard: str | None
    pid: int  # the process that owns the cluster
    started: float
    owner: str = "cli"  # "cli" (mlpipe cluster up) | "server" (a Jupyter server)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"


def record_path(store: Path | str) -> Path:
    return Path(store) / RECORD


def read_record(store: Path | str) -> ClusterRecord | None:
    try:
        data = json.loads(record_path(store).read_text("utf-8"))
        return ClusterRecord(**data)
    except (OSError, ValueError, TypeError):
        return None


def write_record(store: Path | str, record: ClusterRecord) -> None:
    path = record_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{RECORD}.{os.getpid()}.tmp")
    temporary.write_text(record.to_json(), encoding="utf-8")
    os.replace(temporary, path)


def clear_record(store: Path | str, pid: int | None = None) -> None:
    """Remove the record (only if `pid` still owns it, when given)."""
    record = read_record(store)
    if record is not None and (pid is None or record.pid == pid):
        record_path(store).unlink(missing_ok=True)


def live_record(store: Path | str, warn: Warn = lambda _: None) -> ClusterRecord | None:
    """The store's warm cluster while its process lives; a stale record: one line, removed."""
    record = read_record(store)
    if record is None:
        return None
    if alive(record.pid):
        return record
    warn(
        f"the warm cluster recorded in {record_path(store)} is gone (process {record.pid});"
        " using a local cluster (start one with `mlpipe cluster up`)"
    )
    clear_record(store, record.pid)
    return None


# -- in this process ---------------------------------------------------------------------

class WarmCluster:
    """The embedded cluster, kept: kernel pools stay ready between runs."""

    def __init__(
        self, workers: int | None = None, gpu_workers: int | None = None,
        warn: Warn = lambda _: None,
    ) -> None:
        from .cluster import ClusterOptions, _start_local

        self.handle = _start_local(ClusterOptions(workers=workers, gpu_workers=gpu_workers), warn)
        self.client = self.handle.client
        self.address: str = self.client.scheduler.address
        self.dashboard = self.handle.dashboard
        self.client.set_metadata(WARM_KEY, {"dashboard": self.dashboard, "pid": os.getpid()})
        self.started = time.time()
        self._last_busy = time.monotonic()
        with _SHARED_LOCK:
            _SHARED[self.address] = (self.client, self.dashboard)

    def record(self, owner: str) -> ClusterRecord:
        return ClusterRecord(self.address, self.dashboard, os.getpid(), self.started, owner)

    def prepare(self, notebook: Path, setup_source: str, size: int | None = None) -> None:
        """Start kernel pools for `notebook`'s folder, warmed with its setup's imports."""
        from .kernels import DEFAULT_POOL_SIZE
        from .plugin import ensure_pool
        from .warm import setup_modules

        cwd = str(Path(notebook).resolve().parent)
        ensure_pool(self.client, cwd, size or DEFAULT_POOL_SIZE, setup_modules(setup_source))

    def idle_seconds(self) -> float:
        """Seconds since the scheduler last had a task or a client other than ours."""
        scheduler = getattr(self.handle.cluster, "scheduler", None)
        try:  # read from another thread than the scheduler's: a change mid-read is "busy"
            busy = scheduler is None or bool(getattr(scheduler, "tasks", {})) or len(
                [c for c in list(getattr(scheduler, "clients", {})) if c != "fire-and-forget"]
            ) > 1
        except RuntimeError:
            busy = True
        now = time.monotonic()
        if busy:
            self._last_busy = now
        return now - self._last_busy

    def status(self) -> dict[str, Any]:
        return cluster_status(self.client, self.address, self.dashboard)

    @property
    def running(self) -> bool:
        return getattr(self.client, "status", "") == "running"

    def close(self) -> None:
        with _SHARED_LOCK:
            _SHARED.pop(self.address, None)
        self.handle.close()


def cluster_status(client: Any, address: str, dashboard: str | None) -> dict[str, Any]:
    """Workers (resources, memory), kernels ready, and the dashboard of a cluster."""
    from .plugin import pool_stats

    info = client.scheduler_info(n_workers=-1)["workers"]
    try:
        ready = client.run(pool_stats)
    except Exception:  # noqa: BLE001 - a worker restarting: counted as none ready
        ready = {}
    workers = []
    for worker_address, worker in sorted(info.items()):
        metrics = worker.get("metrics") or {}
        workers.append({
            "address": worker_address,
            "name": str(worker.get("name")),
            "resources": dict(worker.get("resources") or {}),
            "memory": int(metrics.get("memory") or 0),
            "memory_limit": int(worker.get("memory_limit") or 0),
            "kernels_ready": sum((ready.get(worker_address) or {}).values()),
        })
    return {"address": address, "dashboard": dashboard, "workers": workers}


# -- the detached process of `mlpipe cluster up` ------------------------------------------


def serve(
    store: Path, workers: int | None, gpu_workers: int | None, idle_timeout: float
) -> None:
    """Run a warm cluster until SIGTERM/SIGINT or `idle_timeout` seconds without work."""
    stop = threading.Event()
    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        signal.signal(getattr(signal, name), lambda *_: stop.set())
    warm = WarmCluster(workers, gpu_workers, warn=lambda m: print(f"mlpipe: {m}", file=sys.stderr))
    write_record(store, warm.record("cli"))
    print(json.dumps(asdict(warm.record("cli"))), flush=True)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # `up` has read it and closed the pipe
    try:
        while not stop.wait(1.0):
            if not warm.running or (idle_timeout and warm.idle_seconds() > idle_timeout):
                break
    finally:
        clear_record(store, os.getpid())
        warm.close()


def up(
    store: Path, workers: int | None = None, gpu_workers: int | None = None,
    idle_timeout: float = DEFAULT_IDLE_S,
) -> ClusterRecord:
    """Start a detached warm cluster for `store` (or return the live one); its record."""
    from mlpipe_jupyter.errors import BadInput

    existing = live_record(store)
    if existing is not None:
        return existing
    store.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "mlpipe_jupyter.execute.warmcluster", str(store),
               json.dumps([workers, gpu_workers, idle_timeout])]
    log = open(store / "cluster.log", "ab")  # noqa: SIM115 - the child holds it
    try:
        child = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=str(store),
        )
    finally:
        log.close()
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], UP_TIMEOUT_S)
    line = child.stdout.readline() if ready else ""  # the record, once the cluster is up
    child.stdout.close()
    if not line and child.poll() is None:
        child.kill()  # it did not come up in time: nothing is left running
    record = read_record(store)
    if not line or record is None or record.pid != child.pid:
        child.wait(timeout=10)
        raise BadInput(f"the warm cluster did not start; see {store / 'cluster.log'}")
    return record


def down(store: Path, timeout: float = 30.0) -> ClusterRecord | None:
    """Stop the store's warm cluster; its record, or None when none was running."""
    from mlpipe_jupyter.errors import Conflict

    record = live_record(store)
    if record is None:
        return None
    if record.owner != "cli":
        raise Conflict(
            f"the warm cluster recorded in {store} belongs to a Jupyter server (process"
            f" {record.pid}); it closes after the server's idle_timeout or with the server"
        )
    try:
        os.kill(record.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while alive(record.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(record.pid):
        os.kill(record.pid, signal.SIGKILL)
    clear_record(store, record.pid)
    return record


def status(store: Path, warn: Warn = lambda _: None) -> dict[str, Any] | None:
    """The live warm cluster's `cluster_status`, with its record; None when there is none."""
    from distributed import Client

    record = live_record(store, warn)
    if record is None:
        return None
    with Client(record.address, timeout="10s") as client:
        found = cluster_status(client, record.address, record.dashboard)
    return {**found, "pid": record.pid, "owner": record.owner, "started": record.started}


def _main(argv: list[str]) -> None:
    store = Path(argv[0])
    workers, gpu_workers, idle_timeout = json.loads(argv[1])
    serve(store, workers, gpu_workers, float(idle_timeout or 0))


if __name__ == "__main__":
    _main(sys.argv[1:])
