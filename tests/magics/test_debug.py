"""`%pipeline debug STEP` from outside, with real kernels (issue 24).

A 4-step notebook whose third step fails runs as a pipeline; then papermill executes a
notebook that calls `%pipeline debug evaluate`: its kernel gets the namespace the failed step
had (the DataFrame, the fitted model, the global random state, the parameter), equal to what
the step itself dumped before it raised; the failing line is shown; the step's cell, fixed
and run there as a `%%step` cell, computes what the fixed pipeline computes.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from nbfiles import write_notebook

pytestmark = pytest.mark.integration

SETUP = "import pickle\nimport numpy as np\nimport pandas as pd\nfrom sklearn.linear_model import LinearRegression"
FAILING = "    raise ValueError('prediction out of range')"
EVALUATE = (
    "%%step evaluate\n"
    "received = np.random.get_state()\n"
    "draw = np.random.rand()\n"
    "pred = model.predict(raw[['x']]) * scale + draw\n"
    "pickle.dump((raw, model.coef_, received, scale), open('seen.pkl', 'wb'))\n"
    "if pred.max() > 0:\n"
    f"{FAILING}"
)


def pipeline_cells(evaluate: str) -> list[str]:
    return [
        SETUP,
        "%%params\nscale = 2.0",
        "%%step load\nnp.random.seed(7)\nraw = pd.DataFrame({'x': np.random.rand(30)})\n"
        "raw['y'] = 3 * raw.x + 1",
        "%%step fit\nmodel = LinearRegression().fit(raw[['x']], raw.y)\njitter = np.random.rand()",
        evaluate,
        "%%step report\nprint(round(float(pred.sum()), 6))",
    ]


@pytest.fixture(scope="module")
def failed(tmp_path_factory: Any) -> tuple[Path, Any]:
    """The pipeline run once: evaluate failed, report skipped."""
    import mlpipe_jupyter as mlp

    folder = tmp_path_factory.mktemp("debug")
    path = write_notebook(folder / "four.ipynb", pipeline_cells(EVALUATE))
    run = mlp.load(path).run(params={"scale": 3.0}, workers=1)
    assert {n: s.status.value for n, s in run.steps.items()} == {
        "load": "succeeded", "fit": "succeeded", "evaluate": "failed", "report": "skipped"}
    return path, run


def papermill(path: Path, cells: list[str]) -> dict[str, Any]:
    import papermill as pm

    source = write_notebook(path, cells)
    out = path.with_name(path.stem + ".out.ipynb")
    pm.execute_notebook(str(source), str(out), kernel_name="python3", cwd=str(path.parent),
                        progress_bar=False)
    return json.loads(out.read_text(encoding="utf-8"))


def printed(nb: dict[str, Any], index: int) -> str:
    outputs = nb["cells"][index].get("outputs", [])
    return "".join("".join(o.get("text", "")) for o in outputs if o.get("output_type") == "stream")


def test_debug_gives_the_kernel_the_namespace_the_failed_step_had(failed) -> None:
    path, run = failed
    seen = path.parent / "seen.pkl"  # what evaluate dumped before it raised
    raw, coef, state, scale = pickle.loads(seen.read_bytes())
    seen.unlink()
    nb = papermill(path.with_name("debug.ipynb"), [
        SETUP,
        "%load_ext mlpipe_jupyter",
        "%pipeline debug evaluate --notebook four.ipynb",
        "pickle.dump((raw, model.coef_, np.random.get_state(), scale), open('loaded.pkl', 'wb'))",
    ])
    shown = printed(nb, 2)
    assert f"mlpipe: step 'evaluate' of run {run.id} (failed)" in shown
    assert "error: ValueError: prediction out of range" in shown
    assert f"failing line: {FAILING.strip()}" in shown
    assert "Traceback" in shown or "ValueError" in shown.split("failing line")[1]
    assert "loaded into this kernel: model (from fit" in shown and "raw (from load" in shown
    assert "parameters: scale=3.0" in shown
    assert "global state as the step received it: random:numpy" in shown
    assert "the step's code is in a new cell below" in shown
    got_raw, got_coef, got_state, got_scale = pickle.loads(
        (path.parent / "loaded.pkl").read_bytes())
    import numpy as np
    import pandas as pd

    pd.testing.assert_frame_equal(got_raw, raw)
    np.testing.assert_array_equal(got_coef, coef)
    assert got_state[0] == state[0] and got_state[2:] == state[2:]
    np.testing.assert_array_equal(got_state[1], state[1])
    assert got_scale == scale == 3.0


def test_the_inserted_cell_fixed_and_run_as_a_step_computes_what_the_fixed_pipeline_does(
        failed) -> None:
    import mlpipe_jupyter as mlp

    path, run = failed
    found = mlp.debug("evaluate", run.id, notebook=path, namespace={}, show=False)
    assert found.code == EVALUATE and found.failing_line == FAILING.strip()
    fixed = found.code.replace("if pred.max() > 0:\n" + FAILING, "print(pred.sum())")
    nb = papermill(path.with_name("fixed_live.ipynb"), [
        SETUP,
        "%load_ext mlpipe_jupyter",
        "%pipeline restore off",
        f"%pipeline debug evaluate --notebook four.ipynb --run {run.id}",
        fixed,
        "pickle.dump(pred, open('live_pred.pkl', 'wb'))",
    ])
    assert "".join(nb["cells"][4]["source"]) == fixed
    live = pickle.loads((path.parent / "live_pred.pkl").read_bytes())
    again = mlp.load(write_notebook(path, pipeline_cells(fixed))).run(
        params={"scale": 3.0}, workers=1)
    assert again.status.value == "succeeded"
    import numpy as np

    np.testing.assert_array_equal(again["evaluate"]["pred"], live)


def test_unknown_step_and_pruned_inputs_are_one_line(failed, tmp_path) -> None:
    import mlpipe_jupyter as mlp

    path, run = failed
    with pytest.raises(mlp.NotFound, match="run .* has no step 'evaluat'; its steps: load"):
        mlp.debug("evaluat", run.id, notebook=path, namespace={}, show=False)
    found = mlp.debug("evaluate", run.id, notebook=path, namespace={}, show=False)
    gone = next((path.parent / ".mlpipe" / "artifacts").rglob(found.inputs["raw"] + "*"))
    saved = Path(gone).read_bytes()
    Path(gone).unlink()
    try:
        namespace: dict[str, Any] = {}
        found = mlp.debug("evaluate", run.id, notebook=path, namespace=namespace, show=False)
        assert found.pruned == ("raw",) and "raw" not in namespace and "model" in namespace
        assert "gone from the store (pruned), not loaded: raw (from load)" in found.summary()
    finally:
        Path(gone).write_bytes(saved)


def test_pipeline_run_dry_and_a_bad_debug_line_in_the_shell(ip: Any, tmp_path: Path) -> None:
    """`%pipeline run NB --dry --until fit` prints the plan and runs nothing; `%pipeline
    debug` of a notebook never run is one UsageError line (no cluster, no kernel)."""
    from IPython.core.error import UsageError
    from IPython.utils.capture import capture_output

    path = write_notebook(tmp_path / "nb.ipynb", pipeline_cells(EVALUATE))
    with capture_output() as out:
        ip.run_line_magic("pipeline", f"run {path} --dry --until fit")
    assert out.stdout.splitlines()[1:] == [
        "  load      run      no cache entry",
        "  fit       run      waits for upstream load",
        "  evaluate  skipped  not selected",
        "  report    skipped  not selected",
    ]
    assert not (tmp_path / ".mlpipe" / "mlpipe.db").exists()  # no run recorded
    with pytest.raises(UsageError, match=r"^%pipeline debug: no run of step 'fit' in .*;"
                                         r" run the pipeline first"):
        ip.run_line_magic("pipeline", f"debug fit --notebook {path}")


def test_the_executed_step_notebook_reruns_with_its_inputs_from_the_store(failed) -> None:
    """Its injected cell loads the inputs by hash from the store, not from the run."""
    import papermill as pm

    path, run = failed
    copy = path.with_name("evaluate_again.ipynb")
    copy.write_bytes(run.steps["evaluate"].notebook.read_bytes())
    with pytest.raises(pm.PapermillExecutionError, match="prediction out of range"):
        pm.execute_notebook(str(copy), str(copy.with_name("evaluate_again.out.ipynb")),
                            kernel_name="python3", cwd=str(path.parent), progress_bar=False)
