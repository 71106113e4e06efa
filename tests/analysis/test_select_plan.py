"""The selection on the pure planner (a store, no kernel, no cluster): what each step of a
partial run does and why, as `--dry` shows it and the run does it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlpipe_jupyter.analysis import analyze, cells_from_json
from mlpipe_jupyter.cache.keys import key_ingredients
from mlpipe_jupyter.cache.store import CacheEntry, Store
from mlpipe_jupyter.errors import BadInput
from mlpipe_jupyter.execute.planner import param_values, plan, plan_run

#  load -> prep -> train -> evaluate ; prep -> report
CELLS = [
    "%%step load\nraw = 1",
    "%%step prep\ndf = raw + 1",
    "%%step train\nmodel = df * 2",
    "%%step report\nprint(df)",
    "%%step evaluate\nscore = model + df",
]
P = analyze(cells_from_json([{"source": c} for c in CELLS]))
VALUES = {"load": {"raw": 1}, "prep": {"df": 2}, "train": {"model": 4}}


def cached(tmp_path: Path, *names: str) -> Store:
    """A store holding the entries of `names` (each with its upstream's artifact keys)."""
    store = Store.open(tmp_path / "store")
    keys: dict[str, str] = {}
    for name in names:
        step = P.step(name)
        inputs = {var: keys[var] for var, _ in step.inputs}
        ingredients = key_ingredients(step, P, {}, inputs, base=tmp_path)
        refs = {var: store.put(var, value) for var, value in VALUES[name].items()}
        keys.update({var: ref.key for var, ref in refs.items()})
        store.commit(CacheEntry(ingredients.key(), name, refs, ingredients=ingredients))
    return store


def actions(store: Store, tmp_path: Path, **options) -> str:
    the_plan = plan(P, store, param_values(P, {}), base=tmp_path,
                    selection=P.select(**options) if options else None)
    return " ".join(f"{r['step']}={r['action']}" for r in the_plan.rows())


CASES = [
    # (cached steps, selection, what each step does)
    ("", {}, "load=run prep=run train=run report=run evaluate=run"),
    ("load prep train", {}, "load=cached prep=cached train=cached report=run evaluate=run"),
    # +x: upstream only on a cache miss, x itself runs
    ("load prep train", {"expression": "+train"},
     "load=cached prep=cached train=run report=skipped evaluate=skipped"),
    ("load", {"expression": "+train"},
     "load=cached prep=run train=run report=skipped evaluate=skipped"),
    # x+: x and everything downstream forced
    ("load prep train", {"expression": "prep+"},
     "load=skipped prep=run train=run report=run evaluate=run"),
    # +x+
    ("load prep train", {"expression": "+train+"},
     "load=cached prep=cached train=run report=skipped evaluate=run"),
    # union, exclude
    ("load prep train", {"expression": "report train"},
     "load=skipped prep=skipped train=run report=run evaluate=skipped"),
    ("load prep train", {"expression": "prep+", "exclude": "report"},
     "load=skipped prep=run train=run report=skipped evaluate=run"),
    # --only with its upstream cached
    ("load prep train", {"only": "evaluate"},
     "load=skipped prep=skipped train=skipped report=skipped evaluate=run"),
    # --from / --until
    ("load prep train", {"until": "prep"},
     "load=cached prep=run train=skipped report=skipped evaluate=skipped"),
]


@pytest.mark.parametrize(("warm", "options", "expected"), CASES,
                         ids=[f"{c[0] or 'empty'}|{c[1]}" for c in CASES])
def test_selection_plan(tmp_path, warm, options, expected):
    store = cached(tmp_path, *warm.split())
    assert actions(store, tmp_path, **options) == expected


def test_left_out_steps_are_skipped_not_selected(tmp_path):
    store = cached(tmp_path, "load", "prep")
    rows = plan(P, store, {}, base=tmp_path, selection=P.select("train")).rows()
    assert [r["reason"] for r in rows if r["action"] == "skipped"] == ["not selected"] * 4
    assert rows[2]["reason"] == "selected: runs even when cached"


@pytest.mark.parametrize(("warm", "options", "message"), [
    ("", {"only": "train"}, "step 'train' reads df from step 'prep', which is not selected and"
     " not in the cache: run load, prep first (--until prep), or select '+train'"),
    ("load", {"only": "train"}, "step 'train' reads df from step 'prep', which is not selected"
     " and not in the cache: run prep first (--until prep), or select '+train'"),
    ("load prep", {"expression": "evaluate"}, "step 'evaluate' reads model from step 'train',"
     " which is not selected and not in the cache: run train first"),
])
def test_an_input_neither_selected_nor_cached_names_the_steps_to_run_first(
        tmp_path, warm, options, message):
    store = cached(tmp_path, *warm.split())
    with pytest.raises(BadInput) as caught:
        plan(P, store, {}, base=tmp_path, selection=P.select(**options))
    assert str(caught.value).startswith(message)


def test_plan_run_is_what_a_run_plans_and_a_retry_is_not_forced(tmp_path):
    nb = tmp_path / "nb.ipynb"
    nb.write_text("{}")
    store = cached(tmp_path, "load", "prep", "train")
    _, forced = plan_run(P, store, nb, {}, select="+train")
    _, retry = plan_run(P, store, nb, {}, select="+train", forced=False)
    assert forced.decisions["train"].action == "run"
    assert retry.decisions["train"].action == "cached"
    assert retry.decisions["evaluate"].action == "skipped"


def test_the_sidebar_states_are_the_plan(tmp_path):
    """One implementation: the sidebar's cache states and `--dry` come from `plan_run`."""
    from mlpipe_jupyter import service
    from mlpipe_jupyter.request import RunRequest
    from mlpipe_jupyter.server.cache_state import step_states

    nb = tmp_path / "nb.ipynb"
    nb.write_text("{}")
    store = cached(tmp_path, "load", "prep")
    states = step_states(P, store.root, tmp_path, nb)
    rows = service.plan(RunRequest.build(nb, store=store.root), pipeline=P)["steps"]
    assert {r["step"] for r in rows if r["action"] == "cached"} == {
        name for name, s in states.items() if s["state"] == "cached"} == {"load", "prep"}
    assert states["train"]["state"] == "never" and states["evaluate"]["state"] == "never"
