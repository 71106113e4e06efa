"""The Dask worker plugin that keeps a kernel pool ready on every worker.

Imported only when a cluster is used: it subclasses `distributed.WorkerPlugin`.
Setup returns at once; kernels start, and papermill is imported, in the
background, so the first step finds both ready.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from distributed import WorkerPlugin

from .kernels import DEFAULT_POOL_SIZE, close_pool, pool_for


def _warm_imports() -> None:
    from .engine import import_papermill

    import_papermill()


class KernelPoolPlugin(WorkerPlugin):
    """Start `size` kernels in `cwd` on each worker, ahead of the steps."""

    def __init__(
        self, cwd: str | None, size: int = DEFAULT_POOL_SIZE, warm: tuple[str, ...] = ()
    ) -> None:
        self.cwd = cwd
        self.size = size
        self.warm = warm  # modules the pooled kernels import ahead (the setup's)
        digest = hashlib.sha256(json.dumps([size, list(warm)]).encode()).hexdigest()[:12]
        self.name = f"{plugin_prefix(cwd)}{digest}"

    def setup(self, worker: Any) -> None:
        from .remote import worker_folder  # a URL store: this worker's own project folder

        threading.Thread(target=_warm_imports, daemon=True, name="mlpipe-warm").start()
        pool_for(worker_folder(self.cwd), self.size, self.warm)

    def teardown(self, worker: Any) -> None:
        from .remote import worker_folder

        close_pool(worker_folder(self.cwd))


class GpuPlugin(WorkerPlugin):
    """Sets up the worker's GPU devices (`gpus.Devices`, from its `GPU` resource), so each
    `--gpu` step's kernel is pinned to devices no other step holds."""

    name = "mlpipe-gpus"

    def setup(self, worker: Any) -> None:
        from .gpus import devices_for

        devices_for(worker)

    def teardown(self, worker: Any) -> None:
        from .gpus import forget

        forget(worker)


def plugin_prefix(cwd: str | None) -> str:
    return f"mlpipe-kernel-pool:{cwd}:"


def _plugin_names(dask_scheduler: Any) -> list[str]:
    return list(dask_scheduler.worker_plugins)


def pool_stats(dask_worker: Any = None) -> dict[str, int]:
    """Kernels ready now in this worker's pools (`client.run(pool_stats)`)."""
    from .kernels import ready_kernels

    return ready_kernels()


def ensure_pool(
    client: Any, cwd: str | None, size: int = DEFAULT_POOL_SIZE, warm: tuple[str, ...] = ()
) -> KernelPoolPlugin:
    """Register the kernel pool for `cwd` on every worker, unless it is there already.

    On a warm cluster the same pool serves run after run: registering it again
    would tear its ready kernels down. A pool for `cwd` with other settings (the
    setup's imports changed) is replaced.
    """
    plugin = KernelPoolPlugin(cwd, size, warm)
    try:
        registered = client.run_on_scheduler(_plugin_names)
    except Exception:  # noqa: BLE001 - an old scheduler: register as before
        registered = []
    if GpuPlugin.name not in registered:
        client.register_plugin(GpuPlugin())
    if plugin.name in registered:
        return plugin
    for name in registered:
        if name.startswith(plugin_prefix(cwd)):
            client.unregister_worker_plugin(name)
    client.register_plugin(plugin)
    return plugin
