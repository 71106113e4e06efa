"""Run a cell magic's body as IPython runs an ordinary cell.

The body is transformed (so `%line` magics and `!shell` lines inside it work),
its AST transformers applied, its statements executed in the user namespace and
the value of a trailing expression returned, so that IPython's display hook
shows it as the cell's `Out[n]`, exactly as for an ordinary cell. Exceptions
propagate unchanged: the kernel reports the cell as failed, and papermill or
`jupyter nbconvert --execute` stop there.
"""

from __future__ import annotations

import ast
from typing import Any


def run_body(shell: Any, body: str, *, first_line: int = 2) -> Any:
    """Execute `body` in `shell`'s user namespace; return its last expression's value.

    `first_line` is the line of the cell the body starts on (2 for a cell
    magic, whose line 1 is `%%step ...`), so that tracebacks point at the
    right lines of the cell. A trailing `;` hides the value, as in IPython.
    """
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame in tracebacks
    source = "\n" * (first_line - 1) + shell.transform_cell(body)
    tree = shell.transform_ast(shell.compile.ast_parse(source))
    last: ast.Expression | None = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not _silenced(body):
        last = ast.Expression(tree.body.pop().value)
    filename = shell.compile.cache(source, cell_number(shell), raw_code=body)
    namespace = shell.user_ns
    exec(shell.compile(tree, filename, "exec"), shell.user_global_ns, namespace)  # noqa: S102
    if last is None:
        return None
    code = shell.compile(last, filename, "eval")
    return eval(code, shell.user_global_ns, namespace)  # noqa: S307


def cell_number(shell: Any) -> int:
    """The `In[n]` of the cell running now (IPython counts up before running it)."""
    return max(shell.execution_count - 1, 1)


def _silenced(body: str) -> bool:
    """IPython's rule: a cell whose last code line ends with `;` shows no value."""
    for line in reversed(body.splitlines()):
        code = line.split("#", 1)[0].rstrip()
        if code:
            return code.endswith(";")
    return False
