"""Free names of nested scopes: functions, lambdas, classes and comprehensions.

A nested scope is summarised as `ScopeFacts`: the free names it uses while it is
being created (`now`: a class body, a comprehension), the free names it uses
only later, when called (`later`: function and lambda bodies), the names a
walrus inside a comprehension binds in the enclosing scope (`walrus`), and the
free names it changes in place or re-binds through `global` (`changes`: rule 6;
a comprehension changes them now, a function when it is called).
The cell visitor (visitor.py) resolves these against the cell's top level.

`call_changes` is the one rule for what a call changes in place (rule 6): its
receiver when it is a method call (`rng.integers(9)`, `df.drop(..., inplace=True)`)
other than a known read-only one (`READ_ONLY_METHODS`: `data.mean()`),
the first argument of functions known to work in place (`random.shuffle(deck)`,
`np.random.shuffle(x)`, `heapq.heappush(h, v)`), and an `out=` array.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


#: Functions and methods that change their first argument in place, whatever the receiver.
IN_PLACE_FIRST_ARGUMENT = frozenset({
    "shuffle", "heappush", "heappop", "heapify", "heappushpop", "heapreplace",
    "insort", "insort_left", "insort_right", "fill_diagonal", "copyto", "putmask",
})


#: Methods that never change their receiver in Python, NumPy, pandas or scikit-learn
#: (without `inplace=True`): calling one is a plain read, so that steps which only
#: look at a shared value (`data.mean()`, `model.predict(X)`) stay parallel. Any
#: other method call is a new version of its receiver (rule 6); run-time verification
#: (rule 10) catches a receiver that changed anyway.
READ_ONLY_METHODS = frozenset({
    # builtins
    "count", "index", "get", "keys", "values", "items", "copy", "format", "join", "split",
    "rsplit", "strip", "lstrip", "rstrip", "lower", "upper", "title", "startswith",
    "endswith", "replace", "find", "rfind", "splitlines", "partition", "encode", "decode",
    "isdigit", "isalpha", "isalnum", "isspace", "union", "intersection", "difference",
    "symmetric_difference", "issubset", "issuperset", "isdisjoint", "bit_length",
    "is_integer", "hex",
    # NumPy and pandas
    "mean", "median", "std", "var", "sum", "prod", "min", "max", "argmin", "argmax",
    "argsort", "cumsum", "cumprod", "cummax", "cummin", "any", "all", "round", "clip", "abs",
    "astype", "reshape", "ravel", "flatten", "transpose", "squeeze", "swapaxes", "repeat",
    "take", "nonzero", "searchsorted", "dot", "item", "tolist", "to_list", "to_numpy",
    "to_dict", "to_frame", "to_string", "to_records", "head", "tail", "describe",
    "nunique", "unique", "value_counts", "isna", "isnull", "notna", "notnull", "dropna",
    "fillna", "drop", "drop_duplicates", "duplicated", "sort_values", "sort_index",
    "reset_index", "set_index", "rename", "groupby", "agg", "aggregate", "apply", "map",
    "merge", "query", "filter", "where", "mask", "isin", "between", "corr", "cov",
    "quantile", "diff", "pct_change", "shift", "rolling", "expanding", "pivot",
    "pivot_table", "melt", "explode", "stack", "unstack", "nlargest", "nsmallest", "idxmax",
    "idxmin", "equals", "select_dtypes", "assign", "mode", "skew", "kurt", "sem",
    "memory_usage", "iterrows", "itertuples",
    # scikit-learn
    "predict", "predict_proba", "predict_log_proba", "decision_function", "transform",
    "inverse_transform", "score", "score_samples", "get_params", "get_feature_names_out",
})


@dataclass(frozen=True)
class ScopeFacts:
    now: tuple[str, ...] = ()
    later: tuple[str, ...] = ()
    walrus: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()
    changes_args: tuple[int, ...] = ()  # a function's positional parameters it changes


def root_name(node: ast.AST) -> str | None:
    """`x` for `x`, `x.a.b`, `x[0].a`, `x.m().n`; None when rooted in anything else.

    A plain function call makes a new value: `open(p).write(s)` or
    `shuffle(list(xs))` change that value, never `open` or `list` (None).
    """
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return None
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def call_changes(node: ast.Call) -> list[tuple[ast.expr, bool]]:
    """What a call changes in place: (expression, surely) pairs. `surely` is False for a
    method call's receiver (most methods only read), True for an argument changed by a
    function known to work in place, `out=`, or the receiver of an `inplace=True` call."""
    changed: list[tuple[ast.expr, bool]] = []
    func = node.func
    inplace = any(k.arg == "inplace" and isinstance(k.value, ast.Constant)
                  and k.value.value is True for k in node.keywords)
    if isinstance(func, ast.Attribute) and (inplace or func.attr not in READ_ONLY_METHODS):
        changed.append((func.value, inplace))
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name in IN_PLACE_FIRST_ARGUMENT and node.args \
            and not isinstance(node.args[0], ast.Starred):
        changed.append((node.args[0], True))
    changed.extend((k.value, True) for k in node.keywords if k.arg == "out")
    return changed


def scope_facts(node: ast.AST) -> ScopeFacts:
    """Summarise a function, lambda, class or comprehension node."""
    walker = _Walker(in_comprehension=isinstance(node, COMPREHENSIONS))
    if isinstance(node, FUNCTIONS):
        walker.parameters(node.args)
        body = node.body if isinstance(node.body, list) else [node.body]
        walker.visit_all(body)
        positional = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
        changed = set(walker.changed)
        return ScopeFacts(later=walker.free(walker.loads + walker.now + walker.later),
                          changes=walker.free(walker.changed + walker.later_changes),
                          changes_args=tuple(i for i, p in enumerate(positional)
                                             if p in changed))
    if isinstance(node, ast.ClassDef):
        walker.visit_all(node.body)
        return ScopeFacts(now=walker.free(walker.loads + walker.now), later=_unique(walker.later),
                          changes=_unique(walker.later_changes))
    walker.comprehension(node)
    walrus = set(walker.walrus)  # bound by the comprehension itself, in the enclosing scope
    return ScopeFacts(
        now=tuple(n for n in walker.free(walker.loads + walker.now) if n not in walrus),
        later=walker.free(walker.later),
        walrus=_unique(walker.walrus),
        changes=walker.free(walker.changed),
    )


def _unique(names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def bound_names(alias: ast.alias) -> str:
    """`import a.b` binds `a`; `import a.b as c` binds `c`."""
    return alias.asname or alias.name.split(".")[0]


class _Walker:
    """Collects loads and stores of one scope, order-insensitive like CPython's symtable."""

    def __init__(self, *, in_comprehension: bool) -> None:
        self.in_comprehension = in_comprehension
        self.stores: set[str] = set()
        self.declared: set[str] = set()  # global / nonlocal: never local
        self.loads: list[str] = []
        self.now: list[str] = []
        self.later: list[str] = []
        self.walrus: list[str] = []
        self.changed: list[str] = []  # changed in place (or re-bound via `global`) here
        self.later_changes: list[str] = []  # changed by nested functions, when called

    def free(self, names: list[str]) -> tuple[str, ...]:
        local = self.stores - self.declared
        return _unique([n for n in names if n not in local])

    def parameters(self, args: ast.arguments) -> None:
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None:
                self.stores.add(arg.arg)

    def comprehension(self, node: ast.AST) -> None:
        generators = node.generators  # type: ignore[attr-defined]
        for number, generator in enumerate(generators):
            self.visit(generator.target)
            if number:  # the first iterable is evaluated in the enclosing scope
                self.visit(generator.iter)
            self.visit_all(generator.ifs)
        if isinstance(node, ast.DictComp):
            self.visit_all([node.key, node.value])
        else:
            self.visit(node.elt)  # type: ignore[attr-defined]

    def visit_all(self, nodes: list) -> None:
        for node in nodes:
            self.visit(node)

    def change(self, node: ast.AST) -> None:
        name = root_name(node)
        if name is not None:
            self.changed.append(name)

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                self.loads.append(node.id)
            else:
                self.stores.add(node.id)
                if node.id in self.declared:
                    self.changed.append(node.id)
        elif isinstance(node, ast.Call):
            for target, _surely in call_changes(node):
                self.change(target)
            self.generic(node)
        elif isinstance(node, (ast.Subscript, ast.Attribute)) \
                and not isinstance(node.ctx, ast.Load):
            self.change(node.value)
            self.generic(node)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            self.declared.update(node.names)
            self.loads.extend(node.names)
        elif isinstance(node, ast.NamedExpr):
            self.visit(node.value)
            name = node.target.id
            (self.walrus.append(name) if self.in_comprehension else self.stores.add(name))
        elif isinstance(node, (*FUNCTIONS, ast.ClassDef, *COMPREHENSIONS)):
            self.nested(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            self.stores.update(bound_names(a) for a in node.names if a.name != "*")
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            self.stores.add(node.name)
            self.generic(node)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            self.stores.add(node.rest)
            self.generic(node)
        else:
            self.generic(node)

    def generic(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            self.visit(child)

    def nested(self, node: ast.AST) -> None:
        """What a nested scope evaluates here (decorators, defaults, bases, first iterable)."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.stores.add(node.name)
            self.visit_all(node.decorator_list)
        if isinstance(node, FUNCTIONS):
            self.visit_all([*node.args.defaults, *filter(None, node.args.kw_defaults)])
            if not isinstance(node, ast.Lambda):
                self.visit_all(annotations(node))
        elif isinstance(node, ast.ClassDef):
            self.visit_all([*node.bases, *(k.value for k in node.keywords)])
        else:
            self.visit(node.generators[0].iter)  # type: ignore[attr-defined]
        facts = scope_facts(node)
        self.now.extend(facts.now)
        self.later.extend(facts.later)
        if isinstance(node, COMPREHENSIONS):
            self.changed.extend(facts.changes)
        else:
            self.later_changes.extend(facts.changes)
        if facts.walrus:
            (self.walrus.extend(facts.walrus) if self.in_comprehension
             else self.stores.update(facts.walrus))


def annotations(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr]:
    """Annotations evaluated when the `def` runs."""
    args = node.args
    every = (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
    found = [a.annotation for a in every if a is not None and a.annotation is not None]
    return [*found, node.returns] if node.returns is not None else found
