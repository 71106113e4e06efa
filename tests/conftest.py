"""Fixtures shared by every test package (keep this file small)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from nbfiles import write_notebook as write_notebook_file

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def write_notebook(tmp_path: Path) -> Callable[..., Path]:
    """`write_notebook(cells, name="nb.ipynb") -> path` in the test's tmp dir."""

    def write(cells: list[Any], name: str = "nb.ipynb") -> Path:
        return write_notebook_file(tmp_path / name, cells)

    return write


@pytest.fixture
def ip() -> Any:
    """A real IPython shell with the extension loaded, reset for every test."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.testing.globalipapp import start_ipython

    start_ipython()  # once per process: IPython's test-friendly global shell
    shell = InteractiveShell.instance()
    if "mlpipe_jupyter" in shell.extension_manager.loaded:
        shell.run_cell("%unload_ext mlpipe_jupyter", silent=True)
    shell.reset(new_session=True)
    shell.run_cell("%load_ext mlpipe_jupyter", store_history=True)
    yield shell
    shell.run_cell("%unload_ext mlpipe_jupyter", silent=True)
