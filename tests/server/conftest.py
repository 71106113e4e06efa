"""A real Jupyter server with the mlpipe extension, its execution backend swapped by config.

pytest-jupyter has no pytest11 entry point and `pytest_plugins` is allowed only in the
top-level conftest, so its fixtures and hooks are imported here, for this folder only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - jp_fetch, jp_serverapp, hooks

from server_helpers import TWO_STEPS, FakeService, write_notebook


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "server-store"


@pytest.fixture
def jp_server_config(store_dir: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"mlpipe_jupyter": True}},
        "MlpipeExtension": {"service_class": FakeService},
        "MlpipeService": {"store_dir": str(store_dir)},
    }


@pytest.fixture
def notebook(jp_root_dir: Path) -> Path:
    return write_notebook(jp_root_dir / "pipe.ipynb", TWO_STEPS)


@pytest.fixture
def service(jp_serverapp: Any) -> FakeService:
    return jp_serverapp.web_app.settings["mlpipe_service"]
