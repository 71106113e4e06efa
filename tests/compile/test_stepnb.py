from __future__ import annotations

import json

import pytest

from mlpipe_jupyter.compile.stepnb import compile_step, dumps_notebook, step_cells, step_displays

from stepnb_pipeline import make_pipeline


def roles(nb: dict) -> list[str]:
    return [c["metadata"]["mlpipe"]["role"] for c in nb["cells"]]


def test_same_pipeline_compiles_to_the_same_bytes(pipeline) -> None:
    first = dumps_notebook(compile_step(pipeline, "train"))
    second = dumps_notebook(compile_step(make_pipeline(), "train"))
    assert first == second and first.endswith("}\n")
    assert dumps_notebook(compile_step(pipeline, "load")) != first


def test_cells_in_the_documented_order(pipeline) -> None:
    nb = compile_step(pipeline, "train")
    assert roles(nb) == ["parameters", "begin", "setup", "load", "step", "step", "save"]
    assert nb["cells"][0]["metadata"]["tags"] == ["parameters"]
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
    ids = [c["id"] for c in nb["cells"]]
    assert len(set(ids)) == len(ids)


def test_parameters_cell_has_only_the_params_the_step_reads(pipeline) -> None:
    source = compile_step(pipeline, "train")["cells"][0]["source"]
    lines = source.splitlines()
    assert lines[0] == "lr = 0.5" and "epochs" not in source
    namespace: dict = {}
    exec(source, namespace)
    assert namespace["_mlpipe"] == {"store": "", "inputs": {}, "outputs": ["w"], "result": ""}


def test_step_cells_drop_the_magic_line_and_keep_the_source_cell_index(pipeline) -> None:
    cells = step_cells(compile_step(pipeline, "train"))
    assert [c["metadata"]["mlpipe"]["cell"] for c in cells] == [4, 5]
    assert cells[0]["source"].startswith("w = x * lr")
    assert "%%step" not in cells[0]["source"]


def test_unknown_step_names_the_steps(pipeline) -> None:
    with pytest.raises(KeyError, match="no step 'nope' in this pipeline \\(steps: load, train\\)"):
        compile_step(pipeline, "nope")


def test_dumps_keeps_unicode_and_sorts_keys(pipeline) -> None:
    text = dumps_notebook({"b": "é", "a": [1]})
    assert text == '{\n "a": [\n  1\n ],\n "b": "é"\n}\n'
    assert json.loads(dumps_notebook(compile_step(pipeline, "load")))["cells"]


def test_step_displays_are_the_outputs_of_step_cells_only() -> None:
    stream = {"output_type": "stream", "name": "stdout", "text": "hi\n"}
    nb = {"cells": [
        {"metadata": {"mlpipe": {"role": "setup"}}, "outputs": [stream]},
        {"metadata": {"mlpipe": {"role": "step", "cell": 4}}, "outputs": [stream]},
    ]}
    assert step_displays(nb) == [stream]


def test_step_displays_join_multiline_strings_like_nbformat() -> None:
    shown = {"output_type": "display_data", "metadata": {},
             "data": {"text/plain": ["a\n", "b"], "application/json": ["x"]}}
    nb = {"cells": [{"metadata": {"mlpipe": {"role": "step"}}, "outputs": [shown]}]}
    assert step_displays(nb)[0]["data"] == {"text/plain": "a\nb", "application/json": ["x"]}


def test_a_pipeline_from_the_analysis_compiles_without_control_lines() -> None:
    from mlpipe_jupyter.analysis import analyze, cells_from_json

    pipeline = analyze(cells_from_json([
        {"source": "import math\n%load_ext mlpipe_jupyter", "cell_type": "code"},
        {"source": "%%params\nlr = 0.1", "cell_type": "code"},
        {"source": "%%step load\nx = [1, 2]", "cell_type": "code"},
        {"source": "len(x)\n%pipeline dag", "cell_type": "code"},
        {"source": "%%step train --gpu 1\nw = sum(x) * lr", "cell_type": "code"},
    ]))
    assert not pipeline.errors
    nb = compile_step(pipeline, "load")
    sources = {c["metadata"]["mlpipe"]["role"]: c["source"] for c in nb["cells"]}
    assert "%load_ext" not in sources["setup"] and "import math" in sources["setup"]
    assert [c["source"] for c in step_cells(nb)] == ["x = [1, 2]", "len(x)"]
    assert compile_step(pipeline, "train")["cells"][0]["source"].startswith("lr = 0.1\n")


def test_parameters_the_setup_reads_are_in_every_step_notebook() -> None:
    from mlpipe_jupyter.analysis import analyze, cells_from_json

    pipeline = analyze(cells_from_json([
        {"source": "%%params\nseed = 7\nlr = 0.1", "cell_type": "code"},
        {"source": "import random\nrandom.seed(seed)", "cell_type": "code"},
        {"source": "%%step load\nx = random.random()", "cell_type": "code"},
    ]))
    assert not pipeline.errors, pipeline.errors
    assert compile_step(pipeline, "load")["cells"][0]["source"].startswith("seed = 7\n_mlpipe = ")


def test_bytes_and_keys_do_not_depend_on_the_process(tmp_path) -> None:
    import os
    import subprocess
    import sys

    notebook = tmp_path / "nb.ipynb"
    notebook.write_text(json.dumps({"cells": [
        {"cell_type": "code", "source": "import math\nfrom os import path", "metadata": {}},
        {"cell_type": "code", "source": "%%params\nlr = 0.1\nnames = {'a', 'b', 'c'}",
         "metadata": {}},
        {"cell_type": "code", "source": "%%step load\nx = sorted(names)\ny = {1, 2}",
         "metadata": {}},
        {"cell_type": "code", "source": "%%step fit\nm = (x, y, lr)", "metadata": {}},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    code = (
        "import sys, hashlib; from mlpipe_jupyter.analysis import analyze_notebook;"
        "from mlpipe_jupyter.compile.stepnb import compile_step, dumps_notebook;"
        "from mlpipe_jupyter.cache.keys import step_key;"
        "p = analyze_notebook(sys.argv[1]); assert not p.errors, p.errors;"
        "print(hashlib.sha256(''.join(dumps_notebook(compile_step(p, s.name))"
        " for s in p.steps).encode()).hexdigest(),"
        " step_key(p.step('fit'), p, {}, {'x': 'a' * 64, 'y': 'b' * 64}))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code, str(notebook)], capture_output=True, text=True,
            check=True, env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_a_random_consumer_compiles_deterministically_and_keeps_its_other_names() -> None:
    from mlpipe_jupyter.analysis import analyze, cells_from_json

    def build():
        return analyze(cells_from_json([{"cell_type": "code", "source": s} for s in (
            "import numpy as np\nnp.random.seed(0)",
            "%%step a\nx = np.random.rand()\nscratch = 1",
            "%%step b\ny = np.random.rand() + x",
        )]))

    first, second = (dumps_notebook(compile_step(build(), "a")) for _ in range(2))
    assert first == second
    save = compile_step(build(), "a")["cells"][-1]["source"]
    assert save.endswith("step='a', keep=('scratch',))")  # outputs x, random:numpy saved anyway
    assert build().step("a").outputs == ("random:numpy", "x")
