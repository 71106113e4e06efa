/** The recent runs of the notebook, newest first; clicking one shows its states. */
import { Widget } from '@lumino/widgets';
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

  render(runs: IRunRecord[], currentId: string | null): void {
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
    when.textContent = run.started ? new Date(run.started * 1000).toLocaleString() : run.run_id;
    item.title = `run ${run.run_id}`;
    item.append(status, when);
    item.addEventListener('click', () => this._onShowRun(run.run_id));
    return item;
  }

  private _onShowRun: (runId: string) => void;
}
