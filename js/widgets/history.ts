/** The recent runs of the notebook, newest first; clicking one shows its states. */
import { Widget } from '@lumino/widgets';
import { runSummary } from '../runStatus';
import { IRunRecord } from '../types';

export interface IRunHistoryOptions {
  onShowRun: (runId: string) => void;
}

export class RunHistory extends Widget {
  constructor(options: IRunHistoryOptions) {
    super();
    this.addClass('mlpipe-history');
    this._onShowRun = options.onShowRun;
  }

  render(
    runs: IRunRecord[],
    currentId: string | null,
    defaults: Record<string, unknown> = {},
    nowMs = Date.now()
  ): void {
    this._defaults = defaults;
    this._now = nowMs;
    this.node.replaceChildren();
    this.setHidden(runs.length === 0);
    if (!runs.length) {
      return;
    }
    const title = document.createElement('div');
    title.className = 'mlpipe-section-title';
    title.textContent = 'Recent runs';
    const list = document.createElement('ul');
    for (const run of runs) {
      list.appendChild(this._item(run, run.run_id === currentId));
    }
    this.node.append(title, list);
  }

  private _item(run: IRunRecord, current: boolean): HTMLLIElement {
    const item = document.createElement('li');
    item.className = `mlpipe-history-item mlpipe-run-${run.status}`;
    item.classList.toggle('mlpipe-current', current);
    const status = document.createElement('span');
    status.className = 'mlpipe-run-status';
    status.textContent = run.status;
    const when = document.createElement('span');
    when.className = 'mlpipe-run-when';
    when.textContent = run.started ? shortTime(run.started) : run.run_id;
    const summary = document.createElement('div');
    summary.className = 'mlpipe-run-summary';
    summary.textContent = runSummary(run, this._defaults, this._now).split(' \u00b7 ').slice(1).join(' \u00b7 ');
    item.title = `run ${run.run_id}${run.error ? `\n${run.error}` : ''}`;
    item.dataset.runId = run.run_id;
    const head = document.createElement('div');
    head.className = 'mlpipe-history-head';
    head.append(status, when);
    item.append(head, summary);
    item.addEventListener('click', () => this._onShowRun(run.run_id));
    return item;
  }

  private _onShowRun: (runId: string) => void;
  private _defaults: Record<string, unknown> = {};
  private _now = 0;
}

/** "14:03:12" today, else "Dec 6 14:03". */
function shortTime(epochS: number): string {
  const date = new Date(epochS * 1000);
  const today = new Date().toDateString() === date.toDateString();
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return today ? time : `${date.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}`;
}
