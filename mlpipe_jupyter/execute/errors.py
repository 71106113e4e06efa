"""Errors of the execution layer that a caller maps to exit codes or HTTP statuses."""

from __future__ import annotations


class RunInputError(ValueError):
    """Bad input, found before anything runs (CLI exit 2, HTTP 400).

    The message is one line naming the step, parameter or resource and the fix.
    """


class ResourceError(RunInputError):
    """A step asks for resources that no worker of the cluster has."""
