"""Notebook files as they come from the wild: old minors, CRLF, list sources, outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contract_helpers import mlpipe_inline

TWO = ["import math", "%%step a\nx = math.pi", "%%step b\ny = x * 2"]
EDGES = [{"from": "a", "to": "b", "vars": ["x"]}]


def edges_of(path: Path) -> list[dict[str, Any]]:
    result = mlpipe_inline("dag", path, "--format", "json")
    assert result.code == 0, result.err
    return result.json()["edges"]


@pytest.mark.parametrize("minor", [0, 1, 2, 3, 4, 5])
def test_every_nbformat_4_minor(write_nb: Any, minor: int) -> None:
    assert edges_of(write_nb(TWO, minor=minor)) == EDGES


def test_windows_line_endings_in_file_and_sources(write_nb: Any) -> None:
    cells = [c.replace("\n", "\r\n") + "\r\n" for c in TWO]
    assert edges_of(write_nb(cells, newline="\r\n")) == EDGES


def test_source_as_list_of_lines_and_no_metadata(tmp_path: Path) -> None:
    document = {"nbformat": 4, "nbformat_minor": 2, "metadata": {}, "cells": [
        {"cell_type": "code", "source": ["import math\n"], "outputs": [], "execution_count": 1},
        {"cell_type": "code", "source": ["%%step a\n", "x = math.pi\n"], "outputs": []},
        {"cell_type": "code", "source": ["%%step b\n", "y = x * 2"], "metadata": {"tags": []}},
        {"cell_type": "markdown", "source": []},
    ]}
    path = tmp_path / "lists.ipynb"
    path.write_text(json.dumps(document))
    assert edges_of(path) == EDGES


def test_outputs_and_execution_counts_are_ignored(write_nb: Any) -> None:
    outputs = [{"output_type": "stream", "name": "stdout", "text": ["%%step fake\n"]},
               {"output_type": "execute_result", "execution_count": 3, "metadata": {},
                "data": {"text/plain": ["3.14"], "image/png": "iVBORw0KGgo="}}]
    cells = [{"cell_type": "code", "source": s, "metadata": {"collapsed": True},
              "execution_count": n, "outputs": outputs} for n, s in enumerate(TWO, 1)]
    assert edges_of(write_nb(cells)) == EDGES


def test_unicode_and_very_long_lines(write_nb: Any) -> None:
    long_expr = " + ".join(f"v{i}" for i in range(400))
    setup = "\n".join(f"v{i} = {i}" for i in range(400))
    cells = [setup, f"%%step données\n# ✓ commentaire\nπ = {long_expr}",
             "%%step b\nlabel = f'π ≈ {π}' + '🙂' * 1000"]
    result = mlpipe_inline("dag", write_nb(cells), "--format", "json")
    assert result.code == 0, result.err
    assert result.json()["edges"] == [{"from": "données", "to": "b", "vars": ["π"]}]


def test_magic_heavy_notebook(write_nb: Any) -> None:
    cells = ["%load_ext mlpipe_jupyter", "%matplotlib inline\nimport numpy as np",
             "!pip install --quiet nothing", "%%step a\narr = np.ones(3)",
             "%%time\ntotal = arr.sum()", "%%bash\necho $HOME", "%%writefile x.py\nprint(1)",
             "%%step b\nprint(total)", "%pipeline dag"]
    assert edges_of(write_nb(cells)) == [{"from": "a", "to": "b", "vars": ["total"]}]


def test_text_output_of_an_empty_notebook(write_nb: Any) -> None:
    result = mlpipe_inline("dag", write_nb([]))
    assert result.code == 0 and result.out.startswith("0 steps, 0 edges")
