"""Helpers of tests/hidden: write a notebook, run it both ways, collect what steps print."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlpipe_jupyter import service
from mlpipe_jupyter.cache.store import Store


def notebook_file(path: Path, cells: list[str]) -> Path:
    """An nbformat 4.5 notebook of code cells, `%load_ext mlpipe_jupyter` first."""
    sources = ["%load_ext mlpipe_jupyter", *cells]
    path.write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}",
                   "metadata": {}, "outputs": [], "source": s} for i, s in enumerate(sources)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }), encoding="utf-8")
    return path


def _text(outputs: list[dict[str, Any]]) -> str:
    parts = []
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            text = output.get("text", "")
            parts.append("".join(text) if isinstance(text, list) else text)
    return "".join(line for line in "".join(parts).splitlines(keepends=True)
                   if not line.startswith("mlpipe: "))


def pipeline_prints(path: Path, store_root: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """{step: what it printed} in a pipeline run (from its cache entry), and the record."""
    record = service.run(path, {}, store=store_root, workers=1)
    assert record["status"] == "succeeded", record
    store = Store.open(store_root)
    printed = {}
    for name, step in record["steps"].items():
        entry = store.lookup(step["cache_key"])
        assert entry is not None, (name, step)
        printed[name] = _text(entry.displays)
    return printed, record


def top_to_bottom_prints(path: Path) -> dict[str, str]:
    """{step: what its cells printed} when papermill runs the notebook top to bottom."""
    import papermill

    out = path.with_name("out.ipynb")
    papermill.execute_notebook(str(path), str(out), kernel_name="python3",
                               progress_bar=False, cwd=str(path.parent))
    printed: dict[str, str] = {}
    current = None
    for cell in json.loads(out.read_text("utf-8"))["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if source.startswith("%%step "):
            current = source.split()[1]
            printed[current] = ""
        if current is not None and cell["cell_type"] == "code":
            printed[current] += _text(cell.get("outputs", []))
    return printed
