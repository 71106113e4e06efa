"""The vocabulary of run and step states, in one module.

`str` enums, so a value compares equal to its JSON string and serialises as
one (`json.dumps(RunStatus.SUCCEEDED)` is `"succeeded"`). The TypeScript
types in js/types.ts are checked against these in tests.
"""

from __future__ import annotations

from enum import Enum


class RunStatus(str, Enum):
    """A run's state in its record.

    `queued`: recorded by a server at its `max_concurrent_runs`, not started yet (it
    starts when a slot frees, FIFO, or ends `cancelled` without ever starting).
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


class StepStatus(str, Enum):
    """A step's state in a run record; the last four are final."""

    PENDING = "pending"  # waits for upstream steps before its cache key is known
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    CACHED = "cached"
    FAILED = "failed"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value

    @property
    def finished(self) -> bool:
        return self in FINAL_STEP

    @property
    def ok(self) -> bool:
        """Finished with usable outputs."""
        return self in (StepStatus.SUCCEEDED, StepStatus.CACHED)


FINAL_STEP = frozenset(
    {StepStatus.SUCCEEDED, StepStatus.CACHED, StepStatus.FAILED, StepStatus.SKIPPED}
)
