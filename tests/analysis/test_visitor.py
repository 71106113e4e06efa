"""One snippet, a few asserts: what `cell_facts` sees in a cell's code."""

from __future__ import annotations

import pytest

from mlpipe_jupyter.analysis.ipysyntax import python_source
from mlpipe_jupyter.analysis.visitor import FunctionFacts, cell_facts, root_name


def facts(code: str):
    return cell_facts(code)


def test_read_before_bind_in_statement_order():
    f = facts("x = y + 1\nz = x * w")
    assert f.reads == ("y", "w")
    assert f.binds == ("x", "z")


def test_self_update_reads_then_binds():
    f = facts("x = x + 1")
    assert f.reads == ("x",)
    assert f.binds == ("x",)


def test_builtins_and_ipython_names_are_not_reads():
    f = facts("print(len(data)); display(data); get_ipython(); _ + _i3")
    assert f.reads == ("data",)
    assert "print" in f.deferred and "display" in f.deferred


def test_import_binds_top_package():
    f = facts("import os.path\nimport numpy as np\nfrom a.b import c as d, e")
    assert f.binds == ("os", "np", "d", "e")
    assert f.reads == ()


def test_function_defaults_are_reads_free_names_deferred_rule_7():
    f = facts("def f(a, b=default):\n    return a + b + glob\n")
    assert f.reads == ("default",)
    assert "glob" in f.deferred
    assert f.functions[0] == FunctionFacts("f", ("glob",), ())


def test_function_locals_params_and_nested_closures():
    f = facts("def f(a):\n    t = a\n    def g():\n        return t + outer\n    return g\n")
    assert f.reads == ()
    assert f.functions[0].reads == ("outer",)


def test_function_free_name_bound_later_is_deferred():
    f = facts("def f():\n    return data\ndata = 5\nf()")
    assert f.reads == ()
    assert "data" in f.deferred
    assert f.binds == ("f", "data")


def test_function_free_name_bound_before_is_local():
    f = facts("data = 1\ndef f():\n    return data")
    assert f.reads == ()
    assert "data" not in f.deferred


def test_global_declared_name_in_function_is_free():
    f = facts("def bump():\n    global counter\n    counter += 1")
    assert "counter" in f.deferred and f.reads == ()
    assert f.binds == ("bump",)
    assert f.functions == (FunctionFacts("bump", ("counter",), ("counter",)),)


def test_lambda_params_are_local_and_body_free():
    f = facts("g = lambda a, k=kd: a + scale")
    assert f.reads == ("kd",)
    assert f.binds == ("g",)
    assert f.functions == (FunctionFacts("g", ("scale",), ()),)


def test_comprehension_targets_are_not_bound():
    f = facts("ys = [x * k for x in xs if x > lim]")
    assert f.reads == ("xs", "lim", "k")  # evaluation order: the filter runs first
    assert f.binds == ("ys",)


def test_nested_comprehension_and_dict_comprehension():
    f = facts("m = {k: [v * w for w in ws] for k, v in items}")
    assert f.reads == ("items", "ws")
    assert f.binds == ("m",)


def test_walrus_in_comprehension_binds_enclosing_scope():
    f = facts("hits = [y for x in xs if (y := f(x))]\nprint(y)")
    assert "y" in f.binds
    assert "y" not in f.reads


def test_walrus_at_top_level_binds():
    f = facts("if (n := len(items)) > 3:\n    big = n")
    assert f.reads == ("items",)
    assert f.binds == ("n", "big")


def test_class_body_reads_now_methods_read_later():
    f = facts("class M(Base):\n    size = width\n"
              "    def go(self):\n        return self.size + later\n")
    assert f.reads == ("Base", "width")
    assert f.binds == ("M",)
    assert f.functions == (FunctionFacts("M", ("later",), ()),)


def test_class_attribute_not_visible_as_top_level_binding():
    f = facts("class C:\n    inner = 1\nx = inner")
    assert "inner" in f.reads
    assert "inner" not in f.binds


def test_bindings_inside_if_for_while_with_try():
    code = (
        "if c:\n    a = 1\nfor i in r:\n    b = i\nwhile w:\n    d = 1\n"
        "with open(p) as fh:\n    e = fh.read()\ntry:\n    g = 1\nexcept E as err:\n    g = 2\n"
    )
    f = facts(code)
    assert set(f.binds) >= {"a", "i", "b", "d", "fh", "e", "g", "err"}
    assert f.reads == ("c", "r", "w", "p", "E")


