"""MlpipeService.workers / gpu_workers reach every run the server starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from server_helpers import FakeService
from test_server_routes import call

from mlpipe_jupyter import service as execution
from mlpipe_jupyter.request import RunRequest
from mlpipe_jupyter.server import MlpipeService


@pytest.fixture
def jp_server_config(store_dir: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"mlpipe_jupyter": True}},
        "MlpipeExtension": {"service_class": FakeService},
        "MlpipeService": {"store_dir": str(store_dir), "gpu_workers": 1, "workers": 2},
    }


async def test_ui_runs_get_the_configured_cluster_sizes(jp_fetch, notebook, service):
    status, _ = await call(jp_fetch, "runs", "POST", {"path": "pipe.ipynb"})
    assert status == 202
    assert service.started[-1]["gpu_workers"] == 1
    assert service.started[-1]["workers"] == 2
    assert service.started[-1]["scheduler"] is None
    _, info = await call(jp_fetch, "status")
    assert (info["workers"], info["gpu_workers"]) == (2, 1)


async def test_published_runs_get_them_too(jp_fetch, notebook, service):
    status, _ = await call(jp_fetch, "pipelines", "POST", {"path": "pipe.ipynb", "name": "pipe"})
    assert status == 201
    status, _ = await call(jp_fetch, "pipelines/pipe/runs", "POST", {})
    assert status == 202
    assert service.started[-1]["gpu_workers"] == 1


async def test_a_scheduler_address_wins_over_local_sizes(jp_fetch, notebook, service):
    body = {"path": "pipe.ipynb", "scheduler": "tcp://10.0.0.1:8786"}
    status, _ = await call(jp_fetch, "runs", "POST", body)
    assert status == 202
    # `mlpipe run` takes --scheduler or --workers, never both
    assert service.started[-1]["scheduler"] == "tcp://10.0.0.1:8786"
    assert service.started[-1]["workers"] is None and service.started[-1]["gpu_workers"] is None


def test_defaults_leave_the_engine_to_choose():
    assert MlpipeService().gpu_workers is None and MlpipeService().workers is None


def test_the_real_backend_passes_one_request_to_service_start(tmp_path, monkeypatch):
    seen: list[RunRequest] = []

    def start(request: RunRequest) -> str:
        seen.append(request)
        return "20260101-000000-aaaaaa"

    monkeypatch.setattr(execution, "start", start)
    backend = MlpipeService(gpu_workers=1, warm_cluster=False)  # the child-process path
    request = RunRequest.build(tmp_path / "nb.ipynb", {"lr": 1}, store=tmp_path,
                               **backend._cluster(False, None))  # fmt: skip
    assert backend.backend_start(request) == "20260101-000000-aaaaaa"
    assert seen == [request]
    assert (request.gpu_workers, request.workers, request.params) == (1, None, {"lr": 1})
