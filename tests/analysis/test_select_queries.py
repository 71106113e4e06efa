"""Pipeline's graph queries (parents, children, ancestors, descendants, topological order).

Table-driven: a notebook's step cells in, each query's answer out (notebook order for the
direct neighbours, topological order for the closures).
"""

from __future__ import annotations

import pytest

from mlpipe_jupyter.analysis import analyze, cells_from_json
from mlpipe_jupyter.analysis.model import Edge, topological
from test_select import CELLS

DIAMOND = CELLS  # load -> prep -> train -> evaluate ; prep -> report ; side alone
# Written out of order: `early` reads what `late` binds via --after, so order != notebook order
AFTER = [
    "%%step first\na = 1",
    "%%step second --after third\nb = a",
    "%%step third\nc = a",
]


def pipeline(cells):
    return analyze(cells_from_json([{"source": c} for c in cells]))


CASES = [
    # (cells, query, name, expected)
    (DIAMOND, "parents", "evaluate", ("prep", "train")),
    (DIAMOND, "parents", "load", ()),
    (DIAMOND, "children", "prep", ("train", "report", "evaluate")),
    (DIAMOND, "children", "evaluate", ()),
    (DIAMOND, "ancestors", "evaluate", ("load", "prep", "train")),
    (DIAMOND, "ancestors", "side", ()),
    (DIAMOND, "descendants", "load", ("prep", "train", "report", "evaluate")),
    (DIAMOND, "descendants", "train", ("evaluate",)),
    (DIAMOND, "downstream", "prep", ["train", "report", "evaluate"]),
    (AFTER, "parents", "second", ("first", "third")),
    (AFTER, "descendants", "third", ("second",)),
    (AFTER, "ancestors", "second", ("first", "third")),
]


@pytest.mark.parametrize(("cells", "query", "name", "expected"), CASES,
                         ids=[f"{c[1]}-{c[2]}" for c in CASES])
def test_query(cells, query, name, expected):
    p = pipeline(cells)
    assert not p.errors, p.errors
    assert getattr(p, query)(name) == expected


@pytest.mark.parametrize(("cells", "expected"), [
    (DIAMOND, ("load", "prep", "side", "train", "report", "evaluate")),
    (AFTER, ("first", "third", "second")),
])
def test_topological_order_ties_by_notebook_order(cells, expected):
    p = pipeline(cells)
    assert p.topological_order() == expected == p.order


def test_unknown_step_is_a_key_error():
    with pytest.raises(KeyError):
        pipeline(DIAMOND).parents("nope")


@pytest.mark.parametrize(("names", "edges", "expected"), [
    (["a", "b", "c"], [], ("a", "b", "c")),
    (["a", "b", "c"], [("c", "a")], ("b", "c", "a")),
    (["a", "b"], [("a", "b"), ("b", "a")], None),  # a cycle
    (["a", "b"], [("a", "zz")], ("a", "b")),  # an edge to an unknown step is ignored
])
def test_topological(names, edges, expected):
    assert topological(names, tuple(Edge(a, b, ()) for a, b in edges)) == expected
