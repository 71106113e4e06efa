"""`%pipeline run [NOTEBOOK] [-p NAME VALUE ...] [--scheduler ADDR] [--gpu-workers N] [--no-cache]`.

Runs the saved notebook as a pipeline through the SDK (`load(path).run(...)`,
one `RunRequest`), showing one progress row per step. An `MlpipeError` becomes
IPython's `UsageError` (one line). The source notebook is never written.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from .args import parse, parser
from .locate import notebook_path
from .progress import progress_view
from ..request import parse_value


class RunResult(dict):  # type: ignore[type-arg]
    """The run record of DESIGN.md, shown as one summary line."""

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for step in self.get("steps", {}).values():
            counts[step.get("status", "?")] = counts.get(step.get("status", "?"), 0) + 1
        parts = ", ".join(f"{n} {status}" for status, n in counts.items())
        return f"mlpipe run {self.get('run_id', '?')}: {self.get('status', '?')} ({parts})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.summary())


def _parser() -> Any:
    p = parser("%pipeline run")
    p.add_argument("notebook", nargs="?")
    p.add_argument("-p", "--parameters", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"))
    p.add_argument("--scheduler")
    p.add_argument("--workers", type=int)
    p.add_argument("--gpu-workers", type=int)
    p.add_argument("--store")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--select", "-s", action="append", default=[])
    p.add_argument("--exclude", action="append", default=[])
    p.add_argument("--only", action="append", default=[])
    p.add_argument("--from", dest="from_step", action="append", default=[])
    p.add_argument("--until", action="append", default=[])
    p.add_argument("--dry", action="store_true")
    return p


def pipeline_run(shell: Any, line: str) -> RunResult:
    """Run this notebook (its saved version) as a pipeline, with a progress view."""
    args = parse(_parser(), line)
    path = notebook_path(shell, args.notebook)
    if path is None:
        raise UsageError(
            "%pipeline run: cannot tell which notebook this kernel runs;"
            " save it and pass its path, as in %pipeline run my_notebook.ipynb"
        )
    from ..errors import MlpipeError
    from ..sdk import load

    try:
        pipeline = load(path)
    except MlpipeError as exc:
        raise UsageError(f"%pipeline run: {exc}") from None
    if pipeline.errors:
        more = f" (and {len(pipeline.errors) - 1} more)" if len(pipeline.errors) > 1 else ""
        raise UsageError(f"%pipeline run: {path.name}: {pipeline.errors[0]}{more}")
    names = list(pipeline.order) or [step.name for step in pipeline.steps]
    params = {name: parse_value(value) for name, value in args.parameters}
    selection = {
        "select": args.select + [f"{s}+" for s in args.from_step] + [f"+{s}" for s in args.until],
        "exclude": args.exclude, "only": args.only,
    }
    if args.dry:  # the plan, nothing run (`mlpipe run --dry`)
        try:
            print(pipeline.plan(params, store=args.store, no_cache=args.no_cache, **selection))
        except MlpipeError as exc:
            raise UsageError(f"%pipeline run: {str(exc).splitlines()[0]}") from None
        return None  # type: ignore[return-value]
    view = progress_view(names)
    try:
        run = pipeline.run(
            params,
            store=args.store,
            scheduler=args.scheduler,
            workers=args.workers,
            gpu_workers=args.gpu_workers,
            no_cache=args.no_cache,
            on_event=view,
            **selection,
        )
    except MlpipeError as exc:
        lines = str(exc).splitlines() or [type(exc).__name__]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise UsageError(f"%pipeline run: {lines[0]}{more}") from None
    record = RunResult(run.record)
    for name, step in record.get("steps", {}).items():  # the record is the final word
        view({**step, "event": "step", "step": name})
    view({"event": "run", "status": record.get("status"), "run_id": record.get("run_id")})
    return record
