"""mlpipe-jupyter: turn a Jupyter notebook into an ML pipeline.

Entry points kept cheap to import: the IPython extension, the jupyter_server
extension and the prebuilt JupyterLab extension each load their module lazily.
"""

from __future__ import annotations

__version__ = "0.1.0"


def load_ipython_extension(ipython):  # noqa: ANN001 - IPython's hook signature
    """`%load_ext mlpipe_jupyter`: registers %%step, %%params and %pipeline."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython):  # noqa: ANN001
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "../labextension", "dest": "mlpipe-jupyter"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "mlpipe_jupyter.server"}]


def _load_jupyter_server_extension(server_app):  # noqa: ANN001
    from .server import _load_jupyter_server_extension as _load

    _load(server_app)
