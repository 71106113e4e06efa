"""A miss is explained against the entry with the nearest ingredients, not the newest."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mlpipe_jupyter.cache.keys import KeyIngredients
from mlpipe_jupyter.cache.store import CacheEntry, Store
from mlpipe_jupyter.execute.planner import _why_run


def entry(store: Store, ingredients: KeyIngredients, created: float, origin: str) -> None:
    store.commit(CacheEntry(ingredients.key(), ingredients.step, {}, created=created,
                            origin=origin, ingredients=ingredients))


def test_reason_names_the_one_real_change(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    base = KeyIngredients(step="train_lr", code="c1", setup="s1", params={"lr": 0.1},
                          inputs={"X": ("load", "k1"), "model_rf": ("train_rf", "m1")})
    entry(store, base, 1.0, "pipeline")  # the cached pipeline result
    # a newer interactive entry made with another upstream model and another lr
    other = replace(base, params={"lr": 0.5}, inputs={**base.inputs, "model_rf": ("train_rf", "m2")})
    entry(store, other, 2.0, "interactive")
    edited = replace(base, code="c2")  # the user edits train_lr only
    assert store.latest_for_step("train_lr").origin == "interactive"
    assert store.nearest_for_step("train_lr", edited).origin == "pipeline"
    assert _why_run(store, "train_lr", edited) == "code changed"


def test_ties_go_to_the_newest_and_no_entry_says_so(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    first = KeyIngredients(step="s", code="a", setup="x")
    assert _why_run(store, "s", first) == "no cache entry"
    entry(store, first, 1.0, "pipeline")
    entry(store, replace(first, code="b"), 2.0, "interactive")
    assert store.nearest_for_step("s", replace(first, code="c")).origin == "interactive"
