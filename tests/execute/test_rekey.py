"""rekey: a run that discovered a dependency keys its results as the next plan will."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mlpipe_jupyter.analysis import analyze, cells_from_json
from mlpipe_jupyter.analysis.model import Edge
from mlpipe_jupyter.cache.store import CacheEntry, Store
from mlpipe_jupyter.execute import discovered
from mlpipe_jupyter.execute.planner import CACHED, plan
from mlpipe_jupyter.execute.rekey import rekey

CELLS = [{"source": "import numpy as np\nfrom sklearn.utils import shuffle\nnp.random.seed(0)"},
         {"source": "%%step a\nxs = shuffle([1, 2, 3])"},
         {"source": "%%step b\nys = shuffle([1, 2, 3])\nprint(xs, ys)"}]


def _commit_as_planned(store: Store, pipeline, name: str, outputs: dict) -> str:
    decision = plan(pipeline, store, {}).decisions[name]
    refs = {var: store.put(var, value) for var, value in outputs.items()}
    store.commit(CacheEntry(decision.key, name, refs, ingredients=decision.ingredients))
    return decision.key


def test_an_entry_that_holds_the_new_output_is_committed_under_the_new_key(tmp_path: Path):
    store = Store.open(tmp_path / "store")
    first = analyze(cells_from_json(CELLS))
    # the run: a saved xs and its end random state (as the runtime does), b ran after it
    key_a = _commit_as_planned(store, first, "a", {"xs": [2, 3, 1], "random:numpy": "state"})
    later = discovered.with_discovered(
        first, (Edge("a", "b", ("random:numpy",)),), frozenset({"numpy"})
    )
    assert plan(later, store, {}).decisions["a"].reason == "outputs changed"
    assert rekey(later, store, {}, {"a": key_a}) == ["a"]
    assert plan(later, store, {}).decisions["a"].action == CACHED


def test_an_entry_that_lacks_the_new_output_or_differs_otherwise_is_left(tmp_path: Path):
    store = Store.open(tmp_path / "store")
    first = analyze(cells_from_json(CELLS))
    key_a = _commit_as_planned(store, first, "a", {"xs": [2, 3, 1]})  # no random state saved
    later = discovered.with_discovered(
        first, (Edge("a", "b", ("random:numpy",)),), frozenset({"numpy"})
    )
    assert rekey(later, store, {}, {"a": key_a}) == []
    edited = analyze(cells_from_json([CELLS[0], {"source": CELLS[1]["source"] + "\nz = 1"},
                                      CELLS[2]]))
    entry = store.lookup(key_a)
    store.commit(replace(entry, outputs={**entry.outputs, "random:numpy": store.put("r", 1)}))
    edited = discovered.with_discovered(
        edited, (Edge("a", "b", ("random:numpy",)),), frozenset({"numpy"})
    )
    assert rekey(edited, store, {}, {"a": key_a}) == []  # code changed: a must re-run
