/**
 * The selected step in full: state, reason, times, worker, reads and writes,
 * cache key, resources, threads and GPU device, metrics; and what to do with it
 * (open its executed notebook, follow its log, debug it in the kernel, run up to
 * or from it). Behaviour comes in as callbacks: it knows nothing of notebooks.
 */
import { Widget } from '@lumino/widgets';
import { resourcesLabel } from '../components/graph';
import { formatSeconds, stateLabel } from '../state';
import { INodeState, IRunRecord, IStepInfo } from '../types';

/** `GET runs/ID/steps/STEP/log`: what a step's executed notebook holds so far. */
export interface IStepLog {
  status?: string;
  cells_done?: number;
  cells_total?: number;
  text: string;
}

export interface IStepDetailsOptions {
  onOpenNotebook: (path: string, runId: string | null) => void;
  onDebug: (step: string) => void;
  /** Start a run with a selection: `+STEP` (up to here) or `STEP+` (from here). */
  onRunSelection: (select: string) => void;
  /** Read a running step's log so far. */
  fetchLog: (runId: string, step: string) => Promise<IStepLog>;
  logPollMs?: number;
}

export interface IStepDetailsState {
  step: IStepInfo;
  state: INodeState;
  run: IRunRecord | null;
  canRun: boolean;
  /** Why no worker can take it, if so. */
  warning?: string;
}

export class StepDetails extends Widget {
  constructor(options: IStepDetailsOptions) {
    super();
    this.addClass('mlpipe-details');
    this._options = options;
    this._log = document.createElement('pre');
    this._log.className = 'mlpipe-log';
  }

  render(state: IStepDetailsState | null): void {
    this.setHidden(!state);
    if (!state) {
      this._stopLog();
      return;
    }
    const { step, state: node, run } = state;
    const record = node.record ?? null;
    this.node.replaceChildren();
    this.node.dataset.step = step.name;
    const head = document.createElement('div');
    head.className = `mlpipe-details-head mlpipe-state-${node.state}`;
    head.append(span('mlpipe-details-name', step.name), span('mlpipe-details-state', stateLabel(node)));
    this.node.appendChild(head);
    const rows: [string, string][] = [];
    if (node.reason) {
      rows.push([node.state === 'failed' ? 'error' : 'reason', node.reason]);
    }
    if (state.warning) {
      rows.push(['warning', state.warning]);
    }
    if (record?.duration_s !== null && record?.duration_s !== undefined) {
      let text = formatSeconds(record.duration_s);
      if (typeof record.started === 'number' && typeof run?.started === 'number') {
        text += ` (started ${formatSeconds(Math.max(0, record.started - run.started))} into the run)`;
      }
      rows.push(['duration', text]);
    }
    if (record?.worker) {
      rows.push(['worker', record.worker]);
    }
    const device = record?.gpu_device ?? record?.device;
    if (record?.threads) {
      rows.push(['threads', String(record.threads)]);
    }
    if (device) {
      rows.push(['GPU device', String(device)]);
    }
    rows.push(['reads', step.reads.join(', ') || '\u2013']);
    rows.push(['writes', step.outputs.join(', ') || '\u2013']);
    rows.push(['resources', resourceText(step)]);
    if (record?.cache_key) {
      rows.push(['cache key', record.cache_key.slice(0, 12)]);
    }
    if (run) {
      rows.push(['run', `${run.run_id}${run.started ? ` (${new Date(run.started * 1000).toLocaleString()})` : ''}`]);
    }
    for (const [name, value] of metricEntries(record?.metrics)) {
      rows.push([`metric ${name}`, typeof value === 'number' ? fmtNumber(value) : JSON.stringify(value)]);
    }
    const table = document.createElement('dl');
    table.className = 'mlpipe-details-rows';
    for (const [key, value] of rows) {
      const dt = document.createElement('dt');
      dt.textContent = key;
      const dd = document.createElement('dd');
      dd.textContent = value;
      dd.dataset.key = key;
      table.append(dt, dd);
    }
    this.node.appendChild(table);
    this.node.appendChild(this._actions(state));
    if (node.state === 'running' && run) {
      this.node.appendChild(this._log);
      this._startLog(run.run_id, step.name);
    } else {
      this._stopLog();
    }
  }

