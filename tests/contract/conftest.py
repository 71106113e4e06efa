"""Contract tests: DESIGN.md's promises checked from the outside.

The CLI runs as users run it (`.venv/bin/mlpipe` in a subprocess) where exit codes,
streams and formats matter, and through `cli.main` in-process for the table-driven
dataflow cases (same parser, renderer and exit code, without a process start each).
Magics run in a real IPython shell; REST goes through a real Jupyter server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - jp_fetch, jp_serverapp, hooks

from contract_helpers import Result, mlpipe_inline
from nbfiles import write_notebook


@pytest.fixture
def write_nb(tmp_path: Path) -> Any:
    """`write_nb(cells, name=..., minor=..., newline=...) -> path`."""

    def write(cells: list[Any], name: str = "nb.ipynb", minor: int = 5,
              newline: str = "\n") -> Path:
        return write_notebook(tmp_path / name, cells, minor=minor, newline=newline)

    return write


@pytest.fixture
def dag(write_nb: Any) -> Any:
    """`dag(cells) -> Result` of `mlpipe dag NB --format json` (in-process)."""

    def run(cells: list[Any], fmt: str = "json") -> Result:
        return mlpipe_inline("dag", write_nb(cells), "--format", fmt)

    return run


@pytest.fixture
def no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh working directory and no MLPIPE_STORE: nothing to restore from."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLPIPE_STORE", raising=False)


@pytest.fixture
def ip(no_store: None, ip: Any) -> Any:
    """tests/conftest.py's real IPython shell, loaded after `no_store` took effect."""
    return ip


@pytest.fixture
def jp_server_config(tmp_path: Path) -> dict[str, Any]:
    """The real extension and service (the DAG route needs no cluster)."""
    return {
        "ServerApp": {"jpserver_extensions": {"mlpipe_jupyter": True}},
        "MlpipeService": {"store_dir": str(tmp_path / "contract-store")},
    }
