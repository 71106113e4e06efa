"""How many threads a step's thread pools get, and setting them in its kernel.

Dask's nanny starts worker processes with `OMP_NUM_THREADS`, `MKL_NUM_THREADS`
and `OPENBLAS_NUM_THREADS` at 1, and a kernel started by the worker inherits
them: without this module every numpy or scikit-learn step would run on one
core. The rule (`step_threads`):

- a step with `--cpu N` gets N threads (at least 1);
- any other step gets `cores // running`, at least 1: `cores` is the worker's
  `CPU` resource when it advertises one, else the cores this process may use;
  `running` is the number of steps of the same cluster (scheduler) running on
  this host at the moment the step starts, itself included (counted through a
  folder of markers per scheduler, so the embedded cluster's workers share the
  machine fairly and another run's cluster does not count). A step that runs
  alone gets every core, as papermill's kernel would.

`apply` runs in the step's kernel before the step's first cell: it sets the
environment variables the thread libraries read when they load, `loky`'s
`LOKY_MAX_CPU_COUNT` (`n_jobs=-1`), and for libraries already loaded (the
preloaded setup) the pools through threadpoolctl. A step's own threadpoolctl
or `n_jobs` comes later and so still wins.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: The variables the thread libraries read when they load.
THREAD_VARS = (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
)
LOKY_VAR = "LOKY_MAX_CPU_COUNT"


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _markers(cluster: str) -> Path:
    import hashlib

    uid = os.getuid() if hasattr(os, "getuid") else 0
    tag = hashlib.sha256(cluster.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"mlpipe-running-steps-{uid}" / tag


def cluster_of(worker: object | None) -> str:
    """The scheduler address of `worker` (this process's id when there is no worker)."""
    scheduler = getattr(worker, "scheduler", None)
    address = getattr(scheduler, "address", None)
    return str(address) if address else f"process-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def running_here(cluster: str) -> int:
    """Steps of `cluster` running on this host now (markers of live processes)."""
    folder = _markers(cluster)
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    count = 0
    for name in names:
        pid = name.split("-", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            count += 1
        else:
            with contextlib.suppress(OSError):
                os.unlink(folder / name)  # a worker that died mid-step
    return count


@contextlib.contextmanager
def running_step(cluster: str) -> Iterator[None]:
    """Count this step as running on this host while the block runs."""
    folder = _markers(cluster)
    marker = folder / f"{os.getpid()}-{secrets.token_hex(4)}"
    try:
        folder.parent.mkdir(mode=0o700, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        marker.touch()
    except OSError:
        marker = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if marker is not None:
            with contextlib.suppress(OSError):
                marker.unlink()


def worker_cores(worker: object | None) -> int:
    """The worker's `CPU` resource if it advertises one, else this process's usable cores."""
    state = getattr(worker, "state", None)
    total = getattr(state, "total_resources", None) or {}
    cpu = total.get("CPU") if isinstance(total, dict) else None
    if cpu:
        return max(1, int(cpu))
    return usable_cores()


def step_threads(cpu: float | None, worker: object | None, running: int) -> int:
    """The rule above: `--cpu N` -> N; else the worker's cores shared by the running steps."""
    if cpu:
        return max(1, int(cpu))
    return max(1, worker_cores(worker) // max(1, running))


def kernel_env(env: dict[str, str], threads: int) -> dict[str, str]:
    """`env` with the thread variables at `threads` (the nanny's 1s replaced)."""
    out = dict(env)
    for var in (*THREAD_VARS, LOKY_VAR):
        out[var] = str(threads)
    return out


def apply_code(threads: int, devices: str | None = None) -> str:
    """The silent code that runs `apply` in a kernel (binds no name)."""
    return (f"__import__('mlpipe_jupyter.execute.threads', fromlist=['apply'])"
            f".apply({int(threads)}, {devices!r})")


def apply(threads: int, devices: str | None = None) -> None:
    """In the kernel, before the step's cells: size the thread pools, pin the GPUs."""
    for var in (*THREAD_VARS, LOKY_VAR):
        os.environ[var] = str(threads)
    if devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = devices
    if any(m in sys.modules for m in ("numpy", "scipy", "sklearn", "torch", "xgboost",
                                       "lightgbm")):
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(threads)
        except Exception:  # noqa: BLE001 - no threadpoolctl: the variables still hold
            pass
    torch = sys.modules.get("torch")
    if torch is not None:
        with contextlib.suppress(Exception):
            torch.set_num_threads(threads)
