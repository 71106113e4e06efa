"""The planner decides from the cache index alone: no kernel, no cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlpipe_jupyter.analysis import analyze, cells_from_json
from mlpipe_jupyter.cache.keys import key_ingredients
from mlpipe_jupyter.cache.store import CacheEntry, Store
from mlpipe_jupyter.execute.errors import RunInputError
from mlpipe_jupyter.execute.planner import CACHED, PENDING, RUN, param_values, plan

CELLS = [
    "import math",
    "%%params\nlr = 0.1",
    "%%step load\nraw = [1, 2]",
    "%%step train\nmodel = sum(raw) * lr",
    "%%step report --no-cache\nprint(model)",
]


def pipeline(*cells: str):  # noqa: ANN201
    return analyze(cells_from_json([{"source": c} for c in (cells or CELLS)]))


def cache(store: Store, pipe, name: str, params: dict, inputs: dict, outputs: dict) -> None:  # noqa: ANN001
    ingredients = key_ingredients(pipe.step(name), pipe, params, inputs)
    refs = {var: store.put(var, value) for var, value in outputs.items()}
    store.commit(CacheEntry(ingredients.key(), name, refs, ingredients=ingredients))


def test_empty_store_runs_roots_and_leaves_the_rest_pending(tmp_path: Path) -> None:
    pipe = pipeline()
    decisions = plan(pipe, Store.open(tmp_path), param_values(pipe, {})).decisions
    assert [(d.action, d.reason) for d in decisions.values()] == [
        (RUN, "no cache entry"),
        (PENDING, "waits for upstream load"),
        (PENDING, "waits for upstream train"),
    ]


def test_cached_upstream_gives_downstream_keys(tmp_path: Path) -> None:
    pipe, store = pipeline(), Store.open(tmp_path)
    params = param_values(pipe, {})
    cache(store, pipe, "load", params, {}, {"raw": [1, 2]})
    raw_key = store.put("raw", [1, 2]).key
    cache(store, pipe, "train", params, {"raw": raw_key}, {"model": 0.3})
    the_plan = plan(pipe, store, params)
    assert [d.action for d in the_plan.decisions.values()] == [CACHED, CACHED, RUN]
    assert the_plan.decisions["report"].reason == "--no-cache"
    assert the_plan.needing_run() == ["report"]
    assert not the_plan.all_cached


def test_parameter_change_is_the_reason(tmp_path: Path) -> None:
    pipe, store = pipeline(), Store.open(tmp_path)
    cache(store, pipe, "load", param_values(pipe, {}), {}, {"raw": [1, 2]})
    raw_key = store.put("raw", [1, 2]).key
    cache(store, pipe, "train", param_values(pipe, {}), {"raw": raw_key}, {"model": 0.3})
    decisions = plan(pipe, store, param_values(pipe, {"lr": 0.2})).decisions
    assert decisions["load"].action == CACHED
    assert (decisions["train"].action, decisions["train"].reason) == (RUN, "parameter lr changed")


def test_no_cache_runs_everything_that_is_decidable(tmp_path: Path) -> None:
    pipe, store = pipeline(), Store.open(tmp_path)
    cache(store, pipe, "load", param_values(pipe, {}), {}, {"raw": [1, 2]})
    decisions = plan(pipe, store, param_values(pipe, {}), no_cache=True).decisions
    assert (decisions["load"].action, decisions["load"].reason) == (RUN, "--no-cache")


def test_unknown_parameter_names_the_known_ones() -> None:
    with pytest.raises(RunInputError, match="unknown parameter 'lrr'; .* are: lr"):
        param_values(pipeline(), {"lrr": 1})
