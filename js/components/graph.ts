/**
 * Render a laid-out DAG as SVG elements. Step and variable names are always
 * set as text (`textContent`), never parsed as markup.
 */
import { IGraphLayout, INodeBox, IEdgePath, pathData } from '../layout';
import { shortReason, stateLabel } from '../state';
import { INodeState, IStepInfo } from '../types';

const SVG_NS = 'http://www.w3.org/2000/svg';

export interface INodeView {
  step: IStepInfo;
  state: INodeState;
  selected: boolean;
  /** No worker can take it (drawn with a warning outline). */
  warning?: boolean;
}

export interface IGraphRenderOptions {
  onNodeClick?: (name: string) => void;
}

/** Make an SVG element with attributes (values are strings, never markup). */
export function svgEl<K extends keyof SVGElementTagNameMap>(
  doc: Document,
  tag: K,
  attrs: Record<string, string | number> = {}
): SVGElementTagNameMap[K] {
  const el = doc.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    el.setAttribute(key, String(value));
  }
  return el;
}

/** Fill `root` (an SVG `<g>`) with the edges, then the nodes, of `layout`. */
export function renderGraph(
  root: SVGGElement,
  layout: IGraphLayout,
  views: Map<string, INodeView>,
  options: IGraphRenderOptions = {}
): void {
  const doc = root.ownerDocument;
  root.replaceChildren();
  const edges = svgEl(doc, 'g', { class: 'mlpipe-edges' });
  const nodes = svgEl(doc, 'g', { class: 'mlpipe-nodes' });
  layout.edges.forEach(edge => edges.appendChild(renderEdge(doc, edge)));
  for (const box of layout.nodes) {
    const view = views.get(box.id);
    if (view) {
      nodes.appendChild(renderNode(doc, box, view, options));
    }
  }
  root.append(edges, nodes);
}

export function renderEdge(doc: Document, edge: IEdgePath): SVGGElement {
  const kind = edge.file ? 'mlpipe-edge mlpipe-edge-file' : 'mlpipe-edge';
  const g = svgEl(doc, 'g', { class: kind });
  g.dataset.from = edge.from;
  g.dataset.to = edge.to;
  const line: Record<string, string> = {
    d: pathData(edge.points),
    'marker-end': 'url(#mlpipe-arrow)'
  };
  if (edge.file) {
    line['stroke-dasharray'] = '5 3';
  }
  g.appendChild(svgEl(doc, 'path', line));
  if (edge.title) {
    const title = svgEl(doc, 'title');
    title.textContent = edge.title;
    g.appendChild(title);
  }
  if (edge.label) {
    const label = svgEl(doc, 'text', {
      class: 'mlpipe-edge-label',
      x: edge.labelPos.x,
      y: edge.labelPos.y - 4,
      'text-anchor': 'middle'
    });
    label.textContent = edge.label;
    g.appendChild(label);
  }
  return g;
}

export function renderNode(
  doc: Document,
  box: INodeBox,
  view: INodeView,
  options: IGraphRenderOptions = {}
): SVGGElement {
  const { step, state } = view;
  const classes = ['mlpipe-node', `mlpipe-state-${state.state}`];
  if (view.selected) {
    classes.push('mlpipe-selected');
  }
  if (view.warning) {
    classes.push('mlpipe-node-warning');
  }
  const g = svgEl(doc, 'g', {
    class: classes.join(' '),
    transform: `translate(${box.x},${box.y})`,
    role: 'button',
    tabindex: 0
  });
  g.dataset.step = step.name;
  g.dataset.state = state.state;
  const title = svgEl(doc, 'title');
  title.textContent = tooltip(step, state);
  g.appendChild(title);
  g.appendChild(svgEl(doc, 'rect', { width: box.width, height: box.height, rx: 6, ry: 6 }));
  g.appendChild(
    svgEl(doc, 'rect', { class: 'mlpipe-node-bar', width: 5, height: box.height, rx: 2 })
  );
  const badges = ((step.resources?.gpu ?? 0) > 0 ? 44 : 0) + (step.nondeterministic ? 50 : 0);
  const nameChars = Math.floor((box.width - 20 - badges) / 7.6);
  g.appendChild(text(doc, 'mlpipe-node-name', 12, 18, truncate(step.name, Math.max(6, nameChars))));
  g.appendChild(text(doc, 'mlpipe-node-state', 12, 34, stateLabel(state)));
  // The reason in words on the node itself, not only in the tooltip.
  const reason = shortReason(state, Math.floor((box.width - 18) / 6.4));
  if (reason) {
    g.appendChild(text(doc, 'mlpipe-node-reason', 12, 49, reason));
  }
  const resources = resourcesLabel(step);
  if (resources !== 'any worker') {
    g.appendChild(text(doc, 'mlpipe-node-resources', 12, 63, resources));
  }
  if ((step.resources?.gpu ?? 0) > 0) {
    g.appendChild(gpuBadge(doc, box.width, step.resources.gpu ?? 1));
  }
  if (step.nondeterministic) {
    const offset = (step.resources?.gpu ?? 0) > 0 ? 44 : 0;
    g.appendChild(randomBadge(doc, box.width - offset, step.nondeterministic));
  }
  if (options.onNodeClick) {
    const click = () => options.onNodeClick!(step.name);
    g.addEventListener('click', click);
    g.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        click();
      }
    });
  }
  return g;
}

