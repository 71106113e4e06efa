"""Compile one step of a pipeline into a parameterized step notebook.

The notebook (nbformat 4.5, as plain JSON) has, in order:

1. a `parameters`-tagged cell: the defaults of the parameters the step reads
   and `_mlpipe = {...}` (store, inputs, outputs, result), which papermill
   overrides at run time;
2. an injected cell that starts recording the files the step reads and writes
   (setup's reads count too);
3. the setup cells;
4. an injected cell that loads the step's inputs from the artifact store
   (after setup, so an upstream step that re-binds a setup name wins);
5. the step's own cells (metadata `mlpipe.role = "step"`, and `mlpipe.cell`,
   the source notebook's cell index), whose displayed outputs get cached;
6. an injected cell that saves the step's outputs and writes their refs; the
   other names the step binds are saved too where they can be (`keep`), and the
   end state of a global random generator the step changed (compile/hidden.py).

The same pipeline and step always give the same bytes from `dumps_notebook`:
cell ids are derived from hashes, nothing depends on time or paths.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from mlpipe_jupyter.analysis.ipysyntax import strip_control_lines
from mlpipe_jupyter.cache.keys import literal_repr, step_params

if TYPE_CHECKING:
    from mlpipe_jupyter.analysis.model import Pipeline, Step

NBFORMAT = 4
NBFORMAT_MINOR = 5
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}

BEGIN_SOURCE = (
    "# mlpipe: record the files this step reads and writes\n"
    "from mlpipe_jupyter.compile import runtime as _mlpipe_rt\n"
    "_mlpipe_rt.begin(_mlpipe, step={step!r})"
)
LOAD_SOURCE = (
    "# mlpipe: load this step's inputs from the artifact store\n"
    "from mlpipe_jupyter.compile import runtime as _mlpipe_rt\n"
    "globals().update(_mlpipe_rt.load_inputs(_mlpipe, step={step!r}, namespace=globals(){more}))"
)
SAVE_SOURCE = (
    "# mlpipe: save this step's outputs to the artifact store\n"
    "_mlpipe_rt.save_outputs(_mlpipe, globals(), step={step!r}{keep})"
)


def _cell_id(step: str, position: int, role: str, source: str) -> str:
    digest = hashlib.sha256(f"{step}\0{position}\0{role}\0{source}".encode()).hexdigest()
    return digest[:16]


def _code_cell(
    owner: str, position: int, role: str, source: str, *, tags: tuple[str, ...] = (), **meta: Any
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"mlpipe": {"role": role, **meta}}
    if tags:
        metadata["tags"] = list(tags)
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": _cell_id(owner, position, role, source),
        "metadata": metadata,
        "outputs": [],
        "source": source,
    }


def parameters_source(pipeline: Pipeline, step: Step) -> str:
    """The defaults of the step's parameters, then the `_mlpipe` placeholder."""
    lines = [f"{name} = {literal_repr(pipeline.params[name])}" for name in step_params(step, pipeline)
             if name in pipeline.params]
    config = {"store": "", "inputs": {}, "outputs": list(step.outputs), "result": ""}
    lines.append(f"_mlpipe = {json.dumps(config, sort_keys=False)}")
    return "\n".join(lines)


def _strip_step_line(source: str) -> str:
    first, _, rest = source.lstrip("\n").partition("\n")
    return rest if first.lstrip().startswith("%%step") else source


def _step_sources(pipeline: Pipeline, step: Step) -> list[tuple[int, str]]:
    """(source cell index, code) for each of the step's cells."""
    by_index = {cell.index: cell for cell in pipeline.cells}
    if not step.cells or not all(i in by_index for i in step.cells):
        return [(step.cell, step.source)]
    return [(i, strip_control_lines(_strip_step_line(by_index[i].source))) for i in step.cells]


def _setup_sources(pipeline: Pipeline) -> list[tuple[int | None, str]]:
    by_index = {cell.index: cell for cell in pipeline.cells}
    if pipeline.setup_cells and all(i in by_index for i in pipeline.setup_cells):
        return [(i, strip_control_lines(by_index[i].source)) for i in pipeline.setup_cells]
    return [(None, pipeline.setup_source)] if pipeline.setup_source.strip() else []


def _keep_argument(step: Step) -> str:
    """`, keep=(...)`: the names the step binds besides its outputs (saved when they can
    be, so that a cache hit restores every name the step binds), or ''. A `_name` no
    later step reads stays in its step: no artifact for every `_tmp` (issue 21)."""
    kept = tuple(n for n in step.binds
                 if n not in step.outputs and ":" not in n and not n.startswith("_"))
    return f", keep={kept!r}" if kept else ""


