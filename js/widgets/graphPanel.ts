/** The DAG in the main area: room to zoom and pan, the same model as the sidebar. */
import { BoxLayout, Widget } from '@lumino/widgets';
import { PipelineModel } from '../model';
import { GraphView } from './graphView';

export interface IGraphPanelOptions {
  model: PipelineModel;
  onNodeClick: (name: string) => void;
}

export class PipelineGraphPanel extends Widget {
  constructor(options: IGraphPanelOptions) {
    super();
    this.addClass('mlpipe-graph-panel');
    this.model = options.model;
    this._graph = new GraphView({ onNodeClick: options.onNodeClick, allowList: false });
    const layout = new BoxLayout();
    layout.addWidget(this._graph);
    this.layout = layout;
    this.model.changed.connect(this.render, this);
    this.render();
  }

  readonly model: PipelineModel;

  render(): void {
    const dag = this.model.dag;
    this.title.label = `Pipeline: ${this.model.source?.path.split('/').pop() ?? ''}`;
    if (!dag || !dag.steps.length) {
      return;
    }
    const views = new Map(
      dag.steps.map(step => [step.name, { step, state: this.model.nodeState(step.name), selected: false }])
    );
    this._graph.render(dag, views, null);
  }

  dispose(): void {
    this.model.changed.disconnect(this.render, this);
    super.dispose();
  }

  private _graph: GraphView;
}
