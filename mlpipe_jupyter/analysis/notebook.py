"""Read notebook cells as plain JSON (never nbformat: it costs seconds to import).

Two sources of cells: an `.ipynb` file on disk (`read_cells`) and the REST shape
of an unsaved notebook (`cells_from_json`). Both give `Cell` facts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .model import Cell
from ..errors import BadInput


_KINDS = ("code", "markdown", "raw")


class NotebookError(BadInput):
    """A notebook file or cell list that cannot be read; one line with the fix."""


#: A notebook larger than this is refused before it is read (outputs of 100s of MB
#: are possible, but a file of a GB is not a notebook anyone can edit).
MAX_NOTEBOOK_BYTES = 512 * 2**20


def read_cells(path: str | Path) -> list[Cell]:
    """The cells of the `.ipynb` file at `path`, read as JSON."""
    text = _read_text(path)
    path = Path(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"notebook '{path}' is not valid JSON (line {exc.lineno}: {exc.msg});"
            " save it again from Jupyter"
        ) from None
    except RecursionError:
        raise NotebookError(f"notebook '{path}' is nested too deeply to be a notebook") from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise NotebookError(
            f"notebook '{path}' has no 'cells' list; is it an nbformat 4 .ipynb file?"
        )
    return cells_from_json(document["cells"], where=f"notebook '{path}'")


def _read_text(path: str | Path) -> str:
    """The file's text; a FIFO, device, huge or unreadable path is one clear line."""
    shown = str(path) if len(str(path)) <= 200 else str(path)[:200] + "..."
    if "\0" in str(path):
        raise NotebookError(f"notebook path {shown!r} contains a NUL byte; check the path")
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise NotebookError(f"notebook '{shown}' does not exist; check the path") from None
    except OSError as exc:
        raise NotebookError(f"cannot read notebook '{shown}': {exc.strerror}") from None
    import stat

    if stat.S_ISDIR(info.st_mode):
        raise NotebookError(f"'{shown}' is a directory; give the path of an .ipynb file")
    if not stat.S_ISREG(info.st_mode):
        raise NotebookError(f"'{shown}' is not a regular file (a pipe or device); give an .ipynb")
    if info.st_size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(
            f"notebook '{shown}' is {info.st_size // 2**20} MB, over the"
            f" {MAX_NOTEBOOK_BYTES // 2**20} MB limit; clear its outputs and save it again"
        )
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError(f"cannot read notebook '{shown}': {exc}") from None


def cells_from_json(cells: Iterable[Any], *, where: str = "cells") -> list[Cell]:
    """Cells from `[{"source": str | [str], "tags"?: [...], "cell_type"?: "code"}]`.

    Tags may also sit under `metadata.tags`, as in an `.ipynb` file.
    """
    if isinstance(cells, (str, bytes)) or not isinstance(cells, Iterable):
        raise NotebookError(f"{where}: expected a list of cells, got {type(cells).__name__}")
    return [_cell(index, raw, where) for index, raw in enumerate(cells)]


def _cell(index: int, raw: Any, where: str) -> Cell:
    if not isinstance(raw, Mapping):
        raise NotebookError(
            f"{where}: cell {index + 1} is {type(raw).__name__}, not an object with a 'source'"
        )
    kind = raw.get("cell_type", "code")
    if kind not in _KINDS:
        raise NotebookError(
            f"{where}: cell {index + 1} has cell_type {kind!r}; use code, markdown or raw"
        )
    return Cell(index=index, kind=kind, source=_text(raw.get("source", ""), index, where),
                tags=_tags(raw, index, where))


def _text(source: Any, index: int, where: str) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    raise NotebookError(
        f"{where}: cell {index + 1} source must be a string or a list of strings"
    )


def _tags(raw: Mapping[str, Any], index: int, where: str) -> tuple[str, ...]:
    metadata = raw.get("metadata")
    sources = [raw.get("tags")]
    if isinstance(metadata, Mapping):
        sources.append(metadata.get("tags"))
    tags: list[Any] = []
    for found in sources:
        if found is None:
            continue
        if not isinstance(found, (list, tuple)):
            raise NotebookError(
                f"{where}: cell {index + 1} tags must be a list of strings,"
                f" got {type(found).__name__}"
            )
        tags.extend(found)
    if not all(isinstance(tag, str) for tag in tags):
        raise NotebookError(f"{where}: cell {index + 1} tags must be strings")
    return tuple(dict.fromkeys(tags))
