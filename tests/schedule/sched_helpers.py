"""Helpers of the schedule tests: small pipeline notebooks (written by tests/nbfiles.py)."""

from __future__ import annotations

from pathlib import Path

import nbfiles
from nbfiles import code_cell

TWO_STEPS = [
    "%%params\nscale = 2",
    "%%step load\nnumbers = [1, 2, 3]",
    "%%step total --outputs result\nresult = sum(numbers) * scale",
]


def write_notebook(path: Path, sources: list[str], outputs: list | None = None) -> Path:
    """`nbfiles.write_notebook`, each source a code cell (with `outputs` if given)."""
    return nbfiles.write_notebook(path, [code_cell(s, outputs=outputs or []) for s in sources])
