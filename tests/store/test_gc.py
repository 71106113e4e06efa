"""Retention on a real store folder with recorded runs: what stays, what goes, and why."""

from __future__ import annotations

import time

import pytest

import mlpipe_jupyter as mlp
from mlpipe_jupyter import housekeeping
from mlpipe_jupyter.cache import gc
from mlpipe_jupyter.cache.retention import Policy
from mlpipe_jupyter.cache.store import Store
from mlpipe_jupyter.errors import NotFound

from store_helpers import day_run, entry, record_run

DAY = 86400.0


@pytest.fixture
def store(tmp_path) -> Store:
    return Store.open(tmp_path / "st")


def keys(store: Store) -> set[str]:
    return {e.step_key for e in store.entries()}


def test_two_notebooks_with_the_same_step_names_keep_their_latest(store) -> None:
    t0 = time.time() - 10 * DAY
    _, a_old = day_run(store, "a.ipynb", ["load", "report"], 0, t0)
    _, b_old = day_run(store, "b.ipynb", ["load", "report"], 1, t0)
    _, a_new = day_run(store, "a.ipynb", ["load", "report"], 2, t0)
    _, b_new = day_run(store, "b.ipynb", ["load", "report"], 3, t0)
    report = housekeeping.prune(store.root, grace_s=0)
    assert keys(store) == {e.step_key for e in a_new + b_new}
    assert report.entries_removed == 4
    assert {c["project"] for c in report.chosen} == {"a.ipynb", "b.ipynb"}


@pytest.mark.parametrize("policy", [
    Policy(keep_last=2), Policy(older_than_s=5 * DAY), Policy(max_size=60),
    Policy(keep_last=1, older_than_s=3 * DAY),
], ids=["count", "age", "size", "count+age"])
def test_dry_run_says_exactly_what_the_prune_removes(store, policy) -> None:
    t0 = time.time() - 20 * DAY
    for day in range(8):
        day_run(store, "a.ipynb", ["load", "fit"], day, t0)
    before = keys(store)
    planned = housekeeping.prune(store.root, policy, dry_run=True, grace_s=0)
    assert keys(store) == before  # a dry run removes nothing
    done = housekeeping.prune(store.root, policy, grace_s=0)
    assert {c["key"] for c in planned.chosen} == before - keys(store)
    assert done.entries_removed == len(planned.chosen) > 0


def test_a_pinned_run_survives_every_policy(store) -> None:
    t0 = time.time() - 400 * DAY
    pinned_id, pinned = day_run(store, "a.ipynb", ["load", "fit"], 0, t0)
    for day in range(1, 5):
        day_run(store, "a.ipynb", ["load", "fit"], day, t0)
    mlp.get_run(pinned_id, store=store.root).pin("went to production")
    for policy in (Policy(keep_last=1), Policy(older_than_s=1.0), Policy(max_size=0)):
        housekeeping.prune(store.root, policy, grace_s=0)
    assert {e.step_key for e in pinned} <= keys(store)
    assert mlp.get_run(pinned_id, store=store.root)["fit"]["x"] == "a.ipynb-fit-day0"
    assert mlp.store_info(store.root)["pinned"] == [pinned_id]


def test_a_pruned_runs_output_says_it_was_pruned(store) -> None:
    t0 = time.time() - 50 * DAY
    old_id, _ = day_run(store, "a.ipynb", ["fit"], 0, t0)
    day_run(store, "a.ipynb", ["fit"], 49, t0)
    housekeeping.prune(store.root, Policy(older_than_s=30 * DAY), grace_s=0)
    with pytest.raises(NotFound) as caught:
        mlp.get_run(old_id, store=store.root)["fit"]["x"]
    said = str(caught.value)
    assert said.startswith(f"artifact of run {old_id} step fit was pruned on ")
    assert "by the retention policy (unused for 50d)" in said


def test_a_planning_run_blocks_the_sweep_and_a_live_run_keeps_what_it_holds(store) -> None:
    t0 = time.time() - 10 * DAY
    _, old = day_run(store, "a.ipynb", ["fit"], 0, t0)
    _, held = day_run(store, "b.ipynb", ["fit"], 1, t0)
    day_run(store, "a.ipynb", ["fit"], 2, t0)
    day_run(store, "b.ipynb", ["fit"], 3, t0)
    gc.hold(store, "r-planning", None)
    report = housekeeping.prune(store.root, Policy(keep_last=1), grace_s=0)
    assert report.sweep_blocked == "run r-planning is planning"
    assert report.entries_removed == 0 and report.marked == 2
    gc.hold(store, "r-planning", held)  # planned: it will load b's old entry
    report = housekeeping.prune(store.root, Policy(keep_last=1), grace_s=0)
    assert report.entries_removed == 1 and old[0].step_key not in keys(store)
    assert held[0].step_key in keys(store)
    gc.release(store, "r-planning")
    housekeeping.prune(store.root, Policy(keep_last=1), grace_s=0)
    assert held[0].step_key not in keys(store)


def test_marked_entries_wait_for_the_grace_period_and_a_use_saves_them(store) -> None:
    t0 = time.time() - 10 * DAY
    _, first = day_run(store, "a.ipynb", ["fit"], 0, t0)
    _, second = day_run(store, "a.ipynb", ["fit"], 1, t0)
    day_run(store, "a.ipynb", ["fit"], 2, t0)
    report = housekeeping.prune(store.root, Policy(keep_last=1), grace_s=600)
    assert report.marked == 2 and report.entries_removed == 0
    gc._WRITTEN_USE.clear()
    assert store.lookup(second[0].step_key) is not None  # a run takes it: used after the mark
    later = time.time() + 700
    report = housekeeping.prune(store.root, Policy(keep_last=2), grace_s=600, now=later)
    assert first[0].step_key not in keys(store)
    assert second[0].step_key in keys(store)


def test_store_info_sizes_by_notebook_and_step(store) -> None:
    t0 = time.time() - DAY
    entry(store, "a.ipynb", "load", "x" * 1000, t0)
    entry(store, "b.ipynb", "load", "y" * 500, t0)
    info = mlp.store_info(store.root)
    assert info["entries"] == 2 and info["format"] == 2
    assert info["projects"]["a.ipynb"]["bytes"] > info["projects"]["b.ipynb"]["bytes"] > 0
    assert info["projects"]["a.ipynb"]["steps"]["load"]["entries"] == 1


def test_a_year_of_daily_runs_stays_bounded(tmp_path) -> None:
    """365 daily runs of a 5-step pipeline whose data changes every day, with a 30-day
    policy and a size cap, collected after each run (fake clock, small artifacts)."""
    store = Store.open(tmp_path / "st")
    steps = ["load", "clean", "features", "train", "report"]
    t0 = time.time() - 366 * DAY
    runs = []
    policy = Policy(older_than_s=30 * DAY, max_size=400_000)
    for day in range(365):
        run_id, _ = day_run(store, "daily.ipynb", steps, day, t0, payload=None)
        runs.append(run_id)
        if day % 7 == 6 or day == 364:  # a weekly collection, and one on the last day
            housekeeping.prune(store.root, policy, grace_s=0, now=t0 + day * DAY + 3600)
            assert mlp.store_info(store.root)["bytes"] <= 400_000
    info = mlp.store_info(store.root)
    assert info["entries"] == 30 * 5  # the runs of the last 30 days
    for run_id in runs[-30:]:
        assert mlp.get_run(run_id, store=store.root)["report"]["x"].endswith(
            f"day{runs.index(run_id)}")
    with pytest.raises(NotFound, match="was pruned on"):
        mlp.get_run(runs[-40], store=store.root)["report"]["x"]
