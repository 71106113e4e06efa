"""What a step takes from its surroundings: environment variables, the calendar, settings.

Found statically, one AST walk per code block, with the imports resolved
(`import os as o`, `from datetime import date`):

- **environment variables read** at a literal name: `os.environ["X"]`,
  `os.environ.get("X")`, `os.getenv("X")`, `"X" in os.environ`,
  `os.environ.setdefault("X", ...)`. Their values join the step's key
  (`cache/keys.py`, reason `environment X 32 -> 128`) and are handed to the
  step's kernel with its job, so the kernel sees what the key says. Names read
  any other way are recorded at run time (`compile/identity.py`).
- **calendar reads**: `date.today()`, `datetime.now()` / `today()` /
  `utcnow()`, `time.localtime()` / `gmtime()` / `ctime()` / `asctime()` /
  `strftime()`, `pd.Timestamp.now()` / `today()`, `pd.Timestamp("today")`,
  `pd.to_datetime("now")`, `np.datetime64("today")`. Such a step keys on the
  date (reused within a day, re-run the next). `time.time()` and
  `time.perf_counter()` are not calendar reads: they time things.
- **process-wide settings written** (DESIGN "What the cache watches"): numpy
  print options and error handling, pandas options, the `decimal` context,
  `os.environ` writes, `warnings` filters, matplotlib `rcParams` (also through
  `plt.style.use` and seaborn's `set_theme`). A step that changes one binds the
  pseudo-name `setting:<kind>`; every later step reads it from the nearest
  writer, as a top-to-bottom run would give it (`SettingsFlow`, fed by
  `graph._Flow`; carried at run time by `compile/hidden.py`). Changes inside
  `with warnings.catch_warnings()`, `plt.rc_context()`, `np.printoptions()`,
  `pd.option_context()` and `decimal.localcontext()` end with the block, so
  they are not settings writes.
- **another module's globals changed**: `helpers.X = 1` or a call to a
  function of a local module that rebinds a `global` there. Later steps do not
  see such a change (every step runs setup afresh): `dag` warns, naming the
  module and the fix.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import lru_cache

PREFIX = "setting:"
#: settings kinds, in the order the runtime installs them
KINDS = ("environ", "numpy", "pandas", "decimal", "warnings", "matplotlib")
_LABEL = {
    "environ": "os.environ", "numpy": "numpy print options", "pandas": "pandas options",
    "decimal": "the decimal context", "warnings": "warnings filters",
    "matplotlib": "matplotlib rcParams",
}

_CALENDAR = frozenset({
    "datetime.date.today", "datetime.datetime.now", "datetime.datetime.today",
    "datetime.datetime.utcnow", "time.localtime", "time.gmtime", "time.ctime",
    "time.asctime", "time.strftime", "pandas.Timestamp.now", "pandas.Timestamp.today",
    "pandas.Timestamp.utcnow", "pandas.Timestamp", "pandas.to_datetime", "numpy.datetime64",
    "pandas.datetime.now", "arrow.now", "arrow.utcnow", "pendulum.now", "pendulum.today",
})
#: of these, the ones that read the clock only when given "now"/"today"
_CALENDAR_WORDS = frozenset({"pandas.Timestamp", "pandas.to_datetime", "numpy.datetime64"})

_SETTING_CALLS = {
    "numpy.set_printoptions": "numpy", "numpy.seterr": "numpy",
    "numpy.set_string_function": "numpy",
    "pandas.set_option": "pandas", "pandas.reset_option": "pandas",
    "decimal.setcontext": "decimal",
    "os.putenv": "environ", "os.unsetenv": "environ",
    "os.environ.update": "environ", "os.environ.pop": "environ",
    "os.environ.setdefault": "environ", "os.environ.clear": "environ",
    "os.environ.popitem": "environ",
    "warnings.filterwarnings": "warnings", "warnings.simplefilter": "warnings",
    "warnings.resetwarnings": "warnings",
    "matplotlib.rc": "matplotlib", "matplotlib.pyplot.rc": "matplotlib",
    "matplotlib.rcParams.update": "matplotlib", "matplotlib.pyplot.rcParams.update": "matplotlib",
    "matplotlib.rcdefaults": "matplotlib", "matplotlib.pyplot.rcdefaults": "matplotlib",
    "matplotlib.style.use": "matplotlib", "matplotlib.pyplot.style.use": "matplotlib",
    "matplotlib.use": "matplotlib",
    "seaborn.set": "matplotlib", "seaborn.set_theme": "matplotlib",
    "seaborn.set_style": "matplotlib", "seaborn.set_context": "matplotlib",
    "seaborn.set_palette": "matplotlib",
}
#: assignment targets (a subscript or attribute under these) that write a setting
_SETTING_TARGETS = {
    "os.environ": "environ", "pandas.options": "pandas", "matplotlib.rcParams": "matplotlib",
    "matplotlib.pyplot.rcParams": "matplotlib", "decimal.getcontext": "decimal",
}
#: context managers whose changes end with the block
_SCOPED = frozenset({
    "warnings.catch_warnings", "matplotlib.rc_context", "matplotlib.pyplot.rc_context",
    "matplotlib.style.context", "matplotlib.pyplot.style.context", "numpy.printoptions",
    "numpy.errstate", "pandas.option_context", "decimal.localcontext",
    "seaborn.axes_style", "seaborn.plotting_context",
})
_ENV_READS = frozenset({"os.environ.get", "os.getenv", "os.environ.setdefault",
                        "os.getenvb", "os.environ.pop"})
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def pseudo_name(kind: str) -> str:
    """`setting:numpy`: the name a settings kind flows under."""
    return PREFIX + kind


def is_setting(name: str) -> bool:
    return name.startswith(PREFIX)


@dataclass(frozen=True)
class Ambient:
    """What one block of code takes from, and does to, its surroundings."""

    environ: tuple[str, ...] = ()  # environment variables read at a literal name
    calendar: tuple[str, ...] = ()  # the calendar calls it makes ("date.today()")
    settings: tuple[str, ...] = ()  # settings kinds it writes (KINDS)
    #: (root name, module attribute) of assignments into another module's globals
    module_writes: tuple[tuple[str, str], ...] = ()
    #: (root name, function) of calls on modules: checked against local modules' mutators
    module_calls: tuple[tuple[str, str], ...] = ()
    roots: tuple[str, ...] = ()  # names whose assignment-into is a settings write


def _dotted(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)):
            node = node.func  # decimal.getcontext().prec: the call is part of the path
        else:
            break
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _aliases(tree: ast.AST, into: dict[str, str], modules: set[str]) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    into[alias.asname] = alias.name
                    modules.add(alias.asname)
                else:
                    top = alias.name.split(".")[0]
                    into.setdefault(top, top)
                    modules.add(top)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    into[alias.asname or alias.name] = f"{node.module}.{alias.name}"


def _qualified(node: ast.AST, aliases: dict[str, str]) -> tuple[str, str] | None:
    """(qualified dotted name, root name) of an expression like `np.random.seed`."""
    parts = _dotted(node)
    if not parts or parts[0] not in aliases:
        return None
    return ".".join([aliases[parts[0]], *parts[1:]]), parts[0]


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) \
        else None


@lru_cache(maxsize=1024)
def _parse(python: str) -> ast.Module | None:
    try:
        return ast.parse(python)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def scan(pythons: tuple[str | None, ...], setup: tuple[str | None, ...] = ()) -> Ambient:
    """The ambient facts of a step's code (`pythons`), its imports resolved with setup's."""
    return _scan(tuple(pythons), tuple(setup))


@lru_cache(maxsize=1024)
def _scan(pythons: tuple[str | None, ...], setup: tuple[str | None, ...]) -> Ambient:
    aliases: dict[str, str] = {}
    modules: set[str] = set()
    trees = [t for t in (_parse(p) for p in setup if p) if t is not None]
    own = [t for t in (_parse(p) for p in pythons if p) if t is not None]
    for tree in (*trees, *own):
        _aliases(tree, aliases, modules)
    walker = _Walker(aliases, modules=frozenset(modules))
    for tree in own:
        walker.visit(tree)
    return Ambient(tuple(walker.environ), tuple(walker.calendar), tuple(walker.settings),
                   tuple(walker.module_writes), tuple(walker.module_calls),
                   tuple(walker.roots))


def setup_environ(setup: tuple[str | None, ...]) -> tuple[str, ...]:
    """The environment variables setup code reads (every step runs setup)."""
    return scan(setup).environ


@dataclass
class _Walker(ast.NodeVisitor):
    aliases: dict[str, str]
    environ: dict[str, None] = field(default_factory=dict)
    calendar: dict[str, None] = field(default_factory=dict)
    settings: dict[str, None] = field(default_factory=dict)
    module_writes: dict[tuple[str, str], None] = field(default_factory=dict)
    module_calls: dict[tuple[str, str], None] = field(default_factory=dict)
    roots: dict[str, None] = field(default_factory=dict)
    modules: frozenset[str] = frozenset()  # names bound by `import X [as Y]`
    depth: int = 0  # inside a function/class body: reads count, writes do not flow
    scoped: int = 0  # inside a `with` that undoes its settings changes

    def _nested(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _nested

    def visit_With(self, node: ast.With) -> None:
        scoped = any(
            isinstance(item.context_expr, ast.Call)
            and (_qualified(item.context_expr.func, self.aliases) or ("", ""))[0] in _SCOPED
            for item in node.items)
        self.scoped += scoped
        self.generic_visit(node)
        self.scoped -= scoped

    visit_AsyncWith = visit_With

    def _writes(self) -> bool:
        return not self.depth and not self.scoped

    def visit_Call(self, node: ast.Call) -> None:
        found = _qualified(node.func, self.aliases)
        if found is not None:
            name, root = found
            first = _literal(node.args[0]) if node.args else None
            if name in _ENV_READS and first:
                self.environ[first] = None
            if name in _CALENDAR and (name not in _CALENDAR_WORDS or (
                    first or "").lower() in ("now", "today")):
                self.calendar[_short(name) + "()"] = None
            kind = _SETTING_CALLS.get(name)
            if kind and self._writes():
                self.settings[kind] = None
                self.roots[root] = None
            module, _, function = name.rpartition(".")
            if module and self._writes() and module.split(".")[0] not in _NOT_GLOBALS \
                    and (isinstance(node.func, ast.Name) or root in self.modules):
                self.module_calls[(module, function)] = None
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        found = _qualified(node.value, self.aliases)
        if found is not None and found[0] == "os.environ" and isinstance(node.ctx, ast.Load):
            key = _literal(node.slice)
            if key:
                self.environ[key] = None
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        if len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)):
            found = _qualified(node.comparators[0], self.aliases)
            key = _literal(node.left)
            if found is not None and found[0] == "os.environ" and key:
                self.environ[key] = None
        self.generic_visit(node)

    def _target(self, target: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for item in target.elts:
                self._target(item)
            return
        if not isinstance(target, (ast.Subscript, ast.Attribute)):
            return
        base = target.value if isinstance(target, ast.Subscript) else target
        found = _qualified(base, self.aliases)
        if found is None:
            return
        name, root = found
        for prefix, kind in _SETTING_TARGETS.items():
            if name == prefix or name.startswith(prefix + "."):
                self.settings[kind] = None
                self.roots[root] = None
                return
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                and root in self.modules and name.split(".")[0] not in _NOT_GLOBALS:
            self.module_writes[(self.aliases[root], target.attr)] = None
            self.roots[root] = None

    def visit_Assign(self, node: ast.Assign) -> None:
        if self._writes():
            for target in node.targets:
                self._target(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if self._writes():
            self._target(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        if self._writes():
            for target in node.targets:
                self._target(target)
        self.generic_visit(node)


# -- notebook order ----------------------------------------------------------------


@dataclass
class SettingsFlow:
    """Process-wide settings over the steps, in notebook order; fed by graph._Flow.

    A step that writes a settings kind binds `setting:<kind>`; every later step
    reads it from the nearest writer (what it prints or computes may depend on
    it, which no analysis can tell), and a writer reads the previous writer's
    state too (it may change one option of many).
    """

    setup: tuple[str | None, ...] = ()
    writer: dict[str, str] = field(default_factory=dict)  # kind -> last step writing it
    mutators: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)

    def handled(self, pythons: tuple[str | None, ...]) -> frozenset[str]:
        """Root names whose assignment-into this step's settings writes explain (no
        'assigns into setup name' warning for `os.environ["X"] = ...`)."""
        return frozenset(scan(pythons, self.setup).roots)

    def step(self, name: str, cell: int, pythons: tuple[str | None, ...],
             inputs: dict[str, str], binds: list[str]) -> list[str]:
        """Add the step's `setting:*` inputs (name -> producer) and binds in place;
        return its warnings (calendar reads, other modules' globals changed)."""
        found = scan(pythons, self.setup)
        for kind, producer in self.writer.items():
            inputs[pseudo_name(kind)] = producer
        for kind in found.settings:
            self.writer[kind] = name
            if pseudo_name(kind) not in binds:
                binds.append(pseudo_name(kind))
        binds.sort()
        warnings = []
        if found.calendar:
            warnings.append(
                f"step '{name}' (cell {cell + 1}): reads the calendar"
                f" ({', '.join(found.calendar[:3])}): its cached result is reused only on"
                " the same day; %%step --cache always reuses it on any day")
        for module, attr in found.module_writes:
            if module in _NOT_GLOBALS:
                continue
            warnings.append(
                f"step '{name}' (cell {cell + 1}): sets {module}.{attr}, a global of module"
                f" '{module}'; later steps will not see that change (every step runs setup"
                " afresh) — set it in setup, or pass the value to the functions that use it")
        for module, function in found.module_calls:
            changed = self._mutators(module).get(function)
            if changed:
                warnings.append(
                    f"step '{name}' (cell {cell + 1}): calls {module}.{function}(), which"
                    f" changes module '{module}''s global {', '.join(changed)}; later steps"
                    " will not see that change (every step runs setup afresh) — call it in"
                    " setup, or pass the value to the functions that use it")
        return warnings

    def _mutators(self, module: str) -> dict[str, tuple[str, ...]]:
        if module not in self.mutators:
            self.mutators[module] = local_mutators(module)
        return self.mutators[module]


#: modules whose attributes steps set as configuration the settings flow carries or
#: that are no globals of a module (sys.path edits are every step's own)
_NOT_GLOBALS = frozenset({"os", "sys", "decimal", "warnings", "numpy", "pandas", "matplotlib",
                          "matplotlib.pyplot", "seaborn"})


def local_mutators(module: str) -> dict[str, tuple[str, ...]]:
    """{function: globals it rebinds} of a local module (beside the notebook, found from
    the current folder): functions with a `global` statement that assign the name."""
    import os

    from .modpaths import _Resolver, is_installed, search_path
    from pathlib import Path

    try:
        spec = _Resolver(search_path(Path(os.getcwd()))).spec(module)
    except Exception:  # noqa: BLE001 - a module we cannot resolve has no known mutators
        return {}
    origin = getattr(spec, "origin", None) if spec is not None else None
    if not origin or not origin.endswith(".py") or is_installed(origin):
        return {}
    try:
        tree = ast.parse(Path(origin).read_text("utf-8"))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return {}
    found: dict[str, tuple[str, ...]] = {}
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        declared = {n for g in ast.walk(node) if isinstance(g, ast.Global) for n in g.names}
        assigned = {t.id for a in ast.walk(node) if isinstance(a, (ast.Assign, ast.AugAssign))
                    for t in (a.targets if isinstance(a, ast.Assign) else [a.target])
                    if isinstance(t, ast.Name)}
        if declared & assigned:
            found[node.name] = tuple(sorted(declared & assigned))
    return found


def _short(name: str) -> str:
    for long, short in (("datetime.date.", "date."), ("datetime.datetime.", "datetime."),
                        ("pandas.", "pd."), ("numpy.", "np.")):
        if name.startswith(long):
            return short + name[len(long):]
    return name


def label(kind: str) -> str:
    return _LABEL.get(kind, kind)
