"""The vocabulary of the run-state machine: what happened (events), what to do (actions).

Plain frozen values, so `machine.py` stays a pure function of them and the
Dask adapter (`coordinator.py`) and the unit tests speak the same language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Union

from mlpipe_jupyter.compile.report import StepReport
from mlpipe_jupyter.status import RunStatus

from .verify import Discovery


class Failure(str, Enum):
    """Why a step attempt failed."""

    ERROR = "error"  # the step's code raised
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    KERNEL_DIED = "kernel-died"
    WORKER_LOST = "worker-lost"  # KilledWorker: the worker running it died repeatedly
    CLUSTER = "cluster"  # the task could not run on the cluster
    COMMIT = "commit"  # ran, but its outputs could not be cached
    CORRUPT_INPUT = "corrupt-input"  # an input's artifact failed its checksum when loaded

    def __str__(self) -> str:
        return self.value


# -- events --------------------------------------------------------------------


@dataclass(frozen=True)
class Finished:
    """An attempt of a step ended (its outputs already committed when `ok`)."""

    step: str
    attempt: int
    ok: bool
    failure: Failure | None = None
    error: str | None = None
    report: StepReport = field(default_factory=StepReport)
    saved: tuple[str, ...] = ()  # the output names it saved


@dataclass(frozen=True)
class Decided:
    """The cache's answer for a step after `DecideNow`."""

    step: str
    cached: bool


@dataclass(frozen=True)
class CancelRequested:
    """Someone asked the run to stop."""


Event = Union[Finished, Decided, CancelRequested]


# -- actions -------------------------------------------------------------------


@dataclass(frozen=True)
class DecideNow:
    """Look the step up in the cache now that its inputs are known; answer `Decided`."""

    step: str


@dataclass(frozen=True)
class Submit:
    """Run attempt `attempt` of the step; `reason` overrides the plan's (a re-run)."""

    step: str
    attempt: int
    reason: str | None = None
    outputs: tuple[str, ...] = ()  # outputs to save beyond the plan's (discovered)


@dataclass(frozen=True)
class Retry:
    """Say that the step failed and is tried again, then run `attempt`."""

    step: str
    attempt: int
    error: str | None


@dataclass(frozen=True)
class MarkCached:
    step: str


@dataclass(frozen=True)
class MarkSucceeded:
    step: str
    attempt: int
    discovered: tuple[str, ...] = ()  # "file:model.joblib from train", ...


@dataclass(frozen=True)
class MarkFailed:
    step: str
    attempt: int
    error: str | None


@dataclass(frozen=True)
class Skip:
    step: str
    reason: str


@dataclass(frozen=True)
class Cancel:
    """Stop these steps' attempts now (a cancel, or a re-run supersedes them)."""

    steps: tuple[str, ...]


@dataclass(frozen=True)
class Discovered:
    """A dependency the plan missed: record it for later plans."""

    discovery: Discovery


@dataclass(frozen=True)
class Invalidate:
    """The artifact of `var` that `step` produced failed its checksum when `reader`
    loaded it: drop the cache entry it came from (the step is re-run)."""

    step: str
    var: str
    reader: str
    problem: str = "failed its checksum"
    artifact: str = ""  # the artifact's key


@dataclass(frozen=True)
class Warn:
    """Something the run did not act on, said once (a re-run verification would repeat)."""

    step: str
    message: str


@dataclass(frozen=True)
class FinishRun:
    status: RunStatus


Action = Union[
    DecideNow, Submit, Retry, MarkCached, MarkSucceeded, MarkFailed, Skip, Cancel, Discovered,
    Invalidate, Warn, FinishRun,
]
