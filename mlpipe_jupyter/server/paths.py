"""Paths from requests, resolved inside the server root.

A request names a notebook the way the contents API does: relative to the root, with
`/` separators. Symlinks are resolved before the check, so a link that points out of the
root is refused like `../secret.ipynb` is.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from ..errors import BadInput, NotFound

MAX_PATH = 4096  # PATH_MAX on Linux
MAX_NAME = 255  # NAME_MAX


def resolve_inside(root: Path | str, path: object, *, what: str = "path") -> Path:
    """The absolute, symlink-free path of `path` under `root`; BadInput if it leaves root."""
    if not isinstance(path, str) or not path.strip():
        raise BadInput(f"{what} must be a non-empty string relative to the server root")
    if "\x00" in path:
        raise BadInput(f"{what} contains a NUL character; send the path as the file browser shows it")
    if len(path) > MAX_PATH or any(len(part) > MAX_NAME for part in path.split("/")):
        raise BadInput(f"{what} is too long ({len(path)} characters): at most {MAX_PATH},"
                       f" {MAX_NAME} per folder or file name")  # fmt: skip
    root_real = Path(os.path.realpath(root))
    candidate = Path(path) if os.path.isabs(path) else root_real / path.lstrip("/")
    real = Path(os.path.realpath(candidate))
    if real != root_real and root_real not in real.parents:
        raise BadInput(f"{what} '{path}' is outside the server root; use a path inside it")
    return real


def resolve_notebook(root: Path | str, path: object) -> Path:
    """An existing `.ipynb` file under `root`."""
    real = resolve_inside(root, path, what="path")
    if real.suffix != ".ipynb":
        raise BadInput(f"path '{path}' is not a notebook (.ipynb)")
    if not real.is_file():
        raise NotFound(f"notebook '{path}' not found under the server root")
    return real


def relative_to_root(root: Path | str, path: Path | str | None) -> str | None:
    """`path` as the contents API names it, or None when it is outside `root`.

    Its folder's real path is remembered (GET runs names hundreds of step notebooks, in
    folders that do not move); the file itself is taken as named (mlpipe wrote it).
    """
    if not path:
        return None
    inside = os.path.join(_real_folder(os.path.abspath(root)), "")
    folder, name = os.path.split(os.path.abspath(path))
    real = os.path.join(_real_folder(folder), name)
    if not real.startswith(inside) or real == inside:
        return None
    return real[len(inside):].replace(os.sep, "/")


@functools.lru_cache(maxsize=4096)
def _real_folder(folder: str) -> str:
    return os.path.realpath(folder)
