"""Fixtures shared by every test package (keep this file small)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

REPO = Path(__file__).resolve().parent.parent


def notebook_json(cells: list[str | tuple[str, list[str]]]) -> dict:
    """An nbformat 4.5 notebook of code cells; a cell is `source` or `(source, tags)`."""
    out = []
    for i, cell in enumerate(cells):
        source, tags = (cell, []) if isinstance(cell, str) else cell
        out.append({
            "cell_type": "code", "execution_count": None, "id": f"cell-{i}",
            "metadata": {"tags": list(tags)}, "outputs": [], "source": source,
        })
    return {
        "cells": out,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


@pytest.fixture
def write_notebook(tmp_path: Path) -> Callable[..., Path]:
    """`write_notebook(cells, name="nb.ipynb") -> path` in the test's tmp dir."""

    def write(cells: list[str | tuple[str, list[str]]], name: str = "nb.ipynb") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(notebook_json(cells), indent=1), encoding="utf-8")
        return path

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
