"""After a run that discovered dependencies: key its results as the next plan will.

A discovered dependency (DESIGN rule 10) can give a step a new output: the
producer of `random:numpy`, or of an input a later step changed, now outputs
it, and outputs are part of a step's key. The step saved that value in this
run already (its runtime stores every generator it moved and every name it
bound), so the next run's plan would re-run it only to store the same bytes
under another key ("outputs changed"). Instead, once the run has finished,
each entry of this run whose ingredients differ from the next plan's only in
the outputs (and in file inputs it was found to read, with the very bytes it
read), and which holds every one of those outputs, is committed again under
the new key: the next run of an unchanged notebook is fully cached, as "What a
cache hit promises" asks.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpipe_jupyter.cache.serializers import FILE_FORMAT
from mlpipe_jupyter.cache.store import ArtifactRef

from .planner import RUN, plan
from .verify import FILE

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
            if entry is None or not _same_but_discovered(entry, decision.ingredients):
                continue
            if not all(_holds(entry, var) for var in decision.ingredients.outputs):
                continue
            outputs = {**entry.outputs, **_file_refs(entry, decision.ingredients.outputs)}
            store.commit(replace(
                entry, step_key=decision.key, ingredients=decision.ingredients, outputs=outputs,
            ))
            done.append(name)
            changed = True
        if not changed:
            break
    return done


def _file_refs(entry: CacheEntry, outputs: tuple[str, ...]) -> dict[str, ArtifactRef]:
    """`file:PATH` outputs as refs to the bytes the step wrote (a static file output's shape)."""
    sizes = {fact.path: fact.size for fact in entry.files_written}
    refs = {}
    for var in outputs:
        path = var[len(FILE):]
        if var.startswith(FILE) and var not in entry.outputs and path in sizes:
            refs[var] = ArtifactRef(entry.written_keys[path], FILE_FORMAT, sizes[path], "file")
    return refs


def _holds(entry: CacheEntry, var: str) -> bool:
    """The entry saved `var`: a value, or (`file:PATH`) the bytes of a file it wrote."""
    if var.startswith(FILE) and var not in entry.outputs:
        path = var[len(FILE):]
        return path in entry.written_keys and any(f.path == path for f in entry.files_written)
    return var in entry.outputs


def _same_but_discovered(entry: CacheEntry, ingredients: Any) -> bool:
    """The ingredients are the entry's but for its outputs and for file inputs it was
    found to read at run time, with exactly the bytes it read (file artifact key ==
    the sha256 of the file's bytes)."""
    if entry.ingredients is None:
        return False
    old, new = entry.ingredients.to_json(), ingredients.to_json()
    old_inputs, new_inputs = old.pop("inputs", {}), new.pop("inputs", {})
    old.pop("outputs", None)
    new.pop("outputs", None)
    if old != new:
        return False
    read = {fact.path: fact.sha256 for fact in entry.files_read}
    for var, source in new_inputs.items():
        if var in old_inputs:
            if old_inputs[var]["key"] != source["key"]:
                return False
        elif not (var.startswith(FILE) and read.get(var[len(FILE):]) == source["key"]):
            return False
    return set(old_inputs) <= set(new_inputs)
