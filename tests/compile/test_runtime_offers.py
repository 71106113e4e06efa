"""The receiving kernel offers what a value needs (issue 21), in-process: the imports of
earlier steps, the producer's notebook functions, a fresh kernel's display settings, and
"changed" decided by a function's identity, not its pickle bytes."""

from __future__ import annotations

import subprocess
import sys
import types

import numpy as np
import pandas as pd

from mlpipe_jupyter.cache.store import Store
from mlpipe_jupyter.compile import runtime
from mlpipe_jupyter.compile.hidden import fingerprint
from mlpipe_jupyter.compile.stepnb import compile_step


def test_earlier_imports_and_alias_submodules_are_imported_first() -> None:
    code = (
        "import sys, email\n"
        "from mlpipe_jupyter.compile.runtime import import_earlier\n"
        "assert 'email.mime' not in sys.modules and 'json.tool' not in sys.modules\n"
        "import json\n"
        "ns = {'email': email}\n"
        "import_earlier(('json.tool', 'notinstalled.x', 'xml.dom'), (('email', 'mime'),), ns)\n"
        "print('json.tool' in sys.modules, hasattr(email, 'mime'), 'xml' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # json.tool: its package is loaded; email.mime: reached as an alias; xml: not loaded here
    assert out.stdout.split() == ["True", "True", "False"]


def test_the_load_cell_names_earlier_imports_and_alias_attributes(write_notebook) -> None:
    import mlpipe_jupyter as mlp

    path = write_notebook([
        "import matplotlib as mpl", "%%step a\nimport matplotlib.pyplot as plt\nx = 1",
        "%%step b\nfrom os import path as p\ny = x", "%%step c\nz = mpl.pyplot.figure(y)"])
    nb = compile_step(mlp.load(path).analysis, "c")
    load = next(c["source"] for c in nb["cells"] if c["metadata"]["mlpipe"]["role"] == "load")
    assert "modules=('matplotlib.pyplot', 'os', 'os.path')" in load
    assert "attributes=(('mpl', 'pyplot'),)" in load


def test_a_pickled_value_gets_its_producers_notebook_functions(tmp_path) -> None:
    producer: dict = {"__name__": "__main__"}
    source = "def double_it(v):\n    return 2 * v\nclass Unit:\n    pass\nx = 3"
    exec(source, producer)  # noqa: S102
    names = runtime.notebook_names(producer)
    assert sorted(names) == ["Unit", "double_it"]
    store = Store.open(tmp_path / "store")
    refs = {"model": store.put("model", {"f": "double_it"}).to_json()}
    runtime._attach_names(store, refs, producer)
    assert refs["model"]["names"]["format"] == "cloudpickle"
    consumer: dict = {"__name__": "__main__", "Unit": int}
    from mlpipe_jupyter.cache.store import ArtifactRef

    runtime.offer_names(store, ArtifactRef.from_json(refs["model"]).names, consumer)
    assert consumer["double_it"](4) == 8 and consumer["Unit"] is int  # its own binding wins
    assert consumer["double_it"].__globals__ is consumer


def test_display_settings_are_a_fresh_kernels() -> None:
    pd.set_option("display.width", 250)
    pd.set_option("display.expand_frame_repr", False)
    np.set_printoptions(precision=3, linewidth=200)
    try:
        runtime.fresh_display()
        assert pd.get_option("display.width") == 80
        assert pd.get_option("display.expand_frame_repr") is True
        assert np.get_printoptions()["precision"] == 8
        assert np.get_printoptions()["linewidth"] == 75
    finally:
        pd.reset_option("display")
        np.set_printoptions(precision=8, linewidth=75)


def test_a_function_is_unchanged_when_only_its_pickle_bytes_change() -> None:
    namespace = {"np": np, "__name__": "__main__"}
    exec("def beanplot(data, title=''):\n    return np.mean(data)", namespace)  # noqa: S102
    before = fingerprint(namespace["beanplot"])
    import email.mime.text  # noqa: F401 - a submodule imported since: cloudpickle's bytes move

    assert fingerprint(namespace["beanplot"]) == before
    namespace["beanplot"].__defaults__ = ("other",)
    assert fingerprint(namespace["beanplot"]) != before
    exec("def beanplot(data, title=''):\n    return np.median(data)", namespace)  # noqa: S102
    assert fingerprint(namespace["beanplot"]) != before
    assert isinstance(namespace["beanplot"], types.FunctionType)
