"""IPython syntax inside cells, turned into plain Python for static analysis.

Line numbers are kept, so a syntax error points at the line a person sees.
IPython itself is not imported: it costs ~0.1 s, and a few regular expressions
cover what notebooks contain (`%line magics`, `!shell`, `x = !ls`, `obj?`,
`%%cell magics`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass

#: Cell magics whose body is ordinary Python that runs in the user namespace.
PYTHON_BODY_MAGICS = frozenset({"time", "capture"})

_CONTROL = re.compile(
    r"^\s*%(?:pipeline(?:\s.*)?|load_ext\s+mlpipe_jupyter|reload_ext(?:\s.*)?)\s*$"
)
_CELL_MAGIC = re.compile(r"^%%(\w+)(.*)$")
_ASSIGN_MAGIC = re.compile(r"^(\s*)([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=\s*[!%]")
_TIME = re.compile(r"^(\s*)%time(?:\s+(.*))?$")
_HELP = re.compile(r"^\s*(?:\?\??[\w.]+|[\w.]+\?\??)\s*$")


@dataclass(frozen=True)
class CellMagic:
    """The `%%name args` first line of a cell, and where its body starts."""

    name: str
    args: str
    line: int  # 0-based line of the magic
    body: str  # the lines after it


def cell_magic(source: str) -> CellMagic | None:
    """The cell magic on the first non-blank line, if there is one."""
    lines = source.split("\n")
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        match = _CELL_MAGIC.match(line.strip())
        if not match:
            return None
        return CellMagic(match.group(1), match.group(2).strip(), number,
                         "\n".join(lines[number + 1:]))
    return None


def is_control_line(line: str) -> bool:
    """`%load_ext mlpipe_jupyter`, `%reload_ext ...` or `%pipeline ...`."""
    return bool(_CONTROL.match(line))


def is_control_cell(source: str) -> bool:
    """True when every non-blank, non-comment line is a control line."""
    lines = [ln for ln in source.split("\n") if ln.strip() and not ln.strip().startswith("#")]
    return bool(lines) and all(is_control_line(ln) for ln in lines)


def strip_control_lines(source: str) -> str:
    """The source without control lines (they must not run inside a step notebook)."""
    return "\n".join(ln for ln in source.split("\n") if not is_control_line(ln))


def blank_magic_line(source: str, magic: CellMagic) -> str:
    """The cell with its `%%magic` line blanked, line numbers kept."""
    lines = source.split("\n")
    lines[magic.line] = _capture_target(magic) if magic.name == "capture" else ""
    return "\n".join(lines)


def _capture_target(magic: CellMagic) -> str:
    words = [w for w in magic.args.split() if not w.startswith("-")]
    return f"{words[-1]} = None" if words and words[-1].isidentifier() else ""


@lru_cache(maxsize=8192)
def python_source(source: str) -> str | None:
    """Plain Python with the same lines as `source`; None for an opaque cell magic.

    `%%time` and `%%capture` bodies are Python; any other cell magic (`%%bash`,
    `%%writefile`, ...) is opaque. Line magics and shell lines become `pass`,
    `x = !ls` becomes `x = None`, `%time STMT` becomes `STMT`.
    """
    magic = cell_magic(source)
    if magic is not None:
        if magic.name not in PYTHON_BODY_MAGICS:
            return None
        source = blank_magic_line(source, magic)
    if "%" not in source and "!" not in source and "?" not in source:
        return source
    return "\n".join(_python_lines(source.split("\n")))


def _python_lines(lines: list[str]) -> list[str]:
    out: list[str] = []
    continued = False
    for line in lines:
        if continued:
            out.append("")
            continued = line.endswith("\\")
            continue
        new = _python_line(line)
        if new is not line:
            continued = line.endswith("\\")
        out.append(new)
    return out


def _python_line(line: str) -> str:
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    if stripped.startswith("%time ") or stripped == "%time":
        statement = _TIME.match(line)
        body = statement.group(2) if statement else None
        return indent + (body or "pass")
    if stripped.startswith(("%", "!")):
        return indent + "pass"
    assigned = _ASSIGN_MAGIC.match(line)
    if assigned:
        return f"{assigned.group(1)}{assigned.group(2)} = None"
    if "?" in stripped and _HELP.match(line):
        return indent + "pass"
    return line
