"""A pipeline run gives every step the values a top-to-bottom run gives it.

For the example notebooks, each step output the pipeline stored (read back from
the cache) is compared with the same variable right after that step in a plain
top-to-bottom execution of the notebook's code in one namespace.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest

from mlpipe_jupyter import service
from mlpipe_jupyter.analysis import analyze_notebook
from mlpipe_jupyter.cache.store import Store

pytestmark = pytest.mark.integration

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


# Floats are compared closely, not bit for bit: a DataFrame restored from Parquet
# is laid out column by column, so NumPy's reductions over it (StandardScaler's
# mean) can round the last bit differently, and a tree model amplifies that a
# little in its probabilities. Everything else must be exactly equal.
RTOL, ATOL = 1e-6, 1e-3


def assert_same(expected: Any, actual: Any, where: str, context: dict[str, Any]) -> None:
    import numpy as np
    import pandas as pd

    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(actual, expected, obj=where, rtol=RTOL, atol=ATOL)
    elif isinstance(expected, pd.Series):
        pd.testing.assert_series_equal(actual, expected, obj=where, rtol=RTOL, atol=ATOL)
    elif isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype and actual.shape == expected.shape, where
        if expected.dtype.kind == "f":
            np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=where)
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=where)
    elif isinstance(expected, dict):
        assert sorted(actual) == sorted(expected), where
        for key in expected:
            assert_same(expected[key], actual[key], f"{where}[{key!r}]", context)
    elif isinstance(expected, (list, tuple)):
        assert type(actual) is type(expected) and len(actual) == len(expected), where
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_same(e, a, f"{where}[{i}]", context)
    elif hasattr(expected, "predict_proba"):  # a fitted model: same type, same predictions
        assert type(actual).__name__ == type(expected).__name__, where
        X = context["X_test"]
        np.testing.assert_allclose(actual.predict_proba(X), expected.predict_proba(X),
                                   rtol=RTOL, atol=ATOL, err_msg=where)
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=RTOL, abs=ATOL), where
    else:
        assert type(actual) is type(expected) and actual == expected, where


@pytest.mark.parametrize("name", ["fanout.ipynb", "breast_cancer.ipynb"])
def test_pipeline_outputs_equal_a_top_to_bottom_run(
    name: str, tmp_path: Path, dask_processes, monkeypatch  # noqa: ANN001
) -> None:
    if not (NOTEBOOKS / name).exists():
        pytest.skip(f"notebooks/{name} is not there")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    path = tmp_path / name
    shutil.copy(NOTEBOOKS / name, path)
    params = {"work_s": 0.05} if name == "fanout.ipynb" else {}
    record = service.run(path, params, store=tmp_path / "store", scheduler=dask_processes.address)
    assert record["status"] == "succeeded", record
    monkeypatch.chdir(tmp_path)
    expected = top_to_bottom(path, params)
    store = Store.open(tmp_path / "store")
    actual: dict[str, dict[str, Any]] = {}
    for step_name, step in record["steps"].items():
        entry = store.lookup(step["cache_key"])
        assert entry is not None, step_name
        actual[step_name] = {var: store.get(ref) for var, ref in entry.outputs.items()}
    context = {k: v for outputs in actual.values() for k, v in outputs.items()}
    assert sorted(actual) == sorted(expected)
    for step_name, outputs in expected.items():
        # The entry keeps every name the step binds (a live-kernel hit restores them all);
        # the outputs later steps read must be among them.
        assert set(outputs) <= set(actual[step_name]), (step_name, sorted(actual[step_name]))
        for var, value in outputs.items():
            assert_same(value, actual[step_name][var], f"{step_name}.{var}", context)


def top_to_bottom(path: Path, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """step -> {output: its value right after the step}, running the notebook's code in order.

    Parameter values are the defaults overridden by `params`, as papermill injects them.
    """
    pipeline = analyze_notebook(path)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(pipeline.setup_source, "setup", "exec"), namespace)  # noqa: S102
    namespace.update(copy.deepcopy({**pipeline.params, **params}))
    seen: dict[str, dict[str, Any]] = {}
    for step in pipeline.steps:
        exec(compile(step.source, step.name, "exec"), namespace)  # noqa: S102
        seen[step.name] = {var: copy.deepcopy(namespace[var]) for var in step.outputs}
    return seen
