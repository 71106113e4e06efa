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

import { fitScale, MIN_GRAPH_PANEL_PX, MIN_SCALE, MIN_TEXT_PX, NODE_TEXT_PX, planView, preferredDirection, panTo } from '../../js/layout';

/** The DAGs of notebooks/: breast_cancer (a chain with skip edges) and fanout (4 branches). */
const BREAST_CANCER = {
  names: ['load', 'clean', 'features', 'train', 'evaluate', 'report'],
  edges: [['load', 'clean'], ['clean', 'features'], ['features', 'train'], ['features', 'evaluate'],
    ['features', 'report'], ['train', 'evaluate'], ['train', 'report'], ['evaluate', 'report']]
};
const FANOUT = {
  names: ['prepare', 'branch_mean', 'branch_std', 'branch_quantiles', 'branch_histogram', 'combine'],
  edges: [['prepare', 'branch_mean'], ['prepare', 'branch_std'], ['prepare', 'branch_quantiles'],
    ['prepare', 'branch_histogram'], ['branch_mean', 'combine'], ['branch_std', 'combine'],
    ['branch_quantiles', 'combine'], ['branch_histogram', 'combine']]
};

function both(dag: { names: string[]; edges: string[][] }) {
  const nodes = dag.names.map(id => ({ id, width: NODE_WIDTH, height: NODE_HEIGHT }));
  const edges = dag.edges.map(([from, to]) => ({ from, to, label: 'x' }));
  return {
    TB: layoutGraph(nodes, edges, { direction: 'TB', order: dag.names }),
    LR: layoutGraph(nodes, edges, { direction: 'LR', order: dag.names })
  };
}

describe('orientation and notebook order', () => {
  it('goes top to bottom in a panel taller than wide, else left to right', () => {
    expect(preferredDirection({ width: 250, height: 600 })).toBe('TB');
    expect(preferredDirection({ width: 860, height: 600 })).toBe('LR');
  });

  it('places consumers below their producers top to bottom', () => {
    const { TB } = both(BREAST_CANCER);
    const box = new Map(TB.nodes.map(b => [b.id, b]));
    for (const [from, to] of BREAST_CANCER.edges) {
      expect(box.get(to)!.y).toBeGreaterThanOrEqual(box.get(from)!.y + NODE_HEIGHT);
    }
  });

  it('stacks a chain with skip edges in one column, the skips in lanes at its right', () => {
    const { TB } = both(BREAST_CANCER);
    expect(new Set(TB.nodes.map(b => b.x)).size).toBe(1);
    expect(TB.width).toBeLessThanOrEqual(250);
    const right = TB.nodes[0].x + NODE_WIDTH;
    const skip = TB.edges.find(e => e.from === 'features' && e.to === 'report')!;
    expect(Math.max(...skip.points.map(p => p.x))).toBeGreaterThan(right);
    expect(TB.nodes.map(b => b.id)).toEqual(BREAST_CANCER.names);
  });

  it('keeps branches in notebook order in both directions', () => {
    const { TB, LR } = both(FANOUT);
    const branches = FANOUT.names.slice(1, 5);
    const xs = branches.map(n => TB.nodes.find(b => b.id === n)!.x);
    const ys = branches.map(n => LR.nodes.find(b => b.id === n)!.y);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    expect([...ys].sort((a, b) => a - b)).toEqual(ys);
  });
});

describe('fit scale and the list fallback', () => {
  it('never fits below the readable minimum (text >= 11 px)', () => {
    expect(MIN_SCALE * NODE_TEXT_PX).toBeGreaterThanOrEqual(MIN_TEXT_PX);
    const layouts = both(BREAST_CANCER);
    for (const panel of [{ width: 250, height: 300 }, { width: 300, height: 900 }, { width: 860, height: 500 }]) {
      const plan = planView(layouts, panel);
      if (plan.mode === 'graph') {
        expect(plan.scale).toBeGreaterThanOrEqual(MIN_SCALE);
        expect(plan.scale).toBeLessThanOrEqual(1);
      }
    }
  });

  it('fits at natural size at most, never enlarging a small graph', () => {
    expect(fitScale({ width: 100, height: 100 }, { width: 800, height: 800 })).toBe(1);
    expect(fitScale({ width: 1000, height: 100 }, { width: 500, height: 800 })).toBe(0.5);
  });

  it('draws breast_cancer top to bottom in a 250 px sidebar, panned along its length', () => {
    const plan = planView(both(BREAST_CANCER), { width: 250, height: 420 });
    expect(plan).toMatchObject({ mode: 'graph', direction: 'TB' });
    expect(plan.scale).toBeGreaterThanOrEqual(MIN_SCALE);
  });

  it('shows the whole of breast_cancer when the panel is tall enough', () => {
    const layouts = both(BREAST_CANCER);
    const plan = planView(layouts, { width: 300, height: layouts.TB.height + 10 });
    expect(plan).toMatchObject({ mode: 'graph', direction: 'TB', whole: true, scale: 1 });
  });

  it('falls back to the step list for fanout at 250 px (4 branches cannot be read side by side)', () => {
    expect(planView(both(FANOUT), { width: 250, height: 700 }).mode).toBe('list');
  });

  it('turns fanout left to right in a wide panel, where it fits whole', () => {
    expect(planView(both(FANOUT), { width: 860, height: 700 })).toMatchObject({ mode: 'graph', direction: 'LR', whole: true });
  });

  it('lists below the narrowest readable node, whatever the graph', () => {
    const one = { TB: { width: 10, height: 10 }, LR: { width: 10, height: 10 } };
    expect(planView(one, { width: MIN_GRAPH_PANEL_PX - 1, height: 900 }).mode).toBe('list');
    expect(planView(one, { width: MIN_GRAPH_PANEL_PX, height: 900 }).mode).toBe('graph');
  });

  it('never lists in the main area (allowList false)', () => {
    expect(planView(both(FANOUT), { width: 250, height: 700 }, false).mode).toBe('graph');
  });

  it('pans to a node, clamped to the graph', () => {
    const { TB } = both(BREAST_CANCER);
    const report = TB.nodes.find(b => b.id === 'report')!;
    const origin = panTo(report, TB, { width: 250, height: 300 });
    expect(origin.y).toBeGreaterThan(0);
    expect(origin.y + 300).toBeLessThanOrEqual(TB.height + 0.001);
    expect(report.y).toBeGreaterThanOrEqual(origin.y);
    expect(report.y + report.height).toBeLessThanOrEqual(origin.y + 300);
  });
});
