/**
 * The DAG fitted to its panel: top to bottom in a tall panel, left to right in
 * a wide one, at a readable scale (node text >= 11 px), panned to the focused
 * node when it does not all fit; a step list where no readable graph fits.
 * Drag pans, the wheel zooms; nodes and list rows report clicks through a callback.
 */
import { Widget } from '@lumino/widgets';
import { edgeLabel, INodeView, isFileEdge, nodeHeight, renderGraph, svgEl } from '../components/graph';
import { attachPanZoom, formatViewBox, IViewBox } from '../components/panzoom';
import {
  Direction,
  IGraphLayout,
  IViewPlan,
  layoutGraph,
  NODE_HEIGHT,
  NODE_WIDTH,
  panTo,
  planView
} from '../layout';
import { IDag } from '../types';
import { StepList } from './stepList';

export interface IGraphViewOptions {
  onNodeClick: (name: string) => void;
  /** Show the step list when no readable graph fits (the sidebar); false: always the graph. */
  allowList?: boolean;
  /** Open the graph in the main area (a button beside Fit), when given. */
  onOpenInMain?: () => void;
}

export class GraphView extends Widget {
  constructor(options: IGraphViewOptions) {
    super();
    this.addClass('mlpipe-graph');
    this._onNodeClick = options.onNodeClick;
    this._allowList = options.allowList ?? true;
    this._svg = svgEl(document, 'svg', { class: 'mlpipe-graph-svg' });
    this._svg.appendChild(arrowDefs());
    this._root = svgEl(document, 'g');
    this._svg.appendChild(this._root);
    this._list = new StepList({ onClick: name => this._onNodeClick(name) });
    const buttons = document.createElement('div');
    buttons.className = 'mlpipe-graph-buttons';
    const fit = smallButton('mlpipe-fit', 'Fit', 'Fit the graph to the panel (wheel: zoom, drag: pan)');
    fit.addEventListener('click', () => this.fit());
    buttons.append(fit);
    this._fitButton = fit;
    if (options.onOpenInMain) {
      const open = smallButton('mlpipe-open-main', '\u2922', 'Open the graph in the main area');
      open.addEventListener('click', () => options.onOpenInMain!());
      buttons.append(open);
    }
    this.node.append(this._svg, this._list.node, buttons);
    this._detach = attachPanZoom(this._svg, () => this._box, box => {
      this._userMoved = true;
      this._setBox(this._clamp(box));
    });
  }

  /** The graph as drawn, or null while the list is shown. */
  get graphLayout(): IGraphLayout | null {
    return this._plan?.mode === 'graph' ? this._layouts[this._plan.direction] ?? null : null;
  }

  /** How the panel shows the DAG now. */
  get plan(): IViewPlan | null {
    return this._plan;
  }

  /**
   * Re-render; layouts are recomputed only when the graph's shape changed.
   * `focus` names the node to keep in view (selected, running or failed).
   */
  render(dag: IDag, views: Map<string, INodeView>, focus: string | null = null): void {
    this._dag = dag;
    this._views = views;
    const shape = JSON.stringify([dag.steps.map(s => s.name), dag.edges]);
    if (shape !== this._shape) {
      this._shape = shape;
      this._layouts = {};
      this._userMoved = false;
    }
    const focusChanged = focus !== this._focus;
    this._focus = focus;
    this._replan(focusChanged);
  }

  /** Fit again (forgetting the user's pan and zoom). */
  fit(): void {
    this._userMoved = false;
    this._replan(true);
  }

  protected onResize(): void {
    this._replan(false);
  }

  protected onAfterShow(): void {
    this._replan(false);
  }

  protected onAfterAttach(): void {
    this._replan(false);
  }

  dispose(): void {
    this._detach();
    super.dispose();
  }

  private _layoutFor(direction: Direction): IGraphLayout {
    const dag = this._dag!;
    let layout = this._layouts[direction];
    if (!layout) {
      layout = layoutGraph(
        dag.steps.map(s => ({ id: s.name, width: NODE_WIDTH, height: nodeHeight(s, NODE_HEIGHT) })),
        dag.edges.map(e => ({
          from: e.from,
          to: e.to,
          label: edgeLabel(e.vars),
          file: isFileEdge(e.vars),
          title: `${e.from} → ${e.to}: ${e.vars.length ? e.vars.join(', ') : 'runs after (--after)'}`
        })),
        { direction, order: dag.steps.map(s => s.name) }
      );
      this._layouts[direction] = layout;
    }
    return layout;
  }

