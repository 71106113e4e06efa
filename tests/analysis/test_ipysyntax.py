"""Rule 5: IPython syntax only where IPython sees it, checked against IPython itself."""

from __future__ import annotations

import pytest

from mlpipe_jupyter.analysis import analyze, cells_from_json
from mlpipe_jupyter.analysis.ipysyntax import ipython_lines, python_source, strip_control_lines
from mlpipe_jupyter.cache.keys import normalize_code

# Each snippet is valid IPython; the comment says which lines are IPython's own.
SNIPPETS = [
    'msg = ("%d items"\n % n)',  # none: a continuation line in brackets
    "ok = (x\n != 2)",
    "f(a,\n  b %\n c)",
    "rate = (hits\n        % total)\n%who",  # line 2
    'q = """\n%d\n!x\nwhat?\n"""\n%ls',  # line 5 only: the others are in a string
    "x = f'{a:>{w}}'\n%ls",
    'x = f"{d[\'a\']:{w}}"\n!ls',
    "x = 1 \\\n  % 3\n!ls",  # a backslash continuation is Python
    "s = 'it''s'\n%who",
    "for i in r:\n    %timeit f(i)",
    "y = (1, # ( in a comment\n 2)\n%x",
    "x = !ls\ny = %who_ls\nz = [1,\n2]\nobj?\n",
    "sql = '''\nselect *\n  % limit\n'''\nrows = run(sql)",
    "x = r'\\''\n%who",  # a raw string still ends at its quote
    "%%time\nx = (1\n% 2)",
]


def ipython_changed_lines(source: str) -> set[int]:
    """The lines IPython's own input transformer rewrites."""
    from IPython.core.inputtransformer2 import TransformerManager

    out = TransformerManager().transform_cell(source).split("\n")
    return {n for n, (a, b) in enumerate(zip(source.split("\n"), out)) if a != b}


@pytest.mark.parametrize("source", [s for s in SNIPPETS if not s.startswith("%%")])
def test_ipython_lines_are_the_lines_ipython_transforms(source: str) -> None:
    assert set(ipython_lines(source)) == ipython_changed_lines(source)


@pytest.mark.parametrize("source", SNIPPETS)
def test_python_source_of_valid_ipython_parses(source: str) -> None:
    import ast

    python = python_source(source)
    assert python is not None
    ast.parse(python)
    assert python.count("\n") == source.count("\n")


def test_percent_on_a_continuation_line_is_not_a_syntax_error_in_a_step() -> None:
    cells = ["%%step a\nn = 3\nx = 4", '%%step b\nmsg = ("%d items"\n % n)\nok = (x\n != 2)',
             "%%step c\nprint(msg, ok)"]
    pipeline = analyze(cells_from_json([{"source": c} for c in cells]))
    assert pipeline.errors == ()
    assert {(e.source, e.target, e.vars) for e in pipeline.edges} == {
        ("a", "b", ("n", "x")), ("b", "c", ("msg", "ok"))}


def test_control_lines_are_stripped_only_where_ipython_sees_them() -> None:
    source = "pipeline = 2\nx = (7\n%pipeline)\n%pipeline dag"
    assert strip_control_lines(source) == "pipeline = 2\nx = (7\n%pipeline)"


def test_cache_key_normalization_reads_percent_lines_inside_brackets_as_python() -> None:
    assert normalize_code('msg = ("%d"\n % n)') == normalize_code('msg = "%d" % n  # same')
    assert normalize_code("%who\nx = 1") != normalize_code("x = 1")
