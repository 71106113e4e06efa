/**
 * @jest-environment jsdom
 */
import { edgeLabel, formatMemory, INodeView, isFileEdge, renderEdge, renderGraph, renderNode, resourcesLabel } from '../../js/components/graph';
import { zoomViewBox } from '../../js/components/panzoom';
import { IGraphLayout } from '../../js/layout';
import { INodeState, IStepInfo } from '../../js/types';
import { parseValue } from '../../js/components/params';

const MALICIOUS = '<img src=x onerror=alert(1)>';

function step(name: string, extra: Partial<IStepInfo> = {}): IStepInfo {
  return {
    name, cell: 0, reads: [], binds: [], outputs: [], params: [],
    resources: { cpu: null, gpu: null, memory: null },
    retries: 0, timeout: null, cache: true, after: [], cells: [0], ...extra
  };
}

function state(s: INodeState['state'], extra: Partial<INodeState> = {}): INodeState {
  return { state: s, reason: '', seconds: null, notebook: null, ...extra };
}

const box = { id: 'x', x: 10, y: 20, width: 150, height: 54 };

function svgRoot(): SVGGElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  document.body.appendChild(svg);
  const g = document.createElementNS('http://www.w3.org/2000/svg', 'g');
  svg.appendChild(g);
  return g;
}

describe('renderNode', () => {
  it('keeps a malicious step name as text, never markup', () => {
    (window as any).alert = jest.fn();
    const view: INodeView = { step: step(MALICIOUS), state: state('failed', { reason: MALICIOUS }), selected: false };
    const node = renderNode(document, { ...box, id: MALICIOUS }, view);
    document.body.appendChild(node);
    expect(node.querySelector('img')).toBeNull();
    expect(document.querySelectorAll('img')).toHaveLength(0);
    expect(node.querySelector('.mlpipe-node-name')!.textContent).toMatch(/^<img src=x on.*…$/);
    expect(node.querySelector('title')!.textContent).toContain(MALICIOUS);
    expect(node.getAttribute('data-step')).toBe(MALICIOUS);
    expect((window as any).alert).not.toHaveBeenCalled();
  });

  it('shows state as a class and as text, with the elapsed time while running', () => {
    const node = renderNode(document, box, { step: step('train'), state: state('running', { seconds: 12.4 }), selected: true });
    expect(node.classList.contains('mlpipe-state-running')).toBe(true);
    expect(node.classList.contains('mlpipe-selected')).toBe(true);
    expect(node.querySelector('.mlpipe-node-state')!.textContent).toBe('running 12s');
    const never = renderNode(document, box, { step: step('a'), state: state('never'), selected: false });
    expect(never.querySelector('.mlpipe-node-state')!.textContent).toBe('not run');
  });

  it('puts the stale reason in the tooltip', () => {
    const node = renderNode(document, box, { step: step('a'), state: state('stale', { reason: 'code edited since the last run' }), selected: false });
    expect(node.querySelector('title')!.textContent).toBe('a: stale\ncode edited since the last run');
  });

  it('shows a GPU badge and the resources only for steps that ask for them', () => {
    const gpu = step('train', { resources: { cpu: 2, gpu: 1, memory: 8e9 } });
    const node = renderNode(document, box, { step: gpu, state: state('queued'), selected: false });
    expect(node.querySelector('.mlpipe-gpu-badge')!.textContent).toBe('GPU');
    expect(node.querySelector('.mlpipe-node-resources')!.textContent).toBe('2 cpu · 8 GB');
    const plain = renderNode(document, box, { step: step('load'), state: state('queued'), selected: false });
    expect(plain.querySelector('.mlpipe-gpu-badge')).toBeNull();
    expect(plain.querySelector('.mlpipe-node-resources')).toBeNull();
    expect(plain.querySelector('.mlpipe-random-badge')).toBeNull();
  });

  it('marks a non-deterministic step with a badge and says why in its tooltips', () => {
    const why = 'draws from numpy.random, never seeded';
    const node = renderNode(document, box, {
      step: step('roll', { nondeterministic: why }), state: state('never'), selected: false
    });
    const badge = node.querySelector('.mlpipe-random-badge')!;
    expect(badge.textContent).toContain('random');
    expect(badge.querySelector('title')!.textContent).toBe(`non-deterministic: ${why}`);
    expect(node.querySelector(':scope > title')!.textContent).toContain(`non-deterministic: ${why}`);
  });

  it('reports clicks and Enter with the step name', () => {
    const clicked: string[] = [];
    const node = renderNode(document, box, { step: step('train'), state: state('never'), selected: false }, { onNodeClick: n => clicked.push(n) });
    node.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    node.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
    expect(clicked).toEqual(['train', 'train']);
  });
});

