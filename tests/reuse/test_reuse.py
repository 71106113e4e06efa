"""Reusable steps and pipelines (issue 25), from outside: `%%step NAME --uses NB:STEP`,
`NAME@VERSION:STEP`, the catalog (`mlpipe pipelines`, `mlp.pipelines()`) and
`mlpipe new NB --from NAME[@VERSION]`, with real runs through the SDK and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nbfiles import write_notebook

import mlpipe_jupyter as mlp
from mlpipe_jupyter.cli import main

PREP = [
    {"cell_type": "markdown", "metadata": {}, "source": "# Prep\nCleans the raw table."},
    "SCALE = 2",
    ("%%params\nthreshold = 1", ()),
    "%%step load\ndf = [1, 2, 3, 4]",
    "%%step clean\ndf = [x * SCALE for x in df if x > threshold]",
]
USER_A = [  # reads df from its own load, as if prep's clean were pasted here
    "%%step load\ndf = [5, 6, 7]",
    "%%step clean --uses prep.ipynb:clean",
    "%%step report\ntotal = sum(df)",
]
USER_B = [  # its table is raw_df; threshold set on the %%step line
    "%%step fetch\nraw_df = [0, 10]",
    '%%step clean --uses prep.ipynb:clean --rename df=raw_df --param threshold=5\n"""prep"""',
    "%%step report\ntotal = sum(raw_df)",
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    monkeypatch.setenv("USER", "alice")
    monkeypatch.chdir(tmp_path)
    write_notebook(tmp_path / "prep.ipynb", PREP)
    write_notebook(tmp_path / "a.ipynb", USER_A)
    write_notebook(tmp_path / "b.ipynb", USER_B)
    return tmp_path


def outcome(run: mlp.Run) -> dict[str, tuple[str, str]]:
    return {name: (str(s.status), s.reason) for name, s in run.steps.items()}


@pytest.mark.integration
def test_two_notebooks_share_a_step_and_an_edit_reruns_only_its_users(project: Path) -> None:
    a, b = mlp.load("a.ipynb"), mlp.load("b.ipynb")
    assert a.errors == () and b.errors == ()
    assert [(e.source, e.target, e.vars) for e in b.edges] == [
        ("fetch", "clean", ("raw_df",)), ("clean", "report", ("raw_df",))]
    assert a.to_json()["steps"][1]["uses"] == "prep.ipynb:clean"
    run_a, run_b = a.run(workers=1), b.run(workers=1)
    assert run_a["report"]["total"] == 5 * 2 + 6 * 2 + 7 * 2  # threshold 1: all kept
    assert run_b["clean"]["raw_df"] == [20]  # --param threshold=5 drops 0; renamed df

    path = project / "prep.ipynb"
    path.write_text(path.read_text().replace("x * SCALE", "x * SCALE + 1"))
    again_a = mlp.load("a.ipynb").run(workers=1)  # a loaded Pipeline is a snapshot: reload
    again_b = mlp.load("b.ipynb").run(workers=1)
    changed = ("succeeded", "uses prep.ipynb:clean, which changed")
    assert outcome(again_a)["load"][0] == "cached" and outcome(again_b)["fetch"][0] == "cached"
    assert outcome(again_a)["clean"] == changed and outcome(again_b)["clean"] == changed
    assert outcome(again_a)["report"] == ("succeeded", "upstream clean changed")
    assert again_a["report"]["total"] == 36 + 3 and again_b["clean"]["raw_df"] == [21]


@pytest.mark.integration
def test_pinned_version_catalog_and_a_clone_that_runs_all_cached(project: Path,
                                                                  capsys) -> None:  # noqa: ANN001
    assert main(["publish", "prep.ipynb"]) == 0
    assert main(["publish", "a.ipynb", "--name", "users"]) == 0  # holds the prep.ipynb it uses
    assert (project / ".mlpipe" / "pipelines" / "users" / "v1" / "prep.ipynb").is_file()
    write_notebook(project / "c.ipynb", [
        "%%step load\ndf = [5, 6, 7]", "%%step clean --uses prep@1:clean --param threshold=5",
        "%%step report\ntotal = sum(df)"])  # fmt: skip
    path = project / "prep.ipynb"  # an edit after publishing: the pin does not see it
    path.write_text(path.read_text().replace("x * SCALE", "x * SCALE * 100"))
    assert main(["publish", "a.ipynb", "--name", "users"]) == 0  # prep changed: a new version
    assert "published users v2" in capsys.readouterr().out
    first = mlp.load("c.ipynb").run(workers=1)
    assert first["report"]["total"] == 6 * 2 + 7 * 2

    assert main(["publish", "c.ipynb", "--name", "sevens"]) == 0
    capsys.readouterr()
    assert main(["new", "clone.ipynb", "--from", "sevens@1"]) == 0
    assert "wrote clone.ipynb from sevens v1" in capsys.readouterr().out
    header = json.loads((project / "clone.ipynb").read_text())["cells"][0]
    assert header["cell_type"] == "markdown" and "sevens v1" in header["source"]
    assert main(["run", "clone.ipynb", "--workers", "1", "--json"]) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    assert {s["status"] for s in steps.values()} == {"cached"}, steps
    assert main(["new", "clone.ipynb", "--from", "sevens"]) == 2  # never overwrites
    assert main(["new", "sub/u.ipynb", "--from", "users@1", "--store", ".mlpipe"]) == 0
    assert (project / "sub" / "prep.ipynb").read_text() == (  # the prep users@1 was published with
        project / ".mlpipe" / "pipelines" / "users" / "v1" / "prep.ipynb").read_text()
    assert mlp.load("sub/u.ipynb").errors == ()
    capsys.readouterr()

    assert main(["pipelines", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["prep"]["publisher"] == "alice" and rows["prep"]["params"] == {"threshold": 1}
    assert rows["prep"]["description"] == "# Prep\nCleans the raw table."
    assert rows["sevens"]["step_names"] == ["load", "clean", "report"]
    assert [r["name"] for r in mlp.pipelines()] == ["prep", "sevens", "users"]
    assert main(["pipelines"]) == 0
    text = capsys.readouterr().out
    assert "prep  v1  published by alice" in text and "Prep Cleans the raw table." in text


def test_each_bad_reference_is_one_line_naming_the_step_and_exit_2(project: Path,
                                                                   capsys) -> None:  # noqa: ANN001
    write_notebook(project / "loop.ipynb", ["%%step s --uses bad.ipynb:c5"])
    write_notebook(project / "bad.ipynb", [
        "%%step load\ndf = [5, 6, 7]\nSCALE = 3",
        "%%step c1 --uses nothere.ipynb:clean",
        "%%step c2 --uses prep.ipynb:nope",
        "%%step c3 --uses prep@9:clean",
        "%%step c4 --uses b.ipynb:clean",
        "%%step c5 --uses loop.ipynb:s",
        "%%step c6 --uses prep.ipynb:clean --rename zz=yy",
        "%%step c7 --uses prep.ipynb:clean\nx = 1",
        "%%step c8 --uses prep.ipynb:clean --param nope=1",
        "%%step c9 --uses prep.ipynb:clean",
    ])
    assert main(["dag", "bad.ipynb"]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "--uses" in ln
             or "--rename" in ln or "--param" in ln]  # fmt: skip
    expected = [
        "step 'c1' (cell 2): --uses nothere.ipynb:clean: notebook 'nothere.ipynb' does not exist",
        "step 'c2' (cell 3): --uses prep.ipynb:nope: prep.ipynb has no step 'nope' (its steps:"
        " load, clean)",
        "step 'c3' (cell 4): --uses prep@9:clean: pipeline 'prep' version 9 is not published",
        "step 'c4' (cell 5): --uses b.ipynb:clean: that step itself uses prep.ipynb:clean"
        " (nested references are not followed)",
        "step 'c5' (cell 6): --uses loop.ipynb:s: a cycle, that step uses bad.ipynb:c5",
        "step 'c6' (cell 7): --rename zz=yy: prep.ipynb:clean has no name 'zz'",
        "step 'c7' (cell 8): --uses prep.ipynb:clean takes its code from there",
        "step 'c8' (cell 9): --param nope: step 'clean' of prep.ipynb reads no parameter 'nope'",
        "step 'c9' (cell 10): a name clash: prep.ipynb:clean's setup or parameters bind 'SCALE',"
        " which step 'load' binds too",
    ]
    assert len(lines) == len(expected), lines
    for line, start in zip(lines, expected):
        assert line.startswith("mlpipe: " + start), (line, start)
    write_notebook(project / "opt.ipynb", ["%%step s --rename a=b"])
    assert main(["dag", "opt.ipynb"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--rename and --param go with --uses" in err


def test_a_live_kernel_runs_the_referenced_step(project: Path, ip) -> None:  # noqa: ANN001
    ip.run_cell("df = [0, 1, 5]")
    assert ip.run_cell('%%step clean --uses prep.ipynb:clean\n"""from prep"""').success
    assert ip.user_ns["df"] == [10]
    failed = ip.run_cell('%%step clean --uses prep.ipynb:nope\n"""x"""')
    assert not failed.success


def test_the_used_step_brings_its_options_and_this_line_overrides(project: Path) -> None:
    write_notebook(project / "fit.ipynb", [
        "%%step load\ndf = [1]",
        "%%step fit --after load --cpu 2 --retries 3 --outputs model\nmodel = sum(df)"])
    write_notebook(project / "d.ipynb", [
        "%%step load\ndf = [5]", "%%step fit --uses fit.ipynb:fit --retries 1"])
    fit = mlp.load("d.ipynb").to_json()["steps"][1]
    assert (fit["resources"]["cpu"], fit["retries"], fit["outputs"], fit["after"]) == (
        2.0, 1, ["model"], [])  # its --after names steps of fit.ipynb: left there
