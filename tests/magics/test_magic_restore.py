"""The live kernel's cache after a pipeline run: every step restores, every name comes
back, a restored object keys the same, under a real shell, papermill and nbconvert."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from IPython.utils.capture import capture_output

from mlpipe_jupyter import service
from mlpipe_jupyter.analysis import analyze_notebook
from mlpipe_jupyter.cache.store import Store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

SETUP = "import numpy as np\nfrom sklearn.preprocessing import StandardScaler\nnp.random.seed(0)"
STEPS = [
    "%%step fit\nraw = np.random.rand(6, 2)\nscaler = StandardScaler().fit(raw)\n"
    "print('fitted', round(float(raw.sum()), 6))",
    "%%step scale\nscaled = scaler.transform(raw)\nnoise = np.random.rand()\n"
    "print('scaled', round(float(scaled.std()), 6))",
    "%%step report\nprint('report', round(float(scaled.sum() + noise), 6))",
]
AFTER = "print('mean', scaler.mean_.round(6).tolist())"


def write(path: Path) -> Path:
    sources = ["%load_ext mlpipe_jupyter", SETUP, *STEPS, AFTER]
    path.write_text(json.dumps({
        # AFTER is no body cell of `report` (mlpipe:skip): a step's body cells run after
        # its %%step cell, so a kernel keys the step by that cell alone (README)
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}",
                   "metadata": {"tags": ["mlpipe:skip"] if s == AFTER else []},
                   "outputs": [], "source": s} for i, s in enumerate(sources)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }), encoding="utf-8")
    return path


def text(cell: dict[str, Any]) -> str:
    parts = [o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"]
    return "".join("".join(p) if isinstance(p, list) else p for p in parts)


def step_texts(nb_path: Path) -> list[str]:
    cells = json.loads(nb_path.read_text("utf-8"))["cells"]
    return [text(c) for c in cells if "".join(c["source"]).startswith(("%%step", "print('mean'"))]


@pytest.fixture(scope="module")
def piped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A notebook run once as a pipeline; its store `.mlpipe` beside it."""
    folder = tmp_path_factory.mktemp("restore")
    path = write(folder / "nb.ipynb")
    saved = os.environ.pop("MLPIPE_STORE", None)
    try:
        record = service.run(path, {}, workers=1)
    finally:
        if saved is not None:
            os.environ["MLPIPE_STORE"] = saved
    assert record["status"] == "succeeded", record
    return path


def expected_prints(piped: Path) -> list[str]:
    store = Store.open(piped.parent / ".mlpipe")
    by_step = {e.step: e for e in store.entries() if e.origin == "pipeline"}
    return ["".join(o.get("text", "") for o in by_step[name].displays)
            for name in ("fit", "scale", "report")]


def assert_every_step_restored(texts: list[str], piped: Path) -> None:
    *steps, mean = texts
    for name, shown, expected in zip(("fit", "scale", "report"), steps, expected_prints(piped)):
        assert shown.startswith(f"mlpipe: step '{name}' restored from cache"), (name, shown)
        assert shown.splitlines()[1:] == expected.splitlines(), name
    assert mean.startswith("mean [") and len(json.loads(mean.split(" ", 1)[1])) == 2


def test_papermill_restores_every_step(piped: Path, tmp_path: Path) -> None:
    import papermill

    out = tmp_path / "papermill-out.ipynb"
    env = os.environ.pop("MLPIPE_STORE", None)
    try:
        papermill.execute_notebook(str(piped), str(out), kernel_name="python3",
                                   progress_bar=False, cwd=str(piped.parent))
    finally:
        if env is not None:
            os.environ["MLPIPE_STORE"] = env
    assert_every_step_restored(step_texts(out), piped)


def test_nbconvert_execute_restores_every_step(piped: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MLPIPE_STORE"}
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
         str(piped), "--output", str(tmp_path / "executed.ipynb")],
        check=True, capture_output=True, cwd=tmp_path, env=env, timeout=240,
    )
    assert_every_step_restored(step_texts(tmp_path / "executed.ipynb"), piped)


def test_with_mlpipe_store_every_step_hits_and_nothing_new_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill

    (tmp_path / "nb").mkdir()
    path = write(tmp_path / "nb" / "nb.ipynb")
    store = tmp_path / "store"  # not beside the notebook: only MLPIPE_STORE finds it
    assert service.run(path, {}, store=store, workers=1)["status"] == "succeeded"
    before = {e.step_key: e.origin for e in Store.open(store).entries()}
    monkeypatch.setenv("MLPIPE_STORE", str(store))
    papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), kernel_name="python3",
                               progress_bar=False, cwd=str(path.parent))
    texts = step_texts(tmp_path / "out.ipynb")
    assert [t.split(" restored")[0] for t in texts[:3]] == [
        f"mlpipe: step '{name}'" for name in ("fit", "scale", "report")]
    after = {e.step_key: e.origin for e in Store.open(store).entries()}
    assert after == before and set(after.values()) == {"pipeline"}


def test_in_a_shell_a_restored_model_keys_the_same(ip: Any, piped: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    monkeypatch.chdir(piped.parent)  # as Jupyter starts a notebook's kernel
    ip.user_ns["__session__"] = str(piped)
    assert ip.run_cell(SETUP, store_history=True).success
    for name, source in zip(("fit", "scale", "report"), STEPS):
        with capture_output() as cap:
            assert ip.run_cell(source, store_history=True).success
        assert cap.stdout.startswith(f"mlpipe: step '{name}' restored from cache"), cap.stdout
    assert ip.user_ns["scaler"].mean_.shape == (2,)  # bound by fit, read by no later step
    assert Store.open(piped.parent / ".mlpipe").entries()[-1].origin == "pipeline"


def test_a_run_without_a_pipeline_keys_entries_with_their_real_outputs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill

    path = write(tmp_path / "nb.ipynb")
    monkeypatch.setenv("MLPIPE_STORE", str(tmp_path / "store"))
    papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), kernel_name="python3",
                               progress_bar=False, cwd=str(tmp_path))
    entries = {e.step: e for e in Store.open(tmp_path / "store").entries()}
    assert {n: e.origin for n, e in entries.items()} == dict.fromkeys(
        ("fit", "scale", "report"), "interactive")
    pipeline = analyze_notebook(path)
    for name, entry in entries.items():  # every output the pipeline needs is in the entry
        assert set(pipeline.step(name).outputs) <= set(entry.outputs), name
    assert "random:numpy" in entries["fit"].outputs  # the state the next step draws from
    record = service.run(path, {}, store=tmp_path / "store", workers=1)
    assert {s["status"] for s in record["steps"].values()} == {"cached"}, record["steps"]
