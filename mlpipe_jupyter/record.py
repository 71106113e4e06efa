"""The run record's shape, defined once (DESIGN.md "Command line", `--json`).

`StepRecord` and `RunRecord` name every field a run record carries, with its type. The
other spellings are derived from them or checked against them
(`tests/foundation/test_record_shape.py`): the SQL columns of `mlpipe.db`
(`execute/records.py`), the fields the orchestrator writes (`execute/runner.py`), the
SDK's `StepInfo`, the REST answer (`docs/openapi.yaml` `StepRecord`/`RunRecord`) and the
sidebar's TypeScript (`js/types.ts` `IStepRun`/`IRunRecord`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class StepRecord:
    """One step of a run, as `mlpipe run --json`, `GET runs/ID` and the SDK give it."""

    status: str  # status.StepStatus
    reason: str | None = None  # why it ran, was reused, skipped or failed
    worker: str | None = None
    duration_s: float | None = None
    cache_key: str | None = None
    notebook: str | None = None  # the executed step notebook
    error: str | None = None
    attempt: int = 0
    started: float | None = None
    finished: float | None = None
    discovered: list[str] = field(default_factory=list)  # "file:x from step" (rule 10)
    threads: int | None = None  # its BLAS/OpenMP pool size
    device: str | None = None  # the CUDA_VISIBLE_DEVICES a --gpu step got
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRecord:
    """One run, with its steps in pipeline order."""

    run_id: str
    notebook: str
    status: str  # status.RunStatus
    started: float | None = None
    finished: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    cancel_requested: bool = False
    retry_of: str | None = None
    steps: dict[str, StepRecord] = field(default_factory=dict)


#: The step fields, in order: what `mlpipe.db` stores and the record carries.
STEP_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(StepRecord))
#: The run fields (without `steps`).
RUN_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(RunRecord) if f.name != "steps")
#: Fields stored as JSON text in SQL.
JSON_STEP_FIELDS: tuple[str, ...] = ("discovered", "metrics")
