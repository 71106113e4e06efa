/**
 * The pipeline sidebar: toolbar, parameters, messages, graph, run history, schedules.
 * It renders a PipelineModel and reports what the user picks through
 * callbacks, so it knows nothing about notebooks.
 */
import { Panel, Widget } from '@lumino/widgets';
import { INodeView } from '../components/graph';
import { PipelineModel } from '../model';
import { ScheduleModel } from '../schedules';
import { IStepInfo } from '../types';
import { ErrorLine } from './errorLine';
import { GraphView } from './graphView';
import { RunHistory } from './history';
import { ParamsForm } from './paramsForm';
import { ScheduleList } from './scheduleList';
import { PipelineToolbar } from './toolbar';

export interface IPipelineSidebarOptions {
  model: PipelineModel;
  schedules: ScheduleModel;
  /** Select and show a notebook cell (0-based index). */
  onSelectCell: (cell: number) => void;
  /** Open an executed step notebook (a path from the run record). */
  onOpenNotebook: (path: string) => void;
  /** Ask for a name and publish the notebook. */
  onPublish: () => void;
  /** Ask for a cron expression and add a schedule. */
  onSchedule: () => void;
  /** Remove a schedule (after asking the user). */
  onRemoveSchedule: (name: string) => void;
}

export class PipelineSidebar extends Panel {
  constructor(options: IPipelineSidebarOptions) {
    super();
    this.id = 'mlpipe-sidebar';
    this.addClass('mlpipe-sidebar');
    this.model = options.model;
    this.schedules = options.schedules;
    this._options = options;
    this._title = new Widget();
    this._title.addClass('mlpipe-header');
    this._toolbar = new PipelineToolbar({
      onRun: () => void this.model.startRun(this._params.values()),
      onCancel: () => void this.model.cancel(),
      onRefresh: () => void Promise.all([this.model.refresh(), this.schedules.load()]),
      onPublish: options.onPublish,
      onSchedule: options.onSchedule
    });
    this._params = new ParamsForm();
    this._messages = new ErrorLine({ onSelectCell: options.onSelectCell });
    this._empty = new Widget();
    this._empty.addClass('mlpipe-empty');
    this._graph = new GraphView({ onNodeClick: name => this._clickNode(name) });
    this._history = new RunHistory({ onShowRun: id => void this.model.showRun(id) });
    this._schedules = new ScheduleList({
      onSetPaused: (name, paused) => void this.schedules.setPaused(name, paused),
      onRemove: options.onRemoveSchedule
    });
    for (const w of [this._title, this._toolbar, this._params, this._messages, this._empty]) {
      this.addWidget(w);
    }
    this.addWidget(this._graph);
    this.addWidget(this._history);
    this.addWidget(this._schedules);
    this.model.changed.connect(this.render, this);
    this.schedules.changed.connect(this.render, this);
    this.render();
  }

  readonly model: PipelineModel;
  readonly schedules: ScheduleModel;

  get selected(): string | null {
    return this._selected;
  }

  render(): void {
    const { model } = this;
    const dag = model.dag;
    this._title.node.textContent = model.source
      ? `Pipeline: ${model.source.path.split('/').pop()}`
      : 'Pipeline';
    const canRun = !!dag && dag.steps.length > 0 && dag.errors.length === 0;
    this._toolbar.setState({
      canRun,
      running: model.running,
      dashboardUrl: model.dashboardUrl,
      canPublish: canRun,
      canSchedule: !!model.source
    });
    this._params.setParams(dag?.params ?? {});
    this._messages.render(dag?.errors ?? [], dag?.warnings ?? [], model.requestErrors);
    this._empty.node.textContent = emptyText(model);
    this._empty.setHidden(!this._empty.node.textContent);
    this._graph.setHidden(!dag || dag.steps.length === 0);
    if (dag && dag.steps.length) {
      this._graph.render(dag, this._views(dag.steps));
    }
    this._history.render(model.history, model.run?.run_id ?? null);
    this._schedules.render(this.schedules.schedules, this.schedules.error);
    this._tick(model.running);
  }

  dispose(): void {
    this._tick(false);
    super.dispose();
  }

  private _views(steps: IStepInfo[]): Map<string, INodeView> {
    return new Map(
      steps.map(step => [
        step.name,
        { step, state: this.model.nodeState(step.name), selected: step.name === this._selected }
      ])
    );
  }

  private _clickNode(name: string): void {
    const step = this.model.dag?.steps.find(s => s.name === name);
    if (!step) {
      return;
    }
    this._selected = name;
    const state = this.model.nodeState(name);
    this._options.onSelectCell(step.cell);
    if (state.state === 'failed' && state.notebook) {
      this._options.onOpenNotebook(state.notebook);
    }
    this.render();
  }

  /** While a run is active, re-render each second so elapsed times move. */
  private _tick(on: boolean): void {
    if (on && this._timer === undefined) {
      this._timer = setInterval(() => this.render(), 1000);
    } else if (!on && this._timer !== undefined) {
      clearInterval(this._timer);
      this._timer = undefined;
    }
  }

  private _options: IPipelineSidebarOptions;
  private _title: Widget;
  private _toolbar: PipelineToolbar;
  private _params: ParamsForm;
  private _messages: ErrorLine;
  private _empty: Widget;
  private _graph: GraphView;
  private _history: RunHistory;
  private _schedules: ScheduleList;
  private _selected: string | null = null;
  private _timer: ReturnType<typeof setInterval> | undefined;
}

function emptyText(model: PipelineModel): string {
  if (!model.source) {
    return 'Open a notebook to see its pipeline.';
  }
  if (!model.dag) {
    return model.requestErrors.length ? '' : 'Analysing…';
  }
  if (!model.dag.steps.length && !model.dag.errors.length) {
    return 'No steps yet: start a code cell with %%step NAME to make it a pipeline step.';
  }
  return '';
}
