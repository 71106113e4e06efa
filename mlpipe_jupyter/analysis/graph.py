"""Cells -> `Pipeline`: DESIGN.md's dataflow rules 1-7 over per-cell facts.

Rule 7: a function's free names are read by the step that calls it (or passes it
on), from that step's place: `_Flow.functions` holds the functions bound so far
in notebook order (setup first), and `_with_calls` adds, for each one a step
uses, the free names it reads and changes when called, transitively.

The only module that imports networkx (lazily: it costs ~0.3 s). Never raises for
notebook content: every problem becomes an `AnalysisError` in `Pipeline.errors`.
"""

from __future__ import annotations

import ast
import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from .ambient import SettingsFlow
from .files import FileFlow
from .hidden import HiddenState
from .model import AnalysisError, Cell, Edge, Pipeline, Step, topological
from .notebook import read_cells
from .roles import CodePart, Layout, StepBlock, classify, join_sources, parse_params, syntax_error
from .visitor import _HISTORY, IPYTHON_NAMES, CellFacts, FunctionFacts, cell_facts


def analyze_notebook(path: str | Path) -> Pipeline:
    """`analyze(read_cells(path))`; NotebookError for a missing or invalid file.

    `%%step ... --uses NB:STEP` cells are resolved against the notebook's folder first
    (analysis/uses.py, issue 25)."""
    return analyze_at(read_cells(path), path)


def analyze_at(cells: list[Cell], path: str | Path) -> Pipeline:
    """`analyze(cells)` of the notebook at `path` (saved or not), `--uses` resolved from
    its folder (issue 25)."""
    if not any("--uses" in cell.source for cell in cells):
        return analyze(cells)
    from .uses import clashes, expand

    cells, errors, prefix = expand(cells, path, analyze)
    pipeline = analyze(cells)
    errors = [*errors, *clashes(pipeline, prefix)]
    if not errors:
        return pipeline
    return replace(pipeline, errors=tuple(sorted([*pipeline.errors, *errors], key=_error_key)))


