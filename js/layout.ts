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
  /** Width of one label character, to size edge labels. */
  charWidth?: number;
}

export const NODE_WIDTH = 150;
export const NODE_HEIGHT = 54;

/** Lay out `nodes` and `edges` left to right; edges to unknown nodes are dropped. */
export function layoutGraph(
  nodes: ILayoutNode[],
  edges: ILayoutEdge[],
  options: ILayoutOptions = {}
): IGraphLayout {
  const margin = options.margin ?? 12;
  const charWidth = options.charWidth ?? 6.2;
  const g = new graphlib.Graph({ multigraph: true });
  g.setGraph({
    rankdir: 'LR',
    ranksep: options.rankSep ?? 56,
    nodesep: options.nodeSep ?? 20,
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
    const labelWidth = edge.label ? edge.label.length * charWidth + 8 : 0;
    g.setEdge(
      edge.from,
      edge.to,
      { width: labelWidth, height: edge.label ? 14 : 0, labelpos: 'c' },
      String(i)
    );
  });
  dagreLayout(g);
  return {
    nodes: nodes.map(node => toBox(node, g.node(node.id))),
    edges: known.map((edge, i) => toPath(edge, g.edge(edge.from, edge.to, String(i)))),
    width: Math.max(g.graph().width ?? 0, 2 * margin),
    height: Math.max(g.graph().height ?? 0, 2 * margin)
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
