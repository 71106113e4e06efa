"""`mlpipe dag NB [--format text|json|dot|mermaid]`: the DAG a notebook describes.

Fast path: reads the notebook as JSON and imports neither papermill, nbformat,
distributed nor IPython.
"""

from __future__ import annotations

import argparse
import sys

from . import EXIT_BAD_INPUT, EXIT_OK, CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..analysis.formats import FORMATS

    parser = subparsers.add_parser(
        "dag", help="show the pipeline (DAG) a notebook describes",
        description="Infer the DAG of a notebook's %%step cells from the names they read and bind.",
    )
    parser.add_argument("notebook", help="path of the .ipynb file")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="output format (default: text)")
    parser.set_defaults(func=run_dag)


def run_dag(args: argparse.Namespace) -> int:
    from ..analysis import NotebookError, analyze_notebook
    from ..analysis.formats import render

    try:
        pipeline = analyze_notebook(args.notebook)
    except NotebookError as exc:
        raise CliError(str(exc)) from None
    sys.stdout.write(render(pipeline, args.format))
    if args.format in ("dot", "mermaid"):  # text and json carry them in their output
        for warning in pipeline.warnings:
            print(f"mlpipe: warning: {warning}", file=sys.stderr)
    for error in pipeline.errors:
        print(f"mlpipe: {error}", file=sys.stderr)
    return EXIT_BAD_INPUT if pipeline.errors else EXIT_OK
