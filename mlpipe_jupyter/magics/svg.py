"""Draw a `Pipeline` as SVG: a left-to-right layered layout in pure Python.

Layers are longest paths from the sources (taken in `Pipeline.order`), nodes
within a layer are sorted by their parents' mean position, ties by notebook
order, so the same pipeline always gives the same picture. No graphviz binary.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from ..analysis.model import Pipeline, Step

CHAR_W = 7.2  # px per character of the 12px monospace font
NODE_H = 46
V_GAP = 22
H_GAP = 120  # room for the edge labels
PAD = 16
LINE_H = 18
LABEL_CHARS = 22  # longer edge labels are cut with an ellipsis
FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"
COLORS = {"error": "#c62828", "warning": "#a15c00", "edge": "#78909c", "gpu": "#6a1b9a"}


@dataclass(frozen=True)
class Box:
    """A laid-out node: its top-left corner and size."""

    x: float
    y: float
    w: float
    h: float = NODE_H


def layers(pipeline: Pipeline) -> list[list[str]]:
    """Step names grouped by layer, left to right; each layer sorted for few crossings."""
    names = _ordered_names(pipeline)
    rank = {name: i for i, name in enumerate(names)}
    parents: dict[str, list[str]] = {name: [] for name in names}
    for edge in pipeline.edges:
        if edge.source in rank and edge.target in rank and rank[edge.source] < rank[edge.target]:
            parents[edge.target].append(edge.source)
    layer_of: dict[str, int] = {}
    for name in names:
        layer_of[name] = 1 + max((layer_of[p] for p in parents[name]), default=-1)
    grouped: list[list[str]] = [[] for _ in range(max(layer_of.values(), default=-1) + 1)]
    position: dict[str, float] = {}
    notebook_index = {step.name: i for i, step in enumerate(pipeline.steps)}
    for name in names:
        grouped[layer_of[name]].append(name)
    for layer in grouped:
        def weight(name: str) -> tuple[float, int]:
            ps = [position[p] for p in parents[name] if p in position]
            return (sum(ps) / len(ps) if ps else -1.0, notebook_index.get(name, 0))

        layer.sort(key=weight)
        position.update({name: i for i, name in enumerate(layer)})
    return grouped


def layout(pipeline: Pipeline) -> dict[str, Box]:
    """The box of every step; layers are columns, centred vertically."""
    grouped = layers(pipeline)
    tallest = max((len(layer) for layer in grouped), default=0)
    full_h = tallest * NODE_H + max(tallest - 1, 0) * V_GAP
    boxes: dict[str, Box] = {}
    x = PAD
    for layer in grouped:
        width = max(_node_width(pipeline.step(name)) for name in layer)
        layer_h = len(layer) * NODE_H + (len(layer) - 1) * V_GAP
        y = PAD + LINE_H + (full_h - layer_h) / 2
        for name in layer:
            boxes[name] = Box(x, y, width)
            y += NODE_H + V_GAP
        x += width + H_GAP
    return boxes


def render_svg(pipeline: Pipeline, *, title: str = "") -> str:
    """The whole picture: title and params line, edges, nodes, then errors and warnings."""
    boxes = layout(pipeline)
    width = max((b.x + b.w for b in boxes.values()), default=PAD) + PAD
    height = max((b.y + b.h for b in boxes.values()), default=PAD + LINE_H) + PAD
    head = _head_line(pipeline, title)
    notes = [(f"error: {e}", COLORS["error"]) for e in pipeline.errors]
    notes += [(f"warning: {w}", COLORS["warning"]) for w in pipeline.warnings]
    if not pipeline.steps and not notes:
        notes.append(("no %%step cells yet: tag a cell with %%step NAME", COLORS["edge"]))
    width = max(width, PAD * 2 + CHAR_W * max([len(head)] + [len(t) for t, _ in notes]))
    parts = [_text(PAD, PAD + 4, head, fill="#455a64")]
    parts += [_edge(boxes[e.source], boxes[e.target], e.vars) for e in pipeline.edges
              if e.source in boxes and e.target in boxes]
    failing = {e.step for e in pipeline.errors}
    parts += [_node(step, boxes[step.name], step.name in failing) for step in pipeline.steps
              if step.name in boxes]
    for text, color in notes:
        height += LINE_H
        parts.append(_text(PAD, height - PAD + 4, text, fill=color))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}"'
        f' viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT}" font-size="12">'
        '<defs><marker id="mlpipe-arrow" viewBox="0 0 10 10" refX="10" refY="5"'
        ' markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M 0 0 L 10 5 L 0 10 z" fill="{COLORS["edge"]}"/></marker></defs>'
        + "".join(parts)
        + "</svg>"
    )


def resources_label(step: Step) -> str:
    """`cpu 1 · 1 GB · retries 1 · no cache`: what the step asks for, briefly."""
    opts = step.options
    bits = []
    if opts.cpu:
        bits.append(f"cpu {opts.cpu:g}")
    if opts.memory:
        bits.append(format_bytes(opts.memory))
    if opts.retries:
        bits.append(f"retries {opts.retries}")
    if opts.timeout:
        bits.append(f"timeout {opts.timeout:g}s")
    if not opts.cache:
        bits.append("no cache")
    return " · ".join(bits)


def format_bytes(size: int) -> str:
    for unit, factor in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{size} B"


def _ordered_names(pipeline: Pipeline) -> list[str]:
    order = [name for name in pipeline.order if any(s.name == name for s in pipeline.steps)]
    return order + [s.name for s in pipeline.steps if s.name not in order]


def _node_width(step: Step) -> float:
    badge = len(_gpu_badge(step)) + 2 if step.options.gpu else 0
    return CHAR_W * max(len(step.name) + badge, len(resources_label(step)), 6) + 20


def _gpu_badge(step: Step) -> str:
    return f"GPU {step.options.gpu}"


def _head_line(pipeline: Pipeline, title: str) -> str:
    params = ", ".join(f"{k}={v!r}" for k, v in pipeline.params.items())
    count = f"{len(pipeline.steps)} step{'s' if len(pipeline.steps) != 1 else ''}"
    return " · ".join(filter(None, [title, count, f"params: {params}" if params else ""]))


def _node(step: Step, box: Box, failing: bool) -> str:
    stroke = COLORS["error"] if failing else "#546e7a"
    out = [
        f'<g class="mlpipe-step" data-step="{escape(step.name)}">',
        f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h}" rx="6"'
        f' fill="#f5f7fa" stroke="{stroke}" stroke-width="{2 if failing else 1.2}"/>',
        _text(box.x + 10, box.y + 19, step.name, weight="bold", fill="#263238"),
        _text(box.x + 10, box.y + 37, resources_label(step), fill="#607d8b", size=11),
    ]
    if step.options.gpu:
        badge = _gpu_badge(step)
        bw = CHAR_W * len(badge) + 8
        bx = box.x + box.w - bw - 6
        out.append(
            f'<rect x="{bx:.1f}" y="{box.y + 6:.1f}" width="{bw:.1f}" height="16" rx="8"'
            f' fill="{COLORS["gpu"]}"/>'
        )
        out.append(_text(bx + 4, box.y + 18, badge, fill="#ffffff", size=11))
    out.append("</g>")
    return "".join(out)


def _edge(src: Box, dst: Box, names: tuple[str, ...]) -> str:
    x1, y1 = src.x + src.w, src.y + src.h / 2
    x2, y2 = dst.x, dst.y + dst.h / 2
    if x2 <= x1:  # a back edge (cycle): loop around below
        x1, x2 = src.x + src.w / 2, dst.x + dst.w / 2
        y1, y2 = src.y + src.h, dst.y + dst.h
    bend = max(abs(x2 - x1) / 2, 40)
    dash = "" if names else ' stroke-dasharray="5 4"'
    path = (
        f'<path d="M {x1:.1f} {y1:.1f} C {x1 + bend:.1f} {y1:.1f} {x2 - bend:.1f} {y2:.1f}'
        f' {x2:.1f} {y2:.1f}" fill="none" stroke="{COLORS["edge"]}" stroke-width="1.4"{dash}'
        ' marker-end="url(#mlpipe-arrow)"/>'
    )
    label = _cut(", ".join(names)) if names else "after"
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    lw = CHAR_W * len(label) * 11 / 12 + 6
    return (
        f'<g class="mlpipe-edge"><title>{escape(", ".join(names) or "--after")}</title>{path}'
        f'<rect x="{mx - lw / 2:.1f}" y="{my - 8:.1f}" width="{lw:.1f}" height="15" rx="3"'
        ' fill="#ffffff" fill-opacity="0.85"/>'
        + _text(mx, my + 3, label, fill="#455a64", size=11, anchor="middle")
        + "</g>"
    )


def _cut(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _text(
    x: float, y: float, text: str, *, fill: str, size: int = 12, weight: str = "normal",
    anchor: str = "start",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" fill="{fill}" font-size="{size}" font-weight="{weight}"'
        f' text-anchor="{anchor}">{escape(text)}</text>'
    )