  dispose(): void {
    this._stopLog();
    super.dispose();
  }

  private _actions(state: IStepDetailsState): HTMLElement {
    const { step, state: node, run } = state;
    const bar = document.createElement('div');
    bar.className = 'mlpipe-details-actions';
    const add = (cls: string, label: string, title: string, enabled: boolean, click: () => void) => {
      const b = document.createElement('button');
      b.className = `jp-Button mlpipe-button mlpipe-small-button ${cls}`;
      b.textContent = label;
      b.title = title;
      b.disabled = !enabled;
      b.addEventListener('click', click);
      bar.appendChild(b);
    };
    if (node.notebook) {
      const path = node.notebook;
      add('mlpipe-open-notebook', 'Open notebook', `The executed notebook of this step (run ${run?.run_id ?? ''})`,
        true, () => this._options.onOpenNotebook(path, run?.run_id ?? null));
    }
    if (node.state === 'failed') {
      add('mlpipe-debug', 'Debug in kernel', `%pipeline debug ${step.name}: its inputs and code in the live kernel`,
        true, () => this._options.onDebug(step.name));
    }
    add('mlpipe-run-until', 'Run up to here', `Run '${step.name}' and what it needs (+${step.name})`,
      state.canRun, () => this._options.onRunSelection(`+${step.name}`));
    add('mlpipe-run-from', 'Run from here', `Run '${step.name}' and everything after it (${step.name}+)`,
      state.canRun, () => this._options.onRunSelection(`${step.name}+`));
    return bar;
  }

  private _startLog(runId: string, step: string): void {
    const key = `${runId}/${step}`;
    if (this._logKey === key) {
      return;
    }
    this._stopLog();
    this._logKey = key;
    this._log.textContent = 'waiting for output\u2026';
    const poll = async () => {
      try {
        const log = await this._options.fetchLog(runId, step);
        if (this._logKey !== key) {
          return;
        }
        const progress = log.cells_total ? `[cell ${log.cells_done ?? 0}/${log.cells_total}]\n` : '';
        this._log.textContent = progress + (log.text || '(no output yet)');
        this._log.scrollTop = this._log.scrollHeight;
      } catch (error) {
        if (this._logKey === key) {
          this._log.textContent = `log unavailable: ${error instanceof Error ? error.message : error}`;
        }
      }
      if (this._logKey === key) {
        this._logTimer = setTimeout(poll, this._options.logPollMs ?? 1500);
      }
    };
    void poll();
  }

  private _stopLog(): void {
    clearTimeout(this._logTimer);
    this._logKey = null;
  }

  private _options: IStepDetailsOptions;
  private _log: HTMLPreElement;
  private _logKey: string | null = null;
  private _logTimer: ReturnType<typeof setTimeout> | undefined;
}

/** Metrics as `{name: value}` or a list of `{name|key, value}` (the last value of each). */
function metricEntries(metrics: unknown): [string, unknown][] {
  if (Array.isArray(metrics)) {
    const last = new Map<string, unknown>();
    for (const m of metrics) {
      if (m && typeof m === 'object') {
        const item = m as Record<string, unknown>;
        last.set(String(item.name ?? item.key ?? '?'), item.value);
      }
    }
    return [...last.entries()];
  }
  return metrics && typeof metrics === 'object' ? Object.entries(metrics as object) : [];
}

function resourceText(step: IStepInfo): string {
  const gpu = step.resources?.gpu ?? 0;
  const base = resourcesLabel(step);
  return gpu > 0 ? `GPU=${gpu}${base === 'any worker' ? '' : ` · ${base}`}` : base;
}

function fmtNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

function span(cls: string, text: string): HTMLSpanElement {
  const el = document.createElement('span');
  el.className = cls;
  el.textContent = text;
  return el;
}
