"""Draw a `Pipeline` as SVG over the pure layout of `layout.py`.

Node: step name, a GPU badge, the other resources it asks for; edge: the
variables it carries (dashed and labelled `after` for a pure `--after`);
below the graph, one line per error and warning.
"""

from __future__ import annotations

from html import escape

from ..analysis.formats import resources_text
from ..analysis.model import Pipeline, Step
from .layout import PAD, Box, Route, layout, route_edges

CHAR_W = 7.2  # px per character of the 12px monospace font
LINE_H = 18
LABEL_CHARS = 22  # longer edge labels are cut with an ellipsis
FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"
COLORS = {
    "error": "#c62828", "warning": "#a15c00", "edge": "#78909c", "gpu": "#6a1b9a",
    "text": "#263238", "muted": "#607d8b", "node": "#f5f7fa", "border": "#546e7a",
}


def render_svg(pipeline: Pipeline, *, title: str = "") -> str:
    """The whole picture: title and params line, edges, nodes, then errors and warnings."""
    steps = {step.name: step for step in pipeline.steps}
    boxes = layout(pipeline, lambda name: _node_width(steps[name]))
    routes, bottom = route_edges(pipeline, boxes)
    head = _head_line(pipeline, title)
    notes = [(f"error: {e}", COLORS["error"]) for e in pipeline.errors]
    notes += [(f"warning: {w}", COLORS["warning"]) for w in pipeline.warnings]
    if not pipeline.steps and not notes:
        notes.append(("no %%step cells yet: tag a cell with %%step NAME", COLORS["muted"]))
    width = max(
        max((b.x + b.w for b in boxes.values()), default=0) + PAD,
        PAD * 2 + CHAR_W * max([len(head)] + [len(text) for text, _ in notes]),
    )
    failing = {e.step for e in pipeline.errors}
    parts = [_text(PAD, PAD + 4, head, fill=COLORS["muted"])]
    parts += [_edge(route) for route in routes]
    parts += [_node(steps[name], box, name in failing) for name, box in boxes.items()]
    y = bottom + PAD
    for text, color in notes:
        y += LINE_H
        parts.append(_text(PAD, y - 4, text, fill=color))
    height = y + PAD / 2
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
    """`cpu=1 memory=1GB retries=1`: what the step asks for besides GPUs (those get a badge)."""
    opts = step.options
    bits = [part for part in resources_text(step).split() if not part.startswith("gpu=")]
    if opts.retries:
        bits.append(f"retries={opts.retries}")
    if opts.timeout:
        bits.append(f"timeout={opts.timeout:g}s")
    if not opts.cache:
        bits.append("no-cache")
    return " ".join(bits)


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
    stroke = COLORS["error"] if failing else COLORS["border"]
    label = resources_label(step)
    name_y = box.y + (19 if label else 28)
    out = [
        f'<g class="mlpipe-step" data-step="{escape(step.name)}">',
        f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h}" rx="6"'
        f' fill="{COLORS["node"]}" stroke="{stroke}" stroke-width="{2 if failing else 1.2}"/>',
        _text(box.x + 10, name_y, step.name, weight="bold", fill=COLORS["text"]),
    ]
    if label:
        out.append(_text(box.x + 10, box.y + 37, label, fill=COLORS["muted"], size=11))
    if step.options.gpu:
        badge = _gpu_badge(step)
        bw = CHAR_W * len(badge) * 11 / 12 + 10
        bx = box.x + box.w - bw - 6
        by = name_y - 13
        out.append(
            f'<rect x="{bx:.1f}" y="{by:.1f}" width="{bw:.1f}" height="17" rx="8"'
            f' fill="{COLORS["gpu"]}"/>'
        )
        out.append(_text(bx + 5, by + 12.5, badge, fill="#ffffff", size=11))
    out.append("</g>")
    return "".join(out)


def _edge(route: Route) -> str:
    names = route.edge.vars
    dash = "" if names else ' stroke-dasharray="5 4"'
    label = _cut(", ".join(names)) if names else "after"
    lw = CHAR_W * len(label) * 11 / 12 + 6
    x, y = route.label_x, route.label_y
    return (
        f'<g class="mlpipe-edge" data-from="{escape(route.edge.source)}"'
        f' data-to="{escape(route.edge.target)}">'
        f'<title>{escape(", ".join(names) or "--after")}</title>'
        f'<path d="{route.path}" fill="none" stroke="{COLORS["edge"]}" stroke-width="1.4"{dash}'
        ' marker-end="url(#mlpipe-arrow)"/>'
        f'<rect x="{x - lw / 2:.1f}" y="{y - 8:.1f}" width="{lw:.1f}" height="15" rx="3"'
        ' fill="#ffffff" fill-opacity="0.85"/>'
        + _text(x, y + 3, label, fill=COLORS["muted"], size=11, anchor="middle")
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