def test_name_bound_on_one_branch_then_read_is_deferred():
    f = facts("if flag:\n    x = 1\nprint(x)")
    assert "x" in f.deferred
    assert "x" not in f.reads


def test_name_bound_on_both_branches_is_definite():
    f = facts("if flag:\n    x = 1\nelse:\n    x = 2\nprint(x)")
    assert "x" not in f.deferred
    assert f.reads == ("flag",)


def test_try_except_import_fallback_is_definite():
    f = facts("try:\n    import ujson as js\nexcept ImportError:\n    js = None\njs")
    assert "js" not in f.deferred and "js" not in f.reads


def test_del_binds_and_reads():
    f = facts("del old")
    assert f.reads == ("old",)
    assert f.binds == ("old",)


def test_subscript_and_attribute_assignment_mutate():
    f = facts("df['a'] = 1\nm.coef_ = w\ndel cache['k']")
    assert f.mutates == ("df", "m", "cache")
    assert f.assigns_into == ("df", "m", "cache")
    assert f.reads == ("df", "w", "m", "cache")


def test_augmented_assignment_reads_and_binds():
    f = facts("total += step\nitems[0] += 1")
    assert f.reads == ("total", "step", "items")
    assert "total" in f.binds
    assert f.mutates == ("items",)


def test_method_call_statement_mutates_but_not_as_assignment():
    f = facts("items.append(1)\nmodel.fit(X)")
    assert f.mutates == ("items", "model")
    assert f.assigns_into == ()


def test_chained_method_calls_mutate_the_root():
    f = facts("x.a.m()\ny.m().n()\nz[0].append(1)")
    assert f.mutates == ("x", "y", "z")


def test_method_call_inside_expression_mutates_rule_6():
    f = facts("first = rng.integers(9)\nhead = queue.pop(0) * 10\nprint(f'{stack.pop()}')")
    assert f.mutates == ("rng", "queue", "stack")
    assert f.assigns_into == ()
    assert f.binds == ("first", "head")


def test_mutation_of_a_locally_bound_name_is_not_assigns_into():
    f = facts("d = {}\nd['k'] = 1")
    assert f.assigns_into == ()
    assert f.mutates == ("d",)


def test_annotation_without_value_binds_nothing():
    f = facts("x: int\ny: float = 1.0")
    assert f.binds == ("y",)


def test_match_statement_captures():
    f = facts("match cmd:\n    case [op, arg]:\n        r = op\n"
              "    case {'k': v, **rest}:\n        r = v\n")
    assert f.reads == ("cmd",)
    assert {"op", "arg", "v", "rest", "r"} <= set(f.binds)


def test_root_name():
    import ast

    assert root_name(ast.parse("a.b[0].c()", mode="eval").body) == "a"
    assert root_name(ast.parse("f()(x).y", mode="eval").body) is None  # a new value
    assert root_name(ast.parse("open(p).write", mode="eval").body) is None
    assert root_name(ast.parse("list(xs)", mode="eval").body) is None
    assert root_name(ast.parse("np.array(x).fill", mode="eval").body) == "np"
    assert root_name(ast.parse("(1).real", mode="eval").body) is None


@pytest.mark.parametrize(
    "code, expected",
    [
        ("%time y = f(x)", "y = f(x)"),
        ("files = !ls\nn = len(files)", "files = None\nn = len(files)"),
        ("!pip install x\nz = 1", "pass\nz = 1"),
        ("for i in r:\n    %timeit f(i)", "for i in r:\n    pass"),
        ("df?\n", "pass\n"),
        ("%%time\nz = w", "\nz = w"),
        ("%%capture out\nprint(1)", "out = None\nprint(1)"),
        ("%%bash\necho hi", None),
        ("%matplotlib inline \\\n  more", "pass\n"),
    ],
)
def test_ipython_syntax_becomes_python(code, expected):
    assert python_source(code) == expected


def test_ipython_syntax_facts():
    f = facts(python_source("%time y = f(x)\nfiles = !ls {d}"))
    assert f.reads == ("f", "x")
    assert f.binds == ("y", "files")


def test_star_import_is_recorded_not_bound():
    facts = cell_facts("from os.path import *\nfrom . import *\nimport os")
    assert facts.star_imports == ("os.path", ".")
    assert facts.binds == ("os",)


