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

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpipe_jupyter.cache.keys import explain, key_ingredients

from .errors import RunInputError

if TYPE_CHECKING:
    from mlpipe_jupyter.analysis.model import Pipeline, Step
    from mlpipe_jupyter.cache.keys import KeyIngredients
    from mlpipe_jupyter.cache.store import CacheEntry, Store

CACHED = "cached"
RUN = "run"
PENDING = "pending"

REASON_UNCHANGED = (
    "cached: code, setup, parameters, inputs, modules, packages and files unchanged"
)
REASON_CUTOFF = "cached: upstream re-ran with identical outputs"
REASON_NO_CACHE = "--no-cache"
REASON_PENDING = "waits for upstream {names}"


@dataclass(frozen=True)
class Decision:
    """What happens to one step, and why."""

    step: str
    action: str  # CACHED | RUN | PENDING
    reason: str
    key: str | None = None
    entry: CacheEntry | None = None  # the cache entry reused when CACHED
    ingredients: KeyIngredients | None = None


@dataclass(frozen=True)
class Plan:
    decisions: dict[str, Decision]  # in pipeline order

    @property
    def all_cached(self) -> bool:
        return all(d.action == CACHED for d in self.decisions.values())

    def needing_run(self) -> list[str]:
        """Steps that run, or may run once their upstream is known."""
        return [name for name, d in self.decisions.items() if d.action != CACHED]


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
) -> Decision:
    """Cached or run, for a step whose input artifact keys are all known.

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
    if no_cache or not step.options.cache:
        return Decision(step.name, RUN, REASON_NO_CACHE, key, None, ingredients)
    entry = store.lookup(key)
    stale = entry_stale(entry, step, store, base) if entry is not None else None
    if stale is not None:
        return Decision(step.name, RUN, stale, key, None, ingredients)
    if entry is not None:
        reason = REASON_CUTOFF if after_upstream_ran else REASON_UNCHANGED
        return Decision(step.name, CACHED, reason, key, entry, ingredients)
    return Decision(step.name, RUN, _why_run(store, step.name, ingredients), key, None, ingredients)


def entry_stale(entry: CacheEntry, step: Step, store: Store, base: Path | None) -> str | None:
    """Why a matching entry no longer holds ("file data.csv changed"); None if it does.

    The one check behind a run's plan and the sidebar's cache state: every
    file the step read is re-stated (rehashed only when its size or mtime
    changed) and every folder it listed re-listed when its mtime changed.
    Files that are key inputs (`file:PATH`, written upstream) are skipped:
    their content is in the key already.
    """
    from mlpipe_jupyter.cache.files import entry_changed

    folder = Path.cwd() if base is None else Path(base)
    skip = [var[len("file:"):] for var in step.reads if var.startswith("file:")]
    return entry_changed(entry, folder, store.hash_dir, skip)


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
) -> Plan:
    """Decide every step whose inputs are known from the cache; the rest are pending.

    `params` are the full parameter values (see `param_values`); `base` the
    notebook's folder (see `decide`).
    """
    decisions: dict[str, Decision] = {}
    outputs: dict[str, dict[str, str]] = {}
    for name in pipeline.order:
        step = pipeline.step(name)
        keys = input_keys(step, outputs)
        if keys is None:
            waiting = sorted({p for _, p in step.inputs if p not in outputs})
            reason = REASON_PENDING.format(names=", ".join(waiting))
            decisions[name] = Decision(name, PENDING, reason)
            continue
        decision = decide(step, pipeline, store, params, keys, no_cache=no_cache, base=base)
        decisions[name] = decision
        if decision.entry is not None:
            outputs[name] = {var: ref.key for var, ref in decision.entry.outputs.items()}
    return Plan(decisions)
