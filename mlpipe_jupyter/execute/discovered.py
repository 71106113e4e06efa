"""Dependencies found at run time, kept per notebook so the next plan has them up front.

A run that finds a dependency the plan missed (DESIGN rule 10, `verify.py`)
records it as an `Edge` in `<store>/deps/<notebook id>.json` (written
atomically). The next run plans on `with_discovered(pipeline, edges)`: the
pipeline with those edges added, so the reader waits for the writer from
the start, reads a changed input from the step that changed it, and the
order stays topological with ties broken by notebook order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from mlpipe_jupyter.analysis.model import Edge, topological

from .verify import FILE, RANDOM

if TYPE_CHECKING:
    from mlpipe_jupyter.analysis.model import Pipeline, Step
    from mlpipe_jupyter.cache.store import Store

VERSION = 1


def carried_generators() -> frozenset[str]:
    """The global generators whose state the step runtime carries between steps."""
    try:
        from mlpipe_jupyter.analysis.hidden import CARRIED
    except ImportError:
        return frozenset()
    return frozenset(CARRIED)


def deps_path(store: Store, notebook: Path) -> Path:
    """`<store>/deps/<id>.json`: the id is the notebook's path relative to the folder of the
    store's records (`.mlpipe`'s parent), so two copies of a project share it."""
    notebook = Path(notebook).resolve()
    home = Path(store.records_root).resolve().parent
    try:
        name = notebook.relative_to(home).as_posix().replace("/", "--")
    except ValueError:
        digest = hashlib.sha256(str(notebook).encode()).hexdigest()[:12]
        name = f"{notebook.name}-{digest}"
    return store.root / "deps" / f"{name}.json"


def load(store: Store, notebook: Path) -> tuple[Edge, ...]:
    """The dependencies earlier runs of `notebook` discovered (none if unreadable)."""
    try:
        data = json.loads(store.read_bytes(deps_path(store, notebook)).decode("utf-8"))
        return tuple(
            Edge(str(d["from"]), str(d["to"]), (str(d["var"]),)) for d in data["deps"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return ()


def save(store: Store, notebook: Path, found: Iterable[Edge]) -> None:
    """Add `found` to the notebook's recorded dependencies (nothing written if none is new)."""
    known = {(e.source, e.target, v) for e in load(store, notebook) for v in e.vars}
    merged = known | {(e.source, e.target, v) for e in found for v in e.vars}
    if merged == known:
        return
    deps = [{"from": a, "to": b, "var": v} for a, b, v in sorted(merged)]
    # the notebook by name only: a store shared by a team holds no one's folders
    record = {"version": VERSION, "notebook": Path(notebook).name, "deps": deps}
    store.write_json(deps_path(store, notebook), record)


def with_discovered(
    pipeline: Pipeline, found: Iterable[Edge], carried: Iterable[str] = ()
) -> Pipeline:
    """`pipeline` with the discovered dependencies as edges (the `Edge` shape of the analysis).

    Each makes the reader read the edge's name from the edge's source, which
    then outputs it, as the analysis does for what it sees statically: a
    `file:PATH` (the runtime stores the file and puts it back; the reader's key
    covers its bytes), a changed input (a name the reader reads), or a
    `random:GEN` for the generators in `carried` (another `random:GEN` only
    orders the steps). Edges to unknown steps, against notebook order, or that
    would make a cycle are dropped: verification finds them again if real.
    """
    position = {s.name: i for i, s in enumerate(pipeline.steps)}
    steps = {s.name: s for s in pipeline.steps}
    labels = {(e.source, e.target): set(e.vars) for e in pipeline.edges}
    carried = set(carried)
    for edge in found:
        a, b = edge.source, edge.target
        if a not in position or b not in position or position[a] >= position[b]:
            continue
        for var in edge.vars:
            if var.startswith(RANDOM):
                moves = var[len(RANDOM):] in carried
            else:
                moves = var.startswith(FILE) or var in steps[b].reads
            if moves:
                old = steps[b].producers().get(var)
                if old == a:
                    continue
                steps[b] = _reads_from(steps[b], var, a)
                steps[a] = replace(steps[a], outputs=tuple(sorted({*steps[a].outputs, var})))
                if old is not None and (old, b) in labels:
                    labels[(old, b)].discard(var)
            labels.setdefault((a, b), set()).add(var)
    after_only = {(e.source, e.target) for e in pipeline.edges if not e.vars}
    pairs = sorted(labels, key=lambda pair: (position[pair[0]], position[pair[1]]))
    edges = tuple(
        Edge(a, b, tuple(sorted(labels[(a, b)])))
        for a, b in pairs if labels[(a, b)] or (a, b) in after_only
    )
    order = topological(list(position), edges)
    if order is None:
        return pipeline
    return replace(
        pipeline, steps=tuple(steps[s.name] for s in pipeline.steps), edges=edges, order=order
    )


def _reads_from(step: Step, var: str, producer: str) -> Step:
    inputs = dict(step.inputs)
    inputs[var] = producer
    return replace(
        step, inputs=tuple(sorted(inputs.items())), reads=tuple(sorted({*step.reads, var})),
    )
