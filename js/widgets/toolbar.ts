/** The sidebar's toolbar: run, cancel, refresh, publish, schedule, the Dask dashboard link. */
import { Widget } from '@lumino/widgets';

export interface IToolbarOptions {
  onRun: () => void;
  onCancel: () => void;
  onRefresh: () => void;
  onPublish: () => void;
  onSchedule: () => void;
  /** Open the Dask dashboard inside JupyterLab (else the link opens a browser tab). */
  onOpenDashboard?: (url: string) => void;
}

export interface IToolbarState {
  canRun: boolean;
  running: boolean;
  dashboardUrl: string | null;
  /** A saved notebook without analysis errors can be published. */
  canPublish?: boolean;
  /** A notebook is open (a schedule names a published pipeline). */
  canSchedule?: boolean;
}

export class PipelineToolbar extends Widget {
  constructor(options: IToolbarOptions) {
    super();
    this.addClass('mlpipe-toolbar');
    this._run = button('mlpipe-run', 'Run', 'Save the notebook and run it as a pipeline', options.onRun);
    this._cancel = button('mlpipe-cancel', 'Cancel', 'Cancel the running pipeline', options.onCancel);
    const refresh = button('mlpipe-refresh', 'Refresh', 'Analyse the notebook again', options.onRefresh);
    this._publish = button(
      'mlpipe-publish', 'Publish', 'Save the notebook and publish it as a versioned pipeline',
      options.onPublish
    );
    this._schedule = button(
      'mlpipe-schedule', 'Schedule', 'Run a published pipeline on a cron schedule', options.onSchedule
    );
    this._dashboard = document.createElement('a');
    this._dashboard.className = 'mlpipe-dashboard-link';
    this._dashboard.textContent = 'Dask dashboard';
    this._dashboard.target = '_blank';
    this._dashboard.rel = 'noopener noreferrer';
    this._dashboard.title = 'The Dask dashboard of the cluster the runs use';
    if (options.onOpenDashboard) {
      const open = options.onOpenDashboard;
      this._dashboard.addEventListener('click', event => {
        if (!event.ctrlKey && !event.metaKey && !event.shiftKey) {
          event.preventDefault();
          open(this._dashboard.href);
        }
      });
    }
    this.node.append(this._run, this._cancel, refresh, this._publish, this._schedule, this._dashboard);
    this.setState({ canRun: false, running: false, dashboardUrl: null });
  }

  setState(state: IToolbarState): void {
    this._run.disabled = !state.canRun || state.running;
    this._cancel.disabled = !state.running;
    this._publish.disabled = !state.canPublish;
    this._schedule.disabled = !state.canSchedule;
    this._dashboard.hidden = !state.dashboardUrl;
    if (state.dashboardUrl) {
      this._dashboard.href = state.dashboardUrl;
    }
  }

  private _run: HTMLButtonElement;
  private _cancel: HTMLButtonElement;
  private _publish: HTMLButtonElement;
  private _schedule: HTMLButtonElement;
  private _dashboard: HTMLAnchorElement;
}

function button(cls: string, label: string, title: string, onClick: () => void): HTMLButtonElement {
  const el = document.createElement('button');
  el.className = `jp-Button mlpipe-button ${cls}`;
  el.textContent = label;
  el.title = title;
  el.addEventListener('click', () => onClick());
  return el;
}
