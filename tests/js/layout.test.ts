import { IGraphLayout, INodeBox, IPoint, layoutGraph, NODE_HEIGHT, NODE_WIDTH, pathData } from '../../js/layout';

/** A deterministic pseudo-random generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A random DAG: edges only go from a lower to a higher index. */
function randomDag(n: number, density: number, seed: number) {
  const rand = rng(seed);
  const nodes = Array.from({ length: n }, (_, i) => ({ id: `step_${i}`, width: NODE_WIDTH, height: NODE_HEIGHT }));
  const edges: { from: string; to: string; label: string }[] = [];
  for (let j = 1; j < n; j++) {
    for (let i = 0; i < j; i++) {
      if (rand() < density / j + (i === j - 1 ? 0.3 : 0)) {
        edges.push({ from: `step_${i}`, to: `step_${j}`, label: `v${i}_${j}` });
      }
    }
  }
  return { nodes, edges };
}

function overlap(a: INodeBox, b: INodeBox): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** Distance from `p` to the border of `box` (0 when on it). */
function distanceToBorder(p: IPoint, box: INodeBox): number {
  const dx = Math.max(box.x - p.x, 0, p.x - (box.x + box.width));
  const dy = Math.max(box.y - p.y, 0, p.y - (box.y + box.height));
  const outside = Math.hypot(dx, dy);
  if (outside > 0) {
    return outside;
  }
  return Math.min(p.x - box.x, box.x + box.width - p.x, p.y - box.y, box.y + box.height - p.y);
}

function check(layout: IGraphLayout, edges: { from: string; to: string }[]): void {
  const boxes = new Map(layout.nodes.map(b => [b.id, b]));
  for (let i = 0; i < layout.nodes.length; i++) {
    for (let j = i + 1; j < layout.nodes.length; j++) {
      expect(overlap(layout.nodes[i], layout.nodes[j])).toBe(false);
    }
  }
  expect(layout.edges).toHaveLength(edges.length);
  for (const edge of layout.edges) {
    const from = boxes.get(edge.from)!;
    const to = boxes.get(edge.to)!;
    expect(edge.points.length).toBeGreaterThanOrEqual(2);
    expect(distanceToBorder(edge.points[0], from)).toBeLessThan(1);
    expect(distanceToBorder(edge.points[edge.points.length - 1], to)).toBeLessThan(1);
    // Left to right: a step's consumers sit in later ranks, to its right.
    expect(to.x).toBeGreaterThanOrEqual(from.x + from.width);
  }
  for (const point of layout.edges.flatMap(e => e.points)) {
    expect(point.x).toBeGreaterThanOrEqual(0);
    expect(point.y).toBeGreaterThanOrEqual(0);
    expect(point.x).toBeLessThanOrEqual(layout.width);
    expect(point.y).toBeLessThanOrEqual(layout.height);
  }
  for (const box of layout.nodes) {
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.y).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(layout.width + 0.5);
    expect(box.y + box.height).toBeLessThanOrEqual(layout.height + 0.5);
  }
}

describe('layoutGraph', () => {
  it('lays a chain out left to right in notebook order', () => {
    const { nodes } = randomDag(3, 0, 1);
    const edges = [
      { from: 'step_0', to: 'step_1', label: 'df' },
      { from: 'step_1', to: 'step_2', label: 'model' }
    ];
    const layout = layoutGraph(nodes, edges);
    const xs = layout.nodes.map(b => b.x);
    expect(xs[0]).toBeLessThan(xs[1]);
    expect(xs[1]).toBeLessThan(xs[2]);
    expect(layout.edges.map(e => e.label)).toEqual(['df', 'model']);
    check(layout, edges);
  });

  it.each([
    [5, 0.5, 11],
    [12, 0.8, 12],
    [20, 1.2, 13],
    [50, 1.0, 14],
    [50, 2.0, 15]
  ])('keeps %i random nodes apart and every edge between its boxes (density %f, seed %i)', (n, density, seed) => {
    const { nodes, edges } = randomDag(n, density, seed);
    expect(edges.length).toBeGreaterThan(0);
    check(layoutGraph(nodes, edges), edges);
  });

  it('places independent steps in the same rank, one above the other', () => {
    const nodes = ['load', 'a', 'b', 'join'].map(id => ({ id, width: NODE_WIDTH, height: NODE_HEIGHT }));
    const edges = [
      { from: 'load', to: 'a', label: 'df' },
      { from: 'load', to: 'b', label: 'df' },
      { from: 'a', to: 'join', label: 'x' },
      { from: 'b', to: 'join', label: 'y' }
    ];
    const layout = layoutGraph(nodes, edges);
    const [, a, b] = layout.nodes;
    expect(a.x).toBe(b.x);
    expect(a.y).not.toBe(b.y);
    check(layout, edges);
  });

  it('drops edges to unknown nodes instead of inventing them', () => {
    const nodes = [{ id: 'a', width: 10, height: 10 }];
    const layout = layoutGraph(nodes, [{ from: 'a', to: 'ghost', label: '' }]);
    expect(layout.nodes).toHaveLength(1);
    expect(layout.edges).toHaveLength(0);
  });

  it('writes an SVG path through the points', () => {
    expect(pathData([{ x: 0, y: 1 }, { x: 2.25, y: 3 }])).toBe('M0,1 L2.3,3');
  });
});
