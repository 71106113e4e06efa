"""mlpipe-jupyter: turn a Jupyter notebook into an ML pipeline.

The package root is the Python SDK (`import mlpipe_jupyter as mlp`)::

    p = mlp.load("train.ipynb")         # Pipeline: .steps, .edges, .params, .errors, ...
    run = p.run(params={"lr": 0.2})     # or p.submit(...), then run.wait()
    model = run["train"]["model"]       # a step's output, loaded from the store
    mlp.runs(), mlp.get_run(run_id), mlp.publish(nb, name=...), mlp.trigger(name)

Importing it is light: the SDK's names load on first use (module `__getattr__`),
and nothing imports Dask, papermill or nbformat until a run needs them. The
IPython, jupyter_server and JupyterLab entry points load their modules lazily.
"""

from __future__ import annotations

from typing import Any

from .errors import BadInput, Conflict, MlpipeError, NotFound, StepFailed
from .status import RunStatus, StepStatus

from ._version import __version__

#: SDK name -> the module that defines it, imported on first use.
_LAZY = {
    "load": "sdk.pipeline", "Pipeline": "sdk.pipeline",
    "Run": "sdk.run", "StepInfo": "sdk.run", "StepOutputs": "sdk.run",
    "runs": "sdk.registry", "get_run": "sdk.registry", "publish": "sdk.registry",
    "trigger": "sdk.registry", "RunRequest": "request", "resolve_store": "stores",
    "pipelines": "sdk.registry",
    "log_metric": "experiments.metrics", "log_metrics": "experiments.metrics",
    "compare": "sdk.compare",
    "debug": "magics.debug",
    "store_info": "housekeeping",
}

__all__ = [
    "BadInput", "Conflict", "MlpipeError", "NotFound", "Pipeline", "Run", "RunRequest", "debug",
    "RunStatus", "StepFailed", "StepInfo", "StepOutputs", "StepStatus", "get_run", "load",
    "publish", "resolve_store", "runs", "trigger", "compare", "log_metric", "log_metrics",
    "store_info", "pipelines",
]


def __getattr__(name: str) -> Any:
    """The SDK's names, imported when first used (keeps `import mlpipe_jupyter` light)."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def load_ipython_extension(ipython):  # noqa: ANN001 - IPython's hook signature
    """`%load_ext mlpipe_jupyter`: registers %%step, %%params and %pipeline."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython):  # noqa: ANN001
    """`%unload_ext mlpipe_jupyter`: removes the magics."""
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "../labextension", "dest": "mlpipe-jupyter"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "mlpipe_jupyter.server"}]


def _load_jupyter_server_extension(server_app):  # noqa: ANN001
    from .server import _load_jupyter_server_extension as _load

    _load(server_app)
