"""The Dask worker plugin that keeps a kernel pool ready on every worker.

Imported only when a cluster is used: it subclasses `distributed.WorkerPlugin`.
Setup returns at once; kernels start, and papermill is imported, in the
background, so the first step finds both ready.
"""

from __future__ import annotations

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
        self.name = f"mlpipe-kernel-pool:{cwd}"

    def setup(self, worker: Any) -> None:
        threading.Thread(target=_warm_imports, daemon=True, name="mlpipe-warm").start()
        pool_for(self.cwd, self.size, self.warm)

    def teardown(self, worker: Any) -> None:
        close_pool(self.cwd)
