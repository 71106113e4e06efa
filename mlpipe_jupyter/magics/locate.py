"""Which notebook is this kernel running? And the notebook its session implies.

Under Jupyter, ipykernel sets `__session__` (from `JPY_SESSION_NAME`) to the
notebook's path; VS Code sets `__vsc_ipynb_file__`. Elsewhere (an IPython
console, papermill) there is none, and `%pipeline` falls back to the cells this
session ran (`session.py`): each cell as it ran last, in first-run order. The
live kernel's cache never reads the notebook file: its key is what the kernel
executed (`interactive.py`); the path here only places a `.mlpipe` store.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from .session import Session

_HINTS = ("__session__", "__vsc_ipynb_file__")


def notebook_path(shell: Any, explicit: str | None = None) -> Path | None:
    """The notebook to analyse: `explicit`, else the kernel's own, else None."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise UsageError(f"%pipeline: no notebook at {explicit!r} (from {os.getcwd()})")
        return path.resolve()
    candidates = [shell.user_ns.get(name) for name in _HINTS]
    candidates.append(os.environ.get("JPY_SESSION_NAME"))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            path = Path(candidate).expanduser()
            if path.is_file():
                return path.resolve()
    return None


def session_cells(shell: Any, session: Session) -> list[dict[str, Any]]:
    """The notebook this session implies, as `cells_from_json` input: the cells this
    kernel ran, in first-run order, each as it ran last (`session.py`)."""
    return session.notebook()
