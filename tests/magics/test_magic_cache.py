"""The interactive cache of %%step, in a real shell with a real store."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import nbfiles
import pytest
from IPython.utils.capture import capture_output

from mlpipe_jupyter.analysis import analyze, read_cells
from mlpipe_jupyter.cache.keys import key_ingredients
from mlpipe_jupyter.cache.store import Store

LOAD = "%%step load\nprint('loading')\nrows = [n * scale for n in range(4)]\nlen(rows)"
TOTAL = "%%step total --outputs total\ntotal = sum(rows)\nscratch = 'kept'"


def write_notebook(path: Path, *sources: str) -> Path:
    return nbfiles.write_notebook(path, list(sources))


@pytest.fixture
def notebook(ip: Any, tmp_path: Path, monkeypatch: Any) -> Path:
    """A saved notebook with `.mlpipe` beside it, known to the kernel as under Jupyter."""
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    path = write_notebook(tmp_path / "nb.ipynb", "%load_ext mlpipe_jupyter",
                          "%%params\nscale = 2", LOAD, TOTAL)
    (tmp_path / ".mlpipe").mkdir()
    ip.user_ns["__session__"] = str(path)
    return path


def run_quiet(run: Any, source: str) -> tuple[Any, str]:
    with capture_output() as cap:
        result = run(source)
    assert result.success, result.error_in_exec
    return result, cap.stdout


def test_second_run_restores_names_and_outputs(ip: Any, run: Any, notebook: Path) -> None:
    run("%%params\nscale = 2")
    first, out = run_quiet(run, LOAD)
    assert out.startswith("loading") and first.result == 4
    run_quiet(run, TOTAL)
    del ip.user_ns["rows"], ip.user_ns["total"], ip.user_ns["scratch"]
    again, out = run_quiet(run, LOAD)
    assert out.startswith("mlpipe: step 'load' restored from cache: code, setup, parameters")
    assert out.rstrip().endswith("loading") and again.result is None
    assert ip.user_ns["rows"] == [0, 2, 4, 6]
    _, out = run_quiet(run, TOTAL)
    assert "restored from cache" in out
    assert ip.user_ns["total"] == 12 and ip.user_ns["scratch"] == "kept"
    store = Store.open(notebook.parent / ".mlpipe")
    assert {e.step for e in store.entries()} == {"load", "total"}
    assert {e.origin for e in store.entries()} == {"interactive"}


def test_key_is_the_pipelines_key(ip: Any, run: Any, notebook: Path) -> None:
    run("%%params\nscale = 2")
    run_quiet(run, LOAD)
    run_quiet(run, TOTAL)
    store = Store.open(notebook.parent / ".mlpipe")
    pipeline = analyze(read_cells(notebook))
    rows_key = store.put("rows", [0, 2, 4, 6]).key
    expected = {
        "load": key_ingredients(pipeline.step("load"), pipeline, {"scale": 2}, {}),
        "total": key_ingredients(pipeline.step("total"), pipeline, {}, {"rows": rows_key}),
    }
    # `outputs` (what later steps read) is the one ingredient the kernel, which has run the
    # notebook only up to this cell, does not know: the lookup matches entries without it
    # (cache/validity.py); tests/magics/test_kernel_keys.py holds a table of notebooks to it
    assert {e.step: replace(e.ingredients, outputs=()).key() for e in store.entries()} == {
        name: replace(i, outputs=()).key() for name, i in expected.items()}


@pytest.mark.parametrize(
    "change",
    [
        "%%params\nscale = 3",  # a parameter it reads
        "unused = 1",  # nothing it reads: still a hit
    ],
)
def test_parameter_change_misses_other_change_hits(run: Any, notebook: Path, change: str) -> None:
    run("%%params\nscale = 2")
    run_quiet(run, LOAD)
    run(change)
    _, out = run_quiet(run, LOAD)
    assert ("restored from cache" in out) is (change == "unused = 1")


def test_edited_code_and_changed_input_miss(ip: Any, run: Any, notebook: Path) -> None:
    run("%%params\nscale = 2")
    run_quiet(run, LOAD)
    run_quiet(run, TOTAL)
    _, out = run_quiet(run, LOAD.replace("range(4)", "range(5)"))  # unsaved edit
    assert "restored from" not in out and ip.user_ns["rows"] == [0, 2, 4, 6, 8]
    _, out = run_quiet(run, TOTAL)  # its input changed
    assert "restored from" not in out and ip.user_ns["total"] == 20
    _, out = run_quiet(run, LOAD + "  # a comment is not a change")
    assert "restored" in out


def test_a_flipped_byte_runs_the_cell_and_says_so(ip: Any, run: Any, notebook: Path) -> None:
    run("%%params\nscale = 2")
    run_quiet(run, LOAD)
    store = Store.open(notebook.parent / ".mlpipe")
    (entry,) = store.entries()
    artifact = store.artifact_path(entry.outputs["rows"])
    data = bytearray(artifact.read_bytes())
    data[-2] ^= 0x01  # same size: the lookup trusts it, the load does not
    artifact.write_bytes(bytes(data))
    del ip.user_ns["rows"]
    _, out = run_quiet(run, LOAD)
    assert out.startswith("mlpipe: step 'load' runs: a cached output of it is corrupt")
    assert "loading" in out and ip.user_ns["rows"] == [0, 2, 4, 6]
    _, out = run_quiet(run, LOAD)  # cached again, from the entry the run committed
    assert "restored from cache" in out and ip.user_ns["rows"] == [0, 2, 4, 6]


def test_no_cache_runs_and_does_not_save(run: Any, notebook: Path) -> None:
    run("%%params\nscale = 2")
    _, out = run_quiet(run, LOAD.replace("%%step load", "%%step load --no-cache"))
    _, out = run_quiet(run, LOAD.replace("%%step load", "%%step load --no-cache"))
    assert out.startswith("loading")
    assert Store.open(notebook.parent / ".mlpipe").entries() == []


def test_without_a_store_nothing_is_cached(ip: Any, run: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    ip.user_ns["__session__"] = str(write_notebook(tmp_path / "nb.ipynb", "%%params\nscale = 2", LOAD))
    run("%%params\nscale = 2")
    run_quiet(run, LOAD)
    _, out = run_quiet(run, LOAD)
    assert out.startswith("loading") and not (tmp_path / ".mlpipe").exists()


def test_unsavable_output_runs_and_says_why(ip: Any, run: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("MLPIPE_STORE", str(tmp_path / "store"))
    run("import threading")
    run("%%step lock --outputs guard\nguard = threading.Lock()")
    _, out = run_quiet(run, "%%step lock --outputs guard\nguard = threading.Lock()")
    assert "mlpipe: step 'lock' not cached:" in out and "guard" in out
    assert Store.open(tmp_path / "store").entries() == []


def test_a_broken_store_never_stops_the_cell(ip: Any, run: Any, tmp_path: Path, monkeypatch: Any) -> None:
    blocker = tmp_path / "store"
    blocker.write_text("a file where the store folder should be")
    monkeypatch.setenv("MLPIPE_STORE", str(blocker))
    result, out = run_quiet(run, "%%step plain\nvalue = 41 + 1\nvalue")
    assert result.result == 42
    assert out.startswith("mlpipe: step 'plain' runs without the cache (")
    assert "Not a directory" in out.splitlines()[0]


def test_a_kernel_step_is_never_cached_from_the_live_kernel(ip: Any, run: Any, tmp_path: Path,
                                                            monkeypatch: Any) -> None:
    """`--kernel` names another environment: this kernel's result is not that step's."""
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    spec = tmp_path / "jupyter" / "kernels" / "other-env"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "other env", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    train = "%%step train --kernel other-env\nprint('training')\nmodel = 7"
    path = write_notebook(tmp_path / "nb.ipynb", "%load_ext mlpipe_jupyter", train)
    (tmp_path / ".mlpipe").mkdir()
    ip.user_ns["__session__"] = str(path)
    _, first = run_quiet(run, train)
    _, again = run_quiet(run, train)
    assert first.strip() == again.strip() == "training"
    assert list(Store.open(tmp_path / ".mlpipe").entries()) == []
