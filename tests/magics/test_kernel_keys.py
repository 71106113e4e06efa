"""One key function (issue 19): for the same notebook state, the live kernel's `%%step`
cells and a pipeline's planner compute the same ingredients with `cache.keys`, and the
planner reuses exactly the entries the kernel wrote (one lookup, `cache.validity`).

Asserted on a table of notebooks run cell by cell in a real shell; `outputs` (which
names later steps read) is the one ingredient a kernel that has run only part of the
notebook cannot know, so the lookup matches entries on everything else
(`validity.find_entry`) and the comparison leaves it out.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import nbfiles
import pytest

from mlpipe_jupyter.analysis import analyze_notebook
from mlpipe_jupyter.cache.store import Store
from mlpipe_jupyter.execute.planner import CACHED, param_values, plan

NOTEBOOKS = {
    "setup and two steps": (
        ["import math", "%%step a\nx = math.sqrt(16)", "%%step b\ny = x + 1\nprint(y)"], {}),
    "parameters and a file": (
        ["import json", "%%params\nk = 2\nname = 'v'",
         "%%step load\nwith open('d.json') as fh:\n    d = json.load(fh)",
         "%%step scale\nout = {name: d['v'] * k}", "%%step show\nprint(out)"], {}),
    "papermill's injected parameters": (
        ["%%params\nk = 2", ("# Parameters\nk = 5\n", ("injected-parameters",)),
         "%%step a\nz = k * 3", "%%step b\nprint(z)"], {"k": 5}),
    "a seeded generator and a local module": (
        ["import numpy as np\nimport helpers\nnp.random.seed(1)",
         "%%step draw\nr = np.random.rand(3)", "%%step use\ns = helpers.twice(r.sum())",
         "%%step again\nq = np.random.rand()\nprint(round(q + s, 6))"], {}),
}


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_kernel_and_pipeline_compute_the_same_key(
        name: str, ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cells, params = NOTEBOOKS[name]
    (tmp_path / "d.json").write_text('{"v": 3}')
    (tmp_path / "helpers.py").write_text("def twice(v):\n    return 2 * v\n")
    path = nbfiles.write_notebook(tmp_path / "nb.ipynb", cells)
    monkeypatch.chdir(tmp_path)  # as Jupyter, papermill and nbconvert start the kernel
    monkeypatch.setenv("MLPIPE_STORE", str(tmp_path / "store"))
    monkeypatch.syspath_prepend(str(tmp_path))
    for cell in cells:
        source = cell if isinstance(cell, str) else cell[0]
        assert ip.run_cell(source, store_history=True).success, source
    store = Store.open(tmp_path / "store")
    kernel = {e.step: e for e in store.entries()}
    assert {e.origin for e in kernel.values()} == {"interactive"}
    pipeline = analyze_notebook(path)
    assert set(kernel) == set(pipeline.order)
    decided = plan(pipeline, store, param_values(pipeline, params), base=tmp_path)
    for step, decision in decided.decisions.items():
        assert decision.action == CACHED, (step, decision.reason)
        assert decision.entry.step_key == kernel[step].step_key  # the kernel's own entry
        mine, theirs = kernel[step].ingredients, decision.ingredients
        assert replace(mine, outputs=()) == replace(theirs, outputs=()), step
        assert set(theirs.outputs) <= set(kernel[step].outputs), step


def test_an_edited_setup_cell_keys_as_it_ran(ip: Any, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A setup cell re-run with new source (same cell id, as JupyterLab sends it) is the
    setup the next step is keyed with; the saved notebook is never read."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLPIPE_STORE", str(tmp_path / "store"))
    from IPython.utils.capture import capture_output

    def run(source: str, cell_id: str) -> str:
        with capture_output() as cap:
            assert ip.run_cell(source, store_history=True, cell_id=cell_id).success
        return cap.stdout

    run("SCALE = 2", "setup")
    assert run("%%step s\nv = 10 * SCALE\nprint(v)", "step") == "20\n"
    assert run("%%step s\nv = 10 * SCALE\nprint(v)", "step").startswith(
        "mlpipe: step 's' restored from cache: code, setup, modules unchanged")
    run("SCALE = 3", "setup")  # edited, not saved anywhere
    assert run("%%step s\nv = 10 * SCALE\nprint(v)", "step") == (
        "mlpipe: step 's' not restored: setup changed\n30\n")
    ip.run_cell("%pipeline restore off", store_history=True)
    assert run("%%step s\nv = 10 * SCALE\nprint(v)", "step") == "30\n"
    ip.run_cell("%pipeline restore on", store_history=True)
    assert "restored from cache" in run("%%step s\nv = 10 * SCALE\nprint(v)", "step")


def test_files_setup_read_are_in_the_entry_and_checked(ip: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A setup cell's reads belong to every step's entry (as a pipeline step's tracker
    runs before setup); a file changed since setup ran keeps the step from restoring."""
    from IPython.utils.capture import capture_output

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLPIPE_STORE", str(tmp_path / "store"))
    (tmp_path / "d.json").write_text('{"v": 1}')
    setup = "import json\nwith open('d.json') as fh:\n    D = json.load(fh)"
    step = "%%step show\nprint(D['v'])"

    def run(source: str) -> str:
        with capture_output() as cap:
            assert ip.run_cell(source, store_history=True).success
        return cap.stdout

    run(setup)
    assert run(step) == "1\n"
    (entry,) = Store.open(tmp_path / "store").entries()
    assert [f.path for f in entry.files_read] == ["d.json"]
    assert run(step).startswith(
        "mlpipe: step 'show' restored from cache: code, setup, files (d.json), modules")
    (tmp_path / "d.json").write_text('{"v": 22}')
    assert run(step) == ("mlpipe: step 'show' not restored: file d.json changed since setup"
                         " ran; re-run the setup cells\n1\n")  # what this kernel holds
    assert len(Store.open(tmp_path / "store").entries()) == 1  # and it is not cached
    run(setup)
    assert run(step) == "mlpipe: step 'show' not restored: file d.json changed\n22\n"


