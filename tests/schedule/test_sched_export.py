from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sched_helpers import TWO_STEPS, write_notebook

from mlpipe_jupyter.schedule.errors import BadInput, Conflict
from mlpipe_jupyter.schedule.export import export


@pytest.fixture
def notebook(tmp_path):
    return write_notebook(tmp_path / "nb.ipynb", TWO_STEPS)


def test_export_writes_steps_spec_runner_and_readme(notebook, tmp_path):
    out = export(notebook, tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == [
        ".mlpipe-export", "README.md", "pipeline.json", "run_pipeline.py", "steps"
    ]
    assert sorted(p.name for p in (out / "steps").iterdir()) == ["01_load.ipynb", "02_total.ipynb"]
    spec = json.loads((out / "pipeline.json").read_text())
    assert spec["params"] == {"scale": 2}
    assert [s["name"] for s in spec["steps"]] == ["load", "total"]
    assert spec["steps"][1]["inputs"] == {"numbers": "load"}
    assert spec["dag"]["edges"][0]["vars"] == ["numbers"]
    assert "02_total.ipynb" in (out / "README.md").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out-")]  # temp dirs gone


def test_export_is_byte_identical_twice(notebook, tmp_path):
    first, second = export(notebook, tmp_path / "a"), export(notebook, tmp_path / "b")
    for path in sorted(first.rglob("*.ipynb")):
        assert path.read_bytes() == (second / path.relative_to(first)).read_bytes()


def test_export_refuses_a_non_empty_folder_and_force_replaces_only_an_export(notebook, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(Conflict, match="not empty; pass --force"):
        export(notebook, out)
    with pytest.raises(Conflict, match="not an mlpipe export"):
        export(notebook, out, force=True)
    assert (out / "keep.txt").read_text() == "mine"
    again = tmp_path / "again"
    export(notebook, again)
    (again / "stale.txt").write_text("from an old export")
    export(notebook, again, force=True)
    assert not (again / "stale.txt").exists() and (again / "pipeline.json").exists()


@pytest.mark.parametrize("target", [".", "..", "sub/.."])
def test_export_never_targets_the_notebooks_folder(notebook, tmp_path, monkeypatch, target):
    """`-o .` with --force used to delete the notebook, its data and its store."""
    (tmp_path / "data.csv").write_text("x\n1\n")
    (tmp_path / ".mlpipe").mkdir()
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(BadInput, match="contains the notebook 'nb.ipynb'"):
        export(notebook, target, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_cli_export_into_the_notebooks_folder_is_one_line_and_exit_2(notebook, tmp_path):
    (tmp_path / "data.csv").write_text("x\n1\n")
    done = subprocess.run(
        [sys.executable, "-m", "mlpipe_jupyter", "export", "nb.ipynb", "-o", ".", "--force"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "contains the notebook" in done.stderr
    assert (tmp_path / "nb.ipynb").is_file() and (tmp_path / "data.csv").is_file()


def test_export_refuses_a_broken_notebook(tmp_path):
    broken = write_notebook(tmp_path / "bad.ipynb", ["%%step a\ny = x"])
    with pytest.raises(BadInput, match="not a valid pipeline"):
        export(broken, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
def test_exported_pipeline_runs_with_plain_papermill(notebook, tmp_path):
    from mlpipe_jupyter.cache.store import ArtifactRef, Store

    out = export(notebook, tmp_path / "out")
    done = subprocess.run(
        [sys.executable, str(out / "run_pipeline.py"), "-p", "scale", "10"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in (out / "output").glob("*.ipynb")) == [
        "01_load.ipynb", "02_total.ipynb"
    ]
    refs = json.loads((out / "output" / "results" / "total.json").read_text())["outputs"]
    assert Store.open(out / "store").get(ArtifactRef.from_json(refs["result"])) == 60
