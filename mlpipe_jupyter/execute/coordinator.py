"""Drive one run's steps through Dask: submit, wait, retry, skip, cancel.

A step is submitted once all its upstream steps have finished; a step whose
cache key was unknown at planning time (it reads the output of a step that
ran) is decided then: identical upstream bytes give the same key, so it may
still come from the cache (early cutoff). One task per step, asking for the
step's Dask `resources`; the result is a small dict of artifact refs. A
failed step is retried up to `--retries` times, then its downstream steps are
skipped while other branches go on. Workers report "running" through a Dask
event topic; everything funnels into one queue read by this thread.
"""

from __future__ import annotations

import queue
import time
from typing import TYPE_CHECKING, Any

from mlpipe_jupyter.cache.store import ArtifactRef, CacheEntry
from mlpipe_jupyter.compile.stepnb import compile_step

from .cluster import step_resources
from .engine import StepJob, event_topic, run_step
from .planner import CACHED, PENDING, Decision, decide, input_keys

if TYPE_CHECKING:
    from .planner import Plan
    from .runner import RunContext

OK = ("succeeded", "cached")


class Coordinator:
    def __init__(
        self, ctx: RunContext, the_plan: Plan, client: Any, ignore: frozenset[str] = frozenset()
    ) -> None:
        self.ctx = ctx
        self.client = client
        self.ignore = ignore  # soft resources the cluster does not advertise
        self.decisions: dict[str, Decision] = dict(the_plan.decisions)
        self.state: dict[str, str] = {}
        self.outputs: dict[str, dict[str, Any]] = {}  # step -> {var: ref json}
        self.blame: dict[str, str] = {}  # skipped step -> the failed step upstream
        self.futures: dict[str, Any] = {}
        self.attempts: dict[str, int] = {}
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.parents = {
            name: sorted({e.source for e in ctx.pipeline.edges if e.target == name})
            for name in ctx.pipeline.order
        }
        for name, decision in self.decisions.items():
            if decision.action == CACHED and decision.entry is not None:
                self.state[name] = "cached"
                self.outputs[name] = {v: r.to_json() for v, r in decision.entry.outputs.items()}

    # -- the loop ------------------------------------------------------------

    def run(self, release_pool: bool = True) -> str:
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
        from .kernels import DEFAULT_POOL_SIZE
        from .plugin import KernelPoolPlugin
        from .warm import setup_modules

        cwd = str(self.ctx.notebook.resolve().parent)
        size = self.ctx.options.kernel_pool or DEFAULT_POOL_SIZE
        plugin = KernelPoolPlugin(cwd, size, setup_modules(self.ctx.pipeline.setup_source))
        self.client.register_plugin(plugin)
        return plugin

    def _loop(self) -> str:
        next_cancel_check = 0.0
        while True:
            self._advance()
            if not self.futures:
                break
            try:
                kind, payload = self.events.get(timeout=self.ctx.options.cancel_poll_s)
            except queue.Empty:
                kind, payload = "tick", None
            if kind == "done":
                self._finished(*payload)
            elif kind == "worker":
                self._worker_event(payload)
            if time.monotonic() >= next_cancel_check:
                next_cancel_check = time.monotonic() + self.ctx.options.cancel_poll_s
                if self.ctx.records.cancel_requested(self.ctx.run_id):
                    self._cancel()
                    return "cancelled"
        failed = any(s == "failed" for s in self.state.values())
        return "failed" if failed else "succeeded"

    def _advance(self) -> None:
        """Skip, decide or submit every step whose upstream has settled."""
        progress = True
        while progress:
            progress = False
            for name in self.ctx.pipeline.order:
                if name in self.state:
                    continue
                parents = self.parents[name]
                bad = [p for p in parents if self.state.get(p) in ("failed", "skipped")]
                if bad:
                    self._skip(name, bad[0])
                    progress = True
                elif all(self.state.get(p) in OK for p in parents):
                    self._start(name)
                    progress = True

    # -- state changes -------------------------------------------------------

    def _skip(self, name: str, parent: str) -> None:
        root = self.blame.get(parent, parent)
        self.blame[name] = root
        self.state[name] = "skipped"
        self.ctx.step_event(name, "skipped", reason=f"upstream '{root}' failed")

    def _start(self, name: str) -> None:
        decision = self.decisions[name]
        if decision.action == PENDING:
            decision = self._decide_now(name)
            self.decisions[name] = decision
            if decision.action == CACHED and decision.entry is not None:
                self.state[name] = "cached"
                self.outputs[name] = {v: r.to_json() for v, r in decision.entry.outputs.items()}
                self.ctx.step_event(
                    name, "cached", reason=decision.reason, cache_key=decision.key,
                    duration_s=0.0, saved_s=decision.entry.duration_s,
                )
                return
        self.state[name] = "submitted"
        self._submit(name, attempt=1)

    def _decide_now(self, name: str) -> Decision:
        step = self.ctx.pipeline.step(name)
        keys = {s: {v: r["key"] for v, r in refs.items()} for s, refs in self.outputs.items()}
        inputs = input_keys(step, keys)
        assert inputs is not None, f"step '{name}' started before its inputs were known"
        return decide(
            step, self.ctx.pipeline, self.ctx.store, self.ctx.params, inputs,
            no_cache=self.ctx.options.no_cache, after_upstream_ran=True,
        )

    def _job(self, name: str, attempt: int) -> StepJob:
        ctx = self.ctx
        step = ctx.pipeline.step(name)
        notebook_path = ctx.store.run_notebook_path(ctx.run_id, name)
        result_path = notebook_path.with_suffix(".result.json")
        inputs = {var: self.outputs[producer][var] for var, producer in step.inputs}
        mlpipe = {
            "store": str(ctx.store.root), "inputs": inputs, "outputs": list(step.outputs),
            "result": str(result_path), "step": name,
        }
        parameters = {p: ctx.params[p] for p in step.params if p in ctx.params}
        return StepJob(
            run_id=ctx.run_id, step=name, notebook=compile_step(ctx.pipeline, name),
            parameters={**parameters, "_mlpipe": mlpipe}, notebook_path=str(notebook_path),
            result_path=str(result_path), cwd=str(ctx.notebook.resolve().parent),
            timeout=step.options.timeout, attempt=attempt,
            cancel_check=(str(ctx.store.root), ctx.run_id),
        )

    def _submit(self, name: str, attempt: int) -> None:
        self.attempts[name] = attempt
        resources = step_resources(self.ctx.pipeline.step(name), self.ignore)
        future = self.client.submit(
            run_step, self._job(name, attempt), resources=resources or None,
            pure=False, key=f"mlpipe-{self.ctx.run_id}-{name}-{attempt}",
        )
        self.futures[name] = future
        future.add_done_callback(lambda f, n=name: self.events.put(("done", (n, f))))
        decision = self.decisions[name]
        self.ctx.step_event(
            name, "queued", reason=decision.reason, cache_key=decision.key, attempt=attempt,
            notebook=self._job_notebook(name),
        )

    def _job_notebook(self, name: str) -> str:
        return str(self.ctx.store.run_notebook_path(self.ctx.run_id, name))

    def _worker_event(self, event: dict[str, Any]) -> None:
        name = event.get("step")
        if name not in self.futures or event.get("attempt") != self.attempts.get(name):
            return
        self.ctx.step_event(
            name, "running", worker=event.get("worker"), attempt=event.get("attempt"),
            started=time.time(),
        )

    def _finished(self, name: str, future: Any) -> None:
        if self.futures.get(name) is not future:
            return  # a superseded attempt
        del self.futures[name]
        result = self._result(name, future)
        attempt = self.attempts[name]
        retries = self.ctx.pipeline.step(name).options.retries
        if result["status"] != "succeeded":
            if attempt <= retries and result.get("reason") != "cancelled":
                self.ctx.emit({
                    "event": "retry", "run_id": self.ctx.run_id, "step": name,
                    "attempt": attempt + 1, "error": result.get("error"),
                })
                self._submit(name, attempt + 1)
                return
            self.state[name] = "failed"
            self.ctx.step_event(
                name, "failed", error=result.get("error"), worker=result.get("worker"),
                duration_s=result.get("duration_s"), attempt=attempt, finished=time.time(),
            )
            return
        try:
            self._commit(name, result)
        except Exception as exc:  # noqa: BLE001 - e.g. an artifact vanished before the commit
            error = f"step '{name}': cannot cache its outputs: {exc}"
            self.state[name] = "failed"
            self.ctx.step_event(
                name, "failed", error=error, worker=result.get("worker"),
                duration_s=result.get("duration_s"), attempt=attempt, finished=time.time(),
            )
            return
        self.state[name] = "succeeded"
        self.outputs[name] = result["outputs"]
        self.ctx.step_event(
            name, "succeeded", worker=result.get("worker"), duration_s=result.get("duration_s"),
            attempt=attempt, finished=time.time(),
        )

    def _result(self, name: str, future: Any) -> dict[str, Any]:
        try:
            return future.result()
        except Exception as exc:  # noqa: BLE001 - KilledWorker, cancelled, lost data
            kind = type(exc).__name__
            if kind == "KilledWorker":
                error = f"the worker running step '{name}' died repeatedly ({kind})"
            else:
                first = (str(exc).strip().splitlines() or [""])[0]
                error = f"step '{name}' could not run on the cluster: {kind}: {first}"
            return {"status": "failed", "error": error, "reason": "cluster"}

    def _commit(self, name: str, result: dict[str, Any]) -> None:
        """Write the cache entry, only now that the step has fully succeeded."""
        decision = self.decisions[name]
        if decision.key is None:
            return
        entry = CacheEntry(
            step_key=decision.key, step=name,
            outputs={v: ArtifactRef.from_json(r) for v, r in result["outputs"].items()},
            displays=list(result.get("displays") or []),
            duration_s=float(result.get("duration_s") or 0.0), origin="pipeline",
            ingredients=decision.ingredients,
        )
        self.ctx.store.commit(entry)

    def _cancel(self) -> None:
        futures = list(self.futures.values())
        self.futures.clear()
        if futures:
            self.client.cancel(futures, force=True)
        for name in self.ctx.pipeline.order:
            if name not in self.state or self.state[name] == "submitted":
                self.state[name] = "skipped"
                self.ctx.step_event(name, "skipped", reason="run cancelled")
