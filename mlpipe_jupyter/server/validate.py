"""Checks of request bodies: each failure is a BadInput naming the field and what it takes."""

from __future__ import annotations

import re
from typing import Any

from ..errors import BadInput

_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def body(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInput(f"request body must be a JSON object, got {type(value).__name__}")
    return value


def params(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInput("'params' must be an object mapping parameter names to values")
    for name in value:
        if not name.isidentifier():
            raise BadInput(f"parameter name {name!r} is not a Python identifier")
    return dict(value)


def flag(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise BadInput(f"'{key}' must be true or false")
    return value


def optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise BadInput(f"'{key}' must be a string")
    return value or None


def optional_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadInput(f"'{key}' must be a positive integer")
    return value


def identifier(value: str, what: str) -> str:
    if not _IDENTIFIER.match(value):
        raise BadInput(f"{what} {value!r} is not valid")
    return value
