/**
 * Pure graph layout (no DOM): the DAG laid out by dagre (top to bottom or left
 * to right, nodes of a rank in notebook order) into node boxes, edge polylines
 * and label positions, in SVG user units; and the choice of how a panel shows
 * it (`planView`: which direction, at what scale, or a step list instead).
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

/** `TB`: top to bottom (a tall panel); `LR`: left to right (a wide one). */
export type Direction = 'TB' | 'LR';

export interface ILayoutOptions {
  rankSep?: number;
  nodeSep?: number;
  margin?: number;
  direction?: Direction;
  /**
   * Node ids in notebook order: nodes of one rank are placed in this order
   * (branches read top to bottom, or left to right, as in the notebook).
   */
  order?: string[];
}

export const NODE_WIDTH = 168;
export const NODE_HEIGHT = 56;
/** The smallest text a node draws, in SVG units (CSS `.mlpipe-node-*`). */
export const NODE_TEXT_PX = 12;
/** Text is readable from this rendered size on (px). */
export const MIN_TEXT_PX = 11;
/** The smallest scale a fit may use: node text stays >= MIN_TEXT_PX. */
export const MIN_SCALE = MIN_TEXT_PX / NODE_TEXT_PX;
/** Below this panel width no graph is drawn: the step list instead. */
export const MIN_GRAPH_PANEL_PX = Math.ceil(NODE_WIDTH * MIN_SCALE) + 16;

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
  if ((options.direction ?? 'LR') === 'TB') {
    const column = chainColumn(nodes, edges, options.order ?? [], margin, options.rankSep ?? 30);
    if (column) {
      return column;
    }
  }
  const g = new graphlib.Graph({ multigraph: true });
  const direction = options.direction ?? 'LR';
  g.setGraph({
    rankdir: direction,
    ranksep: options.rankSep ?? (direction === 'TB' ? 34 : 90),
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
  const order = (options.order ?? []).filter(id => g.hasNode(id));
  const constraints = order.slice(1).map((right, i) => ({ left: order[i], right }));
  dagreLayout(g, constraints.length ? { constraints } : {});
  const boxes = nodes.map(node => toBox(node, g.node(node.id)));
  const byId = new Map(boxes.map(b => [b.id, b]));
  const paths = known.map((edge, i) => toPath(edge, g.edge(edge.from, edge.to, String(i))));
  const inputs = new Map<string, number>();
  known.forEach(e => inputs.set(e.to, (inputs.get(e.to) ?? 0) + 1));
  return fitMargin(
    boxes,
    // Fan-in: label each edge where it leaves its source, else where it enters its target.
    paths.map(path => elbow(path, byId.get(path.from)!, byId.get(path.to)!, direction,
      (inputs.get(path.to) ?? 0) > 1)),
    margin
  );
}

/**
 * An edge between neighbouring ranks as an elbow (out of the source's side, a bend
 * halfway, into the target's side), its label just before the target: edges that fan
 * out of one node part at once and their labels sit apart. Longer edges keep dagre's route.
 */
function elbow(
  path: IEdgePath,
  from: INodeBox,
  to: INodeBox,
  direction: Direction,
  labelAtSource: boolean
): IEdgePath {
  if (path.points.length > 3) {
    return path;
  }
  if (direction === 'LR') {
    const start = { x: from.x + from.width, y: from.y + from.height / 2 };
    const end = { x: to.x, y: to.y + to.height / 2 };
    if (end.x <= start.x) {
      return path;
    }
    const mid = (start.x + end.x) / 2;
    const points = [start, { x: mid, y: start.y }, { x: mid, y: end.y }, end];
    const labelPos = labelAtSource ? { x: (start.x + mid) / 2, y: start.y } : { x: (mid + end.x) / 2, y: end.y };
    return { ...path, points, labelPos };
  }
  const start = { x: from.x + from.width / 2, y: from.y + from.height };
  const end = { x: to.x + to.width / 2, y: to.y };
  if (end.y <= start.y) {
    return path;
  }
  const mid = (start.y + end.y) / 2;
  const points = [start, { x: start.x, y: mid }, { x: end.x, y: mid }, end];
  const labelPos = labelAtSource
    ? { x: start.x, y: (start.y + mid) / 2 + 6 }
    : { x: end.x, y: (mid + end.y) / 2 + 6 };
  return { ...path, points, labelPos };
}

/** Space between two lanes of edges that skip a step (a chain's column layout). */
const LANE_PX = 12;

/**
 * A chain (each step, in notebook order, feeds the next) top to bottom as one
 * column, the edges that skip steps routed in lanes at its right: as narrow as
 * a node plus a few lanes, where dagre would push a node aside for them.
 * Null when the graph is not such a chain.
 */
function chainColumn(
  nodes: ILayoutNode[],
  edges: ILayoutEdge[],
  order: string[],
  margin: number,
  gap: number
): IGraphLayout | null {
  const byId = new Map(nodes.map(n => [n.id, n]));
  const ids = order.filter(id => byId.has(id));
  if (ids.length !== nodes.length || ids.length < 2) {
    return null;
  }
  const index = new Map(ids.map((id, i) => [id, i]));
  const known = edges.filter(e => index.has(e.from) && index.has(e.to));
  if (known.some(e => index.get(e.from)! >= index.get(e.to)!)) {
    return null;
  }
  const linked = new Set(known.map(e => `${index.get(e.from)}>${index.get(e.to)}`));
  if (ids.slice(1).some((_, i) => !linked.has(`${i}>${i + 1}`))) {
    return null;
  }
  const width = Math.max(...nodes.map(n => n.width));
  const boxes: INodeBox[] = [];
  let y = margin;
  for (const id of ids) {
    const node = byId.get(id)!;
    boxes.push({ id, x: margin, y, width: node.width, height: node.height });
    y += node.height + gap;
  }
  // Lanes: shorter skips nearer the column; a skip takes the first lane free over its span.
  const skips = known
    .map(e => ({ edge: e, a: index.get(e.from)!, b: index.get(e.to)! }))
    .filter(s => s.b - s.a > 1)
    .sort((p, q) => p.b - p.a - (q.b - q.a) || p.a - q.a);
  const lanes: { a: number; b: number }[][] = [];
  const laneOf = new Map<ILayoutEdge, number>();
  for (const skip of skips) {
    let lane = lanes.findIndex(used => used.every(u => skip.b <= u.a || u.b <= skip.a));
    if (lane < 0) {
      lane = lanes.push([]) - 1;
    }
    lanes[lane].push(skip);
    laneOf.set(skip.edge, lane);
  }
  const right = margin + width;
  const paths: IEdgePath[] = known.map(edge => {
    const from = boxes[index.get(edge.from)!];
    const to = boxes[index.get(edge.to)!];
    const lane = laneOf.get(edge);
    let points: IPoint[];
    if (lane === undefined) {
      const x = from.x + from.width / 2;
      points = [{ x, y: from.y + from.height }, { x, y: to.y }];
    } else {
      const x = right + (lane + 1) * LANE_PX;
      const y0 = from.y + from.height * 0.7;
      const y1 = to.y + to.height * 0.3;
      points = [{ x: right, y: y0 }, { x, y: y0 }, { x, y: y1 }, { x: right, y: y1 }];
    }
    const middle = lane === undefined
      ? { x: points[0].x, y: (points[0].y + points[1].y) / 2 + 4 }
      : { x: points[1].x, y: (points[1].y + points[2].y) / 2 };
    return {
      from: edge.from,
      to: edge.to,
      label: lane === undefined ? edge.label : '', // a lane has no room: its title says it
      title: edge.title ?? edge.label,
      file: edge.file ?? false,
      points,
      labelPos: middle
    };
  });
  return {
    nodes: boxes,
    edges: paths,
    width: right + lanes.length * LANE_PX + (lanes.length ? 6 : 0) + margin,
    height: y - gap + margin
  };
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
  return {
    from: edge.from,
    to: edge.to,
    label: edge.label,
    title: edge.title ?? edge.label,
    file: edge.file ?? false,
    points,
    // Past the middle, where edges that fan out of one node have parted (labels apart).
    labelPos: pointAlong(points, 0.62) ?? { x: placed.x ?? 0, y: placed.y ?? 0 }
  };
}

/** The point a fraction `t` of the way along the polyline `points`. */
export function pointAlong(points: IPoint[], t: number): IPoint | null {
  if (points.length < 2) {
    return points[0] ?? null;
  }
  const lengths = points.slice(1).map((p, i) => Math.hypot(p.x - points[i].x, p.y - points[i].y));
  let left = lengths.reduce((a, b) => a + b, 0) * t;
  for (let i = 0; i < lengths.length; i++) {
    if (left <= lengths[i] || i === lengths.length - 1) {
      const f = lengths[i] > 0 ? Math.min(1, left / lengths[i]) : 0;
      return { x: points[i].x + (points[i + 1].x - points[i].x) * f, y: points[i].y + (points[i + 1].y - points[i].y) * f };
    }
    left -= lengths[i];
  }
  return null;
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

/** The panel's inner size, in CSS px. */
export interface ISize {
  width: number;
  height: number;
}

/** How a panel shows the DAG. */
export interface IViewPlan {
  /** `list`: the graph cannot be read at this width; show the step list. */
  mode: 'graph' | 'list';
  direction: Direction;
  /** CSS px per SVG unit (1 = natural size); never below MIN_SCALE, never above 1. */
  scale: number;
  /** The whole graph is in view at `scale` (else it is panned to a node). */
  whole: boolean;
}

/** Top to bottom when the panel is taller than wide, else left to right. */
export function preferredDirection(panel: ISize): Direction {
  return panel.height > panel.width ? 'TB' : 'LR';
}

/** The scale that fits `graph` in `panel`, at most natural size. */
export function fitScale(graph: ISize, panel: ISize): number {
  if (graph.width <= 0 || graph.height <= 0) {
    return 1;
  }
  return Math.min(1, panel.width / graph.width, panel.height / graph.height);
}

/**
 * Pick the direction and scale for `panel` given the graph laid out both ways:
 * the whole graph at a readable scale in the preferred direction, else in the
 * other; else the one whose width fits at a readable scale (panned along its
 * length); else (`allowList`) a step list.
 */
export function planView(
  layouts: Record<Direction, ISize>,
  panel: ISize,
  allowList = true
): IViewPlan {
  const first = preferredDirection(panel);
  const second: Direction = first === 'TB' ? 'LR' : 'TB';
  if (allowList && panel.width < MIN_GRAPH_PANEL_PX) {
    return { mode: 'list', direction: first, scale: MIN_SCALE, whole: false };
  }
  for (const direction of [first, second]) {
    const scale = fitScale(layouts[direction], panel);
    if (scale >= MIN_SCALE) {
      return { mode: 'graph', direction, scale, whole: true };
    }
  }
  for (const direction of [first, second]) {
    const widthScale = Math.min(1, panel.width / layouts[direction].width);
    if (widthScale >= MIN_SCALE) {
      return { mode: 'graph', direction, scale: widthScale, whole: false };
    }
  }
  if (allowList) {
    return { mode: 'list', direction: first, scale: MIN_SCALE, whole: false };
  }
  return { mode: 'graph', direction: first, scale: MIN_SCALE, whole: false };
}

/** A viewBox origin (SVG units) to show `box` in a `view`-sized window, clamped to the graph. */
export function panTo(
  box: INodeBox,
  graph: ISize,
  view: ISize
): IPoint {
  const clamp = (value: number, size: number, total: number) =>
    total <= size ? 0 : Math.min(Math.max(0, value), total - size);
  return {
    x: clamp(box.x + box.width / 2 - view.width / 2, view.width, graph.width),
    y: clamp(box.y + box.height / 2 - view.height / 2, view.height, graph.height)
  };
}
