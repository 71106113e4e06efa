"""Read a `%%params` cell: `name = literal` lines only, as papermill expects."""

from __future__ import annotations

import ast
from typing import Any

from ..analysis.roles import ParamLineError, param_line
from ..errors import BadInput


class ParamsError(BadInput):
    """A `%%params` cell that is not only literal assignments; one line with the fix."""


def literal_params(source: str) -> dict[str, Any]:
    """The defaults a `%%params` body assigns, in order.

    Raises `ParamsError` naming the parameter (or the line) that is not a
    literal assignment; the rule itself is the analysis's (`param_line`).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ParamsError(f"%%params line {exc.lineno}: syntax error ({exc.msg})") from None
    defaults: dict[str, Any] = {}
    for node in tree.body:
        try:
            defaults.update(param_line(node))
        except ParamLineError as exc:
            if exc.name is None:
                raise ParamsError(
                    f"%%params line {exc.line}: only `name = literal` lines are allowed"
                    " (move other code to a setup cell above)"
                ) from None
            raise ParamsError(
                f"parameter {exc.name!r} in %%params is not a literal ({exc.value});"
                " use a number, string, bool, None, or a list/dict/tuple of those"
            ) from None
    return defaults
