"""Write the corpus notebooks (tests/corpus/notebooks/<name>/<name>.ipynb) from readable sources.

Each notebook is a percent-format string in `corpus_sources.py`: a line
`#%%` starts a code cell, `#%% md` a markdown cell, and `#%% tags=a,b` a code
cell with tags. Extra files (a helpers module, a small package) are written
beside the notebook. The output is deterministic: cell ids are `<name>-<i>`,
JSON has sorted keys, so re-running this script on unchanged sources changes
no byte.

    .venv/bin/python tests/corpus/make_corpus.py          # write every notebook
    .venv/bin/python tests/corpus/make_corpus.py --check  # exit 1 if a file is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus_sources import NOTEBOOKS  # noqa: E402

OUT = HERE / "notebooks"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def parse_cells(text: str) -> list[tuple[str, list[str], str]]:
    """(kind, tags, source) for each cell of a percent-format string."""
    cells: list[tuple[str, list[str], list[str]]] = []
    for line in text.strip("\n").split("\n"):
        if line.startswith("#%%"):
            header = line[3:].strip()
            kind, tags = "code", []
            if header == "md":
                kind = "markdown"
            elif header.startswith("tags="):
                tags = [t for t in header[len("tags="):].split(",") if t]
            elif header:
                raise ValueError(f"bad cell header {line!r}")
            cells.append((kind, tags, []))
        else:
            if not cells:
                raise ValueError("a notebook source must start with a #%% line")
            cells[-1][2].append(line)
    return [(kind, tags, "\n".join(lines).strip("\n")) for kind, tags, lines in cells]


def notebook(name: str, text: str) -> dict[str, Any]:
    cells = []
    for i, (kind, tags, source) in enumerate(parse_cells(text)):
        cell: dict[str, Any] = {"cell_type": kind, "id": f"{name}-{i}", "metadata": {},
                                "source": source}
        if tags:
            cell["metadata"]["tags"] = tags
        if kind == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        cells.append(cell)
    return {
        "cells": cells,
        "metadata": {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def rendered() -> dict[Path, str]:
    """Every file the corpus consists of -> its text."""
    files: dict[Path, str] = {}
    for name, spec in NOTEBOOKS.items():
        folder = OUT / name
        nb = notebook(name, spec["source"])
        files[folder / f"{name}.ipynb"] = json.dumps(nb, indent=1, sort_keys=True) + "\n"
        for rel, content in spec.get("files", {}).items():
            files[folder / rel] = content.strip("\n") + "\n"
    return files


def main(argv: list[str]) -> int:
    files = rendered()
    if "--check" in argv:
        stale = [p for p, text in files.items()
                 if not p.exists() or p.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"stale: {path.relative_to(HERE)}")
        return 1 if stale else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(NOTEBOOKS)} notebooks, {len(files)} files under {OUT.relative_to(HERE)}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
