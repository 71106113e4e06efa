"""A cell's code with comments, blank lines and formatting removed: what a key hashes.

It lives in `analysis/` because it parses code (`ast.parse` stays in this package);
`cache.keys` hashes its result.
"""

from __future__ import annotations

import ast
from functools import lru_cache

from .ipysyntax import mask_ipython


def _mask_magics(source: str) -> str:
    """Turn IPython magic and shell lines into string statements that parse.

    A cell magic (`%%time` on the first line) turns the whole cell into one
    string: its body is not Python. Line magics and `!cmd` lines become a
    string literal at the same indentation, so the code around them parses;
    the analysis's one rule (`ipysyntax.ipython_lines`) says which lines those
    are: a `%` inside brackets or a string is Python.
    """
    if source.lstrip().startswith("%%"):
        return repr(source.strip())
    return mask_ipython(source)


def _strip_comments(source: str) -> str:
    """Fallback for code that does not parse: drop comment/blank lines, trailing space."""
    kept = []
    for line in source.splitlines():
        stripped = line.rstrip()
        if stripped and not stripped.lstrip().startswith("#"):
            kept.append(stripped)
    return "\n".join(kept)


@lru_cache(maxsize=1024)
def normalize_code(source: str) -> str:
    """The code with comments, blank lines and formatting details removed.

    Parses with `ast` and unparses, so an edit to comments, blank lines,
    trailing whitespace or redundant parentheses is not a change. Code that
    does not parse (even after masking magics) falls back to a line filter.
    """
    masked = _mask_magics(source)
    try:
        return ast.unparse(ast.parse(masked))
    except (SyntaxError, ValueError):
        return _strip_comments(source)
