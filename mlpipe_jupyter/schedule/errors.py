"""The errors of publishing and scheduling: the one root of `mlpipe_jupyter.errors`.

Re-exported so the modules of this package keep importing them from here;
there is one class of each (`schedule.errors.NotFound is errors.NotFound`).
"""

from __future__ import annotations

from ..errors import BadInput, Conflict, MlpipeError, NotFound

__all__ = ["BadInput", "Conflict", "MlpipeError", "NotFound"]
