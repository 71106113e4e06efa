"""Renderings of a pipeline, and the `mlpipe dag` command end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlpipe_jupyter.analysis import analyze, cells_from_json
from mlpipe_jupyter.analysis.formats import render

CELLS = [
    {"source": "import os"},
    {"source": "%%params\nlr = 0.1"},
    {"source": '%%step load\ndf = {"a": 1}'},
    {"source": "%%step train --gpu 1 --cpu 2 --memory 8GB --retries 2 --timeout 3600\n"
               "model = (df, lr)"},
    {"source": "%%step report --after train --no-cache --outputs summary\nsummary = str(model)"},
]


@pytest.fixture()
def pipeline():
    return analyze(cells_from_json(CELLS))


def test_json_shape(pipeline):
    data = json.loads(render(pipeline, "json"))
    assert set(data) == {"steps", "edges", "params", "order", "warnings", "errors"}
    train = data["steps"][1]
    assert {k: train[k] for k in ("name", "cell", "reads", "binds", "outputs", "params",
                                  "resources", "retries", "timeout", "cache")} == {
        "name": "train", "cell": 3, "reads": ["df"], "binds": ["model"],
        "outputs": ["model"], "params": ["lr"],
        "resources": {"cpu": 2.0, "gpu": 1, "memory": 8_000_000_000},
        "retries": 2, "timeout": 3600.0, "cache": True,
    }
    assert data["steps"][2]["cache"] is False and data["steps"][2]["outputs"] == ["summary"]
    assert data["edges"] == [{"from": "load", "to": "train", "vars": ["df"]},
                             {"from": "train", "to": "report", "vars": ["model"]}]
    assert data["params"] == {"lr": 0.1} and data["order"] == ["load", "train", "report"]


def test_text_lists_steps_resources_and_edges(pipeline):
    text = render(pipeline, "text")
    assert "2. train (cell 4)" in text
    assert "resources: gpu=1 cpu=2 memory=8GB retries=2 timeout=3600s" in text
    assert "train -> report: model" in text


def test_dot_is_well_formed_and_escaped():
    cells = cells_from_json([{"source": "%%step a\nx = 1"},
                             {"source": "%%step b --gpu 1 --after a\nprint(x)"}])
    dot = render(analyze(cells), "dot")
    assert dot.startswith("digraph pipeline {\n  rankdir=LR;") and dot.endswith("}\n")
    assert '"a" -> "b" [label="x"];' in dot
    assert '"b" [label="b\\ngpu=1", color=' in dot
    assert dot.count("{") == dot.count("}")


def test_mermaid_quotes_labels_and_marks_gpu(pipeline):
    text = render(pipeline, "mermaid")
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert '  s1["train · gpu=1 cpu=2 memory=8GB"]' in lines
    assert '  s0 -->|"df"| s1' in lines
    assert "  class s1 gpu" in lines


def test_mermaid_escapes_quotes():
    from mlpipe_jupyter.analysis.formats import _mermaid_text

    assert _mermaid_text('a "b" <c>|') == "a #quot;b#quot; #lt;c#gt;#124;"


def mlpipe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlpipe_jupyter", *args],
                          capture_output=True, text=True, timeout=60)


def write(tmp_path, cells) -> str:
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": [dict(cell_type="code", metadata={}, **c) for c in cells],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return str(path)


def test_cli_json_exit_0(tmp_path):
    result = mlpipe("dag", write(tmp_path, CELLS), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["order"] == ["load", "train", "report"]


def test_cli_errors_exit_2_one_line_each(tmp_path):
    nb = write(tmp_path, [{"source": "%%step a\nprint(df)"}, {"source": "%%step a\nx = 1"}])
    result = mlpipe("dag", nb)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines == [
        "mlpipe: step 'a' (cell 1): name 'df' is read but nothing before it binds it;"
        " define it in an earlier step or in setup",
        "mlpipe: step 'a' (cell 2): duplicate step name 'a'; give each %%step a unique name",
    ]


def test_cli_missing_file_exit_2(tmp_path):
    result = mlpipe("dag", str(tmp_path / "nope.ipynb"))
    assert result.returncode == 2
    assert result.stderr.startswith("mlpipe: notebook '") and "does not exist" in result.stderr


def test_cli_warnings_in_text_output_and_on_stderr_for_graphs(tmp_path):
    nb = write(tmp_path, [{"source": "C = {}"}, {"source": "%%step a\nC['k'] = 1"}])
    text = mlpipe("dag", nb, "--format", "text")
    assert text.returncode == 0
    assert "warnings:\n  step 'a' (cell 2): assigns into setup name 'C'" in text.stdout
    assert text.stderr == ""
    dot = mlpipe("dag", nb, "--format", "dot")
    assert "mlpipe: warning: step 'a' (cell 2): assigns into setup name 'C'" in dot.stderr
    assert "warning" not in dot.stdout


def test_cli_dag_imports_no_heavy_modules(tmp_path):
    nb = write(tmp_path, CELLS)
    code = ("import sys; from mlpipe_jupyter.cli import main;"
            " main(['dag', %r, '--format', 'json']);"
            "print(sorted(m for m in ('papermill', 'nbformat', 'distributed', 'IPython')"
            " if m in sys.modules), file=sys.stderr)" % nb)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.stderr.strip().splitlines()[-1] == "[]"
