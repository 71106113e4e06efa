"""Fixtures of the magics tests; `ip` (a real IPython shell) is in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture
def run(ip: Any) -> Any:
    """Run one cell as a notebook would (stored in history), return its ExecutionResult."""

    def _run(source: str) -> Any:
        return ip.run_cell(source, store_history=True)

    return _run
