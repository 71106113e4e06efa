/** The DAG as a pannable, zoomable SVG; nodes report clicks through a callback. */
import { Widget } from '@lumino/widgets';
import { edgeLabel, INodeView, isFileEdge, renderGraph, svgEl } from '../components/graph';
import { attachPanZoom, formatViewBox, IViewBox } from '../components/panzoom';
import { IGraphLayout, layoutGraph, NODE_HEIGHT, NODE_WIDTH } from '../layout';
import { IDag } from '../types';

export interface IGraphViewOptions {
  onNodeClick: (name: string) => void;
}

export class GraphView extends Widget {
  constructor(options: IGraphViewOptions) {
    super();
    this.addClass('mlpipe-graph');
    this._onNodeClick = options.onNodeClick;
    this._svg = svgEl(document, 'svg', { class: 'mlpipe-graph-svg' });
    this._svg.appendChild(arrowDefs());
    this._root = svgEl(document, 'g');
    this._svg.appendChild(this._root);
    const fit = document.createElement('button');
    fit.className = 'jp-Button mlpipe-fit';
    fit.textContent = 'Fit';
    fit.title = 'Fit the whole graph (wheel: zoom, drag: pan)';
    fit.addEventListener('click', () => this.fit(Infinity));
    this.node.append(this._svg, fit);
    this._detach = attachPanZoom(this._svg, () => this._box, box => {
      this._userMoved = true;
      this._setBox(box);
    });
  }

  /** Re-render; the layout is recomputed only when the graph's shape changed. */
  render(dag: IDag, views: Map<string, INodeView>): void {
    const shape = JSON.stringify([dag.steps.map(s => s.name), dag.edges]);
    if (shape !== this._shape) {
      this._shape = shape;
      this._graph = layoutGraph(
        dag.steps.map(s => ({ id: s.name, width: NODE_WIDTH, height: NODE_HEIGHT })),
        dag.edges.map(e => ({
          from: e.from,
          to: e.to,
          label: edgeLabel(e.vars),
          file: isFileEdge(e.vars),
          title: `${e.from} → ${e.to}: ${e.vars.length ? e.vars.join(', ') : 'runs after (--after)'}`
        }))
      );
      if (!this._userMoved) {
        this.fit();
      }
    }
    renderGraph(this._root, this._graph!, views, { onNodeClick: this._onNodeClick });
  }

  /**
   * Show as much of the graph as fits, anchored top-left: never above natural
   * size, nor below 1/`maxShrink` of it (text stays readable; pan for the rest).
   */
  fit(maxShrink = 1.3): void {
    const layout = this._graph;
    if (!layout) {
      return;
    }
    const rect = this._svg.getBoundingClientRect();
    const width = rect.width || layout.width;
    const height = rect.height || layout.height;
    const needed = Math.max(layout.width / width, layout.height / height, 1);
    const scale = Math.min(needed, maxShrink);
    this._userMoved = false;
    this._setBox({ x: 0, y: 0, width: width * scale, height: height * scale });
  }

  get graphLayout(): IGraphLayout | null {
    return this._graph;
  }

  protected onResize(): void {
    if (!this._userMoved) {
      this.fit();
    }
  }

  protected onAfterShow(): void {
    if (!this._userMoved) {
      this.fit();
    }
  }

  dispose(): void {
    this._detach();
    super.dispose();
  }

  private _setBox(box: IViewBox): void {
    this._box = box;
    this._svg.setAttribute('viewBox', formatViewBox(box));
  }

  private _onNodeClick: (name: string) => void;
  private _svg: SVGSVGElement;
  private _root: SVGGElement;
  private _detach: () => void;
  private _shape = '';
  private _graph: IGraphLayout | null = null;
  private _box: IViewBox = { x: 0, y: 0, width: 300, height: 200 };
  private _userMoved = false;
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
