"""The Python SDK: `import mlpipe_jupyter as mlp`, then `mlp.load`, `mlp.runs`, ...

Modules: `pipeline` (`load`, `Pipeline`: a notebook read as a pipeline, run or
submitted), `run` (`Run`, `StepInfo`, `StepOutputs`: a run record and its
outputs), `registry` (`runs`, `get_run`, `publish`, `trigger`). Each is a few
lines over `mlpipe_jupyter.service` and `mlpipe_jupyter.schedule`; none imports
Dask, papermill or nbformat until a run needs them.
"""

from __future__ import annotations

from .pipeline import Pipeline, load
from .registry import get_run, publish, runs, trigger
from .run import Run, StepInfo, StepOutputs

__all__ = [
    "Pipeline", "Run", "StepInfo", "StepOutputs", "get_run", "load", "publish", "runs",
    "trigger",
]
