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

_KINDS = ("code", "markdown", "raw")


class NotebookError(ValueError):
    """A notebook file or cell list that cannot be read; one line with the fix."""


def read_cells(path: str | Path) -> list[Cell]:
    """The cells of the `.ipynb` file at `path`, read as JSON."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotebookError(f"notebook '{path}' does not exist; check the path") from None
    except IsADirectoryError:
        raise NotebookError(f"'{path}' is a directory; give the path of an .ipynb file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError(f"cannot read notebook '{path}': {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"notebook '{path}' is not valid JSON (line {exc.lineno}: {exc.msg});"
            " save it again from Jupyter"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise NotebookError(
            f"notebook '{path}' has no 'cells' list; is it an nbformat 4 .ipynb file?"
        )
    return cells_from_json(document["cells"], where=f"notebook '{path}'")


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
    tags: list[Any] = list(raw.get("tags") or ())
    metadata = raw.get("metadata")
    if isinstance(metadata, Mapping):
        tags.extend(metadata.get("tags") or ())
    if not all(isinstance(tag, str) for tag in tags):
        raise NotebookError(f"{where}: cell {index + 1} tags must be strings")
    return tuple(dict.fromkeys(tags))
