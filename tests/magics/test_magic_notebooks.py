"""The example notebooks run top to bottom with papermill and nbconvert (real kernels)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
pytestmark = pytest.mark.integration


def execute(name: str, out: Path, **parameters: Any) -> dict[str, Any]:
    import papermill

    papermill.execute_notebook(
        str(NOTEBOOKS / name), str(out), parameters=parameters, kernel_name="python3",
        cwd=str(NOTEBOOKS), progress_bar=False,
    )
    return json.loads(out.read_text())


def outputs(nb: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {cell["id"]: cell.get("outputs", []) for cell in nb["cells"]}


def text_of(cell_outputs: list[dict[str, Any]]) -> str:
    parts = []
    for output in cell_outputs:
        text = output.get("text") or output.get("data", {}).get("text/plain", "")
        parts.append("".join(text) if isinstance(text, list) else text)
    return "".join(parts)


def test_breast_cancer_runs_with_papermill(tmp_path: Path) -> None:
    source = (NOTEBOOKS / "breast_cancer.ipynb").read_bytes()
    nb = execute("breast_cancer.ipynb", tmp_path / "out.ipynb", n_estimators=50)
    out = outputs(nb)
    assert (NOTEBOOKS / "breast_cancer.ipynb").read_bytes() == source
    assert "569 rows, 30 features" in text_of(out["step-load"])
    assert "text/html" in out["scratch-head"][0]["data"]  # df.head() after a step
    assert "trained HistGradientBoostingClassifier on cpu" in text_of(out["step-train"])
    scores = text_of(out["step-evaluate"])
    assert "'accuracy'" in scores and "'roc_auc'" in scores
    report = out["step-report"]
    assert "n_estimators=50" in text_of(report)  # papermill's -p reached the step
    assert "roc_auc" in text_of(report)
    assert any("image/png" in o.get("data", {}) for o in report)
    svg = "".join(out["show-dag"][0]["data"]["image/svg+xml"])
    assert "this session's %%step cells · 6 steps" in svg and 'data-step="report"' in svg
    assert "error:" not in svg


def test_broken_notebook_stops_at_the_failing_step(tmp_path: Path) -> None:
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as caught:
        execute("fixtures/broken.ipynb", tmp_path / "out.ipynb")
    assert caught.value.ename == "ValueError" and "broken on purpose (value=1)" in caught.value.evalue
    never = outputs(json.loads((tmp_path / "out.ipynb").read_text()))["step-after"]
    assert never == []


def test_bad_step_option_fails_the_cell_with_a_usage_error(tmp_path: Path) -> None:
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError):
        execute("fixtures/bad_option.ipynb", tmp_path / "out.ipynb")
    cell = outputs(json.loads((tmp_path / "out.ipynb").read_text()))["step-bad"]
    assert text_of(cell).startswith("UsageError: %%step: unknown option --gpus; usage: %%step NAME")


def test_fanout_runs_with_nbconvert(tmp_path: Path) -> None:
    out = tmp_path / "fanout.ipynb"
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
         str(NOTEBOOKS / "fanout.ipynb"), "--output", str(out)],
        check=True, capture_output=True, cwd=tmp_path, timeout=240,
    )
    cells = outputs(json.loads(out.read_text()))
    assert "'busiest_bin'" in text_of(cells["step-combine"])
    assert "image/svg+xml" in cells["show-dag"][0]["data"]
