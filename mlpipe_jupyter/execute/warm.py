"""Warm a pooled kernel: import the modules the notebook's setup imports.

Every step runs the setup cells in a fresh kernel, so `import pandas` and the
like are paid per step. A pooled kernel imports them while it waits for a step
(`warm`, called from `kernels.warm_code`): only `sys.modules` changes, no name
is bound, and the setup's own imports then find the modules loaded.
"""

from __future__ import annotations

import ast
import importlib


def setup_modules(setup_source: str) -> tuple[str, ...]:
    """The absolute modules the setup code imports at its top level, in order.

    The setup is notebook code: IPython syntax (`%matplotlib inline` first, `!pip`)
    is read as a kernel would (analysis.ipysyntax), so one magic line does not hide
    every import. `from x import y` lists `x` and then `x.y` (a submodule, as in
    `from sklearn import datasets`; `warm` skips it when `y` is no module).
    """
    from mlpipe_jupyter.analysis.ipysyntax import python_source

    tree = _parse(python_source(setup_source) or "") or _parse_imports(setup_source)
    found: dict[str, None] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found[alias.name] = None
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found[node.module] = None
            for alias in node.names:
                if alias.name != "*":
                    found[f"{node.module}.{alias.name}"] = None
    return tuple(found)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def _parse_imports(source: str) -> ast.Module:
    """The top-level one-line import statements of code that does not parse as a whole."""
    body: list[ast.stmt] = []
    for line in source.splitlines():
        if line.startswith(("import ", "from ")):
            body.extend(getattr(_parse(line), "body", []))
    return ast.Module(body=body, type_ignores=[])


def warm(modules: list[str] | tuple[str, ...]) -> None:
    """Import each module, ignoring any that fail (the step will report it)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - warming is best effort
            continue
