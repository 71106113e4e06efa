/**
 * The pipeline sidebar: toolbar, run status line, parameters, messages, the DAG
 * (or the step list), the selected step's details, run history, schedules.
 * It renders a PipelineModel and reports what the user picks through
 * callbacks, so it knows nothing about notebooks.
 */
import { Panel, Widget } from '@lumino/widgets';
import { INodeView } from '../components/graph';
import { PipelineModel } from '../model';
import { statusLine, unplaceable } from '../runStatus';
import { ScheduleModel } from '../schedules';
import { IStepInfo } from '../types';
import { ErrorLine } from './errorLine';
import { GraphView } from './graphView';
import { RunHistory } from './history';
import { ParamsForm } from './paramsForm';
import { ScheduleList } from './scheduleList';
import { RunStatusLine } from './statusLine';
import { IStepLog, StepDetails } from './stepDetails';
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
  /** Run `%pipeline debug STEP` in the notebook's kernel. */
  onDebug?: (step: string) => void;
  /** Open the graph in the main area. */
  onOpenInMain?: () => void;
  /** Open the Dask dashboard inside JupyterLab. */
  onOpenDashboard?: (url: string) => void;
  /** Read a running step's output so far. */
  fetchLog?: (runId: string, step: string) => Promise<IStepLog>;
  /** The dashboard URL through the Jupyter server, from its proxy path. */
  proxyUrl?: (path: string) => string;
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
      onSchedule: options.onSchedule,
      onOpenDashboard: options.onOpenDashboard
    });
    this._status = new RunStatusLine({ onOpenTraceback: path => options.onOpenNotebook(path) });
    this._params = new ParamsForm();
    this._messages = new ErrorLine({ onSelectCell: options.onSelectCell });
    this._empty = new Widget();
    this._empty.addClass('mlpipe-empty');
    this._graph = new GraphView({
      onNodeClick: name => this._clickNode(name),
      onOpenInMain: options.onOpenInMain
    });
    this._details = new StepDetails({
      onOpenNotebook: path => options.onOpenNotebook(path),
      onDebug: step => options.onDebug?.(step),
      onRunSelection: select => void this.model.startRun(this._params.values(), select),
      fetchLog: options.fetchLog ?? (() => Promise.reject(new Error('no log route')))
    });
    this._history = new RunHistory({ onShowRun: id => void this.model.showRun(id) });
    this._schedules = new ScheduleList({
      onSetPaused: (name, paused) => void this.schedules.setPaused(name, paused),
      onRemove: options.onRemoveSchedule
    });
    const widgets = [
      this._title, this._toolbar, this._status, this._params, this._messages, this._empty,
      this._graph, this._details, this._history, this._schedules
    ];
    widgets.forEach(w => this.addWidget(w));
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
    const proxy = model.dashboardProxy;
    this._toolbar.setState({
      canRun,
      running: model.running,
      dashboardUrl: proxy && this._options.proxyUrl ? this._options.proxyUrl(proxy) : model.dashboardUrl,
      canPublish: canRun,
      canSchedule: !!model.source
    });
    const steps = dag?.steps ?? [];
    const warnings = unplaceable(steps, model.serverStatus);
    const line = statusLine(model.run, steps.map(s => s.name), Date.now());
    // Before a run (and after one), say which steps no worker can take.
    const runError = line?.kind === 'failed' && !line.failedStep; // it says so already
    const shown = model.running || runError ? [] : [...warnings.values()];
    this._status.render(model.source ? line : null, shown);
    this._params.setParams(dag?.params ?? {});
    this._messages.render(dag?.errors ?? [], dag?.warnings ?? [], model.requestErrors);
    this._empty.node.textContent = emptyText(model);
    this._empty.setHidden(!this._empty.node.textContent);
    this._graph.setHidden(!dag || dag.steps.length === 0);
    const views = this._views(steps, warnings);
    if (dag && dag.steps.length) {
      this._graph.render(dag, views, this._focus(steps));
    }
    const selected = this._selected ? views.get(this._selected) : undefined;
    this._details.render(
      selected
        ? {
            step: selected.step,
            state: selected.state,
            run: selected.state.record ? model.run : null,
            canRun: canRun && !model.running,
            warning: warnings.get(selected.step.name)
          }
        : null
    );
    this._history.render(model.history, model.run?.run_id ?? null, dag?.params ?? {}, Date.now());
    this._schedules.render(this.schedules.schedules, this.schedules.error);
    this._tick(model.running);
  }

  dispose(): void {
    this._tick(false);
    super.dispose();
  }

  private _views(steps: IStepInfo[], warnings: Map<string, string>): Map<string, INodeView> {
    return new Map(
      steps.map(step => {
        let state = this.model.nodeState(step.name);
        const warning = warnings.get(step.name);
        if (warning && (state.state === 'never' || state.state === 'stale')) {
          state = { ...state, reason: `no worker can take it: needs GPU=${step.resources.gpu}` };
        }
        return [step.name, { step, state, selected: step.name === this._selected, warning: !!warning }];
      })
    );
  }

  /** The node to keep in view: the selected one, else a running one, else a failed one. */
  private _focus(steps: IStepInfo[]): string | null {
    if (this._selected && steps.some(s => s.name === this._selected)) {
      return this._selected;
    }
    const states = steps.map(s => [s.name, this.model.nodeState(s.name).state] as const);
    return (
      states.find(([, s]) => s === 'running')?.[0] ?? states.find(([, s]) => s === 'failed')?.[0] ?? null
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
  private _status: RunStatusLine;
  private _params: ParamsForm;
  private _messages: ErrorLine;
  private _empty: Widget;
  private _graph: GraphView;
  private _details: StepDetails;
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
