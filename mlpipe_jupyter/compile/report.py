"""What a step really did at run time (DESIGN rule 10), as the step reports it.

The step runtime fills a `StepReport` while the step's kernel runs and writes
it into the step's result JSON under `"report"`; the coordinator compares it
with the plan (files the plan did not know, inputs changed, hidden random
state consumed) and corrects within the same run. Paths are relative to the
notebook's folder (POSIX separators), never absolute, so keys and reports are
the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlpipe_jupyter.cache.facts import FileFact  # noqa: F401 (the report carries them)


@dataclass(frozen=True)
class CorruptInput:
    """An input whose artifact failed its check when the step loaded it (issue 10)."""

    var: str
    artifact: str  # the artifact's key (sha256 of the bytes it should hold)
    problem: str  # "failed its checksum" | "is missing"

    def to_json(self) -> dict[str, Any]:
        return {"var": self.var, "artifact": self.artifact, "problem": self.problem}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CorruptInput:
        return cls(str(data["var"]), str(data["artifact"]), str(data["problem"]))


@dataclass(frozen=True)
class StepReport:
    """Files read and written, inputs changed, hidden state consumed, by one step run.

    `files_written` maps a path to its fact plus the artifact key its bytes
    are stored under (`written_keys`), so a later step or run can put it back.
    `random` names each global generator the step drew from ("numpy",
    "random", "torch", "tensorflow"); `unseeded` those it drew from with
    nobody having seeded them (the step is non-deterministic).
    """

    files_read: tuple[FileFact, ...] = ()
    files_written: tuple[FileFact, ...] = ()
    written_keys: dict[str, str] = field(default_factory=dict)  # path -> artifact key
    inputs_changed: tuple[str, ...] = ()
    random: tuple[str, ...] = ()
    unseeded: tuple[str, ...] = ()
    #: folders the step listed (os.listdir/scandir, glob): size = entries, sha256 of names
    dirs_listed: tuple[FileFact, ...] = ()
    #: inputs that could not be loaded because their artifact is damaged or gone: the
    #: coordinator re-runs their producers in the same run (written before the step fails)
    corrupt_inputs: tuple[CorruptInput, ...] = ()
    #: metrics the step logged (`mlp.log_metric`, `%%step --metrics VAR`): name -> number
    metrics: dict[str, float] = field(default_factory=dict)
    #: what the kernel saw of code and environment (compile/identity.py, issue 20): loaded
    #: local modules, plugin distributions, environment variables read at run time
    identity: dict[str, Any] = field(default_factory=dict)
    #: paths the step looked for and did not find (relative, like files_read): the entry
    #: is stale once one appears ("file overrides.csv appeared")
    paths_absent: tuple[str, ...] = ()
    #: why its reads were not fully watched ("runs `cat`"): an opaque step is not reused
    #: unless its inputs are declared or `--cache always` is given
    opaque: tuple[str, ...] = ()
    #: files whose fingerprint changed between the step's read and its end: the result
    #: reflects neither version and is not cached
    changed_during: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        corrupt = {"corrupt_inputs": [c.to_json() for c in self.corrupt_inputs]}
        watched = {name: list(getattr(self, name)) for name in
                   ("paths_absent", "opaque", "changed_during") if getattr(self, name)}
        return {
            **(corrupt if self.corrupt_inputs else {}),
            **watched,
            **({"metrics": dict(self.metrics)} if self.metrics else {}),
            **({"identity": dict(self.identity)} if self.identity else {}),
            "files_read": [f.to_json() for f in self.files_read],
            "files_written": [f.to_json() for f in self.files_written],
            "written_keys": dict(self.written_keys),
            "inputs_changed": list(self.inputs_changed),
            "random": list(self.random),
            "unseeded": list(self.unseeded),
            "dirs_listed": [f.to_json() for f in self.dirs_listed],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> StepReport:
        data = data or {}
        return cls(
            files_read=tuple(FileFact.from_json(f) for f in data.get("files_read", ())),
            files_written=tuple(FileFact.from_json(f) for f in data.get("files_written", ())),
            written_keys=dict(data.get("written_keys", {})),
            inputs_changed=tuple(data.get("inputs_changed", ())),
            random=tuple(data.get("random", ())),
            unseeded=tuple(data.get("unseeded", ())),
            dirs_listed=tuple(FileFact.from_json(f) for f in data.get("dirs_listed", ())),
            corrupt_inputs=tuple(
                CorruptInput.from_json(c) for c in data.get("corrupt_inputs", ())),
            metrics={str(k): float(v) for k, v in (data.get("metrics") or {}).items()},
            identity=dict(data.get("identity") or {}),
            paths_absent=tuple(data.get("paths_absent", ())),
            opaque=tuple(data.get("opaque", ())),
            changed_during=tuple(data.get("changed_during", ())),
        )
