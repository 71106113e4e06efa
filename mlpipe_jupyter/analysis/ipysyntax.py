"""IPython syntax inside cells, turned into plain Python for static analysis.

Line numbers are kept, so a syntax error points at the line a person sees.

IPython reads its own syntax (`%line magics`, `!shell`, `x = !ls`, `obj?`)
only where a logical line starts: never on a continuation line inside
brackets, inside a (triple-quoted) string, or after a backslash, so
`("%d items"\n % n)` is Python. `ipython_lines` finds those places with a
small tokenizer of brackets, strings (prefixes, triple quotes, f-string
replacement fields) and comments, which is all that decides it. IPython itself
is not imported: its transformer costs ~70 ms, half of `mlpipe dag`; the tests
check this module against IPython's `TransformerManager`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

#: Cell magics whose body is ordinary Python that runs in the user namespace.
PYTHON_BODY_MAGICS = frozenset({"time", "capture"})

_CONTROL = re.compile(
    r"^\s*%(?:pipeline(?:\s.*)?|load_ext\s+mlpipe_jupyter|reload_ext(?:\s.*)?)\s*$"
)
_CELL_MAGIC = re.compile(r"^%%(\w+)(.*)$")
_ASSIGN_MAGIC = re.compile(r"^(\s*)([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=\s*[!%]")
_TIME = re.compile(r"^(\s*)%time(?:\s+(.*))?$")
_HELP = re.compile(r"^\s*(?:\?\??[\w.]+|[\w.]+\?\??)\s*$")
_PREFIX = frozenset({"", "r", "u", "b", "br", "rb", "f", "fr", "rf"})


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
    """`%load_ext mlpipe_jupyter`, `%reload_ext ...` or `%pipeline ...` (one physical line)."""
    return bool(_CONTROL.match(line))


def is_control_cell(source: str) -> bool:
    """True when every non-blank, non-comment line is a control line."""
    lines = [ln for ln in source.split("\n") if ln.strip() and not ln.strip().startswith("#")]
    return bool(lines) and all(is_control_line(ln) for ln in lines)


def strip_control_lines(source: str) -> str:
    """The source without control lines (they must not run inside a step notebook);
    a line inside brackets or a string is Python, and stays."""
    if "%" not in source:
        return source
    lines = source.split("\n")
    drop = {n for n in ipython_lines(source) if is_control_line(lines[n])}
    return "\n".join(ln for n, ln in enumerate(lines) if n not in drop) if drop else source


def blank_magic_line(source: str, magic: CellMagic) -> str:
    """The cell with its `%%magic` line blanked, line numbers kept."""
    lines = source.split("\n")
    lines[magic.line] = _capture_target(magic) if magic.name == "capture" else ""
    return "\n".join(lines)


def _capture_target(magic: CellMagic) -> str:
    words = [w for w in magic.args.split() if not w.startswith("-")]
    return f"{words[-1]} = None" if words and words[-1].isidentifier() else ""


def is_ipython_line(line: str) -> bool:
    """Would IPython read this line, standing at the start of a logical line, as its own
    syntax? (`%magic`, `!cmd`, `x = %magic`, `x = !cmd`, `obj?`)"""
    stripped = line.lstrip()
    if stripped.startswith(("%", "!")):
        return True
    if "=" in stripped and _ASSIGN_MAGIC.match(line):
        return True
    return "?" in stripped and bool(_HELP.match(line))


@lru_cache(maxsize=8192)
def ipython_lines(source: str) -> frozenset[int]:
    """0-based numbers of the lines IPython reads as its own syntax, with the
    backslash-continued lines that belong to them."""
    found: set[int] = set()
    lines = source.split("\n")
    scanner = _Scanner()
    number = 0
    while number < len(lines):
        line = lines[number]
        if scanner.at_start() and is_ipython_line(line):
            found.add(number)
            while line.endswith("\\") and number + 1 < len(lines):
                number += 1
                line = lines[number]
                found.add(number)
        else:
            scanner.feed(line)
        number += 1
    return frozenset(found)


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
    return _rewrite(source, lambda magic: _python_line(magic[0]))


def mask_ipython(source: str) -> str:
    """Each IPython-syntax line (with its continuation lines) as a string literal at its
    indentation, so the code parses and the magic's text still counts (cache keys)."""
    def literal(magic: list[str]) -> str:
        stripped = magic[0].lstrip()
        text = "\n".join([stripped, *magic[1:]]).rstrip()
        return f"{magic[0][: len(magic[0]) - len(stripped)]}{text!r}"

    return _rewrite(source, literal)