def _python(source: str) -> Any:
    import ast

    from mlpipe_jupyter.analysis.ipysyntax import python_source

    try:
        return ast.parse(python_source(source) or "")
    except (SyntaxError, ValueError):
        return None


def _imported(tree: Any) -> list[str]:
    """Modules an `import` anywhere in the tree loads (`from m import x`: m, and m.x in case
    x is a submodule), in order."""
    import ast

    found: list[str] = []
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module)
            found.extend(f"{node.module}.{a.name}" for a in node.names if a.name != "*")
    return found


def _imports_argument(pipeline: Pipeline, step: Step) -> str:
    """`, modules=(...), attributes=(...)` for the load cell (issue 21: imports are process
    state): the modules earlier steps import, in notebook order, and the `alias.attr`
    uses in this step of a module setup imports (`mpl.pyplot`); '' when none."""
    import ast

    modules: dict[str, None] = {}
    for other in pipeline.steps:
        if other.name == step.name:
            break
        for _, source in _step_sources(pipeline, other):
            modules.update(dict.fromkeys(_imported(_python(source))))
    aliases: set[str] = set()
    for _, source in _setup_sources(pipeline):
        tree = _python(source)
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, ast.Import):
                aliases.update(a.asname or a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                aliases.update(a.asname or a.name for a in node.names)
    attributes: dict[tuple[str, str], None] = {}
    for _, source in _step_sources(pipeline, step):
        tree = _python(source)
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in aliases:
                attributes[(node.value.id, node.attr)] = None
    parts = []
    if modules:
        parts.append(f", modules={tuple(modules)!r}")
    if attributes:
        parts.append(f", attributes={tuple(sorted(attributes))!r}")
    return "".join(parts)


def compile_step(pipeline: Pipeline, step_name: str) -> dict[str, Any]:
    """The step notebook for `step_name` as an nbformat-4 JSON dict."""
    try:
        step = pipeline.step(step_name)
    except KeyError:
        names = ", ".join(s.name for s in pipeline.steps) or "none"
        raise KeyError(f"no step '{step_name}' in this pipeline (steps: {names})") from None
    cells = [
        _code_cell(
            step.name, 0, "parameters", parameters_source(pipeline, step), tags=("parameters",)
        ),
    ]
    cells.append(_code_cell(step.name, len(cells), "begin", BEGIN_SOURCE.format(step=step.name)))
    for index, source in _setup_sources(pipeline):
        cells.append(_code_cell(step.name, len(cells), "setup", source, cell=index))
    # Inputs load after setup: a step may re-bind a setup name upstream.
    load = LOAD_SOURCE.format(step=step.name, more=_imports_argument(pipeline, step))
    cells.append(_code_cell(step.name, len(cells), "load", load))
    for index, source in _step_sources(pipeline, step):
        cells.append(_code_cell(step.name, len(cells), "step", source, step=step.name, cell=index))
    save = SAVE_SOURCE.format(step=step.name, keep=_keep_argument(step))
    cells.append(_code_cell(step.name, len(cells), "save", save))
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": dict(KERNELSPEC),
            "language_info": {"name": "python"},
            "mlpipe": {"step": step.name, "outputs": list(step.outputs), "reads": list(step.reads)},
        },
        "nbformat": NBFORMAT,
        "nbformat_minor": NBFORMAT_MINOR,
    }


def dumps_notebook(nb: dict[str, Any]) -> str:
    """Notebook JSON text: indent 1, sorted keys, UTF-8 kept, trailing newline."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def step_cells(nb: dict[str, Any]) -> list[dict[str, Any]]:
    """The cells of an (executed) step notebook that are the step's own code."""
    return [
        cell for cell in nb.get("cells", [])
        if cell.get("metadata", {}).get("mlpipe", {}).get("role") == "step"
    ]


def _joined(output: dict[str, Any]) -> dict[str, Any]:
    """An output with multi-line strings joined, as `nbformat.reads` gives them."""
    output = json.loads(json.dumps(output))
    if isinstance(output.get("text"), list):
        output["text"] = "".join(output["text"])
    for mime, value in output.get("data", {}).items():
        if isinstance(value, list) and not mime.endswith("json"):
            output["data"][mime] = "".join(value)
    return output


def step_displays(nb: dict[str, Any]) -> list[dict[str, Any]]:
    """The outputs the step's cells displayed (nbformat output dicts), in order.

    What a cache entry keeps as `displays`, to show again on a cache hit.
    Multi-line strings are joined, as `nbformat.reads` gives them.
    """
    return [_joined(o) for cell in step_cells(nb) for o in cell.get("outputs", [])]
