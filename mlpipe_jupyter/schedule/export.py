"""`mlpipe export NB -o DIR`: the pipeline as files that run with plain papermill.

DIR gets `pipeline.json` (the DAG json, each step's notebook, inputs and outputs),
`steps/NN_NAME.ipynb` (compile_step, byte-identical for the same notebook),
`run_pipeline.py` (runs the steps in order with papermill, passing artifacts between
them through a store folder) and a README. The whole folder is written under a
temporary name and renamed into place, so DIR is either complete or untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .errors import BadInput, Conflict, NotFound

RUNNER_FILE = "run_pipeline.py"
#: Written into every export; `--force` replaces only a folder that has it.
MARKER_FILE = ".mlpipe-export"
README = """\
# {name}: exported mlpipe pipeline

Exported from `{source}` by `mlpipe export`. Steps, in order:

{steps}

Run every step with plain papermill (the kernel needs `mlpipe_jupyter` installed, for
the small runtime that loads and saves the artifacts passed between steps):

    python run_pipeline.py [-p NAME VALUE ...] [--store DIR] [--cwd DIR]

`run_pipeline.py` calls `papermill.execute_notebook` once per step notebook in
`steps/`, in the order of `pipeline.json`, with the parameter `_mlpipe` telling the step
where its inputs are and where to save its outputs, and writes each executed notebook
to `output/`. Parameters: {params}.
"""


def export(notebook_path: Path | str, out_dir: Path | str, *, force: bool = False) -> Path:
    """Write the export of `notebook_path` to `out_dir`; returns the folder."""
    from ..analysis import NotebookError, analyze_notebook

    source = Path(notebook_path)
    if not source.is_file():
        raise NotFound(f"notebook '{source}' not found")
    out = Path(out_dir).resolve()
    _check_target(out, out_dir, source.resolve(), force)
    try:
        pipeline = analyze_notebook(source)  # --uses resolved (issue 25)
    except NotebookError as exc:
        raise BadInput(str(exc)) from None
    if pipeline.errors:
        problems = "; ".join(str(e) for e in pipeline.errors)
        raise BadInput(f"notebook '{source.name}' is not a valid pipeline: {problems}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-tmp-", dir=out.parent))
    try:
        _write(tmp, pipeline, source)
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _check_target(out: Path, given: Path | str, source: Path, force: bool) -> None:
    """Refuse a target whose replacement would delete what export did not write.

    The notebook's folder (or any folder above it) holds the notebook, its data and
    its `.mlpipe` store: never a target. A non-empty folder is replaced with
    `--force` only when it is a previous export (it has the marker file).
    """
    if out == source.parent or out in source.parents:
        raise BadInput(
            f"output folder '{given}' contains the notebook '{source.name}';"
            " export into a new folder, e.g. -o export/"
        )
    if out.exists() and not out.is_dir():
        raise Conflict(f"output '{given}' is a file, not a folder; choose another -o DIR")
    if not out.exists() or not any(out.iterdir()):
        return
    if not force:
        raise Conflict(f"output folder '{given}' is not empty; pass --force to replace it")
    if not (out / MARKER_FILE).is_file():
        raise Conflict(
            f"output folder '{given}' is not an mlpipe export (no {MARKER_FILE});"
            " --force replaces only a previous export: choose an empty or new folder"
        )


def _write(folder: Path, pipeline: Any, source: Path) -> None:
    from ..compile.stepnb import compile_step, dumps_notebook

    (folder / "steps").mkdir()
    (folder / MARKER_FILE).write_text(f"exported from {source.name} by mlpipe export\n")
    steps = []
    for number, name in enumerate(pipeline.order, start=1):
        step = pipeline.step(name)
        relative = f"steps/{number:02d}_{name}.ipynb"
        (folder / relative).write_text(
            dumps_notebook(compile_step(pipeline, name)), encoding="utf-8"
        )
        steps.append(
            {
                "name": name,
                "notebook": relative,
                "inputs": dict(step.inputs),
                "outputs": list(step.outputs),
                "params": list(step.params),
                "resources": step.options.resources(),
            }
        )
    spec = {
        "name": source.stem,
        "source": source.name,
        "params": dict(pipeline.params),
        "steps": steps,
        "dag": pipeline.to_json(),
    }
    (folder / "pipeline.json").write_text(json.dumps(spec, indent=1, sort_keys=True) + "\n")
    runner = Path(__file__).with_name("_export_runner.py").read_text(encoding="utf-8")
    (folder / RUNNER_FILE).write_text(runner, encoding="utf-8")
    (folder / "README.md").write_text(
        README.format(
            name=source.stem,
            source=source.name,
            steps="\n".join(f"{i}. `{s['notebook']}`" for i, s in enumerate(steps, 1)),
            params=", ".join(f"`{k}={v!r}`" for k, v in pipeline.params.items()) or "none",
        ),
        encoding="utf-8",
    )


def _swap_into_place(new: Path, out: Path) -> None:
    if not out.exists():
        os.rename(new, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
    os.rename(out, old / "x")
    os.rename(new, out)
    shutil.rmtree(old, ignore_errors=True)
