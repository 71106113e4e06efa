"""Errors of the execution layer: the categories of `mlpipe_jupyter.errors`, by their old names.

`RunInputError` is `BadInput` (CLI exit 2, HTTP 400); `ResourceError` is the
`BadInput` of a step that asks for resources no worker of the cluster has.
"""

from __future__ import annotations

from ..errors import BadInput

RunInputError = BadInput


class ResourceError(BadInput):
    """A step asks for resources that no worker of the cluster has."""


__all__ = ["ResourceError", "RunInputError"]
