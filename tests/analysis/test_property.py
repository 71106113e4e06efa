"""Property: running the inferred DAG in any topological order, each step in a fresh
namespace (setup + params + only its producers' outputs, deep-copied), gives every step
the same values as running the notebook top to bottom (DESIGN: "notebook order is the
truth").

Rules 6-7 are in the draw too: method calls inside expressions, mutation through
arguments (`random.Random(n).shuffle(xs)`, `heapq.heappush`), and notebook
functions whose free names later steps re-bind, called (and passed on) later;
a function received from upstream runs against the receiving step's globals, as
the step runtime makes it (compile/latebind.py)."""

from __future__ import annotations

import copy
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from mlpipe_jupyter.analysis import Pipeline, analyze, cells_from_json
from mlpipe_jupyter.compile.latebind import rebind

POOL = ("a", "b", "c", "d")
SETUP = 'import heapq\nimport random\nS = {"s": 2}\nL = [1, 2, 3]'
PARAMS = "%%params\nP = 3\nQ = 5"
KINDS = ("assign", "subscript", "augsub", "method", "append", "augname", "cond", "func",
         "private", "assert", "loop", "comprehension", "rebind",
         # rules 6-7
         "method_in_expr", "list", "shuffle", "heappush", "pop_in_arg", "define", "define_mut",
         "call", "call_passed", "define_caller")
LISTS = ("xs", "ys")
FUNCTIONS = ("f1", "f2", "g1")


