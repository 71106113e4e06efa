"""Table-driven DAG cases (marimo's style): cells in, edges/reads/params/outputs/errors out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from mlpipe_jupyter.analysis import analyze, cells_from_json


@dataclass(frozen=True)
class DagCase:
    name: str
    cells: list[Any]  # str (a code cell) or a dict in the REST shape
    expected_edges: set[tuple[str, str, tuple[str, ...]]] | None = None
    expected_reads: dict[str, tuple[str, ...]] = field(default_factory=dict)
    expected_params: dict[str, tuple[str, ...]] = field(default_factory=dict)
    expected_outputs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    expected_errors: tuple[str, ...] = ()
    expected_warnings: tuple[str, ...] = ()
    expected_order: tuple[str, ...] | None = None


def md(text: str) -> dict:
    return {"cell_type": "markdown", "source": text}


def tagged(source: str, *tags: str) -> dict:
    return {"source": source, "metadata": {"tags": list(tags)}}


CASES = [
    # -- rule 1/2/4: reads, binds, nearest producer -----------------------------
    DagCase("chain", ["%%step a\nx = 1", "%%step b\ny = x + 1", "%%step c\nz = y"],
            {("a", "b", ("x",)), ("b", "c", ("y",))},
            expected_outputs={"a": ("x",), "b": ("y",), "c": ()}),
    DagCase("fan_in_sorted_labels", ["%%step a\nx = 1\nw = 2", "%%step b\nprint(w, x)"],
            {("a", "b", ("w", "x"))}, expected_reads={"b": ("w", "x")}),
    DagCase("nearest_preceding_binder_wins",
            ["%%step a\nx = 1", "%%step b\nx = 2", "%%step c\nprint(x)"],
            {("b", "c", ("x",))}, expected_outputs={"a": (), "b": ("x",)}),
    DagCase("independent_steps_no_edge", ["%%step a\nx = 1", "%%step b\ny = 2"], set()),
    DagCase("read_then_rebind_in_same_step",
            ["%%step a\nx = 1", "%%step b\nx = x + 1", "%%step c\nprint(x)"],
            {("a", "b", ("x",)), ("b", "c", ("x",))}),
    DagCase("local_binding_before_read_is_not_a_read",
            ["%%step a\nx = 1", "%%step b\nx = 5\nprint(x)"], set(),
            expected_reads={"b": ()}),
    DagCase("conditional_binding", ["%%step a\nx = 1",
                                    "%%step b\nif flag:\n    x = 2\nprint(x)",
                                    "%%step c\nx"],
            {("a", "b", ("x",)), ("b", "c", ("x",))},
            expected_errors=("name 'flag' is read",)),
    DagCase("for_target_is_bound", ["%%step a\nfor i in range(3):\n    last = i",
                                    "%%step b\nprint(i, last)"],
            {("a", "b", ("i", "last"))}),
    DagCase("with_and_except_targets", [
        "%%step a\nwith open('f') as fh:\n    text = 'x'\n"
        "try:\n    pass\nexcept Exception as err:\n    pass",
        "%%step b\nprint(fh, text)"], {("a", "b", ("fh", "text"))}),
    DagCase("import_in_step_is_output", ["%%step a\nimport json", "%%step b\njson.dumps(1)"],
            {("a", "b", ("json",))}),
    DagCase("def_and_class_bind", ["%%step a\ndef f():\n    return 1\nclass K:\n    pass",
                                   "%%step b\nk = K()\nv = f()"],
            {("a", "b", ("K", "f"))}),
    DagCase("function_free_name_from_upstream",
            ["%%step a\nscale = 3", "%%step b\ndef f(v):\n    return v * scale"],
            {("a", "b", ("scale",))}),
    DagCase("deferred_read_dropped_when_no_upstream",
            ["%%step a\ndef f():\n    return data\ndata = 5\nr = f()"], set(),
            expected_reads={"a": ()}),
    DagCase("deferred_read_kept_when_upstream_binds",
            ["%%step a\ndata = 1", "%%step b\ndef f():\n    return data\ndata = data2 = 5"],
            {("a", "b", ("data",))}),
    DagCase("lambda_free_name", ["%%step a\nk = 2", "%%step b\ng = lambda v: v * k"],
            {("a", "b", ("k",))}),
    DagCase("comprehension_targets_not_outputs",
            ["%%step a\nys = [x for x in range(3)]", "%%step b\nprint(ys)"],
            {("a", "b", ("ys",))}, expected_outputs={"a": ("ys",)}),
    DagCase("comprehension_reads_upstream", ["%%step a\nxs = [1]\nk = 2",
                                             "%%step b\nys = [x * k for x in xs]"],
            {("a", "b", ("k", "xs"))}),
    DagCase("walrus_binds", ["%%step a\nif (n := 3) > 1:\n    pass", "%%step b\nprint(n)"],
            {("a", "b", ("n",))}),
    DagCase("del_is_a_binding", ["%%step a\nx = 1", "%%step b\ndel x"],
            {("a", "b", ("x",))}, expected_outputs={"a": ("x",), "b": ()}),
    DagCase("builtin_shadowed_by_upstream",
            ["%%step a\ninput = [1, 2]", "%%step b\nprint(len(input))"],
            {("a", "b", ("input",))}),
    DagCase("builtins_alone_are_not_reads", ["%%step a\nprint(len([1]), sum([2]))"],
            set(), expected_reads={"a": ()}),
    DagCase("ipython_names_are_not_reads", ["%%step a\ndisplay(1)\nget_ipython()\nprint(_)"],
            set(), expected_reads={"a": ()}),
    # -- rule 3: mutation ------------------------------------------------------
    DagCase("subscript_assignment_reads_and_rebinds",
            ["%%step a\nd = {}", "%%step b\nd['k'] = 1", "%%step c\nprint(d)"],
            {("a", "b", ("d",)), ("b", "c", ("d",))}),
    DagCase("attribute_assignment_mutates",
            ["%%step a\nm = object", "%%step b\nm.coef_ = 1", "%%step c\nm"],
            {("a", "b", ("m",)), ("b", "c", ("m",))}),
    DagCase("augmented_assignment", ["%%step a\nn = 1", "%%step b\nn += 1", "%%step c\nn"],
            {("a", "b", ("n",)), ("b", "c", ("n",))}),
    DagCase("method_call_statement_mutates",
            ["%%step a\nitems = []", "%%step b\nitems.append(1)", "%%step c\nprint(items)"],
            {("a", "b", ("items",)), ("b", "c", ("items",))}),
    DagCase("read_only_method_call_is_plain_read",
            ["%%step a\nitems = [1]", "%%step b\nn = items.count(1)", "%%step c\nprint(items)"],
            {("a", "b", ("items",)), ("a", "c", ("items",))}),
    DagCase("method_call_in_expression_rebinds_rule_6",
            ["%%step a\nitems = [1]", "%%step b\nn = items.pop()", "%%step c\nprint(items)"],
            {("a", "b", ("items",)), ("b", "c", ("items",))}),
    DagCase("read_only_methods_keep_a_fan_out_parallel",
            ["import numpy as np", "%%step prep\ndata = np.arange(5.0)",
             "%%step m\nmean = float(data.mean())", "%%step s\nstd = float(data.std())",
             "%%step q\nq = np.quantile(data, [0.5])", "%%step all\nprint(mean, std, q, data)"],
            {("prep", "m", ("data",)), ("prep", "s", ("data",)), ("prep", "q", ("data",)),
             ("prep", "all", ("data",)), ("m", "all", ("mean",)), ("s", "all", ("std",)),
             ("q", "all", ("q",))}),
    DagCase("chained_method_call_mutates_root",
            ["%%step a\nm = {}", "%%step b\nm.setdefault('k', []).append(1)", "%%step c\nm"],
            {("a", "b", ("m",)), ("b", "c", ("m",))}),
    # -- setup ----------------------------------------------------------------
    DagCase("setup_names_are_exempt",
            ["import os\nBASE = 'x'", "%%step a\np = os.path.join(BASE, 'y')"], set(),
            expected_reads={"a": ()}),
    DagCase("method_call_on_setup_is_plain_use_no_warning",
            ["import os", "%%step a\nos.makedirs('d', exist_ok=True)", "%%step b\nos.getcwd()"],
            set(), expected_outputs={"a": ()}),
    DagCase("assign_into_setup_name_warns",
            ["CONFIG = {}", "%%step a\nCONFIG['k'] = 1", "%%step b\nprint(CONFIG)"], set(),
            expected_warnings=("step 'a' (cell 2): assigns into setup name 'CONFIG'",
                               "move it into setup or bind a new name")),
    DagCase("rebinding_setup_name_makes_a_producer",
            ["CONFIG = {}", "%%step a\nCONFIG = {'k': 1}", "%%step b\nprint(CONFIG)"],
            {("a", "b", ("CONFIG",))}),
    DagCase("setup_cells_and_control_cells",
            ["%load_ext mlpipe_jupyter", "import math", "%pipeline dag",
             "%%step a\nr = math.pi"], set(), expected_reads={"a": ()}),
    DagCase("setup_function_is_exempt",
            ["def helper(v):\n    return v", "%%step a\nx = helper(1)"], set()),
    # -- params ------------------------------------------------------------------
    DagCase("params_magic", ["%%params\nlr = 0.1", "%%step a\nm = lr * 2"], set(),
            expected_params={"a": ("lr",)}, expected_reads={"a": ()}),
    DagCase("params_tag", [tagged("n = 3\nname = 'x'", "parameters"), "%%step a\nv = n"],
            set(), expected_params={"a": ("n",)}),
    DagCase("param_rebound_by_step_is_a_read",
            ["%%params\nn = 3", "%%step a\nn = n + 1", "%%step b\nprint(n)"],
            {("a", "b", ("n",))}, expected_params={"a": ("n",), "b": ()}),
    DagCase("param_read_in_function", ["%%params\nlr = 0.1", "%%step a\ndef f():\n    return lr"],
            set(), expected_params={"a": ("lr",)}),
    DagCase("non_literal_param_default",
            ["%%params\nlr = compute()", "%%step a\nv = lr"], set(),
            expected_errors=("cell 1: param 'lr': its default `compute()` is not a literal",)),
    # -- body cells, skip, markdown, magics ---------------------------------------
    DagCase("body_cell_belongs_to_step_above",
            ["%%step a\nx = 1", "y = x + 1", md("# text"), "%%step b\nprint(y)"],
            {("a", "b", ("y",))}),
    DagCase("skip_tag_leaves_cell_out",
            ["%%step a\nx = 1", tagged("z = 99", "mlpipe:skip"), "%%step b\nprint(z)"],
            set(), expected_errors=("step 'b' (cell 3): name 'z' is read but nothing before",)),
    DagCase("skipped_step_takes_its_body",
            [tagged("%%step a\nx = 1", "mlpipe:skip"), "y = 2", "%%step b\nprint(y)"], set(),
            expected_errors=("name 'y' is read",)),
    DagCase("ipython_line_magics_and_shell",
            ["%%step a\n!echo hi\n%time x = 1\nfiles = !ls", "%%step b\nprint(x, files)"],
            {("a", "b", ("files", "x"))}),
    DagCase("opaque_cell_magic_body",
            ["%%step a\nx = 1", "%%bash\necho $undefined_name", "%%step b\nprint(x)"],
            {("a", "b", ("x",))}),
    DagCase("time_cell_magic_body_is_python",
            ["%%step a\nx = 1", "%%time\ny = x * 2", "%%step b\nprint(y)"],
            {("a", "b", ("y",))}),
    # -- private names ---------------------------------------------------------------
    DagCase("private_names_stay_local", ["%%step a\n_tmp = 1\nx = _tmp", "%%step b\nprint(x)"],
            {("a", "b", ("x",))}, expected_outputs={"a": ("x",)}),
    DagCase("underscore_names_are_names",  # issue 21: converted notebooks use them as-is
            ["import numpy as np", "%%step c1\ndef _exog_gen(n):\n    return np.ones(n)\n"
             "_tmp = 2", "%%step c2\nx = _exog_gen(_tmp)", "%%step c3\ny = _exog_gen(3)"],
            {("c1", "c2", ("_exog_gen", "_tmp")), ("c1", "c3", ("_exog_gen",))},
            expected_outputs={"c1": ("_exog_gen", "_tmp"), "c2": (), "c3": ()}),
    DagCase("formula_string_calls_a_notebook_function",
            ["%%step a\ndef double_it(v):\n    return 2 * v\ndf = 1",
             "%%step b\nm = fit('y ~ double_it(x)', df)", "%%step c\nm2 = fit('y ~ log(x)', df)"],
            {("a", "b", ("df", "double_it")), ("a", "c", ("df",))},
            expected_errors=("step 'b' (cell 2): name 'fit' is read but nothing before it binds it",
                             "step 'c' (cell 3): name 'fit' is read but nothing before it binds it")),
    DagCase("ipython_underscore_is_no_name",
            ["%%step a\n_ = print(1)\nfor _ in range(2):\n    pass", "%%step b\nprint(_)"],
            set(), expected_outputs={"a": ()}),
    # -- --after, --outputs ------------------------------------------------------------
    DagCase("after_adds_edge", ["%%step a\nprint(1)", "%%step b --after a\nprint(2)"],
            {("a", "b", ())}),
    DagCase("after_merges_with_data_edge", ["%%step a\nx = 1", "%%step b --after a\nprint(x)"],
            {("a", "b", ("x",))}),
    DagCase("after_changes_order", ["%%step a --after b\nprint(1)", "%%step b\nprint(2)"],
            {("b", "a", ())}, expected_order=("b", "a")),
    DagCase("outputs_option_adds_output",
            ["%%step a --outputs summary\nsummary = 1\nother = 2"], set(),
            expected_outputs={"a": ("summary",)}),
    DagCase("outputs_option_unbound_name",
            ["%%step a --outputs missing\nx = 1"], set(),
            expected_errors=("step 'a' (cell 1): --outputs missing: the step does not bind",)),
    # -- errors -------------------------------------------------------------------------
    DagCase("unbound_name_error", ["%%step a\nprint(df)"], set(),
            expected_errors=("step 'a' (cell 1): name 'df' is read but nothing before it binds"
                             " it; define it in an earlier step or in setup",)),
    DagCase("read_from_later_step_is_error", ["%%step a\nprint(x)", "%%step b\nx = 1"], set(),
            expected_errors=("step 'a' (cell 1): name 'x' is read",)),
    DagCase("duplicate_step_names",
            ["%%step a\nx = 1", "%%step a\ny = 2"], set(),
            expected_errors=("step 'a' (cell 2): duplicate step name 'a'",)),
    DagCase("after_unknown_step", ["%%step a --after nope\nx = 1"], set(),
            expected_errors=("step 'a' (cell 1): --after nope: there is no step named 'nope'",)),
    DagCase("cycle", ["%%step a --after b\nx = 1", "%%step b\nprint(x)"], None,
            expected_errors=("steps form a cycle: a -> b -> a",)),
    DagCase("syntax_error_names_line_and_cell",
            ["%%step a\nx = 1", "%%step b\ny = (\n", "%%step c\nprint(y)"], None,
            expected_errors=("step 'b' (cell 2): syntax error at line 2",)),
    DagCase("syntax_error_in_body_cell_names_body_cell",
            ["%%step a\nx = 1", "y = = 2"], None,
            expected_errors=("step 'a' (cell 2): syntax error at line 1",)),
    DagCase("bad_step_line", ["%%step a --gpus 1\nx = 1"], set(),
            expected_errors=("step 'a' (cell 1): bad %%step line: unknown option --gpus",)),
    DagCase("bad_step_name_names_the_cell", ["%%step my-step\nx = 1"], set(),
            expected_errors=("cell 1: bad %%step line: step name 'my-step'",)),
    DagCase("unicode_step_and_variable_names",
            ["%%step données\nπ = 3.14", "%%step résumé --after données\nprint(π)"],
            {("données", "résumé", ("π",))}),
    DagCase("several_errors_collected",
            ["%%step a\nprint(p)", "%%step a\nprint(q)", "%%step b --after zz\nw = 1"], None,
            expected_errors=("name 'p' is read", "duplicate step name 'a'", "--after zz")),
    DagCase("gpu_step_resources", ["%%step a --gpu 1 --memory 2GB\nx = 1", "%%step b\nx"],
            {("a", "b", ("x",))}),
    DagCase("order_ties_by_notebook_order",
            ["%%step c\nx = 1", "%%step b\ny = 1", "%%step a\nprint(x, y)"],
            {("c", "a", ("x",)), ("b", "a", ("y",))}, expected_order=("c", "b", "a")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_dag_case(case: DagCase) -> None:
    cells = cells_from_json([c if isinstance(c, dict) else {"source": c} for c in case.cells])
    pipeline = analyze(cells)
    errors = [str(e) for e in pipeline.errors]
    if case.expected_edges is not None:
        assert {(e.source, e.target, e.vars) for e in pipeline.edges} == case.expected_edges
    for step, reads in case.expected_reads.items():
        assert pipeline.step(step).reads == reads
    for step, params in case.expected_params.items():
        assert pipeline.step(step).params == params
    for step, outputs in case.expected_outputs.items():
        assert pipeline.step(step).outputs == outputs
    if case.expected_order is not None:
        assert pipeline.order == case.expected_order
    for wanted in case.expected_errors:
        assert any(wanted in e for e in errors), (wanted, errors)
    if not case.expected_errors:
        assert errors == []
    for wanted in case.expected_warnings:
        assert any(wanted in w for w in pipeline.warnings), (wanted, pipeline.warnings)
    if not case.expected_warnings:
        assert pipeline.warnings == ()



EXTRA = [
    DagCase("conditional_rebind_passes_upstream_value_through",
            ["%%step a\nx = 1", "%%step b\nif x > 5:\n    x = 2", "%%step c\nprint(x)"],
            {("a", "b", ("x",)), ("b", "c", ("x",))}),
    DagCase("capture_magic_binds_its_target",
            ["%%step a\nx = 1", "%%capture out\nprint(x)", "%%step b\nprint(out)"],
            {("a", "b", ("out",))}),
    DagCase("injected_parameters_override_defaults",
            [tagged("lr = 0.1", "parameters"), tagged("lr = 0.5", "injected-parameters"),
             "%%step a\nv = lr"], set(), expected_params={"a": ("lr",)}),
    DagCase("setup_syntax_error", ["import (", "%%step a\nx = 1"], set(),
            expected_errors=("cell 1: syntax error at line 1",)),
    DagCase("null_byte_is_an_error_not_a_crash", ["%%step a\nx = '\x00'"], None,
            expected_errors=("step 'a' (cell 1):",)),
    DagCase("star_import_in_setup_may_provide_any_name",
            ["from math import *", "%%step a\nx = sqrt(pi)", "%%step b\nprint(x)"],
            {("a", "b", ("x",))}, expected_reads={"a": ()}),
    DagCase("star_import_in_a_step_warns_and_its_names_stay_there",
            ["%%step a\nfrom math import *\nx = sqrt(2)", "%%step b\ny = floor(x)"],
            {("a", "b", ("x",))},
            expected_errors=("step 'b' (cell 2): name 'floor' is read",),
            expected_warnings=("step 'a' (cell 1): `from math import *` binds names",)),
]


@pytest.mark.parametrize("case", EXTRA, ids=[c.name for c in EXTRA])
def test_dag_extra_case(case: DagCase) -> None:
    test_dag_case(case)


def test_params_cell_accepts_what_the_magic_accepts() -> None:
    source = '%%params\n"""Docs."""\nlr = 0.1  # rate\na = b = -1\nn: int = 3'
    pipeline = analyze(cells_from_json([{"source": source}]))
    assert pipeline.errors == ()
    assert pipeline.params == {"lr": 0.1, "a": -1, "b": -1, "n": 3}
    bad = analyze(cells_from_json([{"source": "%%params\na, b = 1, 2"}]))
    assert "parameters cell line 2: only `name = literal`" in str(bad.errors[0])


def test_injected_parameters_value() -> None:
    cells = cells_from_json([tagged("lr = 0.1\nn = 1", "parameters"),
                             tagged("lr = 0.5", "injected-parameters")])
    assert analyze(cells).params == {"lr": 0.5, "n": 1}


def test_deeply_nested_code_is_an_error_not_a_crash() -> None:
    source = "%%step a\nx = " + " + ".join(["1"] * 3000)
    pipeline = analyze(cells_from_json([{"source": source}]))
    assert len(pipeline.errors) == 1 and "step 'a' (cell 1)" in str(pipeline.errors[0])


SETUP_NP = "import random\nimport heapq\nimport numpy as np\nimport pandas as pd"

RULES_6_7 = [
    # -- rule 6: mutation anywhere ------------------------------------------------------
    DagCase("method_call_in_an_assignment_is_a_new_version",
            ["%%step a\nrng = np.random.RandomState(0)", "%%step b\nfirst = rng.randint(1000)",
             "%%step c\nprint(rng.randint(1000))"],
            {("a", "b", ("rng",)), ("b", "c", ("rng",))}),
    DagCase("pop_inside_an_arithmetic_expression",
            ["%%step a\nqueue = [1, 2, 3]", "%%step b\nhead = queue.pop(0) * 10",
             "%%step c\nprint(queue, head)"],
            {("a", "b", ("queue",)), ("b", "c", ("head", "queue"))}),
    DagCase("pop_inside_a_call_argument_an_fstring_and_a_condition",
            ["%%step a\nitems = [1, 2]\nstack = [3]\nq = [0, 1]",
             "%%step b\nprint(items.pop())\nmsg = f'{stack.pop()}'\nif q.pop():\n    pass",
             "%%step c\nprint(items, stack, q)"],
            {("a", "b", ("items", "q", "stack")), ("b", "c", ("items", "q", "stack"))}),
    DagCase("shuffle_through_an_argument",
            ["%%step a\ndeck = list(range(5))", "%%step b\nrandom.Random(0).shuffle(deck)",
             "%%step c\nprint(deck)"],
            {("a", "b", ("deck",)), ("b", "c", ("deck",))}),
    DagCase("numpy_shuffle_and_heappush_through_arguments",
            ["import heapq\nimport numpy as np\nnp.random.seed(0)",
             "%%step a\nxs = np.arange(5)\nheap = []", "%%step b\nnp.random.shuffle(xs)",
             "%%step c\nheapq.heappush(heap, 3)", "%%step d\nprint(xs, heap)"],
            {("a", "b", ("xs",)), ("a", "c", ("heap",)), ("b", "d", ("xs",)),
             ("c", "d", ("heap",))}),
    DagCase("inplace_true_rebinds_the_frame",
            ["%%step a\ndf = pd.DataFrame({'a': [1], 'b': [2]})",
             "%%step b\ndf.drop(columns=['b'], inplace=True)", "%%step c\nprint(df.columns)"],
            {("a", "b", ("df",)), ("b", "c", ("df",))}),
    DagCase("attribute_reads_are_not_new_versions",
            ["%%step a\ndf = pd.DataFrame({'a': [1]})", "%%step b\nn = df.shape[0]",
             "%%step c\nprint(df, n)"],
            {("a", "b", ("df",)), ("a", "c", ("df",)), ("b", "c", ("n",))}),
    DagCase("setup_method_calls_in_expressions_stay_exempt",
            ["import os", "%%step a\np = os.path.join('a', 'b')\nd = os.getcwd()",
             "%%step b\nprint(os.sep, p)"],
            {("a", "b", ("p",))}, expected_outputs={"a": ("p",)}),
    DagCase("inplace_on_a_setup_name_warns",
            [SETUP_NP + "\nframe = pd.DataFrame({'a': [1]})",
             "%%step a\nframe.drop(columns=['a'], inplace=True)", "%%step b\nprint(frame)"],
            set(), expected_warnings=("step 'a' (cell 2): assigns into setup name 'frame'",)),
    # -- rule 7: functions resolve free names when called -----------------------------------
    DagCase("free_name_only_a_later_step_binds_is_no_error",
            ["%%step a\ndef kind(o):\n    return isinstance(o, Widget)",
             "%%step b\nclass Widget:\n    pass\nprint(kind(Widget()))"],
            {("a", "b", ("kind",))}),
    DagCase("caller_rebinding_the_free_name_first_reads_its_own",
            ["%%step a\nthreshold = 1\ndef over(x):\n    return x > threshold",
             "%%step b\nthreshold = 5\nprint(over(3))", "%%step c\nprint(over(3))"],
            {("a", "b", ("over",)), ("a", "c", ("over",)), ("b", "c", ("threshold",))}),
    DagCase("caller_reads_the_free_name_from_the_nearest_binder",
            ["%%step a\ndef over(x):\n    return x > threshold", "%%step b\nthreshold = 5",
             "%%step c\nr = over(3)"],
            {("a", "c", ("over",)), ("b", "c", ("threshold",))}),
    DagCase("passing_a_function_is_calling_it",
            ["%%step a\ndef over(x):\n    return x > threshold", "%%step b\nthreshold = 2",
             "%%step c\nflags = list(map(over, [1, 2, 3]))"],
            {("a", "c", ("over",)), ("b", "c", ("threshold",))}),
    DagCase("transitive_through_another_function",
            ["%%step a\ndef scale(v):\n    return v * factor\ndef total(xs):\n"
             "    return sum(scale(x) for x in xs)", "%%step b\nfactor = 3",
             "%%step c\nprint(total([1, 2]))"],
            {("a", "c", ("scale", "total")), ("b", "c", ("factor",))}),
    DagCase("setup_function_reads_a_step_bound_name_at_the_call",
            ["def helper():\n    return data * 2", "%%step a\ndata = 21",
             "%%step b\nprint(helper())"],
            {("a", "b", ("data",))}),
    DagCase("a_called_function_that_mutates_rebinds_in_the_caller",
            ["%%step a\nqueue = [1, 2, 3]\ndef take():\n    return queue.pop(0)",
             "%%step b\nfirst = take()", "%%step c\nprint(queue)"],
            {("a", "b", ("queue", "take")), ("b", "c", ("queue",))}),
    DagCase("defining_a_caller_changes_nothing_calling_it_does",
            ["%%step a\nqueue = [1, 2, 3, 4]\ndef take():\n    return queue.pop(0)",
             "%%step b\ndef twice():\n    return take() + take()", "%%step c\nprint(queue)",
             "%%step d\nn = twice()", "%%step e\nprint(queue)"],
            {("a", "b", ("queue", "take")), ("a", "c", ("queue",)),
             ("a", "d", ("queue", "take")), ("b", "d", ("twice",)), ("d", "e", ("queue",))}),
    DagCase("an_upstream_function_that_changes_its_argument",
            ["%%step a\ndef clean(frame):\n    frame.dropna(inplace=True)\n"
             "def size(frame):\n    return len(frame)",
             "%%step b\ndf = pd.DataFrame({'a': [1, None]})\nraw = df.copy()",
             "%%step c\nclean(df)\nn = size(raw)", "%%step d\nprint(df, raw, n)"],
            {("a", "c", ("clean", "size")), ("b", "c", ("df", "raw")), ("b", "d", ("raw",)),
             ("c", "d", ("df", "n"))}),
    DagCase("global_counter_bumped_by_a_call",
            ["%%step a\ncounter = 0\ndef bump():\n    global counter\n    counter += 1",
             "%%step b\nbump()", "%%step c\nprint(counter)"],
            {("a", "b", ("bump", "counter")), ("b", "c", ("counter",))}),
    DagCase("lambda_bound_to_a_name_resolves_at_the_call",
            ["%%step a\nscaled = lambda v: v * k", "%%step b\nk = 4", "%%step c\nprint(scaled(2))"],
            {("a", "c", ("scaled",)), ("b", "c", ("k",))}),
    DagCase("rebound_function_name_no_longer_reads_the_old_free_names",
            ["%%step a\ndef f():\n    return zz", "%%step b\nzz = 1", "%%step c\nf = len",
             "%%step d\nprint(f([1]))"],
            {("c", "d", ("f",))}),
    DagCase("free_name_read_by_a_call_but_bound_by_no_one_is_not_an_error",
            ["%%step a\ndef f(flag):\n    return nowhere if flag else 0",
             "%%step b\nprint(f(False))"],
            {("a", "b", ("f",))}),
]


@pytest.mark.parametrize("case", RULES_6_7, ids=[c.name for c in RULES_6_7])
def test_dag_rules_6_7_case(case: DagCase) -> None:
    """Cases that do not start with their own setup cell get SETUP_NP."""
    cells = case.cells if case.cells[0].startswith(("import", "def ")) \
        else [SETUP_NP, *case.cells]
    shifted = case if cells is case.cells else DagCase(
        case.name, cells, case.expected_edges, case.expected_reads, case.expected_params,
        case.expected_outputs, case.expected_errors, case.expected_warnings, case.expected_order)
    test_dag_case(shifted)


def test_a_name_bound_then_read_in_two_steps_loop_bodies_is_no_edge() -> None:
    """Each loop binds `fh`/`v` before reading it; the upstream value would pass through
    only an empty loop, and no later step reads it: no edge, nothing (a file!) to save."""
    pipeline = analyze(cells_from_json([
        {"source": "%%step a\nfor i in range(2):\n    v = i * 2\n    with open(f'{i}', 'w') as fh:\n"
                   "        fh.write(str(v))"},
        {"source": "%%step b\nfor j in range(2):\n    v = j + 1\n    with open(f'{j}.b', 'w') as fh:\n"
                   "        fh.write(str(v))"},
    ]))
    assert pipeline.edges == ()
    assert pipeline.step("a").outputs == () and pipeline.step("b").inputs == ()


def test_a_pass_through_a_later_step_needs_is_kept() -> None:
    """`for j in range(n): v = j` with n = 0 leaves a's v for c: b passes it through."""
    pipeline = analyze(cells_from_json([
        {"source": "%%params\nn = 0"}, {"source": "%%step a\nv = 0"},
        {"source": "%%step b\nfor j in range(n):\n    v = j"}, {"source": "%%step c\nprint(v)"},
    ]))
    assert pipeline.step("b").inputs == (("v", "a"),)
    assert pipeline.step("c").inputs == (("v", "b"),)


def test_a_step_that_only_seeds_on_one_path_is_not_nondeterministic() -> None:
    """breast_cancer's train seeds torch in its GPU branch and draws nothing from it."""
    seeds_only = analyze(cells_from_json([
        {"source": "import torch"},
        {"source": "%%step a\nif gpu:\n    torch.manual_seed(0)\n    w = torch.zeros(3)"},
        {"source": "%%params\ngpu = False"},
    ]))
    assert seeds_only.step("a").nondeterministic is None and seeds_only.warnings == ()
    draws = analyze(cells_from_json([
        {"source": "import torch"}, {"source": "%%step a\nw = torch.rand(3)"},
    ]))
    assert draws.step("a").nondeterministic == "draws from torch, never seeded"
