"""The TypeScript status types in js/types.ts name exactly the Python enums' values."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

import pytest

from mlpipe_jupyter.status import RunStatus, StepStatus

TYPES_TS = Path(__file__).resolve().parents[2] / "js" / "types.ts"


def union_literals(source: str, name: str) -> list[str]:
    """The string literals of `export type NAME = 'a' | 'b' ...;` (one line or many)."""
    found = re.search(rf"export type {name}\s*=\s*([^;]*);", source)
    assert found, f"js/types.ts has no `export type {name} = ...;`"
    body = found.group(1)
    literals = re.findall(r"'([^']*)'|\"([^\"]*)\"", body)
    rest = re.sub(r"'[^']*'|\"[^\"]*\"|\|", "", body).strip()
    assert not rest, f"{name} in js/types.ts mixes in something other than string literals: {rest}"
    return [single or double for single, double in literals]


@pytest.mark.parametrize(
    ("ts_name", "enum"), [("RunStatus", RunStatus), ("StepRunStatus", StepStatus)]
)
def test_ts_status_union_matches_the_python_enum(ts_name: str, enum: type[Enum]) -> None:
    literals = union_literals(TYPES_TS.read_text("utf-8"), ts_name)
    assert literals == [member.value for member in enum]


def test_the_parser_sees_a_missing_value() -> None:
    source = "export type RunStatus = 'running' | 'succeeded' | 'failed';"
    assert union_literals(source, "RunStatus") != [s.value for s in RunStatus]