class _Builder:
    """Draws one valid notebook: every read is of a name bound earlier in notebook order."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data
        self.bound: set[str] = set()
        self.lists: set[str] = set()
        self.functions: dict[str, set[str]] = {}  # name -> the dict names it reads when called

    def draw(self, strategy):
        return self.data.draw(strategy)

    def expr(self) -> str:
        terms = ["S['s']", "len(L)", "P", "Q", "1"] + [f'{v}["n"]' for v in sorted(self.bound)]
        terms += [f"sum({xs})" for xs in sorted(self.lists)]
        chosen = self.draw(st.lists(st.sampled_from(terms), min_size=1, max_size=3))
        return " + ".join(chosen)

    def target(self) -> str:
        return self.draw(st.sampled_from(POOL))

    def existing(self) -> str | None:
        return self.draw(st.sampled_from(sorted(self.bound))) if self.bound else None

    def statement(self, number: int) -> list[str]:
        kind = self.draw(st.sampled_from(KINDS))
        v = self.existing()
        if kind in ("list", "shuffle", "heappush", "pop_in_arg", "define", "define_mut", "call",
                    "call_passed", "define_caller", "method_in_expr") and v is not None:
            found = self.rules_6_7(kind, v, number)
            if found is not None:
                return found
            kind = "assign"
        if kind in ("assign", "rebind") or v is None:
            t = self.target()
            line = f't = {{"n": {self.expr()}}}'.replace("t =", f"{t} =", 1)
            self.bound.add(t)
            return [line]
        if kind == "subscript":
            return [f'{v}["n"] = {self.expr()}']
        if kind == "augsub":
            return [f'{v}["n"] += {self.expr()}']
        if kind == "method":
            return [f"{v}.update(n={self.expr()})"]
        if kind == "append":
            return [f'{v}.setdefault("items", []).append({self.expr()})']
        if kind == "augname":
            return [f'{v} |= {{"m": {self.expr()}}}']
        if kind == "cond":
            test = self.draw(st.sampled_from(["P > 2", "Q > 100"]))
            return [f"if {test}:", f'    {v} = {{"n": {self.expr()}}}']
        if kind == "loop":
            return ["for _k in range(2):", f'    {v}["n"] += _k + 1']
        if kind == "comprehension":
            t = self.target()
            line = f'{t} = {{"n": sum(x * 2 for x in [{self.expr()}, {self.expr()}])}}'
            self.bound.add(t)
            return [line]
        if kind == "private":
            t, value = self.target(), self.expr()
            self.bound.add(t)
            return [f"_t{number} = {value}", f'{t} = {{"n": _t{number} * 2}}']
        if kind == "assert":
            return [f"assert {self.expr()} > -10**9"]
        # func: a free name the step may bind only after the def (a deferred read)
        w, t = self.target(), self.target()
        lines = [f"def _g{number}():", f'    return {w}["n"] + 1']
        if w not in self.bound or self.draw(st.booleans()):
            lines.append(f'{w} = {{"n": {self.expr()}}}')
            self.bound.add(w)
        lines.append(f'{t} = {{"n": _g{number}()}}')
        self.bound.add(t)
        return lines

    def callable_functions(self) -> list[str]:
        """Functions whose free names are all bound by now (a call would not fail)."""
        return sorted(f for f, reads in self.functions.items() if reads <= self.bound)

    def rules_6_7(self, kind: str, v: str, number: int) -> list[str] | None:
        """Statements for rules 6-7, or None when their preconditions do not hold."""
        t = self.target()
        if kind == "method_in_expr":  # rule 6: a method call inside an expression
            self.bound.add(t)
            return [f'{t} = {{"n": {v}.setdefault("hist", []).append(1) or len({v}["hist"])}}']
        if kind == "list":
            xs = self.draw(st.sampled_from(LISTS))
            line = f"{xs} = [{self.expr()}, {self.expr()}, 3, 4]"
            self.lists.add(xs)
            return [line]
        xs = self.draw(st.sampled_from(sorted(self.lists))) if self.lists else None
        if kind == "shuffle" and xs:  # rule 6: mutation through an argument
            return [f"random.Random({number}).shuffle({xs})"]
        if kind == "heappush" and xs:
            return [f"heapq.heappush({xs}, {self.expr()})"]
        if kind == "pop_in_arg" and xs:  # a method call inside a call's argument
            self.bound.add(t)
            return [f'{t} = {{"n": max({xs}.pop(), 0) if {xs} else 0}}']
        if kind in ("define", "define_mut"):  # rule 7: free names re-bound later
            name = self.draw(st.sampled_from(FUNCTIONS))
            w = self.target()
            self.functions[name] = {w}
            if kind == "define":
                return [f"def {name}(k=1):", f'    return {w}["n"] * k + 1']
            return [f"def {name}(k=1):", f'    {w}["n"] += k', f'    return {w}["n"]']
        if kind == "define_caller" and self.functions:  # calls another function when called
            inner = self.draw(st.sampled_from(sorted(self.functions)))
            name = self.draw(st.sampled_from([f for f in FUNCTIONS if f != inner]))
            self.functions[name] = set(self.functions[inner]) | {inner}
            return [f"def {name}(k=1):", f"    return {inner}(k) + 1"]
        ready = self.callable_functions()
        if kind == "call" and ready:
            function = self.draw(st.sampled_from(ready))
            self.bound.add(t)
            return [f'{t} = {{"n": {function}(2)}}']
        if kind == "call_passed" and ready:  # passing a function on is calling it
            function = self.draw(st.sampled_from(ready))
            self.bound.add(t)
            return [f'{t} = {{"n": sum(map({function}, [1, 2]))}}']
        return None

    def step_cells(self, index: int) -> list[dict]:
        statements = [self.statement(index * 10 + k)
                      for k in range(self.draw(st.integers(1, 4)))]
        split = self.draw(st.integers(1, len(statements)))
        head = [f"%%step s{index}"] + [ln for s in statements[:split] for ln in s]
        cells = [{"source": "\n".join(head)}]
        if split < len(statements):
            if self.draw(st.booleans()):
                cells.append({"source": "notes", "cell_type": "markdown"})
            cells.append({"source": "\n".join(ln for s in statements[split:] for ln in s)})
        return cells


def values(namespace: dict, names: tuple[str, ...]) -> dict:
    """Deep copies of the data the names hold (functions are compared by what they return).

    A name the step binds only on a path not taken, whose upstream value no later step
    needs, is not passed through (graph: `passthrough`), so it may be absent.
    """
    return copy.deepcopy(
        {v: namespace[v] for v in names if v in namespace and not callable(namespace[v])}
    )


def same_values(pipeline: Pipeline, got: dict, expected: dict) -> bool:
    """Every step read the notebook's values, and bound them: all its outputs, and every
    other name it holds afterwards."""
    for step in pipeline.steps:
        before, after = got[step.name]
        want_before, want_after = expected[step.name]
        if before != want_before:
            return False
        outputs = [v for v in step.outputs if v in want_after]
        if any(v not in after or after[v] != want_after[v] for v in outputs):
            return False
        if any(v not in want_after or want_after[v] != value for v, value in after.items()):
            return False
    return True


def top_to_bottom(pipeline: Pipeline) -> dict[str, tuple[dict, dict]]:
    namespace: dict = {"__name__": "__main__"}
    exec(pipeline.setup_source, namespace)
    namespace.update(copy.deepcopy(pipeline.params))
    seen = {}
    for step in pipeline.steps:
        before = values(namespace, step.reads)
        exec(step.source, namespace)
        seen[step.name] = (before, values(namespace, step.binds))
    return seen


def as_pipeline(pipeline: Pipeline, order: list[str]) -> dict[str, tuple[dict, dict]]:
    outputs: dict[str, dict] = {}
    seen = {}
    for name in order:
        step = pipeline.step(name)
        namespace: dict = {"__name__": "__main__"}
        exec(pipeline.setup_source, namespace)
        namespace.update(copy.deepcopy(pipeline.params))
        for var, producer in step.inputs:
            namespace[var] = rebind(copy.deepcopy(outputs[producer][var]), namespace)
        before = values(namespace, step.reads)
        exec(step.source, namespace)
        seen[name] = (before, values(namespace, step.binds))
        outputs[name] = {v: copy.deepcopy(namespace[v]) for v in step.outputs}
    return seen


def random_order(pipeline: Pipeline, rng: random.Random) -> list[str]:
    """A random linear extension of the DAG."""
    parents = {s.name: {e.source for e in pipeline.edges if e.target == s.name}
               for s in pipeline.steps}
    done: list[str] = []
    while len(done) < len(parents):
        ready = sorted(n for n, ps in parents.items() if n not in done and ps <= set(done))
        done.append(rng.choice(ready))
    return done


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_topological_order_matches_top_to_bottom(data: st.DataObject) -> None:
    builder = _Builder(data)
    raw = [{"source": SETUP}, {"source": PARAMS}]
    for index in range(data.draw(st.integers(1, 6))):
        raw.extend(builder.step_cells(index))
    pipeline = analyze(cells_from_json(raw))
    assert pipeline.errors == ()
    expected = top_to_bottom(pipeline)
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    for order in [list(pipeline.order)] + [random_order(pipeline, rng) for _ in range(3)]:
        got = as_pipeline(pipeline, order)
        assert same_values(pipeline, got, expected), (order, [c["source"] for c in raw], got,
                                                      expected)


_FRAGMENTS = st.sampled_from(["%%step s", "%%step s --after t", "%%params", "%time ", "!ls",
                              "x = ", "def f(", "):", "\n", "    ", "lambda: y", "[a for a in b]",
                              "import os", "del z", "%%bash", "_p", "(", "'", "\x00", ":="])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8))).map("".join), max_size=6))
def test_analyze_never_raises_for_notebook_content(sources: list[str]) -> None:
    pipeline = analyze(cells_from_json([{"source": s} for s in sources]))
    assert all("\n" not in str(e) for e in pipeline.errors)
    assert set(pipeline.order) == {s.name for s in pipeline.steps}
