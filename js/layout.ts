/**
 * Pure graph layout (no DOM): the DAG laid out left to right by dagre into
 * node boxes, edge polylines and label positions, in SVG user units.
 */
import { graphlib, layout as dagreLayout } from '@dagrejs/dagre';

export interface IPoint {
  x: number;
  y: number;
}

export interface ILayoutNode {
  id: string;
  width: number;
  height: number;
}

export interface ILayoutEdge {
  from: string;
  to: string;
  label: string;
  /** The full text behind a shortened label (a tooltip). */
  title?: string;
  /** Only files pass along it (`file:PATH`, rule 8): drawn dashed. */
  file?: boolean;
}

/** A node's box; `x`, `y` is its top-left corner. */
export interface INodeBox {
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface IEdgePath {
  from: string;
  to: string;
  label: string;
  title: string;
  /** Only files pass along it: drawn dashed. */
  file?: boolean;
  points: IPoint[];
  labelPos: IPoint;
}

export interface IGraphLayout {
  nodes: INodeBox[];
  edges: IEdgePath[];
  width: number;
  height: number;
}

export interface ILayoutOptions {
  rankSep?: number;
  nodeSep?: number;
  margin?: number;
}

export const NODE_WIDTH = 140;
export const NODE_HEIGHT = 52;

/**
 * Lay out `nodes` and `edges` left to right; edges to unknown nodes are dropped.
 * Edge labels take no room of their own: they sit in the gap between ranks
 * (`rankSep` wide), which keeps wide graphs compact enough for a sidebar.
 */
export function layoutGraph(
  nodes: ILayoutNode[],
  edges: ILayoutEdge[],
  options: ILayoutOptions = {}
): IGraphLayout {
  const margin = options.margin ?? 12;
  const g = new graphlib.Graph({ multigraph: true });
  g.setGraph({
    rankdir: 'LR',
    ranksep: options.rankSep ?? 72,
    nodesep: options.nodeSep ?? 16,
    edgesep: 10,
    marginx: margin,
    marginy: margin
  });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) {
    g.setNode(node.id, { width: node.width, height: node.height });
  }
  const known = edges.filter(e => g.hasNode(e.from) && g.hasNode(e.to));
  known.forEach((edge, i) => {
    g.setEdge(edge.from, edge.to, { width: 0, height: 0, labelpos: 'c' }, String(i));
  });
  dagreLayout(g);
  return fitMargin(
    nodes.map(node => toBox(node, g.node(node.id))),
    known.map((edge, i) => toPath(edge, g.edge(edge.from, edge.to, String(i)))),
    margin
  );
}

/** Shift everything (edges may bend outside the node boxes) to start at `margin`. */
function fitMargin(nodes: INodeBox[], edges: IEdgePath[], margin: number): IGraphLayout {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const b of nodes) {
    xs.push(b.x, b.x + b.width);
    ys.push(b.y, b.y + b.height);
  }
  for (const e of edges) {
    e.points.forEach(p => (xs.push(p.x), ys.push(p.y)));
    ys.push(e.labelPos.y - 14);
  }
  if (!xs.length) {
    return { nodes, edges, width: 2 * margin, height: 2 * margin };
  }
  const dx = margin - Math.min(...xs);
  const dy = margin - Math.min(...ys);
  const move = (p: IPoint) => ({ x: p.x + dx, y: p.y + dy });
  return {
    nodes: nodes.map(b => ({ ...b, x: b.x + dx, y: b.y + dy })),
    edges: edges.map(e => ({ ...e, points: e.points.map(move), labelPos: move(e.labelPos) })),
    width: Math.max(...xs) + dx + margin,
    height: Math.max(...ys) + dy + margin
  };
}

function toBox(node: ILayoutNode, placed: { x?: number; y?: number }): INodeBox {
  return {
    id: node.id,
    x: (placed.x ?? 0) - node.width / 2,
    y: (placed.y ?? 0) - node.height / 2,
    width: node.width,
    height: node.height
  };
}

function toPath(
  edge: ILayoutEdge,
  placed: { points?: IPoint[]; x?: number; y?: number }
): IEdgePath {
  const points = (placed.points ?? []).map(p => ({ x: p.x, y: p.y }));
  const middle = points[Math.floor(points.length / 2)] ?? { x: 0, y: 0 };
  return {
    from: edge.from,
    to: edge.to,
    label: edge.label,
    title: edge.title ?? edge.label,
    file: edge.file ?? false,
    points,
    labelPos: { x: placed.x ?? middle.x, y: placed.y ?? middle.y }
  };
}

/** The SVG `d` attribute of a polyline through `points`. */
export function pathData(points: IPoint[]): string {
  return points
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${round(p.x)},${round(p.y)}`)
    .join(' ');
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
