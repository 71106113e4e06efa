"""Render a `Pipeline` as text, JSON, Graphviz dot or Mermaid."""

from __future__ import annotations

import json
from collections.abc import Callable

from .model import Pipeline, Step

FORMATS = ("text", "json", "dot", "mermaid")


def render(pipeline: Pipeline, fmt: str) -> str:
    """The pipeline in `fmt` (one of FORMATS), ending in a newline."""
    renderers: dict[str, Callable[[Pipeline], str]] = {
        "text": to_text, "json": to_json_text, "dot": to_dot, "mermaid": to_mermaid,
    }
    return renderers[fmt](pipeline)


def to_json_text(pipeline: Pipeline) -> str:
    return json.dumps(pipeline.to_json(), indent=2, ensure_ascii=False, default=repr) + "\n"


def resources_text(step: Step) -> str:
    """`gpu=1 cpu=2 memory=8GB`, or '' for a step that runs anywhere."""
    options = step.options
    parts = []
    if options.gpu:
        parts.append(f"gpu={options.gpu}")
    if options.cpu:
        parts.append(f"cpu={options.cpu:g}")
    if options.memory:
        parts.append(f"memory={_size(options.memory)}")
    return " ".join(parts)


def _size(count: int) -> str:
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if count >= scale:
            return f"{count / scale:g}{unit}"
    return f"{count}B"


def to_text(pipeline: Pipeline) -> str:
    lines = [f"{len(pipeline.steps)} steps, {len(pipeline.edges)} edges"]
    if pipeline.params:
        lines.append("params: " + ", ".join(f"{k}={v!r}" for k, v in pipeline.params.items()))
    by_name = {s.name: s for s in pipeline.steps}
    for number, name in enumerate(pipeline.order, 1):
        step = by_name[name]
        lines.append(f"{number}. {name} (cell {step.cell + 1})")
        if step.options.uses:  # issue 25: a step from another notebook
            lines.append(f"     uses: {step.options.uses}")
        for label, values in (("reads", step.reads), ("params", step.params),
                              ("outputs", step.outputs)):
            if values:
                lines.append(f"     {label}: {', '.join(values)}")
        extra = " ".join(filter(None, [
            resources_text(step),
            f"retries={step.options.retries}" if step.options.retries else "",
            f"timeout={step.options.timeout:g}s" if step.options.timeout else "",
            "no-cache" if not step.options.cache else "",
            f"kernel={step.options.kernel}" if step.options.kernel else "",
        ]))
        if extra:
            lines.append(f"     resources: {extra}")
        if step.nondeterministic:
            lines.append(f"     non-deterministic: {step.nondeterministic}")
    if pipeline.edges:
        lines.append("edges:")
        for edge in pipeline.edges:
            label = ", ".join(edge.vars) if edge.vars else "(--after)"
            lines.append(f"  {edge.source} -> {edge.target}: {label}")
    if pipeline.warnings:
        lines.append("warnings:")
        lines.extend(f"  {warning}" for warning in pipeline.warnings)
    return "\n".join(lines) + "\n"


def _split(names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(variable names, file names) of an edge's labels (`file:PATH` -> PATH)."""
    prefix = "file:"
    files = [n[len(prefix):] for n in names if n.startswith(prefix)]
    return [n for n in names if not n.startswith(prefix)], files


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(pipeline: Pipeline) -> str:
    lines = ["digraph pipeline {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for step in pipeline.steps:
        label = step.name + (f"\n{resources_text(step)}" if resources_text(step) else "")
        style = ', color="#b45309", penwidth=2' if step.options.gpu else ""
        lines.append(f"  {_dot_quote(step.name)} [label={_dot_quote(label)}{style}];")
    for edge in pipeline.edges:
        values, files = _split(edge.vars)
        ends = f"  {_dot_quote(edge.source)} -> {_dot_quote(edge.target)}"
        if values or not files:
            attrs = f"label={_dot_quote(', '.join(values))}" if values else "style=dashed"
            lines.append(f"{ends} [{attrs}];")
        if files:  # a file passed between steps (rule 8): dashed, with the file's name
            lines.append(f"{ends} [style=dashed, label={_dot_quote(', '.join(files))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    """Mermaid labels in double quotes; quotes and markup become entity codes."""
    for char, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"),
                       ("|", "#124;")):
        text = text.replace(char, code)
    return text


def to_mermaid(pipeline: Pipeline) -> str:
    ids = {step.name: f"s{i}" for i, step in enumerate(pipeline.steps)}
    lines = ["flowchart LR"]
    for step in pipeline.steps:
        resources = resources_text(step)
        label = _mermaid_text(step.name + (f" · {resources}" if resources else ""))
        lines.append(f'  {ids[step.name]}["{label}"]')
    for edge in pipeline.edges:
        source, target = ids[edge.source], ids[edge.target]
        values, files = _split(edge.vars)
        if values:
            lines.append(f'  {source} -->|"{_mermaid_text(", ".join(values))}"| {target}')
        if files:
            lines.append(f'  {source} -.->|"{_mermaid_text(", ".join(files))}"| {target}')
        if not values and not files:
            lines.append(f"  {source} -.-> {target}")
    gpu = [ids[s.name] for s in pipeline.steps if s.options.gpu]
    if gpu:
        lines.append("  classDef gpu fill:#fde68a,stroke:#b45309,stroke-width:2px")
        lines.append(f"  class {','.join(gpu)} gpu")
    return "\n".join(lines) + "\n"
