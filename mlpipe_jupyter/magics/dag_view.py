"""`%pipeline dag [NOTEBOOK] [--format svg|text|json|mermaid]`."""

from __future__ import annotations

import json
from typing import Any

from IPython.display import SVG, display

from ..analysis.model import Pipeline
from .args import parse, parser
from .locate import notebook_path, session_cells
from .session import session_for
from .svg import render_svg

FORMATS = ("svg", "text", "json", "mermaid")


def load_pipeline(shell: Any, explicit: str | None) -> tuple[Pipeline, str]:
    """The pipeline to show and where it came from (a file name, or this session)."""
    from .. import analysis

    path = notebook_path(shell, explicit)
    if path is not None:
        return analysis.analyze(analysis.read_cells(path)), path.name
    cells = analysis.cells_from_json(session_cells(shell, session_for(shell)))
    return analysis.analyze(cells), "this session's %%step cells"


def pipeline_dag(shell: Any, line: str) -> None:
    """Show the DAG of the current notebook inline."""
    p = parser("%pipeline dag")
    p.add_argument("notebook", nargs="?")
    p.add_argument("--format", choices=FORMATS, default="svg")
    args = parse(p, line)
    pipeline, origin = load_pipeline(shell, args.notebook)
    if args.format == "svg":
        display(SVG(render_svg(pipeline, title=origin)))
    elif args.format == "json":
        print(json.dumps(pipeline.to_json(), indent=2))
    elif args.format == "mermaid":
        text = _formats().to_mermaid(pipeline)
        display({"text/markdown": f"```mermaid\n{text}\n```", "text/plain": text}, raw=True)
    else:
        print(_formats().to_text(pipeline))


def _formats() -> Any:
    from ..analysis import formats

    return formats
