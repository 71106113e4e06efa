"""Drive a `RunMachine` from short scripts: the helpers of test_machine.py and test_verify.py.

`make("a b c", "a>b a>c")` builds a machine (steps in notebook order); `feed`
turns a script event (`ok("a")`, `fail("b", Failure.TIMEOUT)`, `("cancel",)`,
`("decided", "b", True)`, `corrupt("c", "x")`) into machine events and returns its actions as
short lines ("submit b#1", "skip d: upstream 'b' failed", "finish failed").
"""

from __future__ import annotations

from dataclasses import dataclass

from mlpipe_jupyter.compile.report import CorruptInput, FileFact, StepReport
from mlpipe_jupyter.execute.events import (
    Cancel,
    CancelRequested,
    Decided,
    DecideNow,
    Discovered,
    Failure,
    Finished,
    FinishRun,
    Invalidate,
    MarkCached,
    MarkFailed,
    MarkSucceeded,
    Retry,
    Skip,
    Submit,
)
from mlpipe_jupyter.execute.machine import RunMachine, StepSpec


def make(
    steps: str,
    edges: str = "",
    retries: dict[str, int] | None = None,
    pending: str = "",
    cached: str = "",
    inputs: dict[str, dict[str, str]] | None = None,
    carried: str = "",
) -> RunMachine:
    """`make("a b c", "a>b a>c")`: steps in notebook order (also the run order)."""
    names = steps.split()
    pairs = [tuple(e.split(">")) for e in edges.split()]
    inputs = inputs or {}
    specs = [
        StepSpec(
            name, i, parents=tuple(a for a, b in pairs if b == name),
            retries=(retries or {}).get(name, 0), pending=name in pending.split(),
            cached=name in cached.split(), inputs=tuple(sorted(inputs.get(name, {}).items())),
            outputs=tuple(sorted({v for r in inputs.values() for v, p in r.items() if p == name})),
        )
        for i, name in enumerate(names)
    ]
    return RunMachine(specs, names, frozenset(carried.split()))


def line(action: object) -> str:
    if isinstance(action, Submit):
        extra = f" ({action.reason})" if action.reason else ""
        saved = f" +{','.join(action.outputs)}" if action.outputs else ""
        return f"submit {action.step}#{action.attempt}{saved}{extra}"
    if isinstance(action, Retry):
        return f"retry {action.step}#{action.attempt}: {action.error}"
    if isinstance(action, DecideNow):
        return f"decide {action.step}"
    if isinstance(action, MarkCached):
        return f"cached {action.step}"
    if isinstance(action, MarkSucceeded):
        found = f" [{'; '.join(action.discovered)}]" if action.discovered else ""
        return f"succeeded {action.step}{found}"
    if isinstance(action, MarkFailed):
        return f"failed {action.step}: {action.error}"
    if isinstance(action, Skip):
        return f"skip {action.step}: {action.reason}"
    if isinstance(action, Cancel):
        return f"cancel {','.join(action.steps)}"
    if isinstance(action, Discovered):
        d = action.discovery
        return f"discovered {d.writer}->{d.reader} {d.var}"
    if isinstance(action, Invalidate):
        return f"invalidate {action.step} ({action.var}, read by {action.reader})"
    if isinstance(action, FinishRun):
        return f"finish {action.status}"
    raise AssertionError(action)


def file(path: str, sha: str) -> FileFact:
    return FileFact(path, 1, 0.0, sha)


def ok(
    step: str, attempt: int | None = None, saved: tuple[str, ...] | None = None, **report: object
) -> tuple:
    """Attempt `attempt` (default: the current one) succeeded, saving `saved` (default: its
    outputs), with a report made of `report`'s fields."""
    return ("ok", step, attempt, StepReport(**report), saved)  # type: ignore[arg-type]


def fail(step: str, failure: Failure = Failure.ERROR, attempt: int | None = None) -> tuple:
    return ("fail", step, attempt, failure)


def corrupt(step: str, var: str, attempt: int | None = None) -> tuple:
    """The step failed loading `var`: its artifact failed its checksum."""
    return ("corrupt", step, attempt, var)


def feed(machine: RunMachine, event: tuple) -> list[str]:
    kind = event[0]
    if kind == "cancel":
        actions = machine.handle(CancelRequested())
    elif kind == "decided":
        actions = machine.handle(Decided(event[1], event[2]))
    else:
        step, attempt = event[1], event[2]
        attempt = machine.slots[step].attempt if attempt is None else attempt
        if kind == "ok":
            saved = machine.outputs(step) if event[4] is None else event[4]
            actions = machine.handle(Finished(step, attempt, True, report=event[3], saved=saved))
        elif kind == "corrupt":
            damaged = CorruptInput(event[3], "0" * 64, "failed its checksum")
            actions = machine.handle(Finished(
                step, attempt, False, Failure.CORRUPT_INPUT, f"{step} cannot load {event[3]}",
                report=StepReport(corrupt_inputs=(damaged,)),
            ))
        else:
            error = f"{step} {event[3]}"
            actions = machine.handle(Finished(step, attempt, False, event[3], error))
    return [line(a) for a in actions]


@dataclass
class Case:
    """A named script for a fresh machine and the actions expected after each step."""

    name: str
    machine: RunMachine
    script: list[tuple]
    expected: list[list[str]]  # the actions of start(), then after each event

    def play(self) -> list[list[str]]:
        got = [[line(a) for a in self.machine.start()]]
        for event in self.script:
            got.append(feed(self.machine, event))
        return got
