"""The errors of publishing and scheduling, each a category the server maps to a status.

`BadInput` -> 400, `NotFound` -> 404, `Conflict` -> 409 (see server/errors.py); the CLI
prints any of them as one line and exits 2.
"""

from __future__ import annotations


class MlpipeError(Exception):
    """A problem a person can act on; the message is one line and names the fix."""


class BadInput(MlpipeError, ValueError):
    """The request itself is wrong: a bad name, cron, path or parameter."""


class NotFound(MlpipeError, LookupError):
    """A pipeline, version, schedule, run or notebook that does not exist."""


class Conflict(MlpipeError):
    """The request is valid but clashes with the current state (a finished run, a taken name)."""
