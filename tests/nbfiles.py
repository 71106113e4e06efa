"""The one notebook writer of the tests: cells in, an .ipynb dict or file out.

A cell is a source string (a code cell), `(source, tags)`, or a dict used as it
is (a markdown cell, a list source, outputs...). Importable from every test
folder: tests/ is on `sys.path` because tests/conftest.py lives there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def code_cell(source: str | list[str], tags: tuple[str, ...] | list[str] = (),
              **extra: Any) -> dict[str, Any]:  # fmt: skip
    """An nbformat 4.5 code cell."""
    raw = {"cell_type": "code", "execution_count": None, "metadata": {"tags": list(tags)},
           "outputs": [], "source": source}  # fmt: skip
    raw.update(extra)
    return raw


def notebook_json(cells: list[Any], minor: int = 5) -> dict[str, Any]:
    """A notebook of `cells` (nbformat 4.`minor`; cells get ids from 4.5 on)."""
    raws = []
    for number, cell in enumerate(cells):
        if isinstance(cell, dict):
            raw = dict(cell)
        elif isinstance(cell, str):
            raw = code_cell(cell)
        else:
            raw = code_cell(cell[0], cell[1])
        if minor >= 5:
            raw.setdefault("id", f"cell-{number}")
        raws.append(raw)
    return {"cells": raws, "metadata": {"kernelspec": dict(KERNELSPEC)}, "nbformat": 4,
            "nbformat_minor": minor}  # fmt: skip


def write_notebook(path: Path, cells: list[Any], *, minor: int = 5,
                   newline: str = "\n") -> Path:  # fmt: skip
    """Write `notebook_json(cells)` to `path` (folders made); the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(notebook_json(cells, minor), indent=1, ensure_ascii=False)
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path
