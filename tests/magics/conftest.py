"""A real IPython shell with the extension loaded, reset for every test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture
def ip() -> Any:
    start_ipython()  # once per process: IPython's test-friendly global shell
    shell = InteractiveShell.instance()
    if "mlpipe_jupyter" in shell.extension_manager.loaded:
        shell.run_cell("%unload_ext mlpipe_jupyter", silent=True)
    shell.reset(new_session=True)
    shell.run_cell("%load_ext mlpipe_jupyter", store_history=True)
    yield shell
    shell.run_cell("%unload_ext mlpipe_jupyter", silent=True)


@pytest.fixture
def run(ip: Any) -> Any:
    """Run one cell as a notebook would (stored in history), return its ExecutionResult."""

    def _run(source: str) -> Any:
        return ip.run_cell(source, store_history=True)

    return _run
