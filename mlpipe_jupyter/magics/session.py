"""What this kernel has seen: the `%%step` and `%%params` cells it ran.

One `Session` per IPython shell. `%pipeline dag` falls back to it when the
kernel cannot find its notebook on disk (a plain IPython console, a notebook
run by papermill), rebuilding a notebook from the recorded cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..analysis.model import StepOptions

_ATTRIBUTE = "_mlpipe_session"


@dataclass(frozen=True)
class RecordedStep:
    """A `%%step` cell as the kernel last ran it."""

    name: str
    line: str  # the argument line after `%%step`, as written
    options: StepOptions
    source: str  # the cell body (the `%%step` line removed)
    started: float  # time.time() when the cell started
    duration_s: float | None = None  # None while running or when it raised
    status: str = "running"  # running | succeeded | failed | cached
    execution_count: int = 0


@dataclass(frozen=True)
class RecordedParams:
    """The last `%%params` cell the kernel ran."""

    source: str
    defaults: dict[str, Any]
    execution_count: int = 0


@dataclass
class Session:
    """Per-shell registry of the pipeline cells run in this kernel."""

    steps: dict[str, RecordedStep] = field(default_factory=dict)  # first-run order
    params: RecordedParams | None = None
    first_step_count: int | None = None  # execution count of the first `%%step` run
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)  # (name, re-pickled
    # key) -> the key of the artifact it was restored from

    def record_step(self, step: RecordedStep) -> None:
        if self.first_step_count is None:
            self.first_step_count = step.execution_count
        self.steps[step.name] = step  # a re-run keeps its first position

    def record_params(self, params: RecordedParams) -> None:
        self.params = params


def session_for(shell: Any) -> Session:
    """The shell's session, created on first use."""
    session = getattr(shell, _ATTRIBUTE, None)
    if session is None:
        session = Session()
        setattr(shell, _ATTRIBUTE, session)
    return session


def forget_session(shell: Any) -> None:
    if hasattr(shell, _ATTRIBUTE):
        delattr(shell, _ATTRIBUTE)
