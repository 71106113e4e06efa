"""The notebook itself never shows a stale value (issue 19): a live kernel's `%%step`
cell restores exactly when a pipeline run would, from what this kernel executed.

Each case runs real kernels from outside (papermill, `jupyter nbconvert --execute`)
and real pipeline runs, in one folder with its `.mlpipe` store, changes something the
steps depend on, and compares what every step cell printed with a top-to-bottom
papermill run of the same notebook, in the same state, against an empty store.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbfiles
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

MSG = "mlpipe: step "


@pytest.fixture(autouse=True)
def _no_configured_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    monkeypatch.delenv("MLPIPE_RESTORE", raising=False)


def write(folder: Path, sources: list[Any], name: str = "nb.ipynb") -> Path:
    """The notebook, `%load_ext` first; a `%%params` cell tagged for papermill."""
    cells: list[Any] = ["%load_ext mlpipe_jupyter"]
    for source in sources:
        tags = ("parameters",) if source.startswith("%%params") else ()
        cells.append((source, tags))
    return nbfiles.write_notebook(folder / name, cells)


def _text(cell: dict[str, Any]) -> str:
    parts = [o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"]
    return "".join("".join(p) if isinstance(p, list) else p for p in parts)


def step_prints(executed: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """({step: what its cell printed, our lines left out}, {step: our `mlpipe:` line})."""
    prints, notes = {}, {}
    for cell in executed["cells"]:
        source = "".join(cell["source"])
        if not source.startswith("%%step"):
            continue
        name = source.split()[1]
        lines = _text(cell).splitlines(keepends=True)
        notes[name] = "".join(ln for ln in lines if ln.startswith(MSG))
        prints[name] = "".join(ln for ln in lines if not ln.startswith(MSG))
    return prints, notes


def papermill(path: Path, parameters: dict[str, Any] | None = None,
              ) -> tuple[dict[str, str], dict[str, str]]:
    """A top-to-bottom papermill run of `path` in its folder."""
    import papermill as pm

    out = pm.execute_notebook(str(path), str(path.with_suffix(".out.ipynb")),
                              parameters=parameters or {}, cwd=str(path.parent),
                              progress_bar=False, kernel_name="python3")
    path.with_suffix(".out.ipynb").unlink()
    return step_prints(out)


def nbconvert(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    out = path.parent / "nbconvert-out.ipynb"
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                    "--execute", str(path), "--output", str(out)],
                   check=True, capture_output=True, cwd=path.parent, timeout=240)
    executed = json.loads(out.read_text("utf-8"))
    out.unlink()
    return step_prints(executed)


def truth(path: Path, tmp: Path, parameters: dict[str, Any] | None = None) -> dict[str, str]:
    """What a top-to-bottom run prints against an empty store: a copy of the folder now,
    without `.mlpipe` (so the kernel has no store and runs every cell)."""
    copy = tmp / f"truth-{len(list(tmp.glob('truth-*')))}"
    shutil.copytree(path.parent, copy, ignore=shutil.ignore_patterns(".mlpipe", "*.out.ipynb"))
    prints, notes = papermill(copy / path.name, parameters)
    assert not any(notes.values()), notes  # no store, no cache
    return prints


def pipeline(path: Path, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """`mlpipe run` in-process: {step: (status, reason)}."""
    from mlpipe_jupyter import service

    record = service.run(path, parameters or {}, workers=1)
    assert record["status"] == "succeeded", record
    return {name: (s["status"], s.get("reason", "")) for name, s in record["steps"].items()}


def pipeline_prints(path: Path, parameters: dict[str, Any] | None = None) -> dict[str, str]:
    """What each step printed in a pipeline run (a cached step: what it printed then)."""
    from mlpipe_jupyter import service
    from mlpipe_jupyter.cache.store import Store

    record = service.run(path, parameters or {}, workers=1)
    assert record["status"] == "succeeded", record
    store = Store.open(path.parent / ".mlpipe")
    prints = {}
    for name, step in record["steps"].items():
        entry = store.lookup(step["cache_key"])
        assert entry is not None, step
        prints[name] = "".join(
            "".join(o["text"]) if isinstance(o.get("text"), list) else o.get("text", "")
            for o in entry.displays if o.get("output_type") == "stream")
        prints[name] = "".join(ln for ln in prints[name].splitlines(keepends=True)
                               if not ln.startswith(MSG))
    return prints


DATA_NB = ["import pandas as pd", "%%params\nk = 1",
           "%%step load\ndf = pd.read_csv('data.csv')",
           "%%step total\nprint(int(df.x.sum()) * k)"]


@pytest.fixture
def data_nb(tmp_path: Path) -> Path:
    folder = tmp_path / "nb"
    folder.mkdir()
    (folder / "data.csv").write_text("x\n1\n2\n")
    (folder / ".mlpipe").mkdir()
    return write(folder, DATA_NB)


def test_data_changed_kernel_then_kernel(data_nb: Path, tmp_path: Path) -> None:
    first, notes = papermill(data_nb)
    assert first == truth(data_nb, tmp_path) == {"load": "", "total": "3\n"}
    again, notes = papermill(data_nb)
    assert again == first
    assert re.fullmatch(
        r"mlpipe: step 'load' restored from cache: code, setup, files \(data.csv\), modules"
        r" unchanged \(kernel run of \d{4}-\d\d-\d\d \d\d:\d\d\)\n", notes["load"]), notes
    (data_nb.parent / "data.csv").write_text("x\n10\n20\n")
    after, notes = papermill(data_nb)
    assert after == truth(data_nb, tmp_path) == {"load": "", "total": "30\n"}
    assert notes["load"] == "mlpipe: step 'load' not restored: file data.csv changed\n", notes


def test_pipeline_kernel_pipeline_with_a_parameter(data_nb: Path, tmp_path: Path) -> None:
    """`mlpipe run`, `papermill -p k 5`, a data change, `mlpipe run -p k 5` (issue 19, 1)."""
    assert set(s for s, _ in pipeline(data_nb).values()) == {"succeeded"}
    shown, notes = papermill(data_nb, {"k": 5})
    assert shown == truth(data_nb, tmp_path, {"k": 5}) == {"load": "", "total": "15\n"}
    assert notes["load"].startswith("mlpipe: step 'load' restored from cache:"), notes
    assert "(run of " in notes["load"]  # the pipeline's entry
    assert notes["total"] == "mlpipe: step 'total' not restored: parameter k changed\n", notes
    (data_nb.parent / "data.csv").write_text("x\n10\n20\n")
    steps = pipeline(data_nb, {"k": 5})
    assert steps["load"] == ("succeeded", "file data.csv changed"), steps
    assert pipeline_prints(data_nb, {"k": 5}) == truth(data_nb, tmp_path, {"k": 5}) == {
        "load": "", "total": "150\n"}


def test_kernel_then_pipeline_reuses_its_entries_and_sees_a_data_change(
        data_nb: Path, tmp_path: Path) -> None:
    papermill(data_nb)
    steps = pipeline(data_nb)
    assert {name: status for name, (status, _) in steps.items()} == {
        "load": "cached", "total": "cached"}, steps
    (data_nb.parent / "data.csv").write_text("x\n7\n")
    steps = pipeline(data_nb)
    assert steps["load"] == ("succeeded", "file data.csv changed"), steps
    assert pipeline_prints(data_nb) == truth(data_nb, tmp_path) == {"load": "", "total": "7\n"}


def test_two_notebooks_in_one_folder(tmp_path: Path) -> None:
    """nb_b is a copy of nb_a with another setup: it never restores nb_a's result."""
    folder = tmp_path / "two"
    folder.mkdir()
    step = ["%%step scaled\nvalue = 10 * SCALE\nprint(value)"]
    nb_a = write(folder, ["SCALE = 2", *step], "nb_a.ipynb")
    nb_b = write(folder, ["SCALE = 3", *step], "nb_b.ipynb")
    assert pipeline(nb_a)["scaled"][0] == "succeeded"
    shown, notes = papermill(nb_b)
    assert shown == truth(nb_b, tmp_path) == {"scaled": "30\n"}
    assert notes["scaled"] == "mlpipe: step 'scaled' not restored: setup changed\n", notes
    shown, notes = nbconvert(nb_b)
    assert shown == {"scaled": "30\n"}
    assert notes["scaled"].startswith("mlpipe: step 'scaled' restored from cache:"), notes
    assert "(kernel run of" in notes["scaled"]  # papermill's run of nb_b, not nb_a's
    shown, _ = nbconvert(nb_a)
    assert shown == truth(nb_a, tmp_path) == {"scaled": "20\n"}


