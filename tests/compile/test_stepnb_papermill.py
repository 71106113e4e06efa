"""The compiled step notebook executes under papermill with a real kernel."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlpipe_jupyter.cache.store import ArtifactRef, Store
from mlpipe_jupyter.compile.stepnb import compile_step, dumps_notebook, step_displays

from stepnb_pipeline import make_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def execute(tmp_path, pipeline, cfg: dict, **params):
    import papermill

    source = tmp_path / "train.ipynb"
    source.write_text(dumps_notebook(compile_step(pipeline, "train")), encoding="utf-8")
    out = tmp_path / "train.out.ipynb"
    papermill.execute_notebook(
        str(source), str(out), parameters={"_mlpipe": cfg, **params},
        kernel_name="python3", progress_bar=False, cwd=str(tmp_path),
    )
    return out


def test_step_notebook_loads_inputs_runs_and_saves_outputs(tmp_path) -> None:
    import papermill

    store = Store.open(tmp_path / "store")
    x_ref = store.put("x", np.arange(4))
    result = tmp_path / "result.json"
    cfg = {"store": str(store.root), "inputs": {"x": x_ref.to_json()}, "outputs": ["w"],
           "result": str(result)}
    out = execute(tmp_path, make_pipeline(), cfg, lr=0.25)

    refs = json.loads(result.read_text())["outputs"]
    w = store.get(ArtifactRef.from_json(refs["w"]))
    np.testing.assert_array_equal(w, np.arange(4) * 0.25 * 2)

    executed = json.loads(out.read_text())
    shown = step_displays(executed)
    assert any(o.get("text", "").startswith("trained 3.0") for o in shown)
    assert any(o["output_type"] == "execute_result"
               and "0.75" in o["data"]["text/plain"] for o in shown)

    missing = {**cfg, "outputs": ["w", "nope"], "result": str(tmp_path / "r2.json")}
    with pytest.raises(papermill.PapermillExecutionError) as info:
        execute(tmp_path, make_pipeline(train_outputs=("nope", "w")), missing)
    assert info.value.ename == "MissingOutput"
    assert "step 'train' should bind 'nope' but did not" in info.value.evalue
    assert not (tmp_path / "r2.json").exists()
