"""The Dask adapter of a run: futures and worker events in, machine actions out.

All decisions (what starts, is skipped, retried, cancelled, re-run, when the
run ends) are the `RunMachine`'s (machine.py). This class only translates:
a finished future becomes a `Finished` event (after its outputs are committed
to the cache), a cancel request a `CancelRequested`; a `Submit` becomes
`client.submit(run_step, job)`, `DecideNow` a cache lookup, the `Mark*` and
`Skip` actions run-record writes. Workers report "running" through a Dask
event topic; everything funnels into one queue read by this thread.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mlpipe_jupyter.status import RunStatus, StepStatus

from ..errors import MlpipeError
from .cluster import step_resources
from .commit import commit_result, keep_result, step_job
from .discovered import carried_generators
from .engine import StepResult, event_topic, run_step
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
from .machine import RunMachine
from .planner import CACHED, RUN, Decision, decide

if TYPE_CHECKING:
    from mlpipe_jupyter.cache.store import ArtifactRef

    from .planner import Plan
    from .runner import RunContext
    from .verify import Discovery


class MissingInput(MlpipeError, RuntimeError):
    """A step's input is not among its producer's saved values."""

    def __init__(self, step: str, var: str, producer: str, status: str) -> None:
        super().__init__(
            f"step '{step}': input '{var}' from step '{producer}' ({status}) was not saved by"
            f" '{producer}'; re-run both (mlpipe run --no-cache --select +{step})")


class Coordinator:
    def __init__(
        self, ctx: RunContext, the_plan: Plan, client: Any, ignore: frozenset[str] = frozenset()
    ) -> None:
        self.ctx = ctx
        self.client = client
        self.ignore = ignore  # soft resources the cluster does not advertise
        self.machine = RunMachine.from_plan(ctx.pipeline, the_plan, carried_generators())
        self.decisions: dict[str, Decision] = dict(the_plan.decisions)
        self.forced = the_plan.forced
        self.outputs: dict[str, dict[str, ArtifactRef]] = {
            name: dict(d.entry.outputs)
            for name, d in self.decisions.items() if d.action == CACHED and d.entry is not None
        }
        self.results: dict[str, StepResult] = {}
        self.futures: dict[str, Any] = {}
        self.discovered: list[Discovery] = []
        self.committed: dict[str, str] = {}  # step -> the key its last attempt committed
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()

    # -- the loop ------------------------------------------------------------

    def run(self, release_pool: bool = True) -> RunStatus:
        """Run until every step is finished; the run's status.

        `release_pool`: shut the workers' idle pooled kernels down at the end
        (an existing cluster); the embedded cluster does it as it closes.
        """
        plugin = self._register_pool()
        topic = event_topic(self.ctx.run_id)
        self.client.subscribe_topic(topic, lambda event: self.events.put(("worker", event[1])))
        try:
            return self._loop()
        finally:
            self.client.unsubscribe_topic(topic)
            if release_pool:
                try:
                    self.client.unregister_worker_plugin(plugin.name)
                except Exception:  # noqa: BLE001 - workers may be gone already
                    pass

    def _register_pool(self) -> Any:
        from .plugin import ensure_pool

        return ensure_pool(self.client, *pool_spec(self.ctx))

    def _loop(self) -> RunStatus:
        self._apply(self.machine.start())
        next_cancel_check = 0.0
        while self.machine.finished is None:
            try:
                kind, payload = self.events.get(timeout=self.ctx.options.cancel_poll_s)
            except queue.Empty:
                kind, payload = "tick", None
            if kind == "done":
                event = self._finished(*payload)
                if event is not None:
                    self._apply(self.machine.handle(event))
            elif kind == "worker":
                self._worker_event(payload)
            if time.monotonic() >= next_cancel_check:
                next_cancel_check = time.monotonic() + self.ctx.options.cancel_poll_s
                if self.ctx.records.cancel_requested(self.ctx.run_id):
                    self._tell_remote_workers()
                    self._apply(self.machine.handle(CancelRequested()))
        return self.machine.finished

    def _tell_remote_workers(self) -> None:
        """Workers of a URL store cannot read the records: a cancel marker in the store."""
        if self.ctx.store.remote:
            from .remote import mark_cancelled

            mark_cancelled(self.ctx.store, self.ctx.run_id)

    def _apply(self, actions: list[Action]) -> None:
        todo = deque(actions)
        while todo:
            event = self._do_for_step(todo.popleft())
            if event is not None:
                todo.extend(self.machine.handle(event))

    def _do_for_step(self, action: Action) -> Event | None:
        """`_do`, where a failure while starting a step fails that step with its cause, and
        any other names the step it was about: never a bare error that ends the run
        (issue 21: 'run None: KeyError: arma_mod30')."""
        crashed: dict[str, str] = self.__dict__.setdefault("_crashed", {})
        if isinstance(action, (Submit, Retry)) and action.step in crashed:
            return Finished(action.step, action.attempt, ok=False, failure=Failure.ERROR,
                            error=crashed.pop(action.step))
        try:
            return self._do(action)
        except Exception as exc:  # noqa: BLE001 - said with the step's name
            step = getattr(action, "step", None)
            if step is None:
                raise
            cause = f"step '{step}': {type(exc).__name__}: {exc}".splitlines()[0]
            if isinstance(action, DecideNow):
                crashed[step] = cause  # its submit fails with this
                return Decided(step, False)
            if isinstance(action, (Submit, Retry)):
                return Finished(step, action.attempt, ok=False, failure=Failure.ERROR,
                                error=cause)
            raise RuntimeError(cause) from exc

    # -- actions -------------------------------------------------------------

    def _do(self, action: Action) -> Event | None:
        """Carry out one action; the event it answers with at once, if any."""
        ctx = self.ctx
        if isinstance(action, DecideNow):
            try:
                decision = self._decide(action.step)
            except MissingInput:
                return Decided(action.step, False)  # its submit fails it, naming the input
            self.decisions[action.step] = decision
            return Decided(action.step, decision.action == CACHED and decision.entry is not None)
        if isinstance(action, Submit):
            return self._submit(action)
        if isinstance(action, Retry):
            ctx.emit({
                "event": "retry", "run_id": ctx.run_id, "step": action.step,
                "attempt": action.attempt, "error": action.error,
            })
            return self._submit(Submit(action.step, action.attempt))
        if isinstance(action, Warn):
            ctx.emit({"event": "warning", "run_id": ctx.run_id, "step": action.step,
                      "message": action.message})
        elif isinstance(action, MarkCached):
            decision = self.decisions[action.step]
            assert decision.entry is not None
            self.outputs[action.step] = dict(decision.entry.outputs)
            ctx.step_event(
                action.step, StepStatus.CACHED, reason=decision.reason, cache_key=decision.key,
                duration_s=0.0, saved_s=decision.entry.duration_s,
            )
        elif isinstance(action, MarkSucceeded):
            result = self.results[action.step]
            self.outputs[action.step] = dict(result.outputs)
            keep_result(ctx, result)
            extra = {"discovered": list(action.discovered)} if action.discovered else {}
            ctx.step_event(
                action.step, StepStatus.SUCCEEDED, worker=result.worker,
                duration_s=result.duration_s, attempt=action.attempt, finished=time.time(),
                threads=result.threads, device=result.devices, **extra,
            )
        elif isinstance(action, MarkFailed):
            result = self.results.get(action.step)
            ctx.step_event(
                action.step, StepStatus.FAILED, error=action.error,
                worker=result.worker if result else None,
                duration_s=result.duration_s if result else None,
                threads=result.threads if result else None,
                device=result.devices if result else None,
                attempt=action.attempt, finished=time.time(),
            )
        elif isinstance(action, Skip):
            ctx.step_event(action.step, StepStatus.SKIPPED, reason=action.reason)
        elif isinstance(action, Cancel):
            futures = [self.futures.pop(n) for n in action.steps if n in self.futures]
            if futures:
                self.client.cancel(futures, force=True)
        elif isinstance(action, Discovered):
            self.discovered.append(action.discovery)
        elif isinstance(action, Invalidate):
            self._invalidate(action)
        elif isinstance(action, FinishRun):
            pass  # the runner records the run's end (before the cluster closes)
        return None

    def _withdraw(self, name: str) -> None:
        """A step re-runs because its result was made from the wrong inputs (a dependency
        the plan missed, DESIGN rule 10): the entry its earlier attempt committed is no
        result of its key, so it goes (a kernel keying the step without the discovered
        dependency would restore it)."""
        key = self.committed.pop(name, None)
        if key is not None:
            self.ctx.store.invalidate(key)

    def _invalidate(self, action: Invalidate) -> None:
        """Drop the cache entry whose artifact failed its checksum, and say so."""
        decision = self.decisions.get(action.step)
        entry = decision.entry if decision is not None else None
        key = entry.step_key if entry is not None else (decision.key if decision else None)
        if key is not None:
            self.ctx.store.invalidate(key)
        self.ctx.emit({
            "event": "warning", "run_id": self.ctx.run_id,
            "message": (
                f"the artifact of {action.var} from step '{action.step}'"
                f" ({action.artifact[:12]}) {action.problem} when step '{action.reader}'"
                f" loaded it: its cache entry is dropped, '{action.step}' re-runs, then"
                f" '{action.reader}'"
            ),
        })

    def _inputs(self, name: str) -> dict[str, ArtifactRef]:
        """Each input's ref, from the producer the run knows now (discovered ones too).

        `MissingInput` names the step, the input and its producer when the producer's
        result has no such value (never a bare KeyError that ends the run, issue 21)."""
        refs = {}
        for var, source in self.machine.inputs(name):
            found, seen = self.outputs.get(source, {}), {source}
            while var not in found:
                # a step found to change `var` re-ran and this time left it as it got it
                # (so did not save it): the value is the one it read, from its producer
                upstream = self.machine.producers.get(source, {}).get(var)
                if upstream is None or upstream in seen:
                    raise MissingInput(name, var, source, self.machine.status(source).value)
                source = upstream
                seen.add(source)
                found = self.outputs.get(source, {})
            refs[var] = found[var]
        return refs

    def _decide(self, name: str, no_cache: bool | None = None) -> Decision:
        keys = {var: ref.key for var, ref in self._inputs(name).items()}
        # Keyed with its producers as found in this run: the next run plans the same.
        step = self.ctx.pipeline.step(name)
        inputs = self.machine.inputs(name)
        step = replace(step, inputs=inputs, reads=tuple(sorted({*step.reads, *dict(inputs)})))
        return decide(
            step, self.ctx.pipeline, self.ctx.store, self.ctx.params,
            keys, no_cache=self.ctx.options.no_cache if no_cache is None else no_cache,
            after_upstream_ran=True, base=self.ctx.notebook.resolve().parent,
            forced=name in self.forced,  # selected to run even when cached (`prep+`)
        )

    def _submit(self, action: Submit) -> Finished | None:
        """Submit the step's attempt; a failed attempt at once when its inputs are not
        all there (the step fails, naming the input and its producer)."""
        name = action.step
        try:
            if action.reason is not None:  # a re-run: its inputs may come from elsewhere now
                self._withdraw(name)
                decision = self._decide(name, no_cache=True)
                decision = replace(decision, action=RUN, reason=action.reason, entry=None)
                self.decisions[name] = decision
            inputs = self._inputs(name)
        except MissingInput as exc:
            return Finished(name, action.attempt, ok=False, failure=Failure.ERROR, error=str(exc))
        decision = self.decisions[name]
        job = step_job(self.ctx, name, action.attempt, inputs, self.machine.outputs(name))
        resources = step_resources(self.ctx.pipeline.step(name), self.ignore)
        future = self.client.submit(
            run_step, job, resources=resources or None, pure=False,
            key=f"{name}-{self.ctx.run_id}-{action.attempt}",  # Dask groups tasks by step name
        )
        self.futures[name] = future
        future.add_done_callback(lambda f, n=name: self.events.put(("done", (n, f))))
        self.ctx.step_event(
            name, StepStatus.QUEUED, reason=decision.reason, cache_key=decision.key,
            attempt=action.attempt, notebook=job.notebook_path,
        )

    # -- events --------------------------------------------------------------

    def _worker_event(self, event: dict[str, Any]) -> None:
        name = event.get("step")
        if name not in self.futures or event.get("attempt") != self.machine.slots[name].attempt:
            return
        self.ctx.step_event(
            name, StepStatus.RUNNING, worker=event.get("worker"), attempt=event.get("attempt"),
            started=time.time(),
        )

    def _finished(self, name: str, future: Any) -> Finished | None:
        if self.futures.get(name) is not future:
            return None  # a superseded or cancelled attempt
        del self.futures[name]
        result = self._result(name, future)
        if result.ok:
            try:
                commit_result(self.ctx, self.decisions[name], result)
                if self.decisions[name].key is not None:
                    self.committed[name] = self.decisions[name].key
            except Exception as exc:  # noqa: BLE001 - e.g. an artifact vanished before the commit
                result = replace(
                    result, status=StepStatus.FAILED, failure=Failure.COMMIT,
                    error=f"step '{name}': cannot cache its outputs: {exc}",
                )
        if result.failure is Failure.ERROR and result.report.corrupt_inputs:
            result = replace(result, failure=Failure.CORRUPT_INPUT)
        self.results[name] = result
        return Finished(
            name, result.attempt, result.ok, result.failure, result.error, result.report,
            saved=tuple(result.outputs),
        )

    def _result(self, name: str, future: Any) -> StepResult:
        attempt = self.machine.slots[name].attempt
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - KilledWorker, cancelled, lost data
            kind = type(exc).__name__
            if kind == "KilledWorker":
                failure = Failure.WORKER_LOST
                error = f"the worker running step '{name}' died repeatedly ({kind})"
            else:
                first = (str(exc).strip().splitlines() or [""])[0]
                failure = Failure.CLUSTER
                error = f"step '{name}' could not run on the cluster: {kind}: {first}"
            return StepResult(
                StepStatus.FAILED, name, "", 0.0, attempt, error=error, failure=failure,
            )
        assert isinstance(result, StepResult), f"run_step returned {type(result).__name__}"
        return result


def pool_spec(ctx: Any) -> tuple[str, int, tuple[str, ...]]:
    """The kernel pool a run's workers keep: its folder, size and the setup's imports."""
    from .kernels import DEFAULT_POOL_SIZE
    from .warm import setup_modules

    cwd = str(ctx.notebook.resolve().parent)
    if ctx.store.remote:  # workers share no folder with the notebook (remote.py)
        from .remote import pool_folder, project_id

        cwd = pool_folder(project_id(ctx.notebook.resolve().parent))
    size = ctx.options.kernel_pool or DEFAULT_POOL_SIZE
    return cwd, size, setup_modules(ctx.pipeline.setup_source)