# -- rule 6: mutation anywhere -------------------------------------------------------
def test_method_calls_in_conditions_arguments_and_comprehension_iterables_mutate():
    f = facts("if q.pop():\n    pass\nf(items.pop())\nys = [y for y in gen.draw(3)]")
    assert f.mutates == ("q", "items", "gen")
    assert f.reads == ("q", "f", "items", "gen")
    assert f.binds == ("ys",)


def test_method_call_in_a_comprehension_body_mutates_its_free_name():
    f = facts("firsts = [queue.pop(0) for _ in range(3)]")
    assert f.mutates == ("queue",)
    assert f.reads == ("queue",)
    assert f.binds == ("firsts",)


def test_attribute_read_is_not_a_mutation():
    f = facts("n = df.shape[0]\nm = model.coef_")
    assert f.mutates == ()
    assert f.reads == ("df", "model")
    assert f.binds == ("n", "m")


def test_read_only_method_calls_are_not_mutations():
    f = facts("m = data.mean()\np = model.predict(X)\ndf.head()\nd = df.drop(columns='a')")
    assert f.mutates == ()
    assert f.reads == ("data", "model", "X", "df")
    assert f.binds == ("m", "p", "d")


def test_mutation_through_an_argument():
    f = facts("random.Random(0).shuffle(deck)\nnp.random.shuffle(xs)\n"
              "heapq.heappush(heap, 1)\nnp.add(a, b, out=c)")
    assert set(f.mutates) >= {"deck", "xs", "heap", "c"}
    assert set(f.assigns_into) == {"deck", "xs", "heap", "c"}
    assert "a" not in f.mutates and "b" not in f.mutates


def test_inplace_true_surely_changes_the_receiver():
    f = facts("df.drop(columns=['a'], inplace=True)\nother.drop(columns=['a'])")
    assert f.mutates == ("df",)  # drop without inplace=True returns a new frame
    assert f.assigns_into == ("df",)
    assert f.binds == ()


# -- rule 7: functions resolve free names when called ---------------------------------
def test_function_changes_what_its_body_mutates_when_called():
    f = facts("def take():\n    return queue.pop(0)\ndef put(v):\n    box['k'] = v\n"
              "    local = []\n    local.append(v)")
    assert f.functions == (FunctionFacts("take", ("queue",), ("queue",)),
                           FunctionFacts("put", ("box",), ("box",)))
    assert f.mutates == ()
    assert f.reads == ()


def test_uses_record_what_the_cell_had_bound_at_each_use():
    f = facts("threshold = 5\nprint(over(3))\nif c:\n    limit = 1\n    over(1)\nover(2)")
    uses = dict(f.uses)
    assert uses["over"] == ("threshold",)  # `limit` is bound at one use only
    assert "threshold" not in uses
    assert uses["c"] == ("threshold",)


def test_rebinding_a_function_name_drops_its_function_facts():
    f = facts("def g():\n    return k\ng = 3\nh = lambda: z")
    assert f.functions == (FunctionFacts("h", ("z",), ()),)
    assert f.binds == ("g", "h")
    assert f.reads == ()


def test_calling_a_function_defined_in_the_same_code_changes_what_it_changes():
    f = facts("def take():\n    return queue.pop(0)\ndef twice():\n    return take() + take()\n"
              "first = twice()\ndef later():\n    return up()\nlater()")
    assert f.mutates == ("queue",)
    assert "up" in dict(f.uses) and "up" not in f.used_later  # called now, through later()
    assert f.binds == ("take", "twice", "first", "later")


def test_a_function_that_changes_its_argument_changes_what_it_is_given():
    f = facts("def clean(frame, log):\n    frame.dropna(inplace=True)\n    return len(log)\n"
              "clean(df, notes)\nkeep(items, 1)")
    assert f.functions == (FunctionFacts("clean", ("len",), (), (0,)),)
    assert f.mutates == ("df",)  # not `notes`: clean only reads its second argument
    assert f.calls == (("keep", ("items", None)),)


def test_a_method_on_a_fresh_call_result_binds_no_builtin():
    """`open(p, 'w').write(s)` / `shuffle(list(xs))` used to bind `open` and `list`."""
    facts = cell_facts("from random import shuffle\nopen('f', 'w').write('x')\nshuffle(list(xs))")
    assert "open" not in facts.binds and "list" not in facts.binds
    assert "xs" in facts.reads
