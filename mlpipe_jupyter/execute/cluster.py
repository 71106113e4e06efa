"""Where steps run: an embedded LocalCluster, or an existing Dask scheduler.

The embedded cluster has `workers` CPU workers (default min(2, cpus)) and one
GPU worker per detected GPU (`resources={"GPU": 1}`, `CUDA_VISIBLE_DEVICES`
pinned); every local worker also advertises `CPU` and `MEMORY` so steps with
`--cpu`/`--memory` schedule. `check_resources` finds, before anything runs, a
step that no worker can satisfy: Dask would leave it pending forever.

`distributed` is imported only inside the functions that start or connect.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .errors import ResourceError, RunInputError
from .handle import WARM_KEY, ClusterHandle, _detach_main_module, shared_client

if TYPE_CHECKING:
    from mlpipe_jupyter.analysis.model import Step

    from .managers import ManagerSpec

WORKER_WAIT_S = 30.0
#: The embedded cluster serves the Dask dashboard (bokeh) on a free port of 127.0.0.1;
#: `MLPIPE_DASHBOARD=0` turns it off.
DASHBOARD = os.environ.get("MLPIPE_DASHBOARD", "1") != "0"


#: The address schemes of Dask's comm registry (`distributed.comm.registry`).
SCHEMES = ("tcp", "tls", "ucx", "ws", "wss", "inproc")
MAX_WORKERS = 1024


@dataclass(frozen=True)
class ClusterOptions:
    scheduler: str | None = None  # address of an existing scheduler
    workers: int | None = None  # CPU workers of the embedded cluster
    gpu_workers: int | None = None  # GPU workers of the embedded cluster (default: GPUs found)
    manager: ManagerSpec | None = None  # --cluster CLASS: a cluster manager to start (managers.py)
    start_workers: int | None = None  # CPU workers started at once; the rest when steps wait
    #: (folder, size, setup imports) of the kernel pool each embedded worker starts as it
    #: starts (preload.py), so the first step's kernel is not waited for after the cluster.
    pool: tuple[str, int, tuple[str, ...]] | None = None

    def __post_init__(self) -> None:
        if self.scheduler is not None:
            check_address(self.scheduler)
        for option, value in (("--workers", self.workers), ("--gpu-workers", self.gpu_workers)):
            if value is not None and not 0 <= value <= MAX_WORKERS:
                raise RunInputError(f"{option} must be 0-{MAX_WORKERS}, got {value}")
        if self.workers == 0 and not self.gpu_workers:
            raise RunInputError("--workers 0 leaves no worker to run steps; use --workers 1 or more")


def check_address(address: str) -> None:
    """A Dask scheduler address (`tcp://host:8786`, `host:8786`), or one line saying why not."""
    shown = address if len(address) <= 80 else address[:80] + "..."
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme not in SCHEMES:
        raise RunInputError(
            f"--scheduler {shown!r}: unknown address scheme '{scheme[:20]}'; use e.g."
            f" tcp://HOST:8786 (schemes: {', '.join(SCHEMES)})"
        )
    if scheme == "inproc":
        return
    host, colon, port = rest.rpartition(":")
    if not colon or not host.strip("[]") or not (port.isascii() and port.isdigit()) \
            or not 0 < int(port) < 65536 or any(c.isspace() or c in "/?#@" for c in host):
        raise RunInputError(
            f"--scheduler {shown!r} is not a scheduler address; write it like tcp://HOST:8786"
        )


def detect_gpus() -> list[str]:
    """The GPU ids this machine offers: CUDA_VISIBLE_DEVICES if set, else `nvidia-smi -L`."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [x.strip() for x in visible.split(",") if x.strip()]
        return [] if ids and ids[0].startswith("-") else ids
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def _memory_limit(n_workers: int) -> int:
    from distributed.system import MEMORY_LIMIT

    return int(MEMORY_LIMIT // max(1, n_workers))


def _worker_specs(options: ClusterOptions, warn: Callable[[str], None]) -> dict[str, Any]:
    from distributed import Nanny

    cpus = os.cpu_count() or 1
    n_cpu = min(2, cpus) if options.workers is None else options.workers
    gpus = detect_gpus()
    n_gpu = len(gpus) if options.gpu_workers is None else options.gpu_workers
    if n_cpu < 0 or n_gpu < 0 or n_cpu + n_gpu == 0:
        raise RunInputError("the cluster needs at least one worker; use --workers 1 or more")
    if n_gpu > len(gpus):
        warn(
            f"--gpu-workers {n_gpu} but {len(gpus) or 'no'} GPU was detected; the extra"
            " GPU workers are labelled GPU=1 anyway and their steps run on the CPU"
        )
    memory = _memory_limit(n_cpu + n_gpu)
    base: dict[str, Any] = {
        "nthreads": 1, "memory_limit": memory, "dashboard": False, "silence_logs": 40,
    }
    pool_env = {}
    if options.pool is not None:
        from .preload import POOL_ENV

        base["preload"] = ["mlpipe_jupyter.execute.preload"]
        pool_env = {POOL_ENV: json.dumps(list(options.pool))}
    specs: dict[str, Any] = {}
    for i in range(n_cpu):
        env = {"CUDA_VISIBLE_DEVICES": "", **pool_env} if gpus else dict(pool_env)
        resources = {"CPU": cpus, "MEMORY": memory}
        specs[f"cpu-{i}"] = {"cls": Nanny, "options": {**base, "resources": resources, "env": env}}
    for i in range(n_gpu):
        device = gpus[i] if i < len(gpus) else str(i)
        resources = {"GPU": 1, "CPU": cpus, "MEMORY": memory}
        env = {"CUDA_VISIBLE_DEVICES": device, **pool_env}
        specs[f"gpu-{i}"] = {"cls": Nanny, "options": {**base, "resources": resources, "env": env}}
    return specs


def start(options: ClusterOptions, warn: Callable[[str], None] = lambda _: None) -> ClusterHandle:
    """Connect to `options.scheduler`, start `options.manager`, or the embedded cluster."""
    from distributed import Client

    if options.manager is not None:
        from .managers import start_manager

        return start_manager(options.manager, warn)

    if options.scheduler:

        shared = shared_client(options.scheduler)
        if shared is not None:  # this process owns that warm cluster (the Jupyter server)
            client, dashboard = shared
            return ClusterHandle(client, warm=True, keep=True, dashboard=dashboard)
        try:
            client = Client(options.scheduler, timeout="10s")
        except (OSError, ValueError) as exc:
            raise RunInputError(
                f"cannot reach the Dask scheduler at {options.scheduler} ({exc});"
                " check the address or start one with `dask scheduler`"
            ) from None
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            client.close()
            raise RunInputError(
                f"the Dask scheduler at {options.scheduler} has no workers;"
                " start one with `dask worker " + options.scheduler + "`"
            ) from None
        warm = client.get_metadata(WARM_KEY, None)  # set by a warm cluster (warmcluster.py)
        if isinstance(warm, dict):
            return ClusterHandle(client, warm=True, dashboard=warm.get("dashboard"))
        return ClusterHandle(client)
    return _start_local(options, warn)


def _start_local(options: ClusterOptions, warn: Callable[[str], None]) -> ClusterHandle:
    from distributed import Client, Scheduler, SpecCluster

    warnings: list[str] = []

    def note(message: str) -> None:
        warnings.append(message)
        warn(message)

    workers = _worker_specs(options, note)
    deferred: dict[str, Any] = {}
    if options.start_workers is not None:
        cpu = [name for name in workers if name.startswith("cpu-")]
        deferred = {name: workers.pop(name) for name in cpu[max(1, options.start_workers):]}
    restore = _detach_main_module()
    # The dashboard's modules (bokeh: 0.25 s) are imported while the worker processes
    # start, when this process only waits, and the dashboard is joined to the
    # scheduler's HTTP server (started on its address either way) once they are up.
    importer = threading.Thread(target=_import_dashboard, daemon=True, name="mlpipe-dashboard")
    if DASHBOARD:
        importer.start()
    scheduler = {
        "cls": Scheduler,
        "options": {"host": "127.0.0.1", "dashboard": False, "dashboard_address": "127.0.0.1:0"},
    }
    try:
        cluster = SpecCluster(
            workers=workers, scheduler=scheduler, silence_logs=40, name="mlpipe"
        )
        client = Client(cluster)
        if DASHBOARD:
            importer.join()
            cluster.sync(_connect_dashboard, cluster.scheduler)
    except BaseException:
        restore()
        raise
    dashboard = str(client.dashboard_link) if DASHBOARD else None
    return ClusterHandle(client, cluster, warnings, restore, dashboard=dashboard,
                         deferred=deferred)


def _import_dashboard() -> None:
    try:
        import distributed.dashboard.scheduler  # noqa: F401 - the import is the point
    except ImportError:  # no bokeh: the scheduler serves no dashboard
        pass


async def _connect_dashboard(scheduler: Any) -> None:
    """What a `Scheduler(dashboard=True)` does at its start, on its own event loop."""
    try:
        from distributed.dashboard.scheduler import connect
    except ImportError:
        return
    connect(scheduler.http_application, scheduler.http_server, scheduler, prefix="/")


def _fmt(amount: float) -> str:
    """A resource amount as `dask worker --resources` takes it (whole bytes, not 8e+09)."""
    return str(int(amount)) if float(amount).is_integer() else f"{amount:g}"


#: Resources that are hints unless the cluster advertises them: a cluster whose
#: workers say nothing about CPU or MEMORY (plain `dask worker`) still runs
#: steps with --cpu/--memory; a GPU is never assumed.
SOFT_RESOURCES = ("CPU", "MEMORY")


def unadvertised(workers: dict[str, dict[str, float]]) -> frozenset[str]:
    """The soft resources that no worker advertises (so they cannot be asked of Dask)."""
    advertised = {name for resources in workers.values() for name in resources}
    return frozenset(name for name in SOFT_RESOURCES if name not in advertised)


def step_resources(step: Step, ignore: frozenset[str] = frozenset()) -> dict[str, float]:
    """The Dask resources to ask for `step`, without the unadvertised soft ones."""
    return {k: v for k, v in step.options.resources().items() if k not in ignore}


def unsatisfiable(
    step: Step, workers: dict[str, dict[str, float]], ignore: frozenset[str] = frozenset()
) -> str | None:
    """Why no worker can run `step` (one line naming the step, resource and fix), or None."""
    wanted = step_resources(step, ignore)
    if not wanted:
        return None if workers else f"step '{step.name}' has no worker to run on; start one"
    for resources in workers.values():
        if all(resources.get(name, 0) >= amount for name, amount in wanted.items()):
            return None
    for name, amount in wanted.items():
        best = max((r.get(name, 0) for r in workers.values()), default=0)
        if best < amount:
            return _missing(step, name, amount, best)
    together = ", ".join(f"{n}={_fmt(a)}" for n, a in wanted.items())
    return (
        f"step '{step.name}' needs {together} but no single worker has all of them;"
        f' start a worker with --resources "{together.replace(", ", ",")}"'
    )


_OPTION = {"GPU": "--gpu", "CPU": "--cpu", "MEMORY": "--memory"}


def _missing(step: Step, name: str, amount: float, best: float) -> str:
    have = f"more than {name}={_fmt(best)}" if best else name
    hint = f'start a worker with --resources "{name}={_fmt(amount)}"'
    if name == "GPU" and not best:
        hint += " (or run with --gpu-workers 1)"
    return (
        f"step '{step.name}' needs {name}={_fmt(amount)} but no worker has {have};"
        f" {hint} or lower {_OPTION.get(name, name)}"
    )


def check_resources(
    steps: list[Step], workers: dict[str, dict[str, float]]
) -> frozenset[str]:
    """Raise `ResourceError` for the first step no worker can satisfy.

    Returns the soft resources to leave out of every request (see `unadvertised`).
    """
    ignore = unadvertised(workers)
    problems = [p for p in (unsatisfiable(s, workers, ignore) for s in steps) if p]
    if problems:
        raise ResourceError(problems[0])
    return ignore
