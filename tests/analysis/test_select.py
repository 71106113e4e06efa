"""The selection grammar (dbt's), table-tested on the pure `select` (no store, no cluster).

The planner's side (not-selected steps skipped, an upstream input not cached refused)
is in tests/execute/test_select_plan.py.
"""

from __future__ import annotations

import pytest

from mlpipe_jupyter.analysis import analyze, cells_from_json
from mlpipe_jupyter.errors import BadInput

#  load -> prep -> train -> evaluate ; prep -> report ; side alone
CELLS = [
    "%%step load\nraw = 1",
    "%%step prep\ndf = raw + 1",
    "%%step side\nz = 3",
    "%%step train\nmodel = df * 2",
    "%%step report\nprint(df)",
    "%%step evaluate\nscore = model + df",
]
P = analyze(cells_from_json([{"source": c} for c in CELLS]))

CASES = [
    # (options, selected steps in order, forced)
    ({}, "load prep side train report evaluate", ""),
    ({"expression": "train"}, "train", "train"),
    ({"expression": "+train"}, "load prep train", "train"),
    ({"expression": "prep+"}, "prep train report evaluate", "prep train report evaluate"),
    ({"expression": "+train+"}, "load prep train evaluate", "train evaluate"),
    ({"expression": "side train+"}, "side train evaluate", "side train evaluate"),
    ({"expression": ["side", "+report"]}, "load prep side report", "side report"),
    ({"expression": "side,report"}, "side report", "side report"),
    ({"expression": "prep+", "exclude": "report"}, "prep train evaluate", "prep train evaluate"),
    ({"expression": "+evaluate", "exclude": "+prep"}, "train evaluate", "evaluate"),
    ({"exclude": "side"}, "load prep train report evaluate", ""),
    ({"only": "train"}, "train", "train"),
    ({"from_": "train"}, "train evaluate", "train evaluate"),
    ({"until": "train"}, "load prep train", "train"),
    ({"from_": "train", "until": "report"}, "load prep train report evaluate",
     "train report evaluate"),
]


@pytest.mark.parametrize(("options", "steps", "forced"), CASES,
                         ids=[repr(c[0]) for c in CASES])
def test_grammar(options, steps, forced):
    selection = P.select(**options)
    assert selection.steps == tuple(steps.split())
    assert selection.forced == frozenset(forced.split())
    assert selection.everything == (not options)


ERRORS = [
    ({"expression": "trian"}, "unknown step 'trian' in --select; the closest is 'train' (steps:"),
    ({"expression": "+trian+"}, "unknown step 'trian' in --select '+trian+'; the closest is"
                                " 'train'"),
    ({"exclude": "reprot"}, "unknown step 'reprot' in --exclude; the closest is 'report'"),
    ({"only": "evalute"}, "unknown step 'evalute' in --only; the closest is 'evaluate'"),
    ({"only": "train", "expression": "prep"}, "--only runs one step alone"),
    ({"expression": "train", "exclude": "train"}, "the selection 'train --exclude train'"
                                                 " leaves no step to run"),
]


@pytest.mark.parametrize(("options", "message"), ERRORS, ids=[repr(e[0]) for e in ERRORS])
def test_bad_selection_is_one_line_naming_the_closest_step(options, message):
    with pytest.raises(BadInput) as caught:
        P.select(**options)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
