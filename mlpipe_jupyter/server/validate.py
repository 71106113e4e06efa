"""Checks of request bodies: each failure is a BadInput naming the field and what it takes.

`parse` turns the raw body into JSON (no NaN or Infinity, nested at most `MAX_DEPTH`
levels); `body` checks it is an object with only the fields its route takes; the
other functions check one field each.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import BadInput

_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
MAX_DEPTH = 64  # arrays and objects inside each other; a notebook's cells need 4
MAX_INT = 2**31 - 1  # versions and counts: more is a mistake (and overflows SQLite)


def parse(raw: bytes) -> Any:
    """The JSON of a request body (`{}` when empty); BadInput when it is not JSON."""
    try:
        value = json.loads(raw or b"{}", parse_constant=_no_constant)
    except RecursionError:
        raise BadInput(_too_deep()) from None
    except ValueError as exc:
        raise BadInput(f"request body is not valid JSON: {exc}".splitlines()[0]) from None
    if _depth(value) > MAX_DEPTH:
        raise BadInput(_too_deep())
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; send a finite number or null")


def _too_deep() -> str:
    return f"request body is nested too deeply: at most {MAX_DEPTH} levels of arrays and objects"


def _depth(value: Any) -> int:
    """How many arrays and objects are nested at the deepest point (no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def body(value: Any, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """`value` if it is a JSON object with only `fields` (when given)."""
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
        got = kind.get(type(value), "a number")
        raise BadInput(f"request body must be a JSON object, got {got}")
    if fields is not None:
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise BadInput(f"unknown field '{_short(unknown[0])}' in the request body;"
                           f" the fields are: {', '.join(fields)}")  # fmt: skip
    return value


def params(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInput("'params' must be an object mapping parameter names to values")
    for name in value:
        if not name.isidentifier():
            raise BadInput(f"parameter name {_short(name)!r} is not a Python identifier")
    return dict(value)


def flag(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise BadInput(f"'{key}' must be true or false, got {_show(value)}")
    return value


def optional_str(data: dict[str, Any], key: str, max_length: int = 4096) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise BadInput(f"'{key}' must be a string, got {_show(value)}")
    if value is not None and len(value) > max_length:
        raise BadInput(f"'{key}' is {len(value)} characters long; at most {max_length}")
    return value or None


def selection(data: dict[str, Any], key: str) -> tuple[str, ...]:
    """`select` / `exclude` / `only`: step terms as a string (`"+train prep+"`) or an array
    of strings (dbt's grammar, analysis/select.py); `()` when absent."""
    value = data.get(key)
    if value is None or value == "":
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise BadInput(f"'{key}' must be step names as a string ('+train prep+') or an array"
                       f" of strings, got {_show(value)}")  # fmt: skip
    if sum(len(v) for v in items) > 4096:
        raise BadInput(f"'{key}' is too long: at most 4096 characters of step names")
    return tuple(items)


def optional_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT:
        raise BadInput(f"'{key}' must be a whole number from 1 to {MAX_INT}, got {_show(value)}")
    return value


def query_int(value: str, key: str, maximum: int = 10_000) -> int | None:
    """A whole-number query parameter (None when absent), from 1 to `maximum`."""
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= maximum:
        raise BadInput(f"{key} must be a whole number from 1 to {maximum}, got {_short(value)!r}")
    return int(value)


def identifier(value: str, what: str) -> str:
    if not _IDENTIFIER.match(value):
        raise BadInput(f"{what} {_short(value)!r} is not valid")
    return value


def _show(value: Any) -> str:
    """A value as the message shows it: JSON, cut short."""
    try:
        text = json.dumps(value)
    except ValueError:  # an int too long to print (sys.set_int_max_str_digits)
        text = f"a {value.bit_length()}-bit integer"
    return _short(text)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit]}..."
