"""The Jupyter server's warm cluster: started on first use, closed when idle or with the server.

`WarmClusterOwner` holds at most one `execute.warmcluster.WarmCluster` for the
server process. `ensure(store)` starts it (once, whoever asks first) and writes
its record into `store` (`<store>/cluster.json`, owner "server"), so a run of a
notebook of that store, from the sidebar, REST, `%pipeline run` in one of this
server's kernels or `mlpipe run` in its terminal, uses it. `prepare` starts the
kernel pools of a notebook's folder when the notebook opens. `close_if_idle`
closes it after `idle_timeout` seconds without work; `close` with the server.
Both remove the records it wrote.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class WarmClusterOwner:
    def __init__(self, workers: int | None = None, gpu_workers: int | None = None) -> None:
        self.workers = workers
        self.gpu_workers = gpu_workers
        self._lock = threading.Lock()
        self._cluster: Any = None
        self._stores: set[Path] = set()  # where its record was written

    @property
    def cluster(self) -> Any:
        """The running warm cluster, or None."""
        cluster = self._cluster
        return cluster if cluster is not None and cluster.running else None

    def ensure(self, store: Path | None = None) -> Any:
        """The warm cluster (started if needed), recorded in `store`."""
        from mlpipe_jupyter.execute import warmcluster

        with self._lock:
            if self.cluster is None:
                if self._cluster is not None:  # it died: start a new one
                    self._forget()
                self._cluster = warmcluster.WarmCluster(
                    self.workers, self.gpu_workers, warn=lambda m: log.warning("mlpipe: %s", m)
                )
                log.info("mlpipe: warm cluster at %s, dashboard %s",
                         self._cluster.address, self._cluster.dashboard)
            cluster = self._cluster
            if store is not None:
                current = warmcluster.live_record(store)
                if current is None or current.pid == os.getpid():  # else `mlpipe cluster up`'s
                    warmcluster.write_record(store, cluster.record("server"))
                    self._stores.add(Path(store))
            return cluster

    def prepare(self, notebook: Path, setup_source: str, store: Path | None = None) -> None:
        """Start the warm cluster and the kernel pools of `notebook`'s folder."""
        self.ensure(store).prepare(notebook, setup_source)

    def prepare_in_background(self, notebook: Path, setup_source: str, store: Path) -> None:
        def work() -> None:
            try:
                self.prepare(notebook, setup_source, store)
            except Exception:  # noqa: BLE001 - the first run starts it again
                log.warning("mlpipe: could not warm the cluster for %s", notebook, exc_info=True)

        threading.Thread(target=work, daemon=True, name="mlpipe-warm-up").start()

    def dashboard(self) -> str | None:
        cluster = self.cluster
        return cluster.dashboard if cluster is not None else None

    def close_if_idle(self, idle_timeout: float) -> bool:
        """Close the cluster once it has had no work for `idle_timeout` seconds."""
        cluster = self.cluster
        if cluster is None or idle_timeout <= 0 or cluster.idle_seconds() < idle_timeout:
            return False
        log.info("mlpipe: closing the warm cluster (idle for %.0f s)", idle_timeout)
        self.close()
        return True

    def close(self) -> None:
        with self._lock:
            cluster, self._cluster = self._cluster, None
            self._forget()
        if cluster is not None:
            cluster.close()

    def _forget(self) -> None:
        from mlpipe_jupyter.execute import warmcluster

        for store in self._stores:
            warmcluster.clear_record(store, os.getpid())
        self._stores.clear()


__all__ = ["WarmClusterOwner"]
