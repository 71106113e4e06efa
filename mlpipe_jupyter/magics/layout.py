"""A left-to-right layered layout of a `Pipeline`, in pure Python (no graphviz).

Layers are longest paths from the sources, taken in `Pipeline.order`; nodes in
a layer are sorted by their parents' mean position, ties by notebook order, so
the same pipeline always gives the same picture. An edge between neighbouring
layers is a curve; one that skips layers (or goes back, in a cycle) runs along
its own lane below the nodes, so it never crosses a box. Edge ends are spread
over a node's side so that edges meeting there do not overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..analysis.model import Edge, Pipeline

NODE_H = 46
V_GAP = 22
H_GAP = 120  # room for the edge labels
PAD = 16
TOP = 34  # room for the title line
LANE_GAP = 22


@dataclass(frozen=True)
class Box:
    """A laid-out node: its top-left corner, size and layer."""

    x: float
    y: float
    w: float
    layer: int
    h: float = NODE_H


@dataclass(frozen=True)
class Route:
    """A laid-out edge: an SVG path and where its label goes."""

    edge: Edge
    path: str
    label_x: float
    label_y: float


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
    for name in names:
        grouped[layer_of[name]].append(name)
    notebook_index = {step.name: i for i, step in enumerate(pipeline.steps)}
    position: dict[str, float] = {}
    for layer in grouped:
        def weight(name: str) -> tuple[float, int]:
            ps = [position[p] for p in parents[name] if p in position]
            return (sum(ps) / len(ps) if ps else -1.0, notebook_index.get(name, 0))

        layer.sort(key=weight)
        position.update({name: i for i, name in enumerate(layer)})
    return grouped


def layout(pipeline: Pipeline, node_width: Callable[[str], float]) -> dict[str, Box]:
    """The box of every step; layers are columns, centred vertically."""
    grouped = layers(pipeline)
    tallest = max((len(layer) for layer in grouped), default=0)
    full_h = tallest * NODE_H + max(tallest - 1, 0) * V_GAP
    boxes: dict[str, Box] = {}
    x: float = PAD
    for number, layer in enumerate(grouped):
        width = max(node_width(name) for name in layer)
        layer_h = len(layer) * NODE_H + (len(layer) - 1) * V_GAP
        y = TOP + (full_h - layer_h) / 2
        for name in layer:
            boxes[name] = Box(x, y, width, number)
            y += NODE_H + V_GAP
        x += width + H_GAP
    return boxes


def route_edges(pipeline: Pipeline, boxes: dict[str, Box]) -> tuple[list[Route], float]:
    """Every drawable edge's route, and the lowest y the routes reach."""
    edges = [e for e in pipeline.edges if e.source in boxes and e.target in boxes]
    bottom = max((b.y + b.h for b in boxes.values()), default=TOP)
    laned = [e for e in edges if boxes[e.target].layer - boxes[e.source].layer != 1]
    lane_y = {id(e): bottom + LANE_GAP * (i + 1) for i, e in enumerate(laned)}
    out_port = _ports(edges, boxes, lane_y, outgoing=True)
    in_port = _ports(edges, boxes, lane_y, outgoing=False)
    routes = []
    for edge in edges:
        src, dst = boxes[edge.source], boxes[edge.target]
        x1, y1 = src.x + src.w, out_port[id(edge)]
        x2, y2 = dst.x, in_port[id(edge)]
        if id(edge) not in lane_y:
            bend = (x2 - x1) / 2
            path = _d("M", (x1, y1), "C", (x1 + bend, y1), (x2 - bend, y2), (x2, y2))
            routes.append(Route(edge, path, (x1 + x2) / 2, (y1 + y2) / 2))
            continue
        ly = lane_y[id(edge)]
        if dst.layer <= src.layer:  # back edge: leave and enter from below
            x1, y1, x2, y2 = src.x + src.w / 2, src.y + src.h, dst.x + dst.w / 2, dst.y + dst.h
            path = _d("M", (x1, y1), "L", (x1, ly), "L", (x2, ly), "L", (x2, y2))
        else:
            path = _d(
                "M", (x1, y1), "C", (x1 + 30, y1), (x1 + 10, ly), (x1 + 40, ly),
                "L", (x2 - 40, ly), "C", (x2 - 10, ly), (x2 - 30, y2), (x2, y2),
            )
        routes.append(Route(edge, path, (x1 + x2) / 2, ly))
    return routes, max([bottom, *lane_y.values()])


def _ports(
    edges: list[Edge], boxes: dict[str, Box], lane_y: dict[int, float], *, outgoing: bool
) -> dict[int, float]:
    """The y where each edge meets its node's side, spread in the order of the far ends."""
    by_node: dict[str, list[Edge]] = {}
    for edge in edges:
        by_node.setdefault(edge.source if outgoing else edge.target, []).append(edge)
    ports: dict[int, float] = {}
    for name, group in by_node.items():
        def far_y(edge: Edge) -> float:
            if id(edge) in lane_y:
                return lane_y[id(edge)] + 10_000  # lane edges leave at the bottom
            far = boxes[edge.target if outgoing else edge.source]
            return far.y

        group.sort(key=far_y)
        box = boxes[name]
        for i, edge in enumerate(group):
            ports[id(edge)] = box.y + box.h * (i + 1) / (len(group) + 1)
    return ports


def _d(*parts: str | tuple[float, float]) -> str:
    """SVG path data from commands and points: `_d("M", (0, 1))` -> "M 0.0 1.0"."""
    return " ".join(p if isinstance(p, str) else f"{p[0]:.1f} {p[1]:.1f}" for p in parts)


def _ordered_names(pipeline: Pipeline) -> list[str]:
    known = {s.name for s in pipeline.steps}
    order = [name for name in pipeline.order if name in known]
    return order + [s.name for s in pipeline.steps if s.name not in order]
