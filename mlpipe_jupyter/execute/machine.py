"""The run-state machine: what may start, skip, retry, cancel, re-run and finish.

Pure: `RunMachine.handle(event)` takes what happened (a step finished, the
cache answered, a cancel was asked for) and returns what to do next, as
action values; no Dask, no I/O, no clock. `execute/coordinator.py` is the
Dask adapter that turns futures into events and actions into side effects;
the unit tests drive the machine alone, table-driven.

Rules, in the order they apply:
- a step starts once every parent (plan edges plus discovered ones) is ok
  (succeeded or cached); a step whose key waited on upstream outputs is
  decided first (`DecideNow`, early cutoff);
- a failed parent skips the step, blaming the step that failed first;
- a step whose input's artifact failed its checksum when it loaded it
  (`Failure.CORRUPT_INPUT`) is not retried as it is: the producer's cache entry
  is dropped (`Invalidate`), the producer re-runs, then the step; once per
  input, a second failure of the same input fails the step;
- a failure is retried up to the step's `--retries`, unless it was cancelled;
- a step that failed while steps before it in notebook order (not its
  ancestors) were still running waits for them, and runs once more if one of
  them wrote files: it may have read a file too early (DESIGN rule 10);
- after each success the step's report is checked against the plan
  (`verify.check`): a dependency the plan missed re-runs the reader and what
  ran downstream of it, after the writer, in notebook order; never twice for
  the same reason, nor more than MAX_RERUNS times: then a warning names the
  value (`Warn`), and the step keeps its result (verification never fails or
  skips a step, issue 21);
- a cancel request cancels what runs and skips what is left;
- when nothing is running the run finishes, failed if any step failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlpipe_jupyter.compile.report import StepReport
from mlpipe_jupyter.status import RunStatus, StepStatus

from .events import (
    Action,
    Cancel,
    CancelRequested,
    Decided,
    DecideNow,
    Discovered,
    Event,
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
    Warn,
)
from .verify import Discovery, check

if TYPE_CHECKING:
    from mlpipe_jupyter.analysis.model import Pipeline

    from .planner import Plan

MAX_RERUNS = 3  # re-runs of one step for discovered dependencies; then a warning (issue 21)


# -- the machine -----------------------------------------------------------------


@dataclass(frozen=True)
class StepSpec:
    """What the machine knows of a step before the run."""

    name: str
    position: int  # notebook order
    parents: tuple[str, ...] = ()
    retries: int = 0
    pending: bool = False  # its cache key waits for upstream outputs
    cached: bool = False  # decided cached by the plan
    inputs: tuple[tuple[str, str], ...] = ()  # (var, producer)
    outputs: tuple[str, ...] = ()


@dataclass
class _Slot:
    spec: StepSpec
    status: StepStatus = StepStatus.PENDING
    attempt: int = 0  # attempts so far, never reset (unique task keys)
    tries: int = 0  # attempts since the last (re)start, for --retries
    deciding: bool = False
    decide: bool = False  # decide from the cache before running
    rerun_reason: str | None = None
    reruns: int = 0
    reasons: set[str] = field(default_factory=set)  # re-run reasons acted on already
    raced: frozenset[str] = frozenset()  # earlier steps unsettled when it started
    held: str | None = None  # a failure waiting for `raced` to settle
    held_once: bool = False
    report: StepReport = field(default_factory=StepReport)
    saved: tuple[str, ...] = ()
    discovered: list[str] = field(default_factory=list)
    healed: set[str] = field(default_factory=set)  # inputs whose producer re-ran (checksum)
    changed_retried: bool = False  # re-run once because a file changed while it ran


class RunMachine:
    """One run's step states; `start()` then `handle(event)` until `FinishRun`."""

    def __init__(
        self, specs: list[StepSpec], order: list[str], carried: frozenset[str] = frozenset()
    ) -> None:
        self.order = list(order)
        self.slots = {s.name: _Slot(s, decide=s.pending) for s in specs}
        self.parents = {s.name: set(s.parents) for s in specs}
        self.producers = {s.name: dict(s.inputs) for s in specs}
        self.extra_outputs: dict[str, set[str]] = {s.name: set() for s in specs}
        self.blame: dict[str, str] = {}
        self.discoveries: list[Discovery] = []
        self.carried = carried  # generators whose state the runtime saves as random:<gen>
        self.finished: RunStatus | None = None
        for slot in self.slots.values():
            if slot.spec.cached:
                slot.status = StepStatus.CACHED

    @classmethod
    def from_plan(
        cls, pipeline: Pipeline, the_plan: Plan, carried: frozenset[str] = frozenset()
    ) -> RunMachine:
        from .planner import CACHED, PENDING

        position = {s.name: i for i, s in enumerate(pipeline.steps)}
        specs = []
        for step in pipeline.steps:
            action = the_plan.decisions[step.name].action
            specs.append(StepSpec(
                step.name, position[step.name],
                parents=pipeline.parents(step.name),
                retries=step.options.retries, pending=action == PENDING,
                cached=action == CACHED, inputs=step.inputs, outputs=step.outputs,
            ))
        return cls(specs, list(pipeline.order), carried)

    # -- queries for the adapter ---------------------------------------------------

    def status(self, name: str) -> StepStatus:
        return self.slots[name].status

    def producer(self, name: str, var: str) -> str:
        """The step whose output `var` the step `name` reads (discovered ones included)."""
        return self.producers[name][var]

    def inputs(self, name: str) -> tuple[tuple[str, str], ...]:
        """The step's (input, producing step) pairs, sorted: the plan's, rewired by discoveries."""
        return tuple(sorted(self.producers[name].items()))

    def outputs(self, name: str) -> tuple[str, ...]:
        """The names the step saves: the plan's plus those later steps were found to read."""
        return tuple(sorted(set(self.slots[name].spec.outputs) | self.extra_outputs[name]))

    # -- driving -------------------------------------------------------------------

    def start(self) -> list[Action]:
        return self._settle([])

    def handle(self, event: Event) -> list[Action]:
        if self.finished is not None:
            return []
        actions: list[Action] = []
        if isinstance(event, CancelRequested):
            return self._cancel()
        if isinstance(event, Decided):
            self._decided(event, actions)
        elif isinstance(event, Finished):
            self._finished(event, actions)
        return self._settle(actions)

    def _decided(self, event: Decided, actions: list[Action]) -> None:
        slot = self.slots[event.step]
        if not slot.deciding:
            return
        slot.deciding = False
        slot.decide = False
        if event.cached:
            slot.status = StepStatus.CACHED
            actions.append(MarkCached(event.step))
        else:
            self._submit(event.step, actions)

    def _finished(self, event: Finished, actions: list[Action]) -> None:
        slot = self.slots[event.step]
        if slot.status is not StepStatus.QUEUED or event.attempt != slot.attempt:
            return  # a superseded attempt
        if event.ok:
            slot.status = StepStatus.SUCCEEDED
            slot.report, slot.saved = event.report, event.saved
            mark = len(actions)
            self._verify(actions)
            if slot.status is StepStatus.SUCCEEDED:  # not found stale by its own report
                actions.insert(mark, MarkSucceeded(event.step, event.attempt,
                                                   tuple(slot.discovered)))
            return
        if event.failure is Failure.CANCELLED:  # its kernel saw the run's cancel first
            self._fail(event.step, event.attempt, event.error, actions)
            actions.extend(self._cancel())
            return
        if event.failure is Failure.CORRUPT_INPUT and self._heal(event, actions):
            return
        if event.report.changed_during and not slot.changed_retried:
            slot.changed_retried = True  # a file it read changed while it ran (issue 20)
            slot.attempt += 1
            actions.append(Retry(event.step, slot.attempt, event.error))
            return
        if event.failure is not Failure.CANCELLED and slot.tries <= slot.spec.retries:
            slot.attempt += 1
            slot.tries += 1
            actions.append(Retry(event.step, slot.attempt, event.error))
            return
        if slot.raced and not slot.held_once and event.failure is not Failure.CANCELLED:
            # Steps before it that had not finished when it started may write what it reads:
            # `_release_held` decides once they all have.
            slot.held, slot.held_once = event.error or "failed", True
            slot.status = StepStatus.RUNNING  # neither final nor submitted: it waits
            return
        self._fail(event.step, event.attempt, event.error, actions)

    def _heal(self, event: Finished, actions: list[Action]) -> bool:
        """Re-run the producers of the step's damaged inputs, then the step (issue 10).

        False when no damaged input has a producer in this run (an ordinary failure).
        """
        name, slot = event.step, self.slots[event.step]
        damaged = [(c, self.producers[name][c.var]) for c in event.report.corrupt_inputs
                   if c.var in self.producers[name]]
        if not damaged:
            return False
        again = [(c, producer) for c, producer in damaged if c.var in slot.healed]
        if again:
            c, producer = again[0]
            self._fail(name, event.attempt, (
                f"step '{name}': input '{c.var}' from step '{producer}' {c.problem} again"
                f" after '{producer}' re-ran; the store may be failing: check its disk"
            ), actions)
            return True
        slot.status = StepStatus.PENDING  # after its producers, not cancelled with them
        slot.rerun_reason = "re-run: " + ", ".join(
            f"its input {c.var} from step '{producer}' {c.problem}" for c, producer in damaged)
        for c, producer in damaged:
            slot.healed.add(c.var)
            actions.append(Invalidate(producer, c.var, name, c.problem, c.artifact))
            self._rerun(producer, f"re-run: artifact of {c.var} from step '{producer}'"
                                  f" {c.problem}", actions)
        return True

    def _fail(self, name: str, attempt: int, error: str | None, actions: list[Action]) -> None:
        self.slots[name].status = StepStatus.FAILED
        self.slots[name].held = None
        actions.append(MarkFailed(name, attempt, error))

    def _settle(self, actions: list[Action]) -> list[Action]:
        """Release held failures, skip, decide or submit what may go, maybe finish."""
        while self.finished is None:
            if self._release_held(actions) | self._advance(actions):
                continue
            if self._active():
                return actions
            held = [n for n in self.order if self.slots[n].held is not None]
            if held:  # what they wait for waits on them (an --after to a later step)
                for name in held:
                    self._fail(name, self.slots[name].attempt, self.slots[name].held, actions)
                continue
            for name in self.order:  # only a dependency cycle leaves a step behind
                if not self.slots[name].status.finished:
                    self.slots[name].status = StepStatus.SKIPPED
                    actions.append(Skip(name, "its upstream steps never finished"))
            failed = any(s.status is StepStatus.FAILED for s in self.slots.values())
            self.finished = RunStatus.FAILED if failed else RunStatus.SUCCEEDED
            actions.append(FinishRun(self.finished))
        return actions

    def _active(self) -> bool:
        """A step is submitted or being decided: an event will come."""
        return any(s.deciding or s.status is StepStatus.QUEUED for s in self.slots.values())

    def _release_held(self, actions: list[Action]) -> bool:
        progress = False
        for name in self.order:
            slot = self.slots[name]
            if slot.held is None or any(not self.slots[r].status.finished for r in slot.raced):
                continue
            writers = [r for r in sorted(slot.raced, key=self._position)
                       if self.slots[r].status is StepStatus.SUCCEEDED
                       and self.slots[r].report.files_written]
            if writers:
                slot.held = None
                slot.status = StepStatus.PENDING
                slot.tries = 0
                slot.rerun_reason = (
                    f"re-run: failed while {', '.join(writers)} (before it in notebook order)"
                    " wrote files"
                )
            else:
                self._fail(name, slot.attempt, slot.held, actions)
            progress = True
        return progress

    def _advance(self, actions: list[Action]) -> bool:
        progress = False
        for name in self.order:
            slot = self.slots[name]
            if slot.status is not StepStatus.PENDING or slot.deciding:
                continue
            parents = sorted(self.parents[name], key=self._position)
            bad = [p for p in parents if self.slots[p].status in (
                StepStatus.FAILED, StepStatus.SKIPPED)]
            if bad:
                root = self.blame.get(bad[0], bad[0])
                self.blame[name] = root
                slot.status = StepStatus.SKIPPED
                actions.append(Skip(name, f"upstream '{root}' failed"))
                progress = True
            elif all(self.slots[p].status.ok for p in parents):
                if slot.decide and slot.rerun_reason is None:
                    slot.deciding = True
                    actions.append(DecideNow(name))
                else:
                    self._submit(name, actions)
                progress = True
        return progress

    def _submit(self, name: str, actions: list[Action]) -> None:
        slot = self.slots[name]
        slot.status = StepStatus.QUEUED
        slot.attempt += 1
        slot.tries = 1
        slot.raced = frozenset(
            other for other in self.order
            if self._position(other) < slot.spec.position
            and not self.slots[other].status.finished
            and other not in self._ancestors(name)
        )
        extra = tuple(sorted(self.extra_outputs[name]))
        actions.append(Submit(name, slot.attempt, slot.rerun_reason, extra))
        slot.rerun_reason = None

    def _cancel(self) -> list[Action]:
        actions: list[Action] = []
        running = [n for n in self.order if self.slots[n].status is StepStatus.QUEUED]
        if running:
            actions.append(Cancel(tuple(running)))
        for name in self.order:
            slot = self.slots[name]
            if not slot.status.finished:
                slot.status = StepStatus.SKIPPED
                slot.deciding = False
                actions.append(Skip(name, "run cancelled"))
        self.finished = RunStatus.CANCELLED
        actions.append(FinishRun(RunStatus.CANCELLED))
        return actions

    # -- verification (DESIGN rule 10) -----------------------------------------

    def _position(self, name: str) -> int:
        return self.slots[name].spec.position

    def _ancestors(self, name: str) -> set[str]:
        found: set[str] = set()
        todo = list(self.parents[name])
        while todo:
            parent = todo.pop()
            if parent not in found:
                found.add(parent)
                todo.extend(self.parents[parent])
        return found

    def _downstream(self, name: str) -> list[str]:
        return [n for n in self.order if name in self._ancestors(n)]

    def _verify(self, actions: list[Action]) -> None:
        reports = {
            n: s.report for n, s in self.slots.items() if s.status is StepStatus.SUCCEEDED
        }
        started = {
            n for n, s in self.slots.items() if s.status is not StepStatus.PENDING or s.deciding
        }
        known = {(d.writer, d.reader, d.var) for d in self.discoveries}
        found = check(
            {n: s.spec.position for n, s in self.slots.items()}, reports, self.producers,
            self._ancestors, started, known, self.carried,
        )
        for discovery in found:
            self._apply(discovery, actions)

    def _apply(self, found: Discovery, actions: list[Action]) -> None:
        writer, reader = found.writer, found.reader
        if reader in self._ancestors(writer) or writer == reader:
            return  # it would make a cycle: the plan's order wins
        self.parents[reader].add(writer)
        self.discoveries.append(found)
        self.slots[reader].discovered.append(found.describe())
        actions.append(Discovered(found))
        if found.rewires:
            self.producers[reader][found.var] = writer
            if found.var not in self.slots[writer].saved and found.var not in self.outputs(writer):
                self.extra_outputs[writer].add(found.var)
                self._rerun(writer, f"re-run: {found.var} is read by {reader}", actions)
        if found.stale:
            self._rerun(reader, found.rerun_reason(), actions)

    def _rerun(self, name: str, reason: str, actions: list[Action]) -> None:
        """Run `name` again (and re-decide what started downstream of it)."""
        slot = self.slots[name]
        if slot.status is StepStatus.PENDING and not slot.deciding:
            slot.rerun_reason = slot.rerun_reason or reason  # not started yet: it runs
            return
        if reason in slot.reasons or slot.reruns >= MAX_RERUNS:
            # a verification that would repeat itself: said, not acted on (never a loop)
            what = reason.removeprefix("re-run: ")
            actions.append(Warn(name, (
                f"step '{name}' {what} again after re-running for it; not re-run a"
                f" {'second' if reason in slot.reasons else 'further'} time (its values may"
                " differ from a top-to-bottom run's)")))
            return
        slot.reasons.add(reason)
        slot.reruns += 1
        cancel = [name] if slot.status is StepStatus.QUEUED else []
        self._reset(name, reason=reason)
        for later in self._downstream(name):
            other = self.slots[later]
            if other.status is StepStatus.PENDING and not other.deciding:
                continue
            if other.status is StepStatus.QUEUED:
                cancel.append(later)
            self._reset(later, reason=None)
        if cancel:
            actions.append(Cancel(tuple(cancel)))

    def _reset(self, name: str, reason: str | None) -> None:
        slot = self.slots[name]
        slot.status = StepStatus.PENDING
        slot.deciding = False
        slot.held = None
        slot.decide = reason is None
        slot.rerun_reason = reason
        self.blame.pop(name, None)
