"""Rule 9: the global random generators as a hidden variable in notebook order.

A step that draws from (or seeds) numpy's legacy global state, Python's
`random`, or torch's global generator *binds* the pseudo-name `random:numpy`
(`random:random`, `random:torch`); a step that draws before seeding *reads* it
from the previous step that bound it, so the graph gets an edge labelled
`random:numpy` and the step starts from the state a top-to-bottom run gives it.
The state setup leaves is every step's starting point, so the first consumer
needs no edge. A step that draws from a generator nobody seeded is marked
non-deterministic (a reason on the step and a warning), never an error.

Only direct calls are seen here (`np.random.rand()`, `from random import
shuffle; shuffle(xs)`, a function defined in setup or a step that does so);
draws inside libraries (`sklearn.utils.shuffle`, an estimator without
`random_state`) are found at run time (compile/hidden.py) and reported.
TensorFlow's global seed is noted (seeded or not) but its state cannot be
carried from step to step, so it gets no edge and a warning instead.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import lru_cache

#: Generators whose state the step runtime carries (compile/hidden.py).
CARRIED = ("numpy", "random", "torch")
PREFIX = "random:"

DRAW, SEED, UNSEED = "draw", "seed", "unseed"

_LABEL = {"numpy": "numpy.random", "random": "random", "torch": "torch",
          "tensorflow": "tensorflow"}
_FIX = {
    "numpy": "seed it in setup (np.random.seed(0)) or use np.random.default_rng(SEED)",
    "random": "seed it in setup (random.seed(0)) or use random.Random(SEED)",
    "torch": "seed it in setup (torch.manual_seed(0))",
    "tensorflow": "seed it in setup (tf.random.set_seed(0))",
}
_NUMPY_FREE = frozenset({
    "RandomState", "Generator", "default_rng", "SeedSequence", "BitGenerator", "MT19937",
    "PCG64", "PCG64DXSM", "Philox", "SFC64",
})
_RANDOM_DRAWS = frozenset({
    "random", "uniform", "randint", "randrange", "choice", "choices", "shuffle", "sample",
    "gauss", "normalvariate", "lognormvariate", "expovariate", "vonmisesvariate",
    "gammavariate", "betavariate", "paretovariate", "weibullvariate", "triangular",
    "binomialvariate", "getrandbits", "randbytes", "getstate",
})
_TORCH_DRAWS = frozenset({
    "rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like",
    "normal", "bernoulli", "multinomial", "poisson", "get_rng_state",
})
_TF_DRAWS = frozenset({
    "normal", "uniform", "shuffle", "truncated_normal", "categorical", "gamma", "poisson",
})


def pseudo_name(generator: str) -> str:
    """`random:numpy`: the name a generator's state flows under."""
    return PREFIX + generator


def is_pseudo(name: str) -> bool:
    """A hidden state's name: `random:GEN`, or `setting:KIND` (analysis/ambient.py)."""
    return name.startswith(PREFIX) or name.startswith("setting:")


def _seed_kind(call: ast.Call) -> str:
    """`seed()` / `seed(None)` re-seeds from the OS: that is no seed at all."""
    args = [*call.args, *(k.value for k in call.keywords)]
    if not args or (isinstance(args[0], ast.Constant) and args[0].value is None):
        return UNSEED
    return SEED


def classify(qualified: str, call: ast.Call) -> list[tuple[str, str]]:
    """(generator, DRAW | SEED | UNSEED) events of a call to `qualified`."""
    module, _, fn = qualified.rpartition(".")
    if module == "numpy.random" and fn not in _NUMPY_FREE:
        if fn == "seed":
            return [("numpy", _seed_kind(call))]
        return [("numpy", SEED if fn == "set_state" else DRAW)]
    if module == "random":
        if fn == "seed":
            return [("random", _seed_kind(call))]
        if fn == "setstate":
            return [("random", SEED)]
        return [("random", DRAW)] if fn in _RANDOM_DRAWS else []
    if module in ("torch", "torch.cuda"):
        if fn in ("manual_seed", "manual_seed_all", "set_rng_state"):
            return [("torch", SEED)]
        if fn == "seed":
            return [("torch", UNSEED)]
        return [("torch", DRAW)] if module == "torch" and fn in _TORCH_DRAWS else []
    if module == "tensorflow.random":
        if fn == "set_seed":
            return [("tensorflow", _seed_kind(call))]
        return [("tensorflow", DRAW)] if fn in _TF_DRAWS else []
    if qualified == "tensorflow.keras.utils.set_random_seed":
        return [(g, _seed_kind(call)) for g in ("numpy", "random", "tensorflow")]
    return []


_ROOTS = ("numpy", "random", "torch", "tensorflow")


