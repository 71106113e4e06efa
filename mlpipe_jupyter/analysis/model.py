"""Frozen facts about a notebook and the pipeline it describes.

These dataclasses are the contract between the analysis and everything built on
it (compile, cache, execute, server, magics). They carry no behaviour beyond
serialisation; the analysis fills them in, the rest only reads them.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

#: A cell's role in the pipeline.
SETUP = "setup"  # untagged code before the first step: every step runs it
PARAMS = "params"  # `%%params` or a cell tagged `parameters`
STEP = "step"  # a `%%step NAME` cell
STEP_BODY = "step-body"  # an untagged code cell after a step: belongs to it
SKIP = "skip"  # tagged `mlpipe:skip`, or a control cell (`%pipeline`, `%load_ext`)
IGNORED = "ignored"  # markdown and raw cells


@dataclass(frozen=True)
class Cell:
    """One notebook cell as read from disk or from an unsaved model."""

    index: int
    kind: str  # "code" | "markdown" | "raw"
    source: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepOptions:
    """The options of a `%%step` line, validated."""

    after: tuple[str, ...] = ()
    gpu: int = 0
    cpu: float | None = None
    memory: int | None = None  # bytes
    retries: int = 0
    timeout: float | None = None  # seconds
    cache: bool = True
    outputs: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()  # --inputs: files (paths or globs) no analysis can see
    kernel: str | None = None  # --kernel: the Jupyter kernelspec it runs on (None: default)
    metrics: tuple[str, ...] = ()  # --metrics: variables whose final values are metrics
    # issue 25 (analysis/uses.py): --uses NOTEBOOK.ipynb:STEP | NAME@VERSION:STEP, as written;
    # the sha256 of what that notebook contributes (written by uses.expand); --rename OLD=NEW;
    # --param NAME=VALUE (VALUE as written)
    uses: str = ""
    uses_digest: str = ""
    renames: tuple[tuple[str, str], ...] = ()
    uses_params: tuple[tuple[str, str], ...] = ()

    def resources(self) -> dict[str, float]:
        """The Dask worker resources this step asks for (empty: any worker)."""
        wanted: dict[str, float] = {}
        if self.gpu:
            wanted["GPU"] = self.gpu
        if self.cpu:
            wanted["CPU"] = self.cpu
        if self.memory:
            wanted["MEMORY"] = self.memory
        return wanted


@dataclass(frozen=True)
class AnalysisError:
    """One problem that stops the notebook from being a pipeline.

    `cell` is the 0-based cell index; the message says "cell N" 1-based,
    as a person counts.
    """

    message: str
    step: str | None = None
    cell: int | None = None

    def __str__(self) -> str:
        where = []
        if self.step is not None:
            where.append(f"step '{self.step}'")
        if self.cell is not None:
            where.append(f"cell {self.cell + 1}")
        prefix = " ".join(where)
        if self.step is not None and self.cell is not None:
            prefix = f"step '{self.step}' (cell {self.cell + 1})"
        return f"{prefix}: {self.message}" if prefix else self.message

    def to_json(self) -> dict[str, Any]:
        return {"message": str(self), "step": self.step, "cell": self.cell}


@dataclass(frozen=True)
class Step:
    """A step: its code and the names that flow in and out of it."""

    name: str
    cell: int  # index of the `%%step` cell
    cells: tuple[int, ...]  # the `%%step` cell and the untagged cells after it
    source: str  # the step's code, magic line removed, its cells joined
    options: StepOptions
    reads: tuple[str, ...]  # names taken from upstream steps, sorted
    binds: tuple[str, ...]  # names bound or re-bound at top level, sorted
    params: tuple[str, ...]  # parameters read, sorted
    outputs: tuple[str, ...]  # binds that a later step reads, plus --outputs, sorted
    inputs: tuple[tuple[str, str], ...] = ()  # (name, producer step), sorted by name
    nondeterministic: str | None = None  # why its results vary run to run (rule 9), if they do
    file_reads: tuple[str, ...] = ()  # files it reads at constant paths (rule 8)
    file_writes: tuple[str, ...] = ()  # files it writes at constant paths

    def producers(self) -> dict[str, str]:
        return dict(self.inputs)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    vars: tuple[str, ...]  # empty for a pure `--after` edge


@dataclass(frozen=True)
class Pipeline:
    """A notebook read as a pipeline. `errors` empty means it can run."""

    steps: tuple[Step, ...]  # notebook order
    edges: tuple[Edge, ...]
    params: dict[str, Any]  # name -> literal default, notebook order
    params_source: str = ""
    params_cell: int | None = None
    setup_source: str = ""  # the setup cells' code joined, magics stripped
    setup_cells: tuple[int, ...] = ()
    setup_names: frozenset[str] = frozenset()
    errors: tuple[AnalysisError, ...] = ()
    warnings: tuple[str, ...] = ()
    order: tuple[str, ...] = ()  # topological, ties by notebook order
    cells: tuple[Cell, ...] = field(default=(), repr=False)
    roles: tuple[str, ...] = field(default=(), repr=False)  # per cell: SETUP, STEP, ...

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    # -- queries: the graph's facts, computed here only ------------------------------

    def names(self) -> tuple[str, ...]:
        """The steps' names in notebook order."""
        return tuple(s.name for s in self.steps)

    def parents(self, name: str) -> tuple[str, ...]:
        """The steps `name` depends on directly (edges into it), in notebook order."""
        self._known(name)
        return self._sorted({e.source for e in self.edges if e.target == name})

    def children(self, name: str) -> tuple[str, ...]:
        """The steps that depend on `name` directly, in notebook order."""
        self._known(name)
        return self._sorted({e.target for e in self.edges if e.source == name})

    def ancestors(self, name: str) -> tuple[str, ...]:
        """Every step `name` depends on, directly or not, in topological order."""
        return self._closure(name, self.parents)

    def descendants(self, name: str) -> tuple[str, ...]:
        """Every step that depends on `name`, directly or not, in topological order."""
        return self._closure(name, self.children)

    def downstream(self, name: str) -> list[str]:
        """Every step that depends on `name`, directly or not, in `order`."""
        return list(self.descendants(name))

    def topological_order(self) -> tuple[str, ...]:
        """Every step after the steps it depends on, ties by notebook order.

        The notebook order when the edges make a cycle (the analysis reports it).
        """
        found = topological(self.names(), self.edges)
        return self.names() if found is None else found

    def select(self, expression: str | list[str] | tuple[str, ...] = (), **options: Any) -> Any:
        """The steps a selection names (dbt's grammar, see `analysis.select.select`)."""
        from .select import select

        return select(self, expression, **options)

    def _known(self, name: str) -> None:
        if all(s.name != name for s in self.steps):
            raise KeyError(name)

    def _sorted(self, names: set[str]) -> tuple[str, ...]:
        position = {s.name: i for i, s in enumerate(self.steps)}
        return tuple(sorted(names, key=position.__getitem__))

    def _closure(self, name: str, step: Any) -> tuple[str, ...]:
        found: set[str] = set()
        todo = list(step(name))
        while todo:
            other = todo.pop()
            if other not in found:
                found.add(other)
                todo.extend(step(other))
        found.discard(name)
        return tuple(n for n in (self.order or self.topological_order()) if n in found)

    def to_json(self) -> dict[str, Any]:
        """The DAG json of DESIGN.md, plus `warnings` and `errors`."""
        return {
            "steps": [
                {
                    "name": s.name,
                    "cell": s.cell,
                    "reads": list(s.reads),
                    "binds": list(s.binds),
                    "outputs": list(s.outputs),
                    "params": list(s.params),
                    "resources": {
                        "cpu": s.options.cpu,
                        "gpu": s.options.gpu,
                        "memory": s.options.memory,
                    },
                    "retries": s.options.retries,
                    "timeout": s.options.timeout,
                    "cache": s.options.cache,
                    "kernel": s.options.kernel,
                    "after": list(s.options.after),
                    "cells": list(s.cells),
                    "nondeterministic": s.nondeterministic,
                    "file_reads": list(s.file_reads),
                    "file_writes": list(s.file_writes),
                    **({"uses": s.options.uses, "uses_digest": s.options.uses_digest}
                       if s.options.uses else {}),
                }
                for s in self.steps
            ],
            "edges": [
                {"from": e.source, "to": e.target, "vars": list(e.vars)} for e in self.edges
            ],
            "params": dict(self.params),
            "order": list(self.order),
            "warnings": list(self.warnings),
            "errors": [e.to_json() for e in self.errors],
        }


def topological(
    names: tuple[str, ...] | list[str], edges: tuple[Edge, ...]
) -> tuple[str, ...] | None:
    """`names` with each after its edges' sources, ties by the order of `names`; None on a cycle."""
    position = {n: i for i, n in enumerate(names)}
    parents: dict[str, set[str]] = {n: set() for n in names}
    for edge in edges:
        if edge.target in parents and edge.source in parents:
            parents[edge.target].add(edge.source)
    waiting = {n: len(p) for n, p in parents.items()}
    children: dict[str, list[str]] = {n: [] for n in names}
    for child, ps in parents.items():
        for parent in ps:
            children[parent].append(child)
    ready = [(position[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    done: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        done.append(name)
        for child in children[name]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (position[child], child))
    return tuple(done) if len(done) == len(names) else None
