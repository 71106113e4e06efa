"""The one exception root of mlpipe, and its categories.

Every error a person can act on is an `MlpipeError` whose message is one line
naming the step, cell, field or option and the fix. Each front end translates
the category once: the CLI prints the line and exits 2 (1 for `StepFailed`),
the server answers 400/404/409 (server/errors.py), the magics raise
IPython's `UsageError`.
"""

from __future__ import annotations


class MlpipeError(Exception):
    """A problem a person can act on; the message is one line and names the fix."""


class BadInput(MlpipeError, ValueError):
    """The request itself is wrong: a notebook, option, name, cron, path or parameter."""


class NotFound(MlpipeError, LookupError):
    """A pipeline, version, schedule, run, step, output or notebook that does not exist."""

    def __str__(self) -> str:  # LookupError would show the repr of the message
        return str(self.args[0]) if self.args else ""


class Conflict(MlpipeError):
    """The request is valid but clashes with the current state (a finished run, a taken name)."""


class StepFailed(MlpipeError):
    """A run finished with a failed step (`Run.wait(raise_on_failure=True)`, `run[STEP]`)."""
