"""Read a `%%params` cell: `name = literal` lines only, as papermill expects."""

from __future__ import annotations

import ast
from typing import Any


class ParamsError(ValueError):
    """A `%%params` cell that is not only literal assignments; one line with the fix."""


def literal_params(source: str) -> dict[str, Any]:
    """The defaults a `%%params` body assigns, in order.

    Raises `ParamsError` naming the parameter (or the line) that is not a
    literal assignment.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ParamsError(f"%%params line {exc.lineno}: syntax error ({exc.msg})") from None
    defaults: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a bare string: documentation
        targets, value = _assignment(node)
        for target in targets:
            defaults[target] = _literal(target, value)
    return defaults


def _assignment(node: ast.stmt) -> tuple[list[str], ast.expr]:
    if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
        return [t.id for t in node.targets], node.value  # type: ignore[attr-defined]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
        return [node.target.id], node.value
    raise ParamsError(
        f"%%params line {node.lineno}: only `name = literal` lines are allowed"
        " (move other code to a setup cell above)"
    )


def _literal(name: str, value: ast.expr) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ParamsError(
            f"parameter {name!r} in %%params is not a literal ({ast.unparse(value)});"
            " use a number, string, bool, None, or a list/dict/tuple of those"
        ) from None
