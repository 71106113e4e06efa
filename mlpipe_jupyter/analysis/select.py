"""Which steps a partial run names: dbt's selection grammar over a `Pipeline` (pure).

- `STEP`: the step; it runs even when cached (it was asked for).
- `+STEP`: the step and every step it needs; those run only on a cache miss.
- `STEP+`: the step and every step downstream of it, all run even when cached.
- `+STEP+`: both. Several terms, in one string separated by spaces or as a
  list, are a union; `exclude` terms (same grammar) are taken away after.
- `only=STEP`: that step alone (no other term may be given).
- `from_=STEP` is `STEP+`, `until=STEP` is `+STEP`.

Steps left out are skipped ("not selected"); the planner reuses their cache
entries for the selected steps that read them, and refuses a selection whose
steps read an output that is neither selected nor cached (`planner.plan`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlpipe_jupyter.errors import BadInput

if TYPE_CHECKING:
    from .model import Pipeline

REASON_NOT_SELECTED = "not selected"


@dataclass(frozen=True)
class Selection:
    """The steps a selection keeps, in topological order; `forced` run even when cached."""

    steps: tuple[str, ...]
    forced: frozenset[str] = frozenset()
    expression: str = ""  # as the user wrote it, for messages ("" when everything)

    def __contains__(self, name: object) -> bool:
        return name in self.steps

    @property
    def everything(self) -> bool:
        """No selection was asked for: every step, cache rules as usual."""
        return not self.expression


Terms = str | Iterable[str] | None


def terms(value: Terms) -> list[str]:
    """`"+a b+"` or `["+a", "b+"]` -> `["+a", "b+"]` (spaces and commas separate)."""
    if value is None:
        return []
    parts = [value] if isinstance(value, str) else list(value)
    return [t for part in parts for t in str(part).replace(",", " ").split() if t]


def select(
    pipeline: Pipeline,
    expression: Terms = None,
    *,
    exclude: Terms = None,
    only: Terms = None,
    from_: Terms = None,
    until: Terms = None,
) -> Selection:
    """The `Selection` these options name; every step when none is given.

    Raises `BadInput` (one line) for an unknown step, naming the closest one,
    for `only` beside other terms, and for a selection that leaves nothing.
    """
    chosen = terms(expression) + [f"{t}+" for t in terms(from_)]
    chosen += [f"+{t}" for t in terms(until)]
    alone, dropped = terms(only), terms(exclude)
    order = pipeline.order or pipeline.topological_order()
    if not chosen and not alone and not dropped:
        return Selection(tuple(order))
    if alone and chosen:
        raise BadInput("--only runs one step alone: give it without --select, --from or --until")
    if alone:
        for name in alone:
            _known(pipeline, name, "--only")
        keep, forced = set(alone), set(alone)
    elif chosen:
        keep, forced = _expand(pipeline, chosen, "--select")
    else:  # only --exclude: every other step, cache rules as usual
        keep, forced = set(order), set()
    for term in dropped:
        gone, _ = _expand(pipeline, [term], "--exclude")
        keep -= gone
        forced -= gone
    written = " ".join(chosen or [f"--only {n}" for n in alone])
    if dropped:
        written += " --exclude " + " ".join(dropped)
    if not keep:
        raise BadInput(f"the selection '{written}' leaves no step to run")
    return Selection(tuple(n for n in order if n in keep), frozenset(forced), written)


def _expand(pipeline: Pipeline, chosen: list[str], option: str) -> tuple[set[str], set[str]]:
    keep: set[str] = set()
    forced: set[str] = set()
    for term in chosen:
        up, down = term.startswith("+"), term.endswith("+") and len(term) > 1
        name = term[1 if up else 0: len(term) - 1 if down else len(term)]
        _known(pipeline, name, option, term)
        keep.add(name)
        forced.add(name)
        if up:
            keep.update(pipeline.ancestors(name))
        if down:
            below = pipeline.descendants(name)
            keep.update(below)
            forced.update(below)
    return keep, forced


def _known(pipeline: Pipeline, name: str, option: str, term: str | None = None) -> None:
    names = [s.name for s in pipeline.steps]
    if name in names:
        return
    where = f" in {option} '{term}'" if term and term != name else f" in {option}"
    if not names:
        raise BadInput(f"unknown step '{name}'{where}: this notebook has no %%step cells")
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.0)
    hint = f"; the closest is '{close[0]}'" if close else ""
    raise BadInput(f"unknown step '{name}'{where}{hint} (steps: {', '.join(names)})")
