"""Helpers of the schedule tests: small pipeline notebooks written as JSON."""

from __future__ import annotations

import json
from pathlib import Path

TWO_STEPS = [
    "%%params\nscale = 2",
    "%%step load\nnumbers = [1, 2, 3]",
    "%%step total --outputs result\nresult = sum(numbers) * scale",
]


def write_notebook(path: Path, sources: list[str], outputs: list | None = None) -> Path:
    cells = [
        {"cell_type": "code", "metadata": {}, "source": s, "outputs": outputs or [],
         "execution_count": None}
        for s in sources
    ]  # fmt: skip
    document = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path
