"""c.MlpipeService.cluster_class / cluster_options reach every run the server starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from server_helpers import FakeService
from test_server_routes import call


@pytest.fixture
def jp_server_config(store_dir: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"mlpipe_jupyter": True}},
        "MlpipeExtension": {"service_class": FakeService},
        "MlpipeService": {
            "store_dir": str(store_dir), "workers": 2,
            "cluster_class": "dask_jobqueue.SLURMCluster",
            "cluster_options": {"queue": "gpu", "cores": 8, "job_extra_directives": ["-C a"]},
        },
    }


async def test_runs_start_the_configured_cluster_manager(jp_fetch, notebook, service):
    status, _ = await call(jp_fetch, "runs", "POST", {"path": "pipe.ipynb"})
    assert status == 202
    started = service.started[-1]
    assert started["cluster"] == "dask_jobqueue.SLURMCluster"
    assert started["cluster_options"] == {"queue": "gpu", "cores": 8,
                                          "job_extra_directives": ["-C a"]}
    assert started["workers"] is None  # the manager sizes its own cluster


async def test_a_scheduler_address_wins_over_the_manager(jp_fetch, notebook, service):
    body = {"path": "pipe.ipynb", "scheduler": "tcp://10.0.0.1:8786"}
    status, _ = await call(jp_fetch, "runs", "POST", body)
    assert status == 202
    assert service.started[-1]["scheduler"] == "tcp://10.0.0.1:8786"
    assert service.started[-1]["cluster"] is None
