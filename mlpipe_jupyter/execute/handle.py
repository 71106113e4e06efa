"""What a started cluster is to a run: the `ClusterHandle`, and the warm clusters this
process owns (their shared clients), below both `cluster.py` (which starts one) and
`warmcluster.py` / `managers.py` (which keep or build one), so none imports another."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

#: The scheduler metadata key a warm cluster sets (`warmcluster.WarmCluster`).
WARM_KEY = ["mlpipe", "warm"]


@dataclass
class ClusterHandle:
    """A connected client and, for the embedded cluster, the cluster it owns."""

    client: Any
    cluster: Any = None
    warnings: list[str] = field(default_factory=list)
    restore: Callable[[], None] = lambda: None
    manager: str | None = None  # the --cluster class that started `cluster`, if one did

    warm: bool = False  # a warm cluster: its kernel pools outlive the run
    keep: bool = False  # the client is this process's shared one (a warm cluster it owns)
    dashboard: str | None = None  # the Dask dashboard's address, when mlpipe serves one
    deferred: dict[str, Any] = field(default_factory=dict)  # CPU workers not started yet

    def grow(self) -> bool:
        """Start one of the deferred CPU workers; False when none is left."""
        if not self.deferred or self.cluster is None:
            return False
        name = next(iter(self.deferred))
        self.cluster.worker_spec[name] = self.deferred.pop(name)
        self.cluster.sync(self.cluster._correct_state)  # what SpecCluster.scale does
        return True

    @property
    def ours(self) -> bool:
        """Whether mlpipe started these workers here, in this environment (no pre-flight)."""
        return self.cluster is not None and self.manager is None

    @property
    def kind(self) -> str:
        if self.warm:
            return "warm"
        return "local" if self.cluster is not None else "scheduler"

    def workers(self) -> dict[str, dict[str, float]]:
        """Worker address -> the resources it advertises."""
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return {addr: dict(w.get("resources") or {}) for addr, w in info.items()}

    def close(self) -> None:
        if self.keep:
            self.restore()
            return
        try:
            self.client.close()
        finally:
            try:
                if self.cluster is not None:
                    self.cluster.close()
            finally:
                self.restore()


def _detach_main_module() -> Callable[[], None]:
    """Keep spawned worker processes from re-running the caller's `__main__`.

    multiprocessing's spawn re-imports `__main__` in every child (and fails for
    `<stdin>`); the `mlpipe` script or a user's unguarded script would run
    again there. Our workers only run mlpipe_jupyter's own functions, so the
    children need none of it. Returns the function that puts it back.
    """
    main = sys.modules.get("__main__")
    if main is None:
        return lambda: None
    names = ("__spec__", "__file__")
    saved = {name: main.__dict__[name] for name in names if name in main.__dict__}
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)

    def restore() -> None:
        main.__dict__.update(saved)

    return restore


# -- warm clusters this process owns ------------------------------------------------------

_SHARED: dict[str, tuple[Any, str | None]] = {}  # address -> (client, dashboard) we own
_SHARED_LOCK = threading.Lock()


def shared_client(address: str) -> tuple[Any, str | None] | None:
    """The client of a warm cluster this process owns at `address` (no new connection)."""
    with _SHARED_LOCK:
        found = _SHARED.get(address)
    if found is not None and getattr(found[0], "status", "") == "running":
        return found
    return None
