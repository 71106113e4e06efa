"""Whether a cache entry may be reused: the one lookup and the one validity check.

A pipeline run (`execute/planner.py`) and a live kernel's `%%step` cell
(`magics/interactive.py`) both call `find_entry` with the ingredients that
`cache.keys.key_ingredients` gave them, so an entry is reused by either path
exactly when the other would reuse it:

1. the entry stored under the step's key; failing that, an entry of the same
   step whose ingredients are the same in everything but `outputs` (which
   names later steps read: a fact of the whole notebook, which a kernel that
   has run only part of it cannot know) and that holds every output this
   caller needs, the newest such;
2. `entry_stale`: every file the step read (its setup included) is re-stated,
   rehashed only when its size or mtime changed, and every folder it listed is
   re-listed when its mtime changed (`cache/files.py`). Modules, packages,
   Python and the kernel are ingredients of the key itself (`cache/modules.py`,
   `cache/kernelenv.py`), so a change there is a different key.

`explain_miss` says why nothing was reused, against the entry of the step with
the nearest ingredients ("file data.csv changed", "setup changed"), or None
when the step has never been cached.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from .keys import KeyIngredients
    from .store import CacheEntry, Store


def entry_stale(entry: CacheEntry, reads: Iterable[str], store: Store,
                base: Path | None, *, opaque_ok: bool = False) -> str | None:
    """Why a matching entry no longer holds ("file data.csv changed"); None if it does.

    `reads` are the names the step reads (its analysis' `Step.reads`): files that
    are key inputs (`file:PATH`, written upstream) are skipped, their content is
    in the key already. `base` is the notebook's folder (default: the current one).
    `opaque_ok`: an entry whose reads were not fully watched may be reused (the step
    declares its inputs or says `--cache always`).
    """
    from .files import entry_changed

    from .ambient import identity_changed

    folder = Path.cwd() if base is None else Path(base)
    skip = [var[len("file:"):] for var in reads if var.startswith("file:")]
    return (entry_changed(entry, folder, store.hash_dir, skip, opaque_ok=opaque_ok)
            or identity_changed(getattr(entry, "identity", None), folder))  # issue 20


def _sans_outputs(ingredients: KeyIngredients) -> str:
    return replace(ingredients, outputs=()).key()


def find_entry(store: Store, ingredients: KeyIngredients, reads: Iterable[str],
               base: Path | None, needs: Iterable[str] | None = None, *,
               scan: bool = False, opaque_ok: bool = False,
               ) -> tuple[CacheEntry | None, str | None]:
    """(the entry to reuse, None), or (None, why a matching entry does not hold), or
    (None, None) when no entry matches the key.

    `needs` are the outputs the caller must get from the entry (default: the
    ingredients' own outputs). An entry with other outputs is found through the
    pointer a kernel writes with its entries (`note_entry`), and with `scan`
    (the kernel, whose outputs rarely equal a pipeline's) among all the step's.
    """
    reads = tuple(reads)
    wanted = set(ingredients.outputs if needs is None else needs)
    entry = store.lookup(ingredients.key())
    if entry is None:
        entry = _same_but_outputs(store, ingredients, wanted, scan)
    if entry is None:
        return None, None
    # declared inputs (`--inputs`) vouch for an opaque step's reads (issue 20)
    stale = entry_stale(entry, reads, store, base, opaque_ok=opaque_ok or bool(ingredients.files))
    return (None, stale) if stale is not None else (entry, None)


def _pointer(store: Store, ingredients: KeyIngredients) -> Any:
    return store.cache_dir / "sans-outputs" / f"{_sans_outputs(ingredients)}.json"


def note_entry(store: Store, entry: CacheEntry) -> None:
    """Point the entry's ingredients without outputs at it (after `Store.commit`), so a
    pipeline run whose steps' outputs differ finds it without scanning the index."""
    if entry.ingredients is not None:
        store.write_json(_pointer(store, entry.ingredients), {"step_key": entry.step_key})


def _usable(entry: CacheEntry | None, ingredients: KeyIngredients, wanted: set[str]) -> bool:
    return (entry is not None and entry.ingredients is not None
            and entry.step == ingredients.step and wanted <= set(entry.outputs)
            and _sans_outputs(entry.ingredients) == _sans_outputs(ingredients))


def _same_but_outputs(store: Store, ingredients: KeyIngredients,
                      wanted: set[str], scan: bool) -> CacheEntry | None:
    """The newest entry of the step with these ingredients but other `outputs`, that
    holds every output in `wanted` (and whose artifacts are all there)."""
    import json

    try:
        pointer = json.loads(store.read_bytes(_pointer(store, ingredients)).decode("utf-8"))
        entry = store.lookup(str(pointer["step_key"]))
    except (OSError, ValueError, KeyError, TypeError):
        entry = None
    if _usable(entry, ingredients, wanted) or not scan:
        return entry if _usable(entry, ingredients, wanted) else None
    found = None
    for entry in store.entries():  # oldest first: the last match wins
        if _usable(entry, ingredients, wanted):
            found = entry
    return store.lookup(found.step_key) if found is not None else None


def explain_miss(store: Store, ingredients: KeyIngredients) -> str | None:
    """Why the step's key matches no entry, against the nearest entry of the step; None
    when the step has no entry at all."""
    from .keys import explain

    nearest = store.nearest_for_step(ingredients.step, ingredients)
    if nearest is None or nearest.ingredients is None:
        return None
    # outputs differ between a kernel's and a pipeline's keys of the same step by design
    reason = explain(replace(nearest.ingredients, outputs=ingredients.outputs), ingredients)
    return None if reason == "unchanged" else reason


def checked(entry: CacheEntry, ingredients: KeyIngredients, base: Path | None) -> str:
    """What a reuse checked, for the line that says so: "code, setup, parameters, inputs,
    files (data.csv), modules unchanged (run of 2026-12-07 10:42)"."""
    import time

    parts = ["code", "setup"]
    if ingredients.params:
        parts.append("parameters")
    if ingredients.inputs:
        parts.append("inputs")
    files = [f.path for f in entry.files_read] + list(ingredients.files)
    if files:
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        parts.append(f"files ({shown})")
    if entry.dirs_listed:
        parts.append("folders (" + ", ".join(f.path for f in entry.dirs_listed[:3]) + ")")
    parts.append("modules")
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.created))
    origin = "run" if entry.origin == "pipeline" else "kernel run"
    return f"{', '.join(parts)} unchanged ({origin} of {when})"
