"""`%%step`, `%%params` and `%pipeline`: thin, over analysis/ and service.

Each magic parses its line, turns a bad line into IPython's `UsageError` with
one readable line, and hands the work to a small module: `cellrun` runs a cell
body, `session` records it, `dag_view` and `run_view` serve `%pipeline`.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from ..analysis.options import StepLineError, parse_step_line
from .cellrun import cell_number, run_body
from .params import ParamsError, literal_params
from .session import RecordedParams, RecordedStep, session_for

PIPELINE_USAGE = (
    "%pipeline dag [NOTEBOOK] [--format svg|text|json|dot|mermaid]"
    " | %pipeline debug STEP [--run RUN_ID]"
    " | %pipeline run [NOTEBOOK] [-p NAME VALUE ...] [--scheduler ADDR]"
    " [--gpu-workers N] [--no-cache] | %pipeline restore on|off"
)


@magics_class
class PipelineMagics(Magics):
    """The mlpipe magics, one instance per shell."""

    @cell_magic
    def step(self, line: str, cell: str) -> Any:
        """%%step NAME [options]: run this cell as pipeline step NAME, and record it."""
        __tracebackhide__ = True  # noqa: F841
        try:
            name, options = parse_step_line(line)
        except StepLineError as exc:
            raise UsageError(f"%%step: {exc}") from None
        if options.uses:  # issue 25: the referenced step's code runs here, as if pasted
            cell = _used_code(self.shell, name, options)
        from .interactive import cached_run  # the store is optional: import late

        session = session_for(self.shell)
        recorded = RecordedStep(
            name=name,
            line=line,
            options=options,
            source=cell,
            started=time.time(),
            execution_count=cell_number(self.shell),
        )
        from ..experiments import metrics  # mlp.log_metric in this cell: this step's

        metrics.begin(name)
        session.record_step(recorded)
        try:
            value, status = cached_run(self.shell, session, recorded)
            if options.metrics:  # %%step --metrics VAR: their values now, as a run records
                try:
                    metrics.from_variables(list(options.metrics), self.shell.user_ns, name)
                except metrics.BadMetric as exc:
                    raise UsageError(f"%%step: {exc}") from None
        except BaseException:
            session.record_step(replace(recorded, status="failed"))
            raise
        duration = time.time() - recorded.started
        session.record_step(replace(recorded, status=status, duration_s=duration))
        return value

    @cell_magic
    def params(self, line: str, cell: str) -> Any:
        """%%params: the pipeline's parameters, `name = literal` lines only."""
        __tracebackhide__ = True  # noqa: F841
        if line.strip():
            raise UsageError(
                f"%%params takes no arguments, got {line.strip()!r};"
                " put `name = value` lines in the cell"
            )
        try:
            defaults = literal_params(cell)
        except ParamsError as exc:
            raise UsageError(str(exc)) from None
        value = run_body(self.shell, cell)
        session_for(self.shell).record_params(
            RecordedParams(cell, defaults, cell_number(self.shell))
        )
        return value

    @line_magic
    def pipeline(self, line: str) -> Any:
        """%pipeline dag|run ...: show this notebook's DAG, or run it as a pipeline."""
        words = line.split(None, 1)
        command = words[0] if words else ""
        rest = words[1] if len(words) > 1 else ""
        from ..errors import MlpipeError

        try:
            if command == "dag":
                from .dag_view import pipeline_dag

                return pipeline_dag(self.shell, rest)
            if command == "run":
                from .run_view import pipeline_run

                return pipeline_run(self.shell, rest)
            if command == "debug":
                from .debug import pipeline_debug

                return pipeline_debug(self.shell, rest)
            if command == "restore":
                return self._restore(rest)
        except MlpipeError as exc:  # the magics' one translation: a one-line UsageError
            raise UsageError(f"%pipeline {command}: {str(exc).splitlines()[0]}") from None
        raise UsageError(f"unknown %pipeline command {command!r}; usage: {PIPELINE_USAGE}")

    def _restore(self, rest: str) -> None:
        """%pipeline restore on|off: whether `%%step` cells restore from the cache in this
        kernel (`MLPIPE_RESTORE=0` turns them off for every kernel)."""
        word = rest.strip().lower()
        if word not in ("on", "off"):
            raise UsageError(f"%pipeline restore takes on or off, got {rest.strip()!r}")
        session_for(self.shell).restore = word == "on"
        print(f"mlpipe: %%step cells {'restore from' if word == 'on' else 'do not restore from'}"
              " the cache in this kernel")


def _used_code(shell: Any, name: str, options: Any) -> str:
    """What `%%step NAME --uses REF` runs in this kernel (analysis/uses.py)."""
    from ..analysis.graph import analyze
    from ..analysis.uses import UsesError, resolve_in_kernel
    from .locate import notebook_path

    try:
        return resolve_in_kernel(options, notebook_path(shell), analyze)
    except UsesError as exc:
        raise UsageError(f"%%step {name}: {exc}") from None