function gpuBadge(doc: Document, width: number, gpus: number): SVGGElement {
  const badge = svgEl(doc, 'g', {
    class: 'mlpipe-gpu-badge',
    transform: `translate(${width - 44},5)`
  });
  badge.appendChild(svgEl(doc, 'rect', { width: 38, height: 15, rx: 7, ry: 7 }));
  badge.appendChild(text(doc, '', 19, 11.5, gpus > 1 ? `GPU×${gpus}` : 'GPU', 'middle'));
  return badge;
}

/** "random": the step draws from a generator nobody seeded (its reason as tooltip). */
function randomBadge(doc: Document, right: number, reason: string): SVGGElement {
  const badge = svgEl(doc, 'g', {
    class: 'mlpipe-random-badge',
    transform: `translate(${right - 50},5)`
  });
  const title = svgEl(doc, 'title');
  title.textContent = `non-deterministic: ${reason}`;
  badge.appendChild(title);
  badge.appendChild(svgEl(doc, 'rect', { width: 44, height: 15, rx: 7, ry: 7 }));
  badge.appendChild(text(doc, '', 22, 11.5, 'random', 'middle'));
  return badge;
}

function text(
  doc: Document,
  cls: string,
  x: number,
  y: number,
  content: string,
  anchor = 'start'
): SVGTextElement {
  const el = svgEl(doc, 'text', { x, y, 'text-anchor': anchor });
  if (cls) {
    el.setAttribute('class', cls);
  }
  el.textContent = content;
  return el;
}

/** A node's height: one more line for a step that asks for resources. */
export function nodeHeight(step: IStepInfo, base: number): number {
  return resourcesLabel(step) === 'any worker' ? base : base + 14;
}

/** "2 cpu · 8 GB", or "any worker" when the step asks for nothing. */
export function resourcesLabel(step: IStepInfo): string {
  const r = step.resources ?? { cpu: null, gpu: null, memory: null };
  const parts: string[] = [];
  if (r.cpu) {
    parts.push(`${r.cpu} cpu`);
  }
  if (r.memory) {
    parts.push(formatMemory(r.memory));
  }
  if (step.retries) {
    parts.push(`${step.retries} retries`);
  }
  return parts.length ? parts.join(' · ') : 'any worker';
}

export function formatMemory(memory: number | string): string {
  if (typeof memory === 'string') {
    return memory;
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = memory;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

function tooltip(step: IStepInfo, state: INodeState): string {
  const lines = [`${step.name}: ${stateLabel(state)}`];
  if (state.reason) {
    lines.push(state.reason);
  }
  if (step.reads.length) {
    lines.push(`reads: ${step.reads.join(', ')}`);
  }
  if (step.outputs.length) {
    lines.push(`outputs: ${step.outputs.join(', ')}`);
  }
  if (step.nondeterministic) {
    lines.push(`non-deterministic: ${step.nondeterministic}`);
  }
  return lines.join('\n');
}

export function truncate(value: string, max: number): string {
  return value.length > max ? value.slice(0, max - 1) + '…' : value;
}

const FILE_PREFIX = 'file:';

/** True for an edge only files pass along (`file:PATH` labels, DESIGN rule 8). */
export function isFileEdge(vars: string[]): boolean {
  return vars.length > 0 && vars.every(v => v.startsWith(FILE_PREFIX));
}

/** Edge label: its variables (a file by its name), shortened to fit between two ranks. */
export function edgeLabel(names: string[], max = 11): string {
  const vars = names.map(v => (v.startsWith(FILE_PREFIX) ? v.slice(FILE_PREFIX.length) : v));
  const all = vars.join(', ');
  if (all.length <= max) {
    return all;
  }
  const more = vars.length > 1 ? ` +${vars.length - 1}` : '';
  return truncate(vars[0], max - more.length) + more;
}
