"""`c.MlpipeService.fire_schedules = True`: the server itself fires due schedules."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from server_helpers import FakeService
from test_server_routes import call

from mlpipe_jupyter.schedule import schedules


@pytest.fixture
def jp_server_config(store_dir: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"mlpipe_jupyter": True}},
        "MlpipeExtension": {"service_class": FakeService},
        "MlpipeService": {"store_dir": str(store_dir), "fire_schedules": True, "fire_interval": 0.2},
    }


async def test_server_fires_a_due_schedule_on_its_own(jp_fetch, notebook, service):
    await call(jp_fetch, "pipelines", "POST", {"path": "pipe.ipynb", "name": "daily"})
    schedules.add(service.store_root, "daily", "* * * * *", now=time.time() - 120)
    for _ in range(100):
        _, [listed] = await call(jp_fetch, "schedules")
        if listed["last_run_id"]:
            break
        await asyncio.sleep(0.1)
    assert listed["last_run_id"] and listed["last_error"] is None
    assert len(service.started) == 1