def test_a_console_rebinding_a_setup_name_never_restores_the_old_value(
        ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No cell ids (an IPython console): `SCALE = 3` typed after the steps is no setup
    cell; a step reading SCALE then runs (30), never restores the result for 2."""
    from IPython.utils.capture import capture_output

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLPIPE_STORE", str(tmp_path / "store"))
    step = "%%step s\nv = 10 * SCALE\nprint(v)"

    def run(source: str) -> str:
        with capture_output() as cap:
            assert ip.run_cell(source, store_history=True).success
        return cap.stdout

    run("SCALE = 2")
    assert run(step) == "20\n"
    assert "restored from cache" in run(step)
    run("SCALE = 3")
    assert run(step).endswith("re-run the setup cells\n30\n")
    assert run("%%step t\nprint(v + SCALE)") == "33\n"  # SCALE from s's cells: by value


def test_a_module_edited_after_the_kernel_imported_it(ip: Any, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The key hashes the module's file; a kernel still running the old import neither
    restores nor caches, until the module is reloaded."""
    from IPython.utils.capture import capture_output

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("MLPIPE_STORE", str(tmp_path / "store"))
    (tmp_path / "helpers_k19.py").write_text("def f():\n    return 1\n")
    step = "%%step s\nv = helpers_k19.f()\nprint(v)"

    def run(source: str) -> str:
        with capture_output() as cap:
            assert ip.run_cell(source, store_history=True).success
        return cap.stdout

    run("import helpers_k19")
    assert run(step) == "1\n"
    (tmp_path / "helpers_k19.py").write_text("def f():\n    return 2\n")
    assert run(step) == ("mlpipe: step 's' not restored: module helpers_k19 changed since this"
                         " kernel imported it; restart the kernel (or importlib.reload it)\n1\n")
    assert len(Store.open(tmp_path / "store").entries()) == 1  # the old import's not cached
    run("import importlib\nimportlib.reload(helpers_k19)")
    assert run(step) == "mlpipe: step 's' not restored: module helpers_k19 changed\n2\n"


def test_a_restore_puts_back_the_files_the_step_wrote(ip: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLPIPE_STORE", str(tmp_path / "store"))
    step = "%%step w\nwith open('out.txt', 'w') as fh:\n    fh.write('hello')\nn = 1"
    assert ip.run_cell(step, store_history=True).success
    (entry,) = Store.open(tmp_path / "store").entries()
    assert "file:out.txt" in entry.outputs and [f.path for f in entry.files_written] == ["out.txt"]
    (tmp_path / "out.txt").unlink()
    assert ip.run_cell(step, store_history=True).success
    assert (tmp_path / "out.txt").read_text() == "hello"
