"""Rules 9 and 6 inside a real step kernel: random state in and out, inputs changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlpipe_jupyter.analysis import analyze, cells_from_json
from mlpipe_jupyter.cache.store import ArtifactRef, Store
from mlpipe_jupyter.compile.stepnb import compile_step, dumps_notebook

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SETUP = "import random\nimport numpy as np\ndef grow(items):\n    items.append(len(items))"


def pipeline(*steps: str, setup: str = SETUP) -> Any:
    return analyze(cells_from_json([{"cell_type": "code", "source": s} for s in (setup, *steps)]))


def execute(tmp_path: Path, pipe: Any, step: str, store: Store,
            inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the compiled step with papermill; its result JSON."""
    import papermill

    source = tmp_path / f"{step}.ipynb"
    source.write_text(dumps_notebook(compile_step(pipe, step)), encoding="utf-8")
    result = tmp_path / f"{step}.result.json"
    cfg = {"store": str(store.root), "inputs": inputs or {},
           "outputs": list(pipe.step(step).outputs), "result": str(result), "step": step}
    papermill.execute_notebook(str(source), str(tmp_path / f"{step}.out.ipynb"),
                               parameters={"_mlpipe": cfg}, kernel_name="python3",
                               progress_bar=False, cwd=str(tmp_path))
    return json.loads(result.read_text())


def test_end_state_flows_to_the_next_consumer(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    pipe = pipeline("%%step a\na = np.random.randn(3)", "%%step b\nb = np.random.randn(3)",
                    setup=SETUP + "\nnp.random.seed(0)")
    first = execute(tmp_path, pipe, "a", store)
    assert first["report"]["random"] == ["numpy"] and first["report"]["unseeded"] == []
    state = first["outputs"]["random:numpy"]
    second = execute(tmp_path, pipe, "b", store, {"random:numpy": state})
    np.random.seed(0)
    expected_a, expected_b = np.random.randn(3), np.random.randn(3)
    a = store.get(ArtifactRef.from_json(first["outputs"]["a"]))
    b = store.get(ArtifactRef.from_json(second["outputs"]["b"]))
    np.testing.assert_array_equal(a, expected_a)
    np.testing.assert_array_equal(b, expected_b)
    assert "random:numpy" in second["outputs"]  # changed: saved though no one reads it


def test_a_library_draw_is_reported_and_its_state_saved(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    pipe = pipeline("%%step shuffled\nfrom sklearn.utils import shuffle\nxs = shuffle(list(range(9)))")
    result = execute(tmp_path, pipe, "shuffled", store)
    assert result["report"]["random"] == ["numpy"]
    assert result["report"]["unseeded"] == ["numpy"]  # nobody seeded numpy
    saved = store.get(ArtifactRef.from_json(result["outputs"]["random:numpy"]))
    assert saved["generator"] == "numpy" and saved["seeded"] is False


def test_python_random_seeded_in_the_step(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    pipe = pipeline("%%step s1\nrandom.seed(3)\nx = random.random()")
    result = execute(tmp_path, pipe, "s1", store)
    assert result["report"]["random"] == ["random"] and result["report"]["unseeded"] == []
    saved = store.get(ArtifactRef.from_json(result["outputs"]["random:random"]))
    assert saved["seeded"] is True


def test_an_input_changed_through_a_helper_is_reported_and_saved(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    pipe = pipeline("%%step make\nitems = [1]", "%%step use\ngrow(items)\nn = 1",
                    "%%step after\nprint(items, n)")
    ref = store.put("items", [1]).to_json()
    result = execute(tmp_path, pipe, "use", store, {"items": ref})
    assert result["report"]["inputs_changed"] == ["items"]
    assert store.get(ArtifactRef.from_json(result["outputs"]["items"])) == [1, 1]
    assert result["report"]["random"] == []


def test_every_name_the_step_binds_is_saved(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    pipe = pipeline("%%step fit\nscale = 2\nrows = [scale] * 3\nimport json",
                    "%%step use\nprint(rows)")
    result = execute(tmp_path, pipe, "fit", store)
    assert sorted(result["outputs"]) == ["rows", "scale"]  # not the module `json`
    assert result["report"]["inputs_changed"] == []
