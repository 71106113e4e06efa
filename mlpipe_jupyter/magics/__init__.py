"""IPython magics: `%%step`, `%%params` and `%pipeline`.

`%load_ext mlpipe_jupyter` registers them (through `mlpipe_jupyter.load_ipython_extension`).
"""

from __future__ import annotations

from typing import Any

from .core import PipelineMagics
from .session import forget_session

_MAGICS = {"cell": ("step", "params"), "line": ("pipeline",)}


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics on `ipython` (idempotent, as `%reload_ext` expects)."""
    ipython.register_magics(PipelineMagics)
    from ..compile.hidden import watch

    watch()  # note seeding of the global random generators, as a step kernel does
    from .session import session_for

    session_for(ipython)  # from now on every cell is recorded (the live kernel's key)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics and forget what this session recorded."""
    table = ipython.magics_manager.magics
    for kind, names in _MAGICS.items():
        for name in names:
            table[kind].pop(name, None)
    ipython.magics_manager.registry.pop(PipelineMagics.__name__, None)
    forget_session(ipython)


__all__ = ["PipelineMagics", "load_ipython_extension", "unload_ipython_extension"]