def _imports(node: ast.stmt, aliases: dict[str, str]) -> None:
    """Record what `import`/`from ... import` binds to a module we track."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            root = alias.name.split(".")[0]
            if root not in _ROOTS:
                continue
            if alias.asname:
                aliases[alias.asname] = alias.name
            else:
                aliases[root] = root
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        if node.module.split(".")[0] in _ROOTS:
            for alias in node.names:
                if alias.name != "*":
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"


def _dotted(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _calls(node: ast.AST) -> list[ast.Call]:
    """Calls in `node` outside nested functions/classes, in source order."""
    found: list[ast.Call] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call):
            found.append(current)
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, _SCOPES):
                stack.append(child)
    return sorted(found, key=lambda c: (c.lineno, c.col_offset))


@dataclass(frozen=True)
class RandomUse:
    """What one block of code does to the global generators."""

    reads: tuple[str, ...] = ()  # generators it draws from before seeding them
    writes: tuple[str, ...] = ()  # generators whose state it changes (draws or seeds)
    ends: tuple[tuple[str, bool], ...] = ()  # (generator, seeded afterwards) where it (re)seeds
    unseeded: tuple[str, ...] = ()  # generators it draws from after `seed()` with no seed
    drawn: tuple[str, ...] = ()  # generators it draws from at all


@dataclass
class _Scanner:
    """Walks code in notebook order, keeping import aliases and drawing functions."""

    aliases: dict[str, str] = field(default_factory=dict)
    functions: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    def events(self, call: ast.Call) -> list[tuple[str, str]]:
        parts = _dotted(call.func)
        if not parts:
            return []
        if len(parts) == 1 and parts[0] in self.functions:
            return list(self.functions[parts[0]])
        base = self.aliases.get(parts[0])
        if base is None:
            return []
        return classify(".".join([base, *parts[1:]]), call)

    def block(self, body: list[ast.stmt]) -> RandomUse:
        timeline: list[tuple[str, str, bool]] = []  # (generator, kind, top-level statement)
        for stmt in body:
            self._visit_imports(stmt)
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._define(stmt)
                continue
            top = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            for call in _calls(stmt):
                for gen, kind in self.events(call):
                    timeline.append((gen, kind, top and call is stmt.value))
        return _summary(timeline)

    def _visit_imports(self, stmt: ast.stmt) -> None:
        for node in ast.walk(stmt) if not isinstance(stmt, _SCOPES) else ():
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                _imports(node, self.aliases)

    def _define(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        inner = _Scanner(dict(self.aliases), self.functions)
        events: dict[tuple[str, str], None] = {}
        for stmt in fn.body:
            inner._visit_imports(stmt)
            for call in _calls(stmt):
                for event in inner.events(call):
                    events[(event[0], DRAW if event[1] == DRAW else event[1])] = None
        if events:
            self.functions[fn.name] = tuple(events)
        else:
            self.functions.pop(fn.name, None)


def _summary(timeline: list[tuple[str, str, bool]]) -> RandomUse:
    reads: dict[str, None] = {}
    writes: dict[str, None] = {}
    ends: dict[str, bool] = {}
    unseeded: dict[str, None] = {}
    drawn: dict[str, None] = {}
    for gen, kind, top in timeline:
        first = gen not in writes
        if kind == DRAW:
            drawn[gen] = None
        writes[gen] = None
        if first and not (kind != DRAW and top):
            reads[gen] = None  # its result depends on the state it starts from
        if kind == DRAW and ends.get(gen) is False:
            unseeded[gen] = None
        if kind == SEED:
            ends[gen] = True
        elif kind == UNSEED:
            ends[gen] = False
    return RandomUse(tuple(reads), tuple(writes), tuple(ends.items()), tuple(unseeded),
                     tuple(drawn))


@lru_cache(maxsize=1024)
def _parse(python: str) -> list[ast.stmt] | None:
    try:
        return ast.parse(python).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _body(pythons: tuple[str | None, ...]) -> list[ast.stmt]:
    body: list[ast.stmt] = []
    for python in pythons:
        parsed = _parse(python) if python else None
        body.extend(parsed or [])
    return body


@dataclass
class HiddenState:
    """Rule 9 over the steps, in notebook order; fed by graph._Flow."""

    scanner: _Scanner = field(default_factory=_Scanner)
    seeded: dict[str, bool] = field(default_factory=dict)  # generator -> seeded now
    writer: dict[str, str] = field(default_factory=dict)  # generator -> last step binding it
    reasons: dict[str, str] = field(default_factory=dict)  # step -> non-determinism reason

    @classmethod
    def after_setup(cls, setup: tuple[str | None, ...]) -> HiddenState:
        state = cls()
        use = state.scanner.block(_body(setup))
        state.seeded = {gen: seeded for gen, seeded in use.ends}
        return state

    def step(self, name: str, cell: int, pythons: tuple[str | None, ...],
             inputs: dict[str, str], binds: list[str]) -> list[str]:
        """Add the step's pseudo-inputs (name -> producer) and pseudo-binds in place;
        return its warnings."""
        use = self.scanner.block(_body(pythons))
        warnings: list[str] = []
        # only a draw makes results vary: a step that just seeds (on some path) does not
        unseeded = [g for g in use.writes if g in use.unseeded
                    or (g in use.reads and g in use.drawn and not self.seeded.get(g, False))]
        if unseeded:
            labels = ", ".join(_LABEL[g] for g in unseeded)
            self.reasons[name] = f"draws from {labels}, never seeded"
            warnings.append(
                f"step '{name}' (cell {cell + 1}): draws from {labels}, which nothing seeded:"
                f" its results change from run to run; {_FIX[unseeded[0]]}")
        for gen in use.reads:
            if gen in CARRIED and gen in self.writer:
                inputs[pseudo_name(gen)] = self.writer[gen]
            elif gen == "tensorflow" and self.seeded.get(gen):
                warnings.append(
                    f"step '{name}' (cell {cell + 1}): draws from tensorflow's global"
                    " generator; each step starts from setup's seed, not the previous"
                    " step's state — seed it in this step or use tf.random.Generator")
        for gen in use.writes:
            if gen in CARRIED:
                self.writer[gen] = name
                if pseudo_name(gen) not in binds:
                    binds.append(pseudo_name(gen))
        binds.sort()
        self.seeded.update(dict(use.ends))
        return warnings
