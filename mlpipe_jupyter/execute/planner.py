"""Decide, before anything runs, which steps come from the cache.

A step's key needs the artifact keys of its inputs, so the planner walks the
pipeline in order: a step whose producers are all cached gets its key from
their entries and is looked up in the store; a step downstream of one that
must run is "pending", decided by `decide` once its upstream has finished (if
the upstream's output bytes come out identical, the key matches and the step
is still cached: early cutoff). Reading the cache index is plain JSON, so a
no-change rerun is planned without papermill, nbformat or Dask.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpipe_jupyter.cache.keys import explain, key_ingredients

from .errors import RunInputError

if TYPE_CHECKING:
    from mlpipe_jupyter.analysis.model import Pipeline, Step
    from mlpipe_jupyter.analysis.select import Selection
    from mlpipe_jupyter.cache.keys import KeyIngredients
    from mlpipe_jupyter.cache.store import CacheEntry, Store

CACHED = "cached"
RUN = "run"
PENDING = "pending"
SKIPPED = "skipped"  # left out by a selection (`--select`, `--only`...): never runs

REASON_UNCHANGED = (
    "cached: code, setup, parameters, inputs, modules, packages and files unchanged"
)
REASON_CUTOFF = "cached: upstream re-ran with identical outputs"
REASON_NO_CACHE = "--no-cache"
REASON_PENDING = "waits for upstream {names}"
REASON_SELECTED = "selected: runs even when cached"
REASON_NOT_SELECTED = "not selected"


@dataclass(frozen=True)
class Decision:
    """What happens to one step, and why."""

    step: str
    action: str  # CACHED | RUN | PENDING | SKIPPED
    reason: str
    key: str | None = None
    entry: CacheEntry | None = None  # the cache entry reused when CACHED
    ingredients: KeyIngredients | None = None


@dataclass(frozen=True)
class Plan:
    decisions: dict[str, Decision]  # in pipeline order
    forced: frozenset[str] = frozenset()  # selected to run even when cached (`STEP+`, `STEP`)

    @property
    def all_cached(self) -> bool:
        """Nothing to run: every step cached or not selected."""
        return all(d.action in (CACHED, SKIPPED) for d in self.decisions.values())

    def needing_run(self) -> list[str]:
        """Steps that run, or may run once their upstream is known."""
        return [name for name, d in self.decisions.items() if d.action in (RUN, PENDING)]

    def rows(self) -> list[dict[str, Any]]:
        """The plan as a person reads it: per step `run`, `cached` or `skipped` and why.

        A pending step shows as `run` (its upstream runs first; it is still reused if
        that upstream's outputs come out identical).
        """
        return [
            {"step": d.step, "action": RUN if d.action == PENDING else d.action,
             "reason": d.reason, "cache_key": d.key}
            for d in self.decisions.values()
        ]  # fmt: skip

    def for_run(self) -> Plan:
        """The plan as the run-state machine takes it: a step not selected is settled
        (its cache entry, if any, feeds the selected steps that read it)."""
        return Plan({
            n: Decision(n, CACHED, d.reason, d.key, d.entry, d.ingredients)
            if d.action == SKIPPED else d for n, d in self.decisions.items()
        }, self.forced)  # fmt: skip


def plan_text(rows: list[dict[str, Any]], ms: float | None = None) -> str:
    """`Plan.rows()` as `mlpipe run --dry` prints them (and `mlpipe run` first)."""
    counts = {a: sum(r["action"] == a for r in rows) for a in (RUN, CACHED, SKIPPED)}
    took = f" (planned in {ms:g} ms)" if ms is not None else ""
    head = f"plan: {counts[RUN]} to run, {counts[CACHED]} cached, {counts[SKIPPED]}" \
           f" skipped{took}\n"  # fmt: skip
    width = max((len(r["step"]) for r in rows), default=4)
    return head + "".join(
        f"  {r['step'].ljust(width)}  {r['action'].ljust(7)}  {r['reason']}\n" for r in rows
    )


def param_values(pipeline: Pipeline, overrides: dict[str, Any]) -> dict[str, Any]:
    """The notebook's parameter defaults with `overrides` applied; unknown names refused."""
    unknown = sorted(set(overrides) - set(pipeline.params))
    if unknown:
        known = ", ".join(pipeline.params) or "none (add a %%params cell)"
        raise RunInputError(
            f"unknown parameter '{unknown[0]}'; this notebook's parameters are: {known}"
        )
    return {**pipeline.params, **overrides}


def input_keys(step: Step, outputs: dict[str, dict[str, str]]) -> dict[str, str] | None:
    """The artifact key of each input, from the producers' known outputs; None if unknown.

    `outputs` maps a finished step to `{var: artifact key}`.
    """
    keys = {}
    for var, producer in step.inputs:
        known = outputs.get(producer)
        if known is None or var not in known:
            return None
        keys[var] = known[var]
    return keys


def decide(
    step: Step,
    pipeline: Pipeline,
    store: Store,
    params: dict[str, Any],
    inputs: dict[str, str],
    *,
    no_cache: bool = False,
    after_upstream_ran: bool = False,
    base: Path | None = None,
    forced: bool = False,
) -> Decision:
    """Cached or run, for a step whose input artifact keys are all known.

    `forced`: the selection asks it to run even when cached (`REASON_SELECTED`).

    `base` is the notebook's folder (default: the current one): local modules,
    `--inputs` and the files an entry read are found from it. An entry whose
    key matches is used only while the files it read are unchanged.
    """
    try:
        ingredients = key_ingredients(
            step, pipeline, params, inputs, base=base, store_dir=store.hash_dir
        )
    except ValueError as exc:
        raise RunInputError(str(exc)) from None
    key = ingredients.key()
    if forced:
        return Decision(step.name, RUN, REASON_SELECTED, key, None, ingredients)
    if no_cache or not step.options.cache:
        return Decision(step.name, RUN, REASON_NO_CACHE, key, None, ingredients)
    # the one lookup and validity check, shared with the live kernel (cache/validity.py)
    from mlpipe_jupyter.cache.validity import find_entry

    entry, stale = find_entry(store, ingredients, step.reads, base,
                              opaque_ok=step.options.cache == "always")
    if stale is not None:
        return Decision(step.name, RUN, stale, key, None, ingredients)
    if entry is not None:
        reason = REASON_CUTOFF if after_upstream_ran else REASON_UNCHANGED
        return Decision(step.name, CACHED, reason, entry.step_key, entry, ingredients)
    return Decision(step.name, RUN, _why_run(store, step.name, ingredients), key, None, ingredients)


def entry_stale(entry: CacheEntry, step: Step, store: Store, base: Path | None) -> str | None:
    """Why a matching entry no longer holds ("file data.csv changed"); None if it does.

    The one check behind a run's plan and the sidebar's cache state: every
    file the step read is re-stated (rehashed only when its size or mtime
    changed) and every folder it listed re-listed when its mtime changed.
    Files that are key inputs (`file:PATH`, written upstream) are skipped:
    their content is in the key already.
    """
    from mlpipe_jupyter.cache.validity import entry_stale as stale

    return stale(entry, step.reads, store, base)


def _why_run(store: Store, step: str, ingredients: KeyIngredients) -> str:
    latest = store.nearest_for_step(step, ingredients)
    if latest is None or latest.ingredients is None:
        return "no cache entry"
    reason = explain(latest.ingredients, ingredients)
    if reason == "unchanged":
        return "cache entry unusable (an artifact is missing or truncated)"
    return reason


def plan(
    pipeline: Pipeline,
    store: Store,
    params: dict[str, Any],
    no_cache: bool = False,
    base: Path | None = None,
    selection: Selection | None = None,
) -> Plan:
    """Decide every step whose inputs are known from the cache; the rest are pending.

    `params` are the full parameter values (see `param_values`); `base` the
    notebook's folder (see `decide`). With a `selection` (analysis/select.py)
    the steps it leaves out are `SKIPPED` (their cache entries still feed the
    selected steps), its forced steps run even when cached, and a selected step
    that reads an output neither selected nor cached is a `RunInputError`
    naming the steps to run first.
    """
    decisions: dict[str, Decision] = {}
    outputs: dict[str, dict[str, str]] = {}
    for name in pipeline.order:
        step = pipeline.step(name)
        chosen = selection is None or name in selection
        keys = input_keys(step, outputs)
        if keys is None:
            waiting = sorted({p for _, p in step.inputs if p not in outputs})
            reason = REASON_PENDING.format(names=", ".join(waiting))
            decisions[name] = Decision(
                name, PENDING if chosen else SKIPPED, reason if chosen else REASON_NOT_SELECTED
            )
            continue
        decision = decide(
            step, pipeline, store, params, keys, no_cache=no_cache and chosen, base=base,
            forced=selection is not None and name in selection.forced,
        )
        if not chosen:
            decision = Decision(name, SKIPPED, REASON_NOT_SELECTED, decision.key,
                                decision.entry, decision.ingredients)  # fmt: skip
        decisions[name] = decision
        if decision.entry is not None:
            outputs[name] = {var: ref.key for var, ref in decision.entry.outputs.items()}
    if selection is not None:
        _check_selected_inputs(pipeline, decisions, selection)
    return Plan(decisions, selection.forced if selection is not None else frozenset())


def _check_selected_inputs(
    pipeline: Pipeline, decisions: dict[str, Decision], selection: Selection
) -> None:
    """`RunInputError` when a selected step reads what neither the run nor the cache has."""
    for name in selection.steps:
        for var, producer in pipeline.step(name).inputs:
            if producer in selection or decisions[producer].entry is not None:
                continue
            first = [a for a in (*pipeline.ancestors(producer), producer)
                     if a not in selection and decisions[a].entry is None]  # fmt: skip
            raise RunInputError(
                f"step '{name}' reads {var} from step '{producer}', which is not selected"
                f" and not in the cache: run {', '.join(first)} first (--until {producer}),"
                f" or select '+{name}'"
            )


def plan_run(
    pipeline: Pipeline,
    store: Store,
    notebook: Path,
    params: dict[str, Any] | None = None,
    *,
    no_cache: bool = False,
    select: Any = None,
    exclude: Any = None,
    only: Any = None,
    forced: bool = True,
) -> tuple[Pipeline, Plan]:
    """The plan a run of `notebook` makes now: the one function behind a run, `--dry`,
    `Pipeline.plan` and the sidebar's cache states.

    `params` are overrides of the notebook's defaults; the dependencies earlier runs
    discovered are added first (DESIGN rule 10). Returns the pipeline so completed
    and its plan; nothing runs, no cluster or kernel starts. `forced=False` (a retry):
    the selected steps are reused when cached, as the rest.
    """
    from . import discovered

    values = param_values(pipeline, dict(params or {}))
    pipeline = discovered.with_discovered(
        pipeline, discovered.load(store, notebook), discovered.carried_generators()
    )
    selection = pipeline.select(select, exclude=exclude, only=only)
    if not forced:
        selection = replace(selection, forced=frozenset())
    the_plan = plan(
        pipeline, store, values, no_cache=no_cache, base=Path(notebook).resolve().parent,
        selection=None if selection.everything else selection,
    )
    return pipeline, the_plan