def analyze(cells: list[Cell]) -> Pipeline:
    """The pipeline a notebook describes; problems are collected in `errors`."""
    with _gc_paused():
        return _analyze(list(cells))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Analysis makes many short-lived, acyclic objects (AST nodes); the cyclic GC's
    passes over a big heap (a Jupyter server's) would cost more than the analysis."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _analyze(cells: list[Cell]) -> Pipeline:
    layout = classify(cells)
    params, param_errors = parse_params(layout.params)
    setup_names, setup_stars, setup_errors = _setup_names(layout)
    flow = _Flow(params=params, setup_names=setup_names, setup_stars=bool(setup_stars),
                 hidden=HiddenState.after_setup(tuple(p.python for p in layout.setup)),
                 files=FileFlow.after_setup(tuple(p.python for p in layout.setup), params),
                 settings=SettingsFlow(setup=tuple(p.python for p in layout.setup)))
    flow.errors.extend([*layout.errors, *param_errors, *setup_errors])
    flow.functions.update(_setup_functions(layout))
    for block in layout.steps:
        flow.add(block)
    steps = flow.finish()
    edges = _edges(steps, flow)
    order = _order(steps, edges, flow.errors)
    return Pipeline(
        steps=steps,
        edges=edges,
        params=params,
        params_source=join_sources(layout.params),
        params_cell=layout.params[0].cell if layout.params else None,
        setup_source=join_sources(layout.setup),
        setup_cells=tuple(p.cell for p in layout.setup),
        setup_names=frozenset(setup_names),
        errors=tuple(sorted(flow.errors, key=_error_key)),
        warnings=tuple(flow.warnings),
        order=order,
        cells=tuple(cells),
        roles=layout.roles,
    )


def _error_key(error: AnalysisError) -> tuple[int, str]:
    return (-1 if error.cell is None else error.cell, error.message)


def block_facts(parts: tuple[CodePart, ...], step: str | None,
                errors: list[AnalysisError]) -> CellFacts | None:
    """Facts of the parts' code run one after another; None (and an error per bad
    cell) on syntax errors."""
    result = _facts_of(tuple(p.python for p in parts))
    if isinstance(result, CellFacts):
        return result
    for position, line, message in result:
        errors.append(syntax_error(line, message, parts[position].cell, step))
    return None


@lru_cache(maxsize=4096)
def _facts_of(pythons: tuple[str | None, ...]) -> CellFacts | tuple[tuple[int, int, str], ...]:
    """Memoised by code: re-analysing an edited notebook re-parses only what changed."""
    body: list[ast.stmt] = []
    problems: list[tuple[int, int, str]] = []
    for position, python in enumerate(pythons):
        if python is None:
            continue
        try:
            body.extend(ast.parse(python).body)
        except SyntaxError as exc:
            problems.append((position, exc.lineno or 1, exc.msg))
        except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, deep nesting
            problems.append((position, 1, str(exc) or type(exc).__name__))
    if problems:
        return tuple(problems)
    try:
        return cell_facts(ast.Module(body=body, type_ignores=[]))
    except RecursionError:
        return ((0, 1, "the code is nested too deeply to analyse; split the expression"),)


def _setup_names(layout: Layout) -> tuple[set[str], tuple[str, ...], list[AnalysisError]]:
    """Names the setup binds, the modules it star-imports, and its syntax errors."""
    errors: list[AnalysisError] = []
    facts = block_facts(layout.setup, None, errors)
    if facts is None:
        return set(), (), errors
    return set(facts.binds), facts.star_imports, errors


def _setup_functions(layout: Layout) -> dict[str, FunctionFacts]:
    """The functions and classes the setup defines (its facts are memoised)."""
    facts = block_facts(layout.setup, None, [])
    return {f.name: f for f in facts.functions} if facts is not None else {}


@dataclass
class _Flow:
    """Rules 1-4, step by step in notebook order."""

    params: dict[str, Any]
    setup_names: set[str]
    setup_stars: bool = False  # setup has `from m import *`: an unknown name may be from it
    producers: dict[str, str] = field(default_factory=dict)  # name -> latest binder
    errors: list[AnalysisError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    blocks: list[tuple[StepBlock, dict[str, str], list[str], list[str]]] = field(
        default_factory=list)
    names: set[str] = field(default_factory=set)
    functions: dict[str, FunctionFacts] = field(default_factory=dict)  # name -> latest def
    broken: bool = False  # an earlier step could not be parsed: its binds are unknown
    hidden: HiddenState = field(default_factory=HiddenState)  # rule 9: random state
    files: FileFlow = field(default_factory=FileFlow)  # rule 8: files between steps
    settings: SettingsFlow = field(default_factory=SettingsFlow)  # process-wide settings
    passthrough: dict[str, tuple[str, ...]] = field(default_factory=dict)  # step -> names

    def add(self, block: StepBlock) -> None:
        where = {"step": block.name, "cell": block.cell}
        if block.name in self.names:
            self.errors.append(AnalysisError(
                f"duplicate step name '{block.name}'; give each %%step a unique name", **where))
            return
        self.names.add(block.name)
        facts = block_facts(block.parts, block.name, self.errors)
        if facts is None:
            self.broken = True
            self.blocks.append((block, {}, [], []))
            return
        facts = self._with_calls(facts)
        facts = self._with_formula_calls(block, facts)
        self._warn_star_imports(block, facts)
        inputs, params = self._reads(block, facts)
        self.passthrough[block.name] = facts.passthrough
        pythons = tuple(p.python for p in block.parts)
        binds = self._binds(block, facts, self.settings.handled(pythons))
        self.warnings.extend(self.hidden.step(
            block.name, block.cell, pythons, inputs, binds))
        self.warnings.extend(self.settings.step(block.name, block.cell, pythons, inputs, binds))
        self.files.step(block.name, tuple(p.python for p in block.parts), inputs, binds)
        self.blocks.append((block, inputs, params, binds))
        for name in binds:
            self.producers[name] = block.name
        own = {f.name: f for f in facts.functions}
        for name in facts.binds:
            if name in own:
                self.functions[name] = own[name]
            else:
                self.functions.pop(name, None)

    def _with_calls(self, facts: CellFacts) -> CellFacts:
        """Rule 7: the free names of the earlier functions the code uses are deferred reads
        unless the code bound them before the use; those they change are changed here."""
        reads: dict[str, None] = {}
        changes: dict[str, None] = {}
        later = set(facts.used_later)
        for used, bound in facts.uses:
            if used not in self.functions:
                continue
            local, todo, seen = set(bound), [used], set()
            while todo:
                function = self.functions.get(todo.pop())
                if function is None or function.name in seen:
                    continue
                seen.add(function.name)
                for name in function.reads:
                    if name not in local:
                        reads[name] = None
                        todo.append(name)
                if used not in later:  # called now, not only inside a function body
                    changes.update(dict.fromkeys(function.changes))
        for called, roots in facts.calls:  # arguments the called function changes
            function = self.functions.get(called)
            for position in function.changes_args if function is not None else ():
                if position < len(roots) and roots[position]:
                    changes[roots[position]] = None  # type: ignore[index]
        known = set(facts.reads) | set(facts.deferred)
        new_reads = tuple(n for n in reads if n not in known)
        new_changes = tuple(n for n in changes if n not in facts.mutates)
        if not new_reads and not new_changes:
            return facts
        return replace(facts, deferred=facts.deferred + new_reads,
                       mutates=facts.mutates + new_changes)

    def _with_formula_calls(self, block: StepBlock, facts: CellFacts) -> CellFacts:
        """A string that calls a function an earlier step defined (`"y ~ double_it(x)"`, a
        patsy/formulaic formula, `df.eval`) reads that function: top to bottom the formula
        finds it in the kernel's namespace (issue 21)."""
        candidates = {n for n in self.functions if n in self.producers}
        if not candidates:
            return facts
        found: dict[str, None] = {}
        for part in block.parts:
            for text in _string_constants(part.python):
                for name in _CALLED.findall(text):
                    if name in candidates and name not in facts.binds:
                        found[name] = None
        known = set(facts.reads) | set(facts.deferred)
        new = tuple(n for n in found if n not in known)
        return replace(facts, deferred=facts.deferred + new) if new else facts

    def _reads(self, block: StepBlock, facts: CellFacts) -> tuple[dict[str, str], list[str]]:
        inputs: dict[str, str] = {}
        params: list[str] = []
        for name in facts.reads:
            if name in self.producers:
                inputs[name] = self.producers[name]
            elif name in self.params:
                params.append(name)
            elif name in self.setup_names:
                continue
            elif not (self.broken or self.setup_stars or facts.star_imports):
                self.errors.append(AnalysisError(
                    f"name '{name}' is read but nothing before it binds it; define it in"
                    " an earlier step or in setup", step=block.name, cell=block.cell))
        for name in facts.deferred:
            if name in self.producers:
                inputs[name] = self.producers[name]
            elif name in self.params:  # e.g. rebound on some paths only: keep the default
                params.append(name)
        return inputs, params

    def _warn_star_imports(self, block: StepBlock, facts: CellFacts) -> None:
        for module in facts.star_imports:
            self.warnings.append(
                f"step '{block.name}' (cell {block.cell + 1}): `from {module} import *` binds"
                " names the analysis cannot see, so no later step gets them; import it in"
                " setup, or import the names you use")

    def _binds(self, block: StepBlock, facts: CellFacts,
               handled: frozenset[str] = frozenset()) -> list[str]:
        # a `_name` is a name like any other (issue 21): bound here and read later, an edge;
        # read only here, no output (and not kept: stepnb). IPython's own (`_`, `_3`) are not.
        binds = [n for n in facts.binds if not _ipython(n)]
        for name in facts.mutates:
            if _ipython(name):
                continue
            if name in self.setup_names and name not in self.producers \
                    and name not in facts.binds:
                if name in facts.assigns_into and name not in handled:  # ambient.py's own
                    self.warnings.append(
                        f"step '{block.name}' (cell {block.cell + 1}): assigns into setup name"
                        f" '{name}'; later steps will not see that change (every step runs"
                        " setup afresh) — move it into setup or bind a new name")
                continue
            binds.append(name)
        return sorted(set(binds))

    def finish(self) -> tuple[Step, ...]:
        """The steps; a pass-through input (`passthrough`) no later step needs is dropped,
        so a name bound in a loop body of two steps is no edge (nor an output to save)."""
        read_later: set[tuple[str, str]] = set()
        for block, inputs, _params, _binds in reversed(self.blocks):
            for name in self.passthrough.get(block.name, ()):
                if name in inputs and (name, block.name) not in read_later \
                        and name not in block.options.outputs:
                    del inputs[name]
            read_later.update(inputs.items())
        return tuple(self._step(b, i, p, bs, read_later) for b, i, p, bs in self.blocks)

    def _step(self, block: StepBlock, inputs: dict[str, str], params: list[str],
              binds: list[str], read_later: set[tuple[str, str]]) -> Step:
        outputs = {n for n in binds if (n, block.name) in read_later}
        for name in block.options.outputs:
            if name in binds:
                outputs.add(name)
            elif binds or not self.broken:
                self.errors.append(AnalysisError(
                    f"--outputs {name}: the step does not bind '{name}'; assign it in"
                    " the step or remove it from --outputs", step=block.name, cell=block.cell))
        return Step(
            name=block.name,
            cell=block.cell,
            cells=tuple(p.cell for p in block.parts),
            source=block.source,
            options=block.options,
            reads=tuple(sorted(inputs)),
            binds=tuple(binds),
            params=tuple(sorted(set(params))),
            outputs=tuple(sorted(outputs)),
            inputs=tuple(sorted(inputs.items())),
            nondeterministic=self.hidden.reasons.get(block.name),
            file_reads=self.files.reads.get(block.name, ()),
            file_writes=self.files.writes.get(block.name, ()),
        )


_CALLED = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*\(")


def _string_constants(source: str) -> list[str]:
    """The string literals of some Python code ([] when it does not parse)."""
    import ast

    if "(" not in source:
        return []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    return [n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and "(" in n.value]


def _ipython(name: str) -> bool:
    """A name IPython binds itself (`_`, `__`, `_i`, `_3`): never a step's value."""
    return name in IPYTHON_NAMES or bool(_HISTORY.match(name))


def _edges(steps: tuple[Step, ...], flow: _Flow) -> tuple[Edge, ...]:
    position = {s.name: i for i, s in enumerate(steps)}
    labels: dict[tuple[str, str], set[str]] = {}
    for step in steps:
        for var, producer in step.inputs:
            labels.setdefault((producer, step.name), set()).add(var)
        for other in step.options.after:
            if other in position:
                labels.setdefault((other, step.name), set())
            else:
                flow.errors.append(AnalysisError(
                    f"--after {other}: there is no step named '{other}'; use one of"
                    f" {', '.join(sorted(position)) or '(no steps)'}",
                    step=step.name, cell=step.cell))
    for reader, writer in flow.files.order:  # rule 8: a later writer waits for the readers
        labels.setdefault((reader, writer), set())
    ordered = sorted(labels, key=lambda pair: (position[pair[0]], position[pair[1]]))
    return tuple(Edge(a, b, tuple(sorted(labels[(a, b)]))) for a, b in ordered)


def _lexicographic_order(position: dict[str, int],
                         edges: tuple[Edge, ...]) -> tuple[str, ...] | None:
    """networkx's `lexicographical_topological_sort` keyed by notebook position, without
    importing networkx (`model.topological`: Kahn's, ties in notebook order); None on a
    cycle."""
    return topological(sorted(position, key=position.__getitem__), edges)


def _order(steps: tuple[Step, ...], edges: tuple[Edge, ...],
           errors: list[AnalysisError]) -> tuple[str, ...]:
    """Topological order, ties broken by notebook order; notebook order if cyclic."""
    position = {s.name: i for i, s in enumerate(steps)}
    ordered = _lexicographic_order(position, edges)
    if ordered is not None:
        return ordered
    import networkx as nx  # a cycle only: networkx names it (importing it costs ~0.2 s)

    graph = nx.DiGraph()
    graph.add_nodes_from(position)
    graph.add_edges_from((e.source, e.target) for e in edges)
    cycle = [a for a, _b in nx.find_cycle(graph)]
    first = min(cycle, key=position.__getitem__)
    start = cycle.index(first)
    names = cycle[start:] + cycle[:start] + [first]
    errors.append(AnalysisError(
        f"steps form a cycle: {' -> '.join(names)}; remove an --after that points"
        " to a later step", step=first, cell=steps[position[first]].cell))
    return tuple(position)
