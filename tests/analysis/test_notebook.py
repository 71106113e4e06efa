"""Reading cells: .ipynb as JSON, the REST shape, and one-line errors."""

from __future__ import annotations

import json

import pytest

from mlpipe_jupyter.analysis import NotebookError, analyze_notebook, cells_from_json, read_cells
from mlpipe_jupyter.analysis.model import IGNORED, PARAMS, SETUP, SKIP, STEP, STEP_BODY


def write_nb(tmp_path, cells):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def test_read_cells_joins_source_lines_and_reads_tags(tmp_path):
    path = write_nb(tmp_path, [
        {"cell_type": "code", "source": ["x = 1\n", "y = 2"], "metadata": {"tags": ["a"]}},
        {"cell_type": "markdown", "source": "# t", "metadata": {}},
    ])
    cells = read_cells(path)
    assert [c.source for c in cells] == ["x = 1\ny = 2", "# t"]
    assert cells[0].tags == ("a",) and cells[1].kind == "markdown"


def test_cells_from_json_tags_at_top_or_in_metadata():
    cells = cells_from_json([{"source": "x", "tags": ["parameters"]},
                             {"source": "y", "metadata": {"tags": ["mlpipe:skip"]}}])
    assert cells[0].tags == ("parameters",) and cells[1].tags == ("mlpipe:skip",)
    assert cells[0].kind == "code"


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("{not json", r"is not valid JSON \(line 1"),
    ('{"nbformat": 4}', "has no 'cells' list"),
])
def test_bad_notebook_file_is_one_line(tmp_path, content, message):
    path = tmp_path / "bad.ipynb"
    if content is not None:
        path.write_text(content)
    with pytest.raises(NotebookError, match=message) as info:
        read_cells(path)
    assert "\n" not in str(info.value) and "bad.ipynb" in str(info.value)


@pytest.mark.parametrize("cells, message", [
    ([{"source": 3}], "cell 1 source must be a string"),
    ([{"source": "x", "cell_type": "python"}], "cell 1 has cell_type 'python'"),
    (["x = 1"], "cell 1 is str"),
])
def test_bad_cell_json(cells, message):
    with pytest.raises(NotebookError, match=message):
        cells_from_json(cells)


def test_roles_sources_and_injected_parameters(tmp_path):
    path = write_nb(tmp_path, [
        {"cell_type": "code", "source": "%load_ext mlpipe_jupyter", "metadata": {}},
        {"cell_type": "code", "source": "import math\n%matplotlib inline", "metadata": {}},
        {"cell_type": "code", "source": "lr = 0.1\nn = 2", "metadata": {"tags": ["parameters"]}},
        {"cell_type": "code", "source": "lr = 0.5", "metadata": {"tags": ["injected-parameters"]}},
        {"cell_type": "markdown", "source": "# a", "metadata": {}},
        {"cell_type": "code", "source": "%%step a --gpu 1\nx = lr\n", "metadata": {}},
        {"cell_type": "code", "source": "%pipeline run\ny = x", "metadata": {}},
        {"cell_type": "code", "source": "z = 1", "metadata": {"tags": ["mlpipe:skip"]}},
    ])
    pipeline = analyze_notebook(path)
    assert pipeline.roles == (SKIP, SETUP, PARAMS, PARAMS, IGNORED, STEP, STEP_BODY, SKIP)
    assert pipeline.params == {"lr": 0.5, "n": 2}
    assert pipeline.setup_source == "import math\n%matplotlib inline"
    assert pipeline.setup_cells == (1,) and pipeline.setup_names == {"math"}
    step = pipeline.step("a")
    assert step.source == "x = lr\n\ny = x"
    assert step.cells == (5, 6) and step.params == ("lr",) and step.options.gpu == 1


@pytest.mark.parametrize("cells, message", [
    ([{"source": "x", "metadata": {"tags": 5}}], "cell 1 tags must be a list of strings, got int"),
    ([{"source": "x", "tags": "parameters"}], "cell 1 tags must be a list of strings, got str"),
])
def test_tags_of_the_wrong_shape_are_one_line(cells, message):
    with pytest.raises(NotebookError, match=message):
        cells_from_json(cells)


def test_a_fifo_or_device_is_refused_at_once_not_read(tmp_path):
    """`mlpipe dag` on a FIFO used to hang, and on /dev/zero to run out of memory."""
    import os

    fifo = tmp_path / "nb.ipynb"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero"):
        with pytest.raises(NotebookError, match="is not a regular file"):
            read_cells(path)


def test_odd_paths_are_one_line(tmp_path):
    with pytest.raises(NotebookError, match="contains a NUL byte"):
        read_cells("nb\0.ipynb")
    with pytest.raises(NotebookError, match="cannot read notebook") as caught:
        read_cells("a" * 5000 + ".ipynb")
    assert len(str(caught.value)) < 300 and "\n" not in str(caught.value)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from mlpipe_jupyter.analysis import notebook

    monkeypatch.setattr(notebook, "MAX_NOTEBOOK_BYTES", 1000)
    path = tmp_path / "big.ipynb"
    path.write_text(json.dumps({"cells": [{"source": "x" * 2000}]}))
    with pytest.raises(NotebookError, match="over the 0 MB limit; clear its outputs"):
        read_cells(path)
