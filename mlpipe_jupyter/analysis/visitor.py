"""One cell's code -> `CellFacts`: the names it reads, binds and mutates.

Statements are visited in execution order at the cell's top level; nested scopes
(functions, lambdas, classes, comprehensions) are summarised by scopes.py.
Conditional code is tracked: a name bound only on some paths (`if`, loop
bodies, `try`) and read afterwards is a *deferred* read, like the free names of
the functions the cell defines (rule 7: a function reads them when it is called,
so a name only a later step binds is no error), and like builtins: the graph
turns them into reads only where an earlier step produces the name.

Rule 6: a method call changes its receiver wherever it stands (`first =
rng.integers(9)`, `f(items.pop())`), as do the calls `scopes.call_changes` knows.
Rule 7: the cell records the functions (and classes) it defines with the free
names they read and change when called (`functions`), and each name it takes
from outside with the names it had bound by then (`uses`); the graph resolves a
called upstream function's free names from the calling step's place.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass

from .scopes import (
    COMPREHENSIONS,
    FUNCTIONS,
    ScopeFacts,
    annotations,
    bound_names,
    call_changes,
    root_name,
    scope_facts,
)

IPYTHON_NAMES = frozenset(
    {"display", "get_ipython", "In", "Out", "exit", "quit", "_", "__", "___",
     "_i", "_ii", "_iii", "_ih", "_oh", "_dh", "_sh", "__name__", "__doc__",
     "__builtins__", "__file__"}
)
BUILTIN_NAMES = frozenset(dir(builtins))
_HISTORY = re.compile(r"^_i?\d+$")


def is_ambient(name: str) -> bool:
    """A builtin or an IPython-provided name: available without any step."""
    return name in BUILTIN_NAMES or name in IPYTHON_NAMES or bool(_HISTORY.match(name))


@dataclass(frozen=True)
class FunctionFacts:
    """A function, lambda or class the cell binds: the free names it reads and those it
    changes (in place, or through `global`) when it is called (a class: its methods)."""

    name: str
    reads: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()
    changes_args: tuple[int, ...] = ()  # positions of the arguments it changes in place


@dataclass(frozen=True)
class CellFacts:
    """What one piece of code does with names, at its top level.

    reads: used before the code binds them (statement order).
    binds: bound at top level (first binding order), including `del`.
    mutates: changed in place: `x[k] = v`, `x.a = v`, `del x[k]`, `x.m(...)`.
    assigns_into: the subset of `mutates` changed by subscript/attribute
        assignment or deletion (not by a method call) while not bound here.
    deferred: read only if an earlier step binds them (function free names the
        code binds later, names bound on some paths only or read after such a
        binding, builtins).
    star_imports: modules imported with `from m import *` (their names are unknown).
    functions: the functions/classes bound at top level, as they stand at the end.
    uses: each name used from outside the code (not surely bound by it at that point),
        with the names the code had surely bound at every such use, sorted: a called
        function's free names among them are the code's own (rule 7).
    used_later: the subset of `uses` used only inside function bodies (called, if ever,
        later: what such a function changes is not changed by this code).
    calls: calls of outside functions by name, with the root name of each positional
        argument (None where it has none): an argument the function changes is changed.
    """

    reads: tuple[str, ...] = ()
    binds: tuple[str, ...] = ()
    mutates: tuple[str, ...] = ()
    assigns_into: tuple[str, ...] = ()
    deferred: tuple[str, ...] = ()
    star_imports: tuple[str, ...] = ()
    functions: tuple[FunctionFacts, ...] = ()
    uses: tuple[tuple[str, tuple[str, ...]], ...] = ()
    used_later: tuple[str, ...] = ()
    calls: tuple[tuple[str, tuple[str | None, ...]], ...] = ()
    #: deferred only to pass an upstream value through where no path binds the name (bound
    #: in a loop body, say, and read only after binding there): needed only by later readers
    passthrough: tuple[str, ...] = ()


def cell_facts(code: str | ast.Module) -> CellFacts:
    """Facts of `code` (source text or a parsed module); SyntaxError propagates."""
    tree = ast.parse(code) if isinstance(code, str) else code
    visitor = _TopLevel()
    visitor.block(tree.body)
    return visitor.facts()


class _TopLevel:
    """Visits top-level statements in order, tracking definitely/maybe bound names."""

    def __init__(self) -> None:
        self.definite: set[str] = set()
        self.maybe: set[str] = set()
        self.reads: dict[str, None] = {}
        self.binds: dict[str, None] = {}
        self.mutates: dict[str, None] = {}
        self.assigns_into: dict[str, None] = {}
        self.soft: dict[str, None] = {}
        self.later: dict[str, None] = {}  # function free names not bound before
        self.stars: dict[str, None] = {}  # `from m import *`
        self.functions: dict[str, FunctionFacts] = {}
        self.uses: dict[str, frozenset[str]] = {}
        self.used_now: set[str] = set()
        self.calls: list[tuple[str, tuple[str | None, ...]]] = []
        self._snapshot: frozenset[str] | None = None  # frozenset(self.definite), cached

    def facts(self) -> CellFacts:
        deferred = dict(self.soft)
        # bound on some paths only: where no path binds it, the upstream value flows through
        maybe_bound = [n for n in self.binds if n not in self.definite]
        deferred.update((n, None) for n in maybe_bound)
        reads = dict(self.reads)
        deferred.update(dict.fromkeys(self.later))
        return CellFacts(
            reads=tuple(n for n in reads if not is_ambient(n)),
            binds=tuple(self.binds),
            mutates=tuple(self.mutates),
            assigns_into=tuple(self.assigns_into),
            deferred=tuple(n for n in deferred if n not in reads)
            + tuple(n for n in reads if is_ambient(n) and n not in deferred),
            star_imports=tuple(self.stars),
            functions=tuple(self.functions.values()),
            uses=tuple((n, tuple(sorted(bound))) for n, bound in self.uses.items()),
            used_later=tuple(n for n in self.uses if n not in self.used_now),
            passthrough=tuple(
                n for n in maybe_bound
                if n not in self.uses and n not in self.later
            ),
            calls=tuple(self.calls),
        )

    # -- names -----------------------------------------------------------------
    def load(self, name: str) -> None:
        if name in self.definite:
            if name in self.functions:
                self.call_own(name)
            return
        self.use(name)
        self.used_now.add(name)
        if name in self.maybe:
            self.soft[name] = None
        else:
            self.reads[name] = None

    def load_later(self, name: str) -> None:
        if name in self.definite:
            return
        self.use(name)
        if name not in self.maybe:
            self.later[name] = None

    def call_own(self, name: str) -> None:
        """A function this code defined is used (so maybe called) now: what it changes,
        and what the functions it calls change, is changed here (rule 7)."""
        todo, seen = [name], set()
        while todo:
            function = self.functions.get(todo.pop())
            if function is None or function.name in seen:
                continue
            seen.add(function.name)
            self.mutates.update(dict.fromkeys(function.changes))
            for free in function.reads:
                if free in self.definite:
                    todo.append(free)
                else:
                    self.used_now.add(free)  # an outside function it calls: see `uses`

    def use(self, name: str) -> None:
        before = self.uses.get(name)
        if before is None:  # a full snapshot only at a name's first use: linear, not quadratic
            if self._snapshot is None:
                self._snapshot = frozenset(self.definite)
            self.uses[name] = self._snapshot
        elif not before <= self.definite:
            self.uses[name] = frozenset(n for n in before if n in self.definite)

    def bind(self, name: str, function: FunctionFacts | None = None) -> None:
        self.definite.add(name)
        self.maybe.add(name)
        self.binds[name] = None
        self._snapshot = None
        if function is not None:
            self.functions[name] = function
        else:
            self.functions.pop(name, None)

    def reset(self, definite: set[str]) -> None:
        """Back to the names surely bound before alternative paths."""
        self.definite = definite
        self._snapshot = None

    def mutate(self, node: ast.AST, *, assignment: bool) -> None:
        name = root_name(node)
        if name is None:
            return
        if assignment and name not in self.maybe:
            self.assigns_into[name] = None
        self.mutates[name] = None

    def function(self, name: str, facts: ScopeFacts) -> FunctionFacts:
        return FunctionFacts(name, facts.later, facts.changes, facts.changes_args)

    def call_by_name(self, node: ast.Call) -> None:
        """`f(xs)`: a function defined here that changes its argument changes `xs` now; for
        an outside function the graph decides (`calls`)."""
        name = node.func.id  # type: ignore[attr-defined]
        if name in self.definite:
            function = self.functions.get(name)
            for position in function.changes_args if function is not None else ():
                if position < len(node.args):
                    self.mutate(node.args[position], assignment=True)
            return
        roots = tuple(None if isinstance(a, ast.Starred) else root_name(a) for a in node.args)
        if any(roots):
            self.calls.append((name, roots))

    # -- statements --------------------------------------------------------------
    def block(self, body: list[ast.stmt]) -> None:
        for statement in body:
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        handler = getattr(self, f"do_{type(node).__name__}", None)
        if handler is not None:
            handler(node)
        else:
            self.expressions(node)

    def expressions(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.statement(child)
            else:
                self.expr(child)

    def do_Assign(self, node: ast.Assign) -> None:
        self.expr(node.value)
        if isinstance(node.value, ast.Lambda) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            self.bind(name, self.function(name, scope_facts(node.value)))
            return
        for target in node.targets:
            self.store(target)

    def do_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.expr(node.value)
        self.expr(node.annotation)
        if node.value is not None or not isinstance(node.target, ast.Name):
            self.store(node.target)

    def do_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.load(node.target.id)
            self.expr(node.value)
            self.bind(node.target.id)
        else:
            self.expr(node.target.value)  # type: ignore[attr-defined]
            self.expr(node.value)
            self.mutate(node.target, assignment=True)

    def do_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self.delete(target)

    def delete(self, target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.load(target.id)
            self.bind(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.delete(element)
        else:
            self.expr(target)
            self.mutate(target, assignment=True)

    def do_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.bind(bound_names(alias))
            else:
                self.stars["." * getattr(node, "level", 0) + (getattr(node, "module", "") or "")] = None

    do_ImportFrom = do_Import

    def do_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expr in (*node.decorator_list, *node.args.defaults,
                     *filter(None, node.args.kw_defaults), *annotations(node)):
            self.expr(expr)
        facts = scope_facts(node)
        for name in facts.later:
            self.load_later(name)
        self.bind(node.name, self.function(node.name, facts))

    do_AsyncFunctionDef = do_FunctionDef

    def do_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in (*node.decorator_list, *node.bases, *(k.value for k in node.keywords)):
            self.expr(expr)
        facts = self.nested(node)
        self.bind(node.name, self.function(node.name, facts))

    def do_If(self, node: ast.If) -> None:
        self.expr(node.test)
        self.branches([node.body], [node.orelse])

    def do_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.expr(node.iter)
        before = set(self.definite)
        self.store(node.target)
        self.block(node.body)
        self.reset(set(before))
        self.block(node.orelse)
        self.reset(before)

    do_AsyncFor = do_For

    def do_While(self, node: ast.While) -> None:
        self.expr(node.test)
        before = set(self.definite)
        self.block(node.body)
        self.reset(set(before))
        self.block(node.orelse)
        self.reset(before)

    def do_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.expr(item.context_expr)
            if item.optional_vars is not None:
                self.store(item.optional_vars)
        self.block(node.body)

    do_AsyncWith = do_With

    def do_Try(self, node: ast.Try) -> None:
        paths = [[*node.body, *node.orelse]]
        paths.extend([handler] for handler in node.handlers)  # type: ignore[misc]
        self.branches(*([p] for p in paths)) if node.handlers else self.block(paths[0])
        self.block(node.finalbody)

    do_TryStar = do_Try

    def do_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.expr(node.type)
        if node.name:
            self.bind(node.name)
        self.block(node.body)

    def do_Match(self, node: ast.Match) -> None:
        self.expr(node.subject)
        before = set(self.definite)
        for case in node.cases:
            self.reset(set(before))
            self.pattern(case.pattern)
            if case.guard is not None:
                self.expr(case.guard)
            self.block(case.body)
        self.reset(before)

    def pattern(self, node: ast.AST) -> None:
        for child in ast.walk(node):
            name = getattr(child, "name", None) or getattr(child, "rest", None)
            if isinstance(name, str):
                self.bind(name)
            elif isinstance(child, ast.MatchValue):
                self.expr(child.value)

    def do_Global(self, node: ast.Global) -> None:
        return None

    def branches(self, *paths: list[list[ast.stmt]]) -> None:
        """Run alternative paths; afterwards a name is definite only if every path binds it."""
        before = set(self.definite)
        outcomes = []
        for path in paths:
            self.reset(set(before))
            for part in path:
                self.block(part) if isinstance(part, list) else self.statement(part)
            outcomes.append(self.definite)
        self.reset(before | set.intersection(*outcomes))

    # -- expressions ---------------------------------------------------------------
    def store(self, target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.store(element)
        elif isinstance(target, ast.Starred):
            self.store(target.value)
        else:
            self.expr(target.value)  # type: ignore[attr-defined]
            if isinstance(target, ast.Subscript):
                self.expr(target.slice)
            self.mutate(target, assignment=True)

    def expr(self, node: ast.AST) -> None:
        kind = type(node)
        if kind is ast.Name:
            if type(node.ctx) is ast.Load:  # type: ignore[attr-defined]
                self.load(node.id)  # type: ignore[attr-defined]
        elif kind is ast.Constant:
            return
        elif kind is ast.Attribute:
            self.expr(node.value)  # type: ignore[attr-defined]
        elif kind is ast.Call:  # the common shapes without ast.iter_child_nodes (hot path)
            self.expr(node.func)  # type: ignore[attr-defined]
            for argument in node.args:  # type: ignore[attr-defined]
                self.expr(argument)
            for keyword in node.keywords:  # type: ignore[attr-defined]
                self.expr(keyword.value)
            for target, surely in call_changes(node):  # type: ignore[arg-type]
                self.mutate(target, assignment=surely)
            if type(node.func) is ast.Name:  # type: ignore[attr-defined]
                self.call_by_name(node)  # type: ignore[arg-type]
        elif kind is ast.BinOp:
            self.expr(node.left)  # type: ignore[attr-defined]
            self.expr(node.right)  # type: ignore[attr-defined]
        elif kind is ast.Subscript:
            self.expr(node.value)  # type: ignore[attr-defined]
            self.expr(node.slice)  # type: ignore[attr-defined]
        elif isinstance(node, ast.NamedExpr):
            self.expr(node.value)
            self.bind(node.target.id)
        elif isinstance(node, ast.Lambda):
            for default in (*node.args.defaults, *filter(None, node.args.kw_defaults)):
                self.expr(default)
            for name in scope_facts(node).later:
                self.load_later(name)
        elif isinstance(node, COMPREHENSIONS):
            self.expr(node.generators[0].iter)
            self.nested(node)
        elif isinstance(node, FUNCTIONS + (ast.ClassDef,)):
            self.statement(node)  # type: ignore[arg-type]
        else:
            for child in ast.iter_child_nodes(node):
                self.expr(child)

    def nested(self, node: ast.AST) -> ScopeFacts:
        facts = scope_facts(node)
        for name in facts.now:
            self.load(name)
        for name in facts.later:
            self.load_later(name)
        for name in facts.walrus:
            self.bind(name)
        if isinstance(node, COMPREHENSIONS):
            for name in facts.changes:
                self.mutates[name] = None
        return facts