  private _replan(_pan: boolean): void {
    const dag = this._dag;
    if (!dag || !this.isVisible) {
      return;
    }
    const rect = this.node.getBoundingClientRect();
    if (rect.width <= 0 || rect.height <= 0) {
      return;
    }
    const panel = { width: rect.width, height: rect.height };
    const plan = planView(
      { TB: this._layoutFor('TB'), LR: this._layoutFor('LR') },
      panel,
      this._allowList
    );
    const moved = !this._plan || plan.direction !== this._plan.direction || plan.mode !== this._plan.mode;
    this._plan = plan;
    this.node.dataset.mode = plan.mode;
    this.node.dataset.direction = plan.direction;
    const list = plan.mode === 'list';
    this._svg.style.display = list ? 'none' : '';
    this._list.node.style.display = list ? '' : 'none';
    this._fitButton.style.display = list ? 'none' : '';
    if (list) {
      this._list.render(dag.steps.map(s => this._views.get(s.name)!).filter(Boolean));
      return;
    }
    const layout = this._layoutFor(plan.direction);
    renderGraph(this._root, layout, this._views, { onNodeClick: this._onNodeClick });
    if (this._userMoved && !moved) {
      return;
    }
    this._userMoved = false;
    const view = { width: panel.width / plan.scale, height: panel.height / plan.scale };
    let origin = { x: (layout.width - view.width) / 2, y: 0 };
    if (!plan.whole) {
      const box = layout.nodes.find(n => n.id === this._focus);
      origin = box ? panTo(box, layout, view) : { x: Math.min(0, (layout.width - view.width) / 2), y: 0 };
    } else if (plan.direction === 'LR') {
      origin = { x: 0, y: (layout.height - view.height) / 2 };
    }
    this._setBox({ ...origin, ...view });
  }

  /** Keep at least a quarter of the view on the graph, and the zoom between 1/5 and 4x natural. */
  private _clamp(box: IViewBox): IViewBox {
    const layout = this.graphLayout;
    const rect = this._svg.getBoundingClientRect();
    if (!layout || rect.width <= 0) {
      return box;
    }
    const scale = rect.width / box.width;
    if (scale < 0.2 || scale > 4) {
      return this._box;
    }
    const x = Math.min(Math.max(box.x, -box.width * 0.75), layout.width - box.width * 0.25);
    const y = Math.min(Math.max(box.y, -box.height * 0.75), layout.height - box.height * 0.25);
    return { ...box, x, y };
  }

  private _setBox(box: IViewBox): void {
    this._box = box;
    this._svg.setAttribute('viewBox', formatViewBox(box));
  }

  private _onNodeClick: (name: string) => void;
  private _allowList: boolean;
  private _svg: SVGSVGElement;
  private _root: SVGGElement;
  private _list: StepList;
  private _fitButton: HTMLButtonElement;
  private _detach: () => void;
  private _shape = '';
  private _dag: IDag | null = null;
  private _views = new Map<string, INodeView>();
  private _layouts: Partial<Record<Direction, IGraphLayout>> = {};
  private _plan: IViewPlan | null = null;
  private _focus: string | null = null;
  private _box: IViewBox = { x: 0, y: 0, width: 300, height: 200 };
  private _userMoved = false;
}

function smallButton(cls: string, label: string, title: string): HTMLButtonElement {
  const el = document.createElement('button');
  el.className = `jp-Button mlpipe-graph-button ${cls}`;
  el.textContent = label;
  el.title = title;
  return el;
}

function arrowDefs(): SVGDefsElement {
  const defs = svgEl(document, 'defs');
  const marker = svgEl(document, 'marker', {
    id: 'mlpipe-arrow',
    viewBox: '0 0 10 10',
    refX: 9,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: 'auto-start-reverse'
  });
  marker.appendChild(svgEl(document, 'path', { d: 'M0,0 L10,5 L0,10 z', class: 'mlpipe-arrow' }));
  defs.appendChild(marker);
  return defs;
}
