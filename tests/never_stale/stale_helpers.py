"""A notebook folder a user works in: `mlpipe run` it, and run it top to bottom with papermill.

`Folder.run()` is the real CLI (`python -m mlpipe_jupyter run --json`, its own
embedded Dask cluster and kernels); what each step printed is read from the cache
entry the run used or made (a cached step shows what it printed when it ran).
`Folder.papermill()` copies the folder as it is now (without the store) and runs the
same notebook top to bottom in one kernel, `%%step`/`%%params` lines dropped, the
parameters cell tagged as papermill wants: the truth a pipeline run must match.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpipe_jupyter.cache.store import Store


def _cell(source: str, tags: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"cell_type": "code", "execution_count": None, "id": f"c{abs(hash(source)) % 10**8}",
            "metadata": {"tags": list(tags)}, "outputs": [], "source": source}


def _notebook(cells: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "cells": cells, "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
    }


def _text(outputs: list[dict[str, Any]]) -> str:
    parts = []
    for output in outputs:
        if output.get("output_type") == "stream":
            text = output.get("text", "")
            parts.append("".join(text) if isinstance(text, list) else text)
    return "".join(parts)


@dataclass
class Folder:
    path: Path
    sources: list[str]  # the notebook's cells, `%%step NAME` first lines included

    def write(self) -> None:
        cells = [_cell(s) for s in self.sources]
        (self.path / "nb.ipynb").write_text(json.dumps(_notebook(cells)))

    def run(self, *args: str) -> dict[str, Any]:
        """`mlpipe run nb.ipynb --json ARGS`: the run record, with `printed` per step."""
        done = subprocess.run(
            [sys.executable, "-m", "mlpipe_jupyter", "run", "nb.ipynb", "--json", *args],
            cwd=self.path, capture_output=True, text=True, timeout=240, env=os.environ.copy(),
        )
        assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
        record = json.loads(done.stdout)
        store = Store.open(self.path / ".mlpipe")
        for step in record["steps"].values():
            entry = store.lookup(step["cache_key"])
            assert entry is not None, step
            step["printed"] = _text(entry.displays)
        return record

    def papermill(self, tmp: Path, parameters: dict[str, Any] | None = None) -> dict[str, str]:
        """Top to bottom in one kernel, in a copy of the folder now: what each step printed."""
        import papermill

        copy = tmp / f"papermill-{len(list(tmp.glob('papermill-*')))}"
        shutil.copytree(self.path, copy, ignore=shutil.ignore_patterns(".mlpipe", "nb.ipynb"))
        cells, names = [], []
        for source in self.sources:
            first, _, body = source.partition("\n")
            if first.startswith("%%params"):
                cells.append(_cell(body, ("parameters",)))
                names.append(None)
            elif first.startswith("%%step"):
                cells.append(_cell(body))
                names.append(first.split()[1])
            else:
                cells.append(_cell(source))
                names.append(None)
        (copy / "plain.ipynb").write_text(json.dumps(_notebook(cells)))
        out = papermill.execute_notebook(
            str(copy / "plain.ipynb"), str(copy / "plain.out.ipynb"), parameters=parameters or {},
            cwd=str(copy), progress_bar=False, kernel_name="python3",
        )
        own = [c for c in out["cells"] if "injected-parameters" not in c["metadata"].get("tags", [])]
        return {name: _text(c["outputs"]) for name, c in zip(names, own) if name}


def printed(record: dict[str, Any]) -> dict[str, str]:
    return {name: step["printed"] for name, step in record["steps"].items()}


def statuses(record: dict[str, Any]) -> dict[str, str]:
    return {name: step["status"] for name, step in record["steps"].items()}
