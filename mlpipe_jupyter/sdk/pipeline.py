"""`load(path)` -> `Pipeline`: a notebook read as a pipeline, which runs or submits itself.

`Pipeline.run` runs in this process to the end (the embedded LocalCluster, or
`scheduler=` an existing Dask scheduler); `Pipeline.submit` records the run and
hands it to a child process (`service.start`), returning a `Run` at once. A
child process, not a thread: the run owns its Dask cluster, kernels and signal
handling, survives neither the caller's crashes nor its `__main__`, and is
cancelled through its record like every other run; it is also the path the
Jupyter server and the scheduler use, so the request is serialised one way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Unpack

from ..errors import BadInput, NotFound
from ..request import RunKeywords, RunRequest, check_options
from ..stores import PathLike, absolute, resolve_store
from .run import Run

if TYPE_CHECKING:
    from ..analysis.model import Edge, Step
    from ..analysis.model import Pipeline as Analysis

EventHandler = Callable[[dict[str, Any]], None]


def load(path: PathLike) -> Pipeline:
    """The pipeline of the notebook at `path` (read as JSON; nothing runs).

    `NotFound` when there is no such file, `BadInput` when it is not a notebook;
    analysis errors do not raise here: they are in `Pipeline.errors`.
    """
    from ..analysis import NotebookError, analyze_notebook

    notebook = absolute(path)
    if not notebook.is_file():
        where = "" if str(path) == str(notebook) else f" (looked at {notebook})"
        raise NotFound(f"notebook '{path}' not found{where}")
    try:
        return Pipeline(notebook, analyze_notebook(notebook))  # --uses resolved (issue 25)
    except NotebookError as exc:
        raise BadInput(str(exc)) from None


@dataclass(frozen=True)
class Pipeline:
    """A notebook's pipeline: its steps, the DAG's edges, parameters, errors and warnings."""

    path: Path  # the notebook, absolute
    analysis: Analysis  # what analysis/ found (steps, edges, params, order, ...)

    @property
    def name(self) -> str:
        """The notebook's name without `.ipynb` (the default published name)."""
        return self.path.stem

    @property
    def steps(self) -> tuple[Step, ...]:
        """The steps in notebook order (`.name`, `.reads`, `.binds`, `.outputs`, `.options`)."""
        return self.analysis.steps

    @property
    def edges(self) -> tuple[Edge, ...]:
        """Producer -> reader edges (`.source`, `.target`, `.vars`)."""
        return self.analysis.edges

    @property
    def params(self) -> dict[str, Any]:
        """Parameter names and their defaults, in notebook order."""
        return dict(self.analysis.params)

    @property
    def order(self) -> tuple[str, ...]:
        """Step names in run order (topological, ties broken by notebook order)."""
        return self.analysis.order

    @property
    def errors(self) -> tuple[str, ...]:
        """Analysis errors, one line each naming the step and cell; empty means it can run."""
        return tuple(str(e) for e in self.analysis.errors)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Analysis warnings, one line each."""
        return tuple(self.analysis.warnings)

    def to_json(self) -> dict[str, Any]:
        """The DAG json of `mlpipe dag --format json`."""
        return self.analysis.to_json()

    def to_mermaid(self) -> str:
        """The DAG as a Mermaid flowchart."""
        from ..analysis.formats import to_mermaid

        return to_mermaid(self.analysis)

    def to_dot(self) -> str:
        """The DAG in Graphviz dot."""
        from ..analysis.formats import to_dot

        return to_dot(self.analysis)

    def request(
        self, params: dict[str, Any] | None = None, **options: Unpack[RunKeywords]
    ) -> RunRequest:
        """The `RunRequest` that `run` and `submit` pass on; `BadInput` if it cannot run.

        `options` are those of `mlpipe run`: `store`, `scheduler` (an existing Dask
        scheduler's address), `workers` and `gpu_workers` (the local cluster's sizes,
        not with `scheduler`), `no_cache`.
        """
        if self.errors:
            raise BadInput("\n".join(self.errors))
        if not self.steps:
            raise BadInput(f"{self.path}: no %%step cells; tag cells with %%step NAME")
        return RunRequest.build(self.path, params, **check_options(dict(options)))

    def run(
        self,
        params: dict[str, Any] | None = None,
        *,
        on_event: EventHandler | None = None,
        **options: Unpack[RunKeywords],
    ) -> Run:
        """Run to the end in this process; the finished `Run`.

        `options` as for `request` (`store=`, `scheduler=`, `workers=`,
        `gpu_workers=`, `no_cache=`, the options of `mlpipe run`). `BadInput`
        (analysis errors, unknown parameters, a step no worker can satisfy)
        before any step runs. A failed step does not raise: check `run.status`,
        or call `run.wait(raise_on_failure=True)`. `on_event` gets each progress
        event (a dict) as the run goes.
        """
        from .. import service

        request = self.request(params, **options)
        record = service.execute(request, on_event, pipeline=self.analysis)
        return Run(record["run_id"], request.store, record, records=_records(request))

    def plan(
        self, params: dict[str, Any] | None = None, **options: Unpack[RunKeywords]
    ) -> RunPlan:
        """What `run` with these arguments would do now, without running anything (no
        cluster, no kernel): each step `run`, `cached` or `skipped`, and why.

        `select=`, `exclude=`, `only=` take dbt's grammar (`"+train"`, `"prep+"`,
        `analysis/select.py`); the plan is the one a run makes (`planner.plan_run`).
        """
        from .. import service

        planned = service.plan(self.request(params, **options), pipeline=self.analysis)
        return RunPlan(tuple(planned["steps"]), planned["ms"])

    def submit(
        self, params: dict[str, Any] | None = None, **options: Unpack[RunKeywords]
    ) -> Run:
        """Record the run and start it in a child process; the `Run` at once.

        `options` as for `run`. Bad input raises `BadInput` here, before anything
        starts. `run.wait()` blocks until it finishes, `run.cancel()` stops it.
        """
        from .. import service

        request = self.request(params, **options)
        return Run(service.start(request, pipeline=self.analysis), request.store,
                   records=_records(request))

    def store_root(self, store: PathLike | None = None) -> Path:
        """Where this notebook's runs are kept: `store`, else $MLPIPE_STORE, else beside it."""
        return resolve_store(store, self.path)


@dataclass(frozen=True)
class RunPlan:
    """`Pipeline.plan()`: per step `{"step", "action", "reason", "cache_key"}`, in run order."""

    steps: tuple[dict[str, Any], ...]
    ms: float  # how long planning took

    def __getitem__(self, step: str) -> dict[str, Any]:
        for row in self.steps:
            if row["step"] == step:
                return row
        raise NotFound(f"the plan has no step '{step}'")

    def actions(self) -> dict[str, str]:
        """`{step: "run" | "cached" | "skipped"}`."""
        return {r["step"]: r["action"] for r in self.steps}

    def __str__(self) -> str:
        from ..execute.planner import plan_text

        return plan_text(list(self.steps), self.ms).rstrip("\n")


def _records(request: RunRequest) -> Path:
    """The local folder of the request's run records (beside the notebook for a URL store)."""
    from ..stores import records_root

    return records_root(request.store, request.notebook)
