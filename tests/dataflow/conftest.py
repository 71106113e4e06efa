"""A pipeline run against a top-to-bottom papermill run of the same notebook.

`compare(cells)` writes the notebook, runs it top to bottom with papermill (one
kernel, the `%%step` magic running each step as a normal cell), runs it as a
pipeline (service.run on a real LocalCluster, a kernel per step), and returns
what every step printed both ways.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from mlpipe_jupyter import service
from mlpipe_jupyter.analysis import analyze_notebook

LOAD_EXT = "%load_ext mlpipe_jupyter"


@dataclass(frozen=True)
class Printed:
    pipeline: dict[str, str]  # step -> what its cells printed
    notebook: dict[str, str]  # the same, top to bottom
    record: dict[str, Any]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A real Dask LocalCluster of two worker processes for the module's runs."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                      processes=True) as local:
        yield local.scheduler_address


def _stdout(cell: dict[str, Any]) -> str:
    return "".join("".join(o.get("text", "")) for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def _errors(nb: dict[str, Any]) -> list[str]:
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb["cells"]
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.fixture
def compare(cluster: str, write_notebook: Callable[..., Path], tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Callable[[list[str]], Printed]:
    def run(cells: list[str]) -> Printed:
        import papermill

        path = write_notebook([LOAD_EXT, *cells])
        pipeline = analyze_notebook(path)
        assert pipeline.errors == (), [str(e) for e in pipeline.errors]
        record = service.run(path, {}, store=tmp_path / "store", scheduler=cluster)
        pipelined: dict[str, str] = {}
        for name, step in record["steps"].items():
            executed = json.loads(Path(step["notebook"]).read_text(encoding="utf-8"))
            assert record["status"] == "succeeded", (name, _errors(executed))
            pipelined[name] = "".join(
                _stdout(c) for c in executed["cells"]
                if c.get("metadata", {}).get("mlpipe", {}).get("role") == "step")
        # top to bottom in one kernel, with a store of its own (nothing to restore)
        monkeypatch.setenv("MLPIPE_STORE", str(tmp_path / "notebook-store"))
        out = tmp_path / "top-to-bottom.ipynb"
        papermill.execute_notebook(str(path), str(out), cwd=str(tmp_path), progress_bar=False,
                                   kernel_name="python3")
        executed = json.loads(out.read_text(encoding="utf-8"))
        by_index = dict(enumerate(executed["cells"]))
        notebook = {s.name: "".join(_stdout(by_index[i]) for i in s.cells)
                    for s in pipeline.steps}
        return Printed(pipelined, notebook, record)

    return run
