"""`%%step --kernel KERNELSPEC`: one parser for the magic and the analysis."""

from __future__ import annotations

import json

import pytest

from mlpipe_jupyter.analysis import analyze_notebook
from mlpipe_jupyter.analysis.formats import render
from mlpipe_jupyter.analysis.options import StepLineError, parse_step_line
from nbfiles import write_notebook


def test_kernel_is_parsed_with_the_other_options() -> None:
    name, options = parse_step_line("train --kernel py311-torch --gpu 1")
    assert name == "train"
    assert options.kernel == "py311-torch"
    assert options.gpu == 1


def test_kernel_inline_and_lowercased_as_jupyter_names_them() -> None:
    assert parse_step_line("train --kernel=Py311")[1].kernel == "py311"


def test_no_kernel_means_the_default() -> None:
    assert parse_step_line("train")[1].kernel is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("t --kernel", "--kernel needs a value, as in --kernel py311-torch"),
        ("t --kernel a/b", "--kernel 'a/b' is not a kernelspec name"),
    ],
)
def test_bad_kernel_is_one_line_naming_the_option(line: str, message: str) -> None:
    with pytest.raises(StepLineError) as info:
        parse_step_line(line)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.step == "t"


def test_dag_json_and_text_show_the_kernel(tmp_path) -> None:
    path = write_notebook(tmp_path / "k.ipynb", [
        "%%step load\nx = 1", "%%step train --kernel py311-torch\ny = x + 1",
    ])
    pipeline = analyze_notebook(path)
    steps = {s["name"]: s for s in json.loads(render(pipeline, "json"))["steps"]}
    assert steps["train"]["kernel"] == "py311-torch"
    assert steps["load"]["kernel"] is None
    assert "kernel=py311-torch" in render(pipeline, "text")