describe('renderGraph', () => {
  it('draws one group per edge with its variables as text, and one per node', () => {
    const layout: IGraphLayout = {
      width: 400, height: 100,
      nodes: [{ ...box, id: 'load' }, { ...box, id: MALICIOUS, x: 220 }],
      edges: [{ from: 'load', to: MALICIOUS, label: MALICIOUS, title: MALICIOUS, points: [{ x: 160, y: 47 }, { x: 220, y: 47 }], labelPos: { x: 190, y: 40 } }]
    };
    const views = new Map<string, INodeView>([
      ['load', { step: step('load'), state: state('succeeded'), selected: false }],
      [MALICIOUS, { step: step(MALICIOUS), state: state('never'), selected: false }]
    ]);
    const root = svgRoot();
    renderGraph(root, layout, views);
    renderGraph(root, layout, views); // re-rendering replaces, never duplicates
    expect(root.querySelectorAll('.mlpipe-node')).toHaveLength(2);
    expect(root.querySelectorAll('.mlpipe-edge')).toHaveLength(1);
    expect(root.querySelector('.mlpipe-edge-label')!.textContent).toBe(MALICIOUS);
    expect(root.querySelector('.mlpipe-edge title')!.textContent).toBe(MALICIOUS);
    expect(root.querySelector('.mlpipe-edge path')!.getAttribute('d')).toBe('M160,47 L220,47');
    expect(document.querySelectorAll('img')).toHaveLength(0);
  });
});

describe('helpers', () => {
  it('shortens long variable lists on edges', () => {
    expect(edgeLabel(['X', 'y'])).toBe('X, y');
    expect(edgeLabel(['X_train', 'X_test', 'y_train', 'y_test'])).toBe('X_train +3');
    expect(edgeLabel(['a_very_long_name'])).toBe('a_very_lon…');
  });

  it('formats memory in bytes as a person writes it', () => {
    expect(formatMemory(8e9)).toBe('8 GB');
    expect(formatMemory(1.5e6)).toBe('1.5 MB');
    expect(formatMemory('4GB')).toBe('4GB');
    expect(resourcesLabel(step('a', { retries: 2 }))).toBe('2 retries');
  });

  it('zooms around the pointer, keeping that point fixed', () => {
    const zoomed = zoomViewBox({ x: 0, y: 0, width: 100, height: 50 }, 0.5, 40, 20);
    expect(zoomed).toEqual({ x: 20, y: 10, width: 50, height: 25 });
  });

  it('reads parameter values as Python-ish literals', () => {
    expect(parseValue('0.5')).toBe(0.5);
    expect(parseValue('True')).toBe(true);
    expect(parseValue('None')).toBeNull();
    expect(parseValue('"a b"')).toBe('a b');
    expect(parseValue('rbf')).toBe('rbf');
    expect(parseValue('[1, 2]')).toEqual([1, 2]);
  });
});

describe('file edges (rule 8)', () => {
  it('are drawn dashed and labelled with the file name', () => {
    expect(isFileEdge(['file:model.joblib'])).toBe(true);
    expect(isFileEdge(['model', 'file:model.joblib'])).toBe(false);
    expect(isFileEdge([])).toBe(false);
    expect(edgeLabel(['file:a.csv'])).toBe('a.csv');
    const edge = {
      from: 'train', to: 'score', label: 'm.joblib', title: 'train → score: file:m.joblib',
      file: true, points: [{ x: 0, y: 0 }, { x: 10, y: 0 }], labelPos: { x: 5, y: 0 }
    };
    const g = renderEdge(document, edge);
    expect(g.getAttribute('class')).toBe('mlpipe-edge mlpipe-edge-file');
    expect(g.querySelector('path')?.getAttribute('stroke-dasharray')).toBe('5 3');
    const plain = renderEdge(document, { ...edge, file: false });
    expect(plain.querySelector('path')?.hasAttribute('stroke-dasharray')).toBe(false);
  });
});
