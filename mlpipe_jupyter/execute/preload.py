"""A Dask worker preload: the run's kernel pool starts as the embedded worker starts.

The embedded cluster names this module in each worker's `preload` and the pool's
(folder, size, setup imports) in `MLPIPE_WORKER_POOL`. The pool's fork server then
imports ipykernel and the setup's modules while the cluster is still coming up,
instead of after it, when the first step already waits. The pool plugin the run
registers afterwards (plugin.py) finds the same pool.
"""

from __future__ import annotations

import json
import os
from typing import Any

POOL_ENV = "MLPIPE_WORKER_POOL"


def dask_setup(worker: Any) -> None:
    spec = os.environ.pop(POOL_ENV, None)  # popped: the kernels need not see it
    if not spec:
        return
    from .plugin import KernelPoolPlugin

    cwd, size, warm = json.loads(spec)
    KernelPoolPlugin(cwd, int(size), tuple(warm)).setup(worker)
