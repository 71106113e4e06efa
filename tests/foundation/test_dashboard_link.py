"""The sidebar's Dask dashboard link (GET status) when the server has no warm cluster of its
own: the cluster `mlpipe cluster up` recorded in the server's store, while its process lives.
It once called a `service.dashboard_link` that did not exist, so the link was always empty."""

from __future__ import annotations

import os
import time

from mlpipe_jupyter.execute.warmcluster import ClusterRecord, record_path, write_record
from mlpipe_jupyter.server.manager import MlpipeService


def _service(tmp_path) -> MlpipeService:
    return MlpipeService(root_dir=str(tmp_path), store_dir=str(tmp_path / "st"))


def test_recorded_cluster_of_the_store_is_the_link(tmp_path):
    service = _service(tmp_path)
    record = ClusterRecord("tcp://127.0.0.1:1", "http://127.0.0.1:8799/status", os.getpid(),
                           time.time())
    write_record(service.store_root, record)
    assert service.backend_dashboard_link() == "http://127.0.0.1:8799/status"


def test_dead_record_gives_no_link_and_is_cleared(tmp_path):
    service = _service(tmp_path)
    dead = ClusterRecord("tcp://127.0.0.1:1", "http://127.0.0.1:8799/status", 2**22 + 7,
                         time.time())
    write_record(service.store_root, dead)
    assert service.backend_dashboard_link() is None
    assert not record_path(service.store_root).exists()


def test_no_cluster_no_link(tmp_path):
    assert _service(tmp_path).backend_dashboard_link() is None
