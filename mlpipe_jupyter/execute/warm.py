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
    """The absolute modules the setup code imports at its top level, in order."""
    try:
        tree = ast.parse(setup_source)
    except SyntaxError:
        return ()
    found: dict[str, None] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found[alias.name] = None
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found[node.module] = None
    return tuple(found)


def warm(modules: list[str] | tuple[str, ...]) -> None:
    """Import each module, ignoring any that fail (the step will report it)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - warming is best effort
            continue