def test_module_edited_between_pipeline_and_kernel(tmp_path: Path) -> None:
    folder = tmp_path / "mod"
    folder.mkdir()
    (folder / ".mlpipe").mkdir()
    (folder / "helpers.py").write_text("def f():\n    return 1\n")
    nb = write(folder, ["import helpers", "%%step a\nv = helpers.f()",
                        "%%step b\nprint(v)"])
    pipeline(nb)
    (folder / "helpers.py").write_text("def f():\n    return 2\n")
    shown, notes = papermill(nb)
    assert shown == truth(nb, tmp_path) == {"a": "", "b": "2\n"}
    assert notes["a"] == "mlpipe: step 'a' not restored: module helpers changed\n", notes


def test_new_file_in_a_globbed_folder_kernel_then_kernel(tmp_path: Path) -> None:
    folder = tmp_path / "glob"
    (folder / "parts").mkdir(parents=True)
    (folder / ".mlpipe").mkdir()
    (folder / "parts" / "a.txt").write_text("1")
    nb = write(folder, ["import glob", "%%step count\nn = len(glob.glob('parts/*.txt'))",
                        "%%step show\nprint(n)"])
    assert papermill(nb)[0] == {"count": "", "show": "1\n"}
    (folder / "parts" / "b.txt").write_text("2")
    shown, notes = papermill(nb)
    assert shown == truth(nb, tmp_path) == {"count": "", "show": "2\n"}
    assert notes["count"] == "mlpipe: step 'count' not restored: files in parts changed\n", notes


def test_parameter_changed_with_papermill_p(data_nb: Path, tmp_path: Path) -> None:
    papermill(data_nb, {"k": 2})
    shown, notes = papermill(data_nb, {"k": 3})
    assert shown == truth(data_nb, tmp_path, {"k": 3}) == {"load": "", "total": "9\n"}
    assert notes["load"].startswith("mlpipe: step 'load' restored from cache:"), notes
    assert notes["total"] == "mlpipe: step 'total' not restored: parameter k changed\n"


def test_restore_off(data_nb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    papermill(data_nb)
    monkeypatch.setenv("MLPIPE_RESTORE", "0")
    shown, notes = papermill(data_nb)
    assert shown == {"load": "", "total": "3\n"} and not any(notes.values()), notes
    assert os.environ["MLPIPE_RESTORE"] == "0"
