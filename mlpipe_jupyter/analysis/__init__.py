"""Static analysis: a notebook of `%%step` cells -> a `Pipeline` (DAG of steps).

Pure and fast: notebooks are read as JSON, cells are parsed with `ast`, and
networkx is imported only when a pipeline is ordered.
"""

from __future__ import annotations

from .graph import analyze, analyze_notebook
from .model import AnalysisError, Cell, Edge, Pipeline, Step, StepOptions
from .notebook import NotebookError, cells_from_json, read_cells
from .options import StepLineError, parse_step_line
from .visitor import CellFacts, cell_facts

__all__ = [
    "AnalysisError", "Cell", "CellFacts", "Edge", "NotebookError", "Pipeline", "Step",
    "StepLineError", "StepOptions", "analyze", "analyze_notebook", "cell_facts",
    "cells_from_json", "parse_step_line", "read_cells",
]
