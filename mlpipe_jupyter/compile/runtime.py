"""What a step notebook calls inside its kernel: load inputs, save outputs.

`_mlpipe` (the config papermill injects) looks like::

    {"store": "/path/.mlpipe",
     "inputs": {"df": {"key": ..., "format": ..., "size": ..., "type": ...}},
     "outputs": ["model"],
     "result": "/path/.mlpipe/runs/<run_id>/train.result.json",
     "step": "train"}          # optional; the save cell passes it too

Kept light: only the store (and the serializers it needs) are imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlpipe_jupyter.cache.store import (
    ArtifactRef,
    CorruptArtifact,
    Store,
    UnsavableValue,
    atomic_write_json,
)


class StepInputError(RuntimeError):
    """An input of the step could not be loaded from the store."""

    def __init__(self, step: str, var: str, reason: str) -> None:
        self.step = step
        self.var = var
        super().__init__(
            f"step '{step}': input '{var}' cannot be loaded: {reason};"
            " re-run the step that produces it (mlpipe run --no-cache)"
        )
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.step, self.var, self.reason))


class MissingOutput(RuntimeError):
    """The step did not bind a name it should output."""

    def __init__(self, step: str, var: str) -> None:
        self.step = step
        self.var = var
        super().__init__(
            f"step '{step}' should bind '{var}' but did not;"
            f" assign {var} in the step or drop it from --outputs"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.step, self.var))


def _step_name(cfg: dict[str, Any], step: str | None) -> str:
    return step or str(cfg.get("step") or "?")


def load_inputs(cfg: dict[str, Any], step: str | None = None) -> dict[str, Any]:
    """The step's input values, by variable name, checked against their checksums."""
    inputs = cfg.get("inputs") or {}
    if not inputs:
        return {}
    store = Store.open(cfg["store"])
    values = {}
    for var, ref_json in inputs.items():
        try:
            ref = ArtifactRef.from_json(ref_json)
            values[var] = store.get(ref)
        except CorruptArtifact as exc:
            raise StepInputError(_step_name(cfg, step), var, str(exc)) from exc
        except (KeyError, ValueError, TypeError) as exc:
            raise StepInputError(_step_name(cfg, step), var, f"bad artifact ref ({exc})") from exc
    return values


def save_outputs(cfg: dict[str, Any], namespace: dict[str, Any], step: str | None = None) -> None:
    """Store each output variable; write `{var: ref-json}` to `cfg["result"]` atomically."""
    name = _step_name(cfg, step)
    outputs = list(cfg.get("outputs") or [])
    missing = [var for var in outputs if var not in namespace]
    if missing:
        raise MissingOutput(name, missing[0])
    refs: dict[str, Any] = {}
    if outputs:
        store = Store.open(cfg["store"])
        for var in outputs:
            try:
                refs[var] = store.put(var, namespace[var]).to_json()
            except UnsavableValue as exc:
                raise UnsavableValue(exc.var, exc.type_name, exc.reason, name) from None
    if cfg.get("result"):
        atomic_write_json(Path(cfg["result"]), refs)
