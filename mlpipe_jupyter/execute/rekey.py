"""After a run that discovered dependencies: key its results as the next plan will.

A discovered dependency (DESIGN rule 10) can give a step a new output: the
producer of `random:numpy`, or of an input a later step changed, now outputs
it, and outputs are part of a step's key. The step saved that value in this
run already (its runtime stores every generator it moved and every name it
bound), so the next run's plan would re-run it only to store the same bytes
under another key ("outputs changed"). Instead, once the run has finished,
each entry of this run whose ingredients differ from the next plan's *only*
in the outputs, and which holds every one of those outputs, is committed
again under the new key: the next run of an unchanged notebook is fully
cached, as "What a cache hit promises" asks.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .planner import RUN, plan

if TYPE_CHECKING:
    from mlpipe_jupyter.analysis.model import Pipeline
    from mlpipe_jupyter.cache.store import CacheEntry, Store


def rekey(
    pipeline: Pipeline,
    store: Store,
    params: dict[str, Any],
    keys: dict[str, str],
    base: Path | None = None,
) -> list[str]:
    """Re-commit this run's entries under the keys `pipeline` (with its new edges) gives.

    `keys` maps each step that succeeded in this run to the cache key its
    entry was committed under. Returns the steps re-keyed, in order.
    """
    done: list[str] = []
    for _ in range(len(pipeline.order)):  # each pass can make the next step's inputs known
        the_plan = plan(pipeline, store, params, base=base)
        changed = False
        for name, decision in the_plan.decisions.items():
            if decision.action != RUN or decision.ingredients is None or name not in keys:
                continue
            entry = store.lookup(keys[name])
            if entry is None or not _only_outputs_differ(entry, decision.ingredients):
                continue
            if not set(decision.ingredients.outputs) <= set(entry.outputs):
                continue
            store.commit(replace(entry, step_key=decision.key, ingredients=decision.ingredients))
            done.append(name)
            changed = True
        if not changed:
            break
    return done


def _only_outputs_differ(entry: CacheEntry, ingredients: Any) -> bool:
    if entry.ingredients is None:
        return False
    old, new = entry.ingredients.to_json(), ingredients.to_json()
    old.pop("outputs", None)
    new.pop("outputs", None)
    return old == new
