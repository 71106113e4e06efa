"""The stores under the server root, so its routes see what `mlpipe` made there.

`mlpipe run sub/nb.ipynb` keeps its runs in `sub/.mlpipe` (the one store rule);
a server started at the root finds that store by looking for `.mlpipe/mlpipe.db`
in the root's folders, a few levels deep, skipping hidden folders and
environments. Nothing is kept in memory that a restart would lose: the scan is
the truth, cached for a few seconds because the sidebar polls `GET runs`.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from ..stores import DB_NAME, STORE_DIRNAME

SKIP = frozenset({"node_modules", "__pycache__", "site-packages", "venv", "env", "build", "dist"})


def find_stores(root: Path, max_depth: int = 4, max_dirs: int = 5000) -> list[Path]:
    """Every `<folder>/.mlpipe` under `root` (depth <= `max_depth`) that holds a database.

    Breadth first, sorted, and bounded by `max_dirs` folders visited, so a root
    with a large tree answers in milliseconds.
    """
    found: list[Path] = []
    level = [Path(os.path.realpath(root))]
    visited = 0
    for _ in range(max_depth + 1):
        below: list[Path] = []
        for folder in level:
            visited += 1
            if visited > max_dirs:
                return sorted(found)
            if (folder / STORE_DIRNAME / DB_NAME).is_file():
                found.append(folder / STORE_DIRNAME)
            try:
                with os.scandir(folder) as entries:
                    below.extend(
                        Path(e.path) for e in entries
                        if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
                        and e.name not in SKIP
                    )  # fmt: skip
            except OSError:
                continue
        level = sorted(below)
    return sorted(found)


class StoreFinder:
    """`find_stores(root)`, cached for `ttl_s` seconds; `fresh=True` scans again now."""

    def __init__(self, root: Path, ttl_s: float = 5.0) -> None:
        self.root = Path(root)
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._found: list[Path] = []
        self._at = -float("inf")

    def stores(self, fresh: bool = False) -> list[Path]:
        """The stores found under the root."""
        with self._lock:
            if fresh or time.monotonic() - self._at > self.ttl_s:
                self._found = find_stores(self.root)
                self._at = time.monotonic()
            return list(self._found)


__all__ = ["StoreFinder", "find_stores"]