def _rewrite(source: str, replace: Callable[[list[str]], str]) -> str:
    """`source` with each IPython-syntax line replaced by `replace(its lines)` and its
    backslash-continued lines blanked, so the line count stays."""
    if "%" not in source and "!" not in source and "?" not in source:
        return source
    found = ipython_lines(source)
    if not found:
        return source
    lines = source.split("\n")
    out = []
    for number, line in enumerate(lines):
        if number not in found:
            out.append(line)
        elif number - 1 in found and lines[number - 1].endswith("\\"):
            out.append("")  # the continuation of a magic line
        else:
            end = number + 1
            while end in found and lines[end - 1].endswith("\\"):
                end += 1
            out.append(replace(lines[number:end]))
    return "\n".join(out)


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
    return indent + "pass"  # `obj?`


class _Scanner:
    """Brackets and strings, line by line: just enough of Python's tokenizer to know
    whether the next line starts a logical line.

    `stack` holds open contexts: "(" for brackets, a `_String` for a string, and
    "{" for an f-string replacement field (code until its `}`).
    """

    def __init__(self) -> None:
        self.stack: list[object] = []
        self.continued = False  # the last line ended with a backslash outside strings

    def at_start(self) -> bool:
        return not self.stack and not self.continued

    def feed(self, line: str) -> None:
        self.continued = False
        i, n = 0, len(line)
        while i < n:
            top = self.stack[-1] if self.stack else None
            if isinstance(top, _String):
                i = self._in_string(top, line, i)
                continue
            char = line[i]
            if char == "#":
                break
            if char in "\"'":
                i = self._open_string(line, i)
                continue
            if char in "([{":
                self.stack.append("(")
            elif char in ")]}":
                if top == "{" and char == "}":
                    self.stack.pop()  # the end of an f-string replacement field
                elif top == "(":
                    self.stack.pop()
            elif char == ":" and top == "{":
                self.stack[-1] = _String("}", False, raw=True, spec=True)  # format spec
            elif char == "\\" and i == n - 1:
                self.continued = True
            i += 1
        top = self.stack[-1] if self.stack else None
        if isinstance(top, _String) and not top.triple and not line.endswith("\\"):
            self.stack.pop()  # an unterminated string ends with its line (IPython's view)

    def _open_string(self, line: str, i: int) -> int:
        start = i
        while start > 0 and line[start - 1].isalpha():
            start -= 1
        prefix = line[start:i].lower()
        if start > 0 and (line[start - 1].isalnum() or line[start - 1] == "_"):
            prefix = ""
        if prefix not in _PREFIX:
            prefix = ""
        quote = line[i]
        triple = line.startswith(quote * 3, i)
        self.stack.append(_String(quote * (3 if triple else 1), "f" in prefix, raw="r" in prefix))
        return i + (3 if triple else 1)

    def _in_string(self, string: _String, line: str, i: int) -> int:
        n = len(line)
        while i < n:
            char = line[i]
            if char == "\\" and not string.spec:
                return min(i + 2, n) if i + 1 < n else n
            if string.spec:
                if char == "{":
                    self.stack.append("{")
                    return i + 1
                if char == "}":
                    self.stack.pop()  # the spec and its replacement field end together
                    return i + 1
            elif line.startswith(string.quote, i):
                self.stack.pop()
                return i + len(string.quote)
            elif string.fmt and char in "{}":
                if line.startswith(char * 2, i):
                    i += 2
                    continue
                if char == "{":
                    self.stack.append("{")
                    return i + 1
            i += 1
        return n


@dataclass
class _String:
    quote: str  # ' " ''' """ (or "}" for a format spec)
    fmt: bool  # an f-string: {...} holds code
    raw: bool = False
    spec: bool = False  # the format spec of a replacement field, up to its }

    @property
    def triple(self) -> bool:
        return len(self.quote) == 3 or self.spec
