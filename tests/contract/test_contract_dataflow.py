"""Cell roles and dataflow rules 1-5, read from `mlpipe dag --format json`.

Each case is a small, realistic notebook; the expectations come from DESIGN.md
("Notebook order is the truth"), not from the implementation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from contract_helpers import cell


@dataclass(frozen=True)
class Flow:
    name: str
    cells: list[Any]
    edges: set[tuple[str, str, tuple[str, ...]]] | None = None
    reads: dict[str, list[str]] = field(default_factory=dict)
    binds: dict[str, list[str]] = field(default_factory=dict)
    params: dict[str, list[str]] = field(default_factory=dict)
    outputs: dict[str, list[str]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


SETUP = "import os\nimport numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt"

FLOWS = [
    # -- roles -------------------------------------------------------------------
    Flow("setup_names_are_not_reads",
         [SETUP, "%%step load\ndf = pd.DataFrame({'a': np.arange(3)})\nos.makedirs('o', exist_ok=True)"],
         set(), reads={"load": []}, binds={"load": ["df"]}),
    Flow("body_cell_belongs_to_the_step_above",
         [SETUP, "%%step load\ndf = pd.DataFrame({'a': [1]})", "df.head()", "extra = len(df)",
          "%%step report\nprint(extra)"],
         {("load", "report", ("extra",))}),
    Flow("skip_tag_leaves_the_cell_out",
         ["%%step a\nx = 1", cell("x = undefined_thing()", tags=("mlpipe:skip",)),
          "%%step b\nprint(x)"],
         {("a", "b", ("x",))}),
    Flow("skipped_step_takes_its_body_along",
         [cell("%%step scratch\ny = 1", tags=("mlpipe:skip",)), "y.bit_length()",
          "%%step a\nx = 2"],
         set(), binds={"a": ["x"]}),
    Flow("markdown_and_raw_cells_are_ignored",
         [cell("%%step fake\nx = 1", kind="markdown"), cell("x = 2", kind="raw"),
          "%%step a\nx = 3"],
         set()),
    Flow("params_magic_and_parameters_tag",
         ["%%params\nlr = 0.1", cell("epochs = 3", tags=("parameters",)),
          "%%step train\nmodel = lr * epochs"],
         set(), params={"train": ["epochs", "lr"]}, reads={"train": []}),
    Flow("control_cells_are_not_setup",
         ["%load_ext mlpipe_jupyter", "%pipeline dag", "%%step a\nx = 1"], set()),
    Flow("ipython_syntax_in_setup_and_steps",
         ["%matplotlib inline\nimport numpy as np", "!pip install nothing",
          "%%step a\nfiles = !ls\n%time z = np.zeros(3)", "%%time\nq = z + 1", "%%bash\necho hi",
          "%%step b\nprint(q, files)"],
         {("a", "b", ("files", "q"))}),
    # -- rule 1: reads ----------------------------------------------------------
    Flow("free_names_of_functions_lambdas_classes",
         ["%%step a\nk = 2\nscale = 3\nbase = object",
          "%%step b\nf = lambda v: v * k\ndef g(v):\n    return v + scale\n"
          "class C(base):\n    pass"],
         {("a", "b", ("base", "k", "scale"))}),
    Flow("builtins_and_ipython_names_are_not_reads",
         ["%%step a\nx = len(range(3))\ndisplay(x)\nget_ipython()\nprint(sum([x]))"],
         set(), reads={"a": []}),
    Flow("read_before_bind_in_same_cell", ["%%step a\nx = 1", "%%step b\ny = x\nx = 2"],
         {("a", "b", ("x",))}),
    # -- rule 2: binds ----------------------------------------------------------
    Flow("binds_in_blocks_walrus_imports_def_class",
         ["%%step a\nif True:\n    u = 1\nfor i in range(2):\n    pass\n"
          "with open(__file__ if False else '/dev/null') as fh:\n    pass\n"
          "try:\n    1 / 0\nexcept ZeroDivisionError as err:\n    e = err\n"
          "while (n := 0):\n    pass\nimport json as js\nfrom math import sqrt\n"
          "def f():\n    pass\nclass K:\n    pass\nt: int = 1",
          "%%step b\nprint(u, i, fh, e, n, js, sqrt, f, K, t)"],
         {("a", "b", ("K", "e", "f", "fh", "i", "js", "n", "sqrt", "t", "u"))}),
    Flow("comprehension_and_function_locals_are_not_bound",
         ["%%step a\nys = [i * 2 for i in range(3)]\nf = lambda q: q\n"
          "def g():\n    inner = 1\n    return inner"],
         set(), binds={"a": ["f", "g", "ys"]}),
    Flow("walrus_in_comprehension_binds_outside",
         ["%%step a\nys = [(last := v) for v in range(3)]", "%%step b\nprint(last)"],
         {("a", "b", ("last",))}),
    Flow("del_rebinds_the_name",
         ["%%step a\nx = 1\ny = 2", "%%step b\ndel x", "%%step c\nprint(y)"],
         {("a", "b", ("x",)), ("a", "c", ("y",))}, binds={"b": ["x"]}),
    # underscore names are names (issue 21): bound like any other, an edge when a later step
    # reads them, and no output (no artifact) when only their own step reads them
    Flow("underscore_names_read_only_in_their_step_are_no_outputs",
         ["%%step a\n_tmp = 1\nx = _tmp + 1", "%%step b\nprint(x)"],
         {("a", "b", ("x",))}, binds={"a": ["_tmp", "x"]}, outputs={"a": ["x"]}),
    Flow("an_underscore_helper_used_by_a_later_step_is_an_edge",
         ["%%step a\ndef _gen(n):\n    return list(range(n))", "%%step b\nxs = _gen(3)"],
         {("a", "b", ("_gen",))}, outputs={"a": ["_gen"]}),
    # -- rule 3: in-place changes ----------------------------------------------
    Flow("pandas_column_assignment_is_a_new_version",
         [SETUP, "%%step load\ndf = pd.DataFrame({'a': [1, 2]})",
          "%%step feature\ndf['b'] = df['a'] * 2", "%%step report\nprint(df.describe())"],
         {("load", "feature", ("df",)), ("feature", "report", ("df",))}),
    Flow("method_call_statement_is_a_new_version",
         ["from sklearn.linear_model import LinearRegression",
          "%%step make\nmodel = LinearRegression()\nX, y = [[1], [2]], [1, 2]",
          "%%step fit\nmodel.fit(X, y)", "%%step use\nprint(model.coef_)"],
         {("make", "fit", ("X", "model", "y")), ("fit", "use", ("model",))}),
    Flow("augmented_and_attribute_assignment",
         ["%%step a\nn = 1\nclass O: pass\no = O()", "%%step b\nn += 1\no.flag = True",
          "%%step c\nprint(n, o)"],
         {("a", "b", ("n", "o")), ("b", "c", ("n", "o"))}),
    Flow("setup_method_calls_are_plain_uses",
         [SETUP, "%%step a\nxs = np.arange(3)\nplt.plot(xs)\nplt.show()\nos.makedirs('x', exist_ok=True)",
          "%%step b\nplt.figure()\nprint(np.sum(xs))"],
         {("a", "b", ("xs",))}, binds={"a": ["xs"], "b": []}),
    Flow("assigning_into_a_setup_name_warns",
         ["CONFIG = {'k': 0}", "%%step a\nCONFIG['k'] = 1\nx = 1", "%%step b\nprint(CONFIG, x)"],
         {("a", "b", ("x",))}, binds={"a": ["x"]},
         warnings=("step 'a' (cell 2): assigns into setup name 'CONFIG'",)),
    # -- rule 4: nearest producer -------------------------------------------------
    Flow("nearest_preceding_binder_wins",
         ["%%step a\nx = 1", "%%step b\nx = 2", "%%step c\nprint(x)"],
         {("b", "c", ("x",))}),
    Flow("step_rebinding_a_setup_name_is_its_producer",
         ["import numpy as np", "%%step a\nnp = None", "%%step b\nprint(np)"],
         {("a", "b", ("np",))}),
    Flow("step_rebinding_a_param_is_its_producer",
         ["%%params\nn = 3", "%%step a\nn = n + 1", "%%step b\nprint(n)"],
         {("a", "b", ("n",))}, params={"a": ["n"], "b": []}),
    Flow("after_adds_an_edge_without_vars",
         ["%%step a\nx = 1", "%%step b --after a\ny = 2"], {("a", "b", ())}),
    Flow("outputs_option_adds_an_output",
         ["%%step a --outputs extra\nextra = 1\nx = 2", "%%step b\nprint(x)"],
         {("a", "b", ("x",))}, outputs={"a": ["extra", "x"], "b": []}),
    # -- edge cases --------------------------------------------------------------
    Flow("no_steps_is_an_empty_pipeline", ["import os", "x = 1"], set()),
    Flow("empty_and_comment_only_steps",
         ["%%step empty", "%%step notes\n# nothing yet\n", "%%step a\nx = 1"], set(),
         binds={"empty": [], "notes": []}),
    Flow("keyword_and_mermaid_keyword_names",
         ["%%step end\nx = 1", "%%step graph\ny = x", "%%step style\nz = y",
          "%%step class\nprint(z)"],
         {("end", "graph", ("x",)), ("graph", "style", ("y",)), ("style", "class", ("z",))}),
    Flow("step_line_with_a_trailing_comment", ["%%step a --cpu 2  # loader\nx = 1"], set()),
    Flow("unicode_names", ["%%step données\nπ = 3.14", "%%step résumé\nprint(π)"],
         {("données", "résumé", ("π",))}),
]


@pytest.mark.parametrize("flow", FLOWS, ids=[f.name for f in FLOWS])
def test_flow(dag: Any, flow: Flow) -> None:
    result = dag(flow.cells)
    data = result.json()
    assert result.code == 0, data["errors"]
    assert data["errors"] == []
    steps = {s["name"]: s for s in data["steps"]}
    if flow.edges is not None:
        assert {(e["from"], e["to"], tuple(e["vars"])) for e in data["edges"]} == flow.edges
    for key, table in (("reads", flow.reads), ("binds", flow.binds), ("params", flow.params),
                       ("outputs", flow.outputs)):
        for step, names in table.items():
            assert steps[step][key] == names, (step, key)
    assert len(data["warnings"]) == len(flow.warnings), data["warnings"]
    for wanted, warning in zip(flow.warnings, data["warnings"]):
        assert wanted in warning and "\n" not in warning


ERRORS = [
    ("duplicate_names", ["%%step a\nx = 1", "%%step a\ny = 2"],
     "step 'a' (cell 2): duplicate step name 'a'"),
    ("unbound_read", ["%%step a\nprint(nope)"], "step 'a' (cell 1): name 'nope'"),
    ("read_of_a_later_binding", ["%%step a\nprint(later)", "%%step b\nlater = 1"],
     "step 'a' (cell 1): name 'later'"),
    ("comprehension_variable_read_after", ["%%step a\nys = [i for i in range(3)]\nprint(i)"],
     "step 'a' (cell 1): name 'i'"),
    ("after_unknown", ["%%step a --after nowhere\nx = 1"], "step 'a' (cell 1): --after nowhere"),
    ("after_itself", ["%%step a --after a\nx = 1"], "step 'a' (cell 1): bad %%step line"),
    ("cycle", ["%%step a --after b\nx = 1", "%%step b\ny = x"],
     "step 'a' (cell 1): steps form a cycle: a -> b -> a"),
    ("syntax_error", ["%%step a\nx = (", "%%step b\ny = 1"],
     "step 'a' (cell 1): syntax error at line 2"),
    ("syntax_error_in_body_cell", ["%%step a\nx = 1", "y = = 2"],
     "step 'a' (cell 2): syntax error at line 1"),
    ("bad_option", ["%%step a --gpu many\nx = 1"], "step 'a' (cell 1): bad %%step line: --gpu"),
    ("dash_in_name", ["%%step my-step\nx = 1"], "cell 1: bad %%step line: step name 'my-step'"),
    ("param_not_literal", ["%%params\nlr = f()", "%%step a\nx = lr"], "cell 1:"),
]


@pytest.mark.parametrize("cells, wanted", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_rule5_errors_are_one_line_naming_step_and_cell(dag: Any, cells: list[str],
                                                        wanted: str) -> None:
    result = dag(cells)
    assert result.code == 2
    messages = [e["message"] for e in result.json()["errors"]]
    assert any(m.startswith(wanted) for m in messages), messages
    assert all("\n" not in m for m in messages)
    stderr = result.err.splitlines()
    assert any(line.startswith(f"mlpipe: {wanted}") for line in stderr), stderr
