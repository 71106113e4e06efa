"""The one rule for where a store is (DESIGN "Execution"), used by every front end.

`resolve_store(store, notebook)`: the explicit `store` if given, else
`$MLPIPE_STORE`, else `.mlpipe` beside the notebook, else (no notebook: `mlpipe
runs`, `mlpipe scheduler`, `mlp.runs()`) `.mlpipe` in the working directory. A
relative path is made absolute at once against the caller's working directory
(`cwd`, default `os.getcwd()`), so it means the same thing in a child process,
in a kernel whose working directory is the notebook's, and in the server.

Nothing here touches the disk beyond `os.getcwd()`; the store is not created.
"""

from __future__ import annotations

import os
from pathlib import Path

STORE_ENV = "MLPIPE_STORE"
STORE_DIRNAME = ".mlpipe"

PathLike = str | os.PathLike[str]


def absolute(path: PathLike, cwd: PathLike | None = None) -> Path:
    """`path` with `~` expanded, made absolute against `cwd` (default: this process's)."""
    expanded = Path(path).expanduser()
    if expanded.is_absolute():
        return Path(os.path.normpath(expanded))
    base = Path(cwd).expanduser() if cwd is not None else Path(os.getcwd())
    return Path(os.path.normpath(absolute(base) / expanded))


def resolve_store(
    store: PathLike | None = None,
    notebook: PathLike | None = None,
    *,
    cwd: PathLike | None = None,
) -> Path:
    """The absolute store root: `store`, else `$MLPIPE_STORE`, else `.mlpipe` beside `notebook`,
    else `.mlpipe` in `cwd`."""
    if store:
        return absolute(store, cwd)
    env = os.environ.get(STORE_ENV)
    if env:
        return absolute(env, cwd)
    if notebook is not None:
        return absolute(notebook, cwd).parent / STORE_DIRNAME
    return absolute(STORE_DIRNAME, cwd)


def configured_store(cwd: PathLike | None = None) -> Path | None:
    """`$MLPIPE_STORE` made absolute, or None: a store that holds everything when set."""
    env = os.environ.get(STORE_ENV)
    return absolute(env, cwd) if env else None


__all__ = ["STORE_DIRNAME", "STORE_ENV", "absolute", "configured_store", "resolve_store"]
