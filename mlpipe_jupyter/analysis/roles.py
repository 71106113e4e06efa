"""Cells -> roles: setup, params, steps (with their body cells), skipped, ignored.

No dataflow here: this module only decides which cell belongs to what, parses
`%%step` lines and parameter defaults, and prepares each block's code twice:
as it runs (IPython syntax kept, `%%step` line removed) and as plain Python for
the visitor (line numbers kept).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .ipysyntax import cell_magic, is_control_cell, python_source, strip_control_lines
from .model import IGNORED, PARAMS, SETUP, SKIP, STEP, STEP_BODY, AnalysisError, Cell, StepOptions
from .options import StepLineError, parse_step_line
from ..errors import BadInput


SKIP_TAG = "mlpipe:skip"
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


@dataclass(frozen=True)
class CodePart:
    """One cell's contribution to a block."""

    cell: int
    source: str  # as it runs
    python: str | None  # for analysis; None for an opaque cell magic


@dataclass(frozen=True)
class StepBlock:
    name: str
    cell: int
    options: StepOptions
    parts: tuple[CodePart, ...]

    @property
    def source(self) -> str:
        return join_sources(self.parts)


@dataclass(frozen=True)
class Layout:
    roles: tuple[str, ...]
    setup: tuple[CodePart, ...]
    params: tuple[CodePart, ...]  # `parameters` cells first, then `injected-parameters`
    steps: tuple[StepBlock, ...]
    errors: tuple[AnalysisError, ...]


def join_sources(parts: tuple[CodePart, ...]) -> str:
    """Cells' code separated by one blank line."""
    return "\n\n".join(p.source.strip("\n") for p in parts if p.source.strip())


def classify(cells: list[Cell]) -> Layout:
    """Give every cell its role and group step bodies under their step."""
    roles: list[str] = []
    setup: list[CodePart] = []
    params: list[CodePart] = []
    injected: list[CodePart] = []
    steps: list[tuple[str, int, StepOptions, list[CodePart]]] = []
    errors: list[AnalysisError] = []
    owner: list[CodePart] | None = setup  # where an untagged code cell goes
    for cell in cells:
        role = _role(cell, owner is setup)
        roles.append(role)
        if role == PARAMS:
            (injected if INJECTED_TAG in cell.tags else params).append(_params_part(cell))
        elif role == STEP:
            owner = _start_step(cell, steps, errors)
        elif role == SKIP and cell_magic(cell.source) and cell_magic(cell.source).name == "step":
            owner = None  # a skipped step takes its body cells with it
        elif role in (SETUP, STEP_BODY):
            if owner is None:
                roles[-1] = SKIP
            else:
                owner.append(_part(cell, strip_control_lines(cell.source)))
    return Layout(
        roles=tuple(roles),
        setup=tuple(setup),
        params=tuple(params + injected),
        steps=tuple(StepBlock(n, c, o, tuple(p)) for n, c, o, p in steps),
        errors=tuple(errors),
    )


def _role(cell: Cell, before_steps: bool) -> str:
    if cell.kind != "code":
        return IGNORED
    if SKIP_TAG in cell.tags or is_control_cell(cell.source):
        return SKIP
    magic = cell_magic(cell.source)
    if magic is not None and magic.name == "step":
        return STEP
    if (magic is not None and magic.name == "params") or PARAMETERS_TAG in cell.tags \
            or INJECTED_TAG in cell.tags:
        return PARAMS
    if not cell.source.strip():
        return IGNORED
    return SETUP if before_steps else STEP_BODY


def _start_step(cell: Cell, steps: list, errors: list[AnalysisError]) -> list[CodePart] | None:
    magic = cell_magic(cell.source)
    assert magic is not None
    try:
        name, options = _parse_step_line(magic.args)
    except StepLineError as exc:
        errors.append(AnalysisError(f"bad %%step line: {exc}", step=exc.step, cell=cell.index))
        return None
    lines = cell.source.split("\n")
    runs = strip_control_lines("\n".join(lines[magic.line + 1:]))
    python_lines = lines[:]
    python_lines[magic.line] = ""
    part = CodePart(cell.index, runs, python_source("\n".join(python_lines)))
    steps.append((name, cell.index, options, [part]))
    return steps[-1][3]


_parse_step_line = lru_cache(maxsize=8192)(parse_step_line)


def _part(cell: Cell, source: str) -> CodePart:
    return CodePart(cell.index, source, python_source(cell.source))


def _params_part(cell: Cell) -> CodePart:
    magic = cell_magic(cell.source)
    if magic is not None and magic.name == "params":
        lines = cell.source.split("\n")
        lines[magic.line] = ""
        source = "\n".join(lines)
        return CodePart(cell.index, source.strip("\n"), source)
    return CodePart(cell.index, cell.source, cell.source)


def parse_params(parts: tuple[CodePart, ...]) -> tuple[dict[str, Any], list[AnalysisError]]:
    """Parameter defaults (literals only, like papermill); later cells override."""
    values: dict[str, Any] = {}
    errors: list[AnalysisError] = []
    for part in parts:
        try:
            tree = ast.parse(part.python or "")
        except SyntaxError as exc:
            errors.append(syntax_error(exc.lineno or 1, exc.msg, part.cell, None))
            continue
        except (ValueError, RecursionError, MemoryError) as exc:
            errors.append(syntax_error(1, str(exc) or type(exc).__name__, part.cell, None))
            continue
        for statement in tree.body:
            _param(statement, part.cell, values, errors)
    return values, errors


class ParamLineError(BadInput):
    """A parameters line that is not `name = literal`; callers word the message.

    `name` is None when the line is not an assignment to plain names, else the
    (first) parameter whose value `value` (its source) is not a literal.
    """

    def __init__(self, line: int, name: str | None = None, value: str = "") -> None:
        super().__init__(line, name, value)
        self.line, self.name, self.value = line, name, value


def param_line(statement: ast.stmt) -> dict[str, Any]:
    """What one parameters line assigns: `a = 1`, `a = b = 1`, `a: int = 1`, or a docstring
    ({}). The one rule for `%%params` cells and cells tagged `parameters`."""
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return {}
    targets: list[ast.expr] = []
    value: ast.expr | None = None
    if isinstance(statement, ast.Assign):
        targets, value = statement.targets, statement.value
    elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
        targets, value = [statement.target], statement.value
    if value is None or not all(isinstance(t, ast.Name) for t in targets):
        raise ParamLineError(statement.lineno)
    names = [t.id for t in targets]  # type: ignore[attr-defined]
    try:
        literal = ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ParamLineError(statement.lineno, names[0], ast.unparse(value)) from None
    return dict.fromkeys(names, literal)


def _param(statement: ast.stmt, cell: int, values: dict[str, Any],
           errors: list[AnalysisError]) -> None:
    try:
        values.update(param_line(statement))
    except ParamLineError as exc:
        if exc.name is None:
            message = (f"parameters cell line {exc.line}: only `name = literal` lines are"
                       " allowed (like papermill); move other code into setup or a step")
        else:
            message = (f"param '{exc.name}': its default `{exc.value}` is not a literal;"
                       " use a number, string, bool, None, list, tuple or dict, and compute"
                       " the rest in a step")
        errors.append(AnalysisError(message, cell=cell))


def syntax_error(line: int, message: str, cell: int, step: str | None) -> AnalysisError:
    """One line naming the cell line (1-based, as Jupyter shows with line numbers)."""
    return AnalysisError(f"syntax error at line {line}: {message}; fix the code",
                         step=step, cell=cell)
