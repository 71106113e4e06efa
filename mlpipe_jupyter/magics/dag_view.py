"""`%pipeline dag [NOTEBOOK] [--format svg|text|json|dot|mermaid]`."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.display import SVG, display

from ..analysis.model import Pipeline
from .args import parse, parser
from .locate import notebook_path, session_cells
from .session import session_for
from .svg import render_svg

FORMATS = ("svg", "text", "json", "dot", "mermaid")


def load_pipeline(shell: Any, explicit: str | None) -> tuple[Pipeline, str]:
    """The pipeline to show and where it came from (a file name, or this session)."""
    from .. import analysis

    path = notebook_path(shell, explicit)
    if path is not None:
        try:
            cells = analysis.read_cells(path)
        except analysis.NotebookError as exc:
            raise UsageError(f"%pipeline: {exc}") from None
        from ..analysis.graph import analyze_at  # %%step --uses resolved (issue 25)

        return analyze_at(cells, path), path.name
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
        return
    from ..analysis import formats

    text = formats.render(pipeline, args.format).rstrip("\n")
    if args.format == "mermaid":  # JupyterLab draws mermaid blocks in Markdown
        display({"text/markdown": f"```mermaid\n{text}\n```", "text/plain": text}, raw=True)
    else:
        print(text)
    if args.format != "json":
        for problem in [f"error: {e}" for e in pipeline.errors]:
            print(problem)
        for warning in pipeline.warnings:
            print(f"warning: {warning}")
