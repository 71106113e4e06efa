/**
 * PipelineModel: the DAG of the active notebook and the state of its runs.
 *
 * It re-analyses the unsaved cells (`POST dag`) shortly after every change,
 * polls the run it follows (`GET runs/ID`), and says so through `changed`.
 * It knows nothing of JupyterLab widgets: a notebook is an `INotebookSource`.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { deriveNodeState, isActive, ITrackedRun, signaturesOf, stepSignature, TERMINAL } from './state';
import { ICellPayload, IDag, INodeState, IRunRecord, RequestFn } from './types';

/** The notebook the model follows, seen through what the model needs. */
export interface INotebookSource {
  readonly path: string;
  /** The current, possibly unsaved, cells. */
  cells(): ICellPayload[];
  /** Emitted on any content change. */
  readonly changed: ISignal<any, any>;
  /** Write the notebook to disk (a run reads the saved file). */
  save?(): Promise<void>;
  /** Resolves once the notebook's cells are loaded (no analysis of an empty model before). */
  readonly ready?: Promise<void>;
  /** When the file was last saved (epoch seconds), if known. */
  savedAt?(): number | null;
}

/** What `GET status` says about the server's own cluster. */
export interface IServerStatus {
  dashboard_link?: string | null;
  /** The dashboard through the Jupyter server (jupyter-server-proxy), relative to its base URL. */
  dashboard_proxy?: string | null;
  scheduler_address?: string | null;
  gpu_workers?: number | null;
  /** GPU workers the server's own cluster has or will have; null when unknown (a scheduler). */
  gpu_slots?: number | null;
}

export interface IPipelineModelOptions {
  request: RequestFn;
  debounceMs?: number;
  pollIntervalMs?: number;
  /** How often the run history is re-read, for runs started elsewhere (CLI, magic, schedule). */
  historyPollMs?: number;
  now?: () => number;
}

export class PipelineModel implements IDisposable {
  constructor(options: IPipelineModelOptions) {
    this._request = options.request;
    this._debounceMs = options.debounceMs ?? 300;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.historyPollMs = options.historyPollMs ?? 4000;
    this._now = options.now ?? (() => Date.now());
  }

  /** Emitted once when a run the model follows ends (succeeded, failed or cancelled). */
  get runEnded(): ISignal<this, IRunRecord> {
    return this._runEnded;
  }
  /** The server's `GET status` answer, once read. */
  get serverStatus(): IServerStatus | null {
    return this._status;
  }

  /** Emitted when the DAG, a run, the history or an error changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get source(): INotebookSource | null {
    return this._source;
  }
  get dag(): IDag | null {
    return this._dag;
  }
  /** Requests that failed (server down, bad answer): one line each. */
  get requestErrors(): string[] {
    return [...this._errors.values()];
  }
  /** The run the nodes show, for the current notebook. */
  get run(): IRunRecord | null {
    return this._tracked()?.run ?? null;
  }
  /** The shown run is queued or running (it can be cancelled). */
  get running(): boolean {
    return !!this.run && isActive(this.run.status);
  }
  get history(): IRunRecord[] {
    return this._history;
  }
  get dashboardUrl(): string | null {
    return this.dashboardOverride || this._dashboardLink;
  }
  /** The dashboard through the Jupyter server, when it proxies it (relative to the base URL). */
  get dashboardProxy(): string | null {
    return this.dashboardOverride ? null : (this._status?.dashboard_proxy ?? null);
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  pollIntervalMs: number;
  historyPollMs: number;
  /** Sent with `POST runs` as `scheduler` when set (a Dask scheduler address). */
  schedulerAddress = '';
  /** A dashboard link from the settings, preferred to the server's. */
  dashboardOverride = '';

  /** Follow another notebook (or none). */
  setSource(source: INotebookSource | null): void {
    if (source === this._source) {
      return;
    }
    this._source?.changed.disconnect(this.scheduleAnalysis, this);
    this._source = source;
    this._dag = null;
    this._cells = [];
    this._history = [];
    this._errors.clear();
    this._stopPolling();
    clearTimeout(this._historyTimer);
    source?.changed.connect(this.scheduleAnalysis, this);
    this._changed.emit();
    if (source) {
      // The first analysis waits for the notebook's cells: no "No steps yet" flash.
      if (source.ready) {
        void source.ready.then(() => {
          if (source === this._source) {
            void this.refresh();
          }
        });
      } else {
        void this.refresh();
      }
    }
  }

  /** Re-analyse after `debounceMs` without a further change. */
  scheduleAnalysis(): void {
    clearTimeout(this._debounce);
    this._debounce = setTimeout(() => void this.analyze(), this._debounceMs);
  }

  /** Analyse the current cells now; answers to older requests are dropped. */
  async analyze(): Promise<void> {
    clearTimeout(this._debounce);
    const source = this._source;
    if (!source) {
      return;
    }
    const cells = source.cells();
    const seq = ++this._seq;
    try {
      const dag = await this._request<IDag>('dag', post({ path: source.path, cells }));
      if (seq === this._seq && source === this._source) {
        this._dag = normalizeDag(dag);
        this._cells = cells;
        this._errors.delete('analysis');
        this._changed.emit();
      }
    } catch (error) {
      if (seq === this._seq && source === this._source) {
        this._fail('analysis', error);
      }
    }
  }

  /** Re-analyse, reload the run history and the dashboard link; show the latest run. */
  async refresh(): Promise<void> {
    await Promise.all([this.analyze(), this.loadHistory(), this._loadStatus()]);
    this._adoptLatest();
    this._scheduleHistory();
  }

  /**
   * Save the notebook and start a run; returns its id. `select` is a selection
   * (`+STEP`: up to here, `STEP+`: from here).
   */
  async startRun(params: Record<string, unknown> = {}, select?: string): Promise<string | null> {
    const source = this._source;
    if (!source || this.running) {
      return null;
    }
    try {
      await source.save?.();
      await this.analyze();
      const body: Record<string, unknown> = { path: source.path, params };
      if (this.schedulerAddress) {
        body.scheduler = this.schedulerAddress;
      }
      if (select) {
        body.select = select;
      }
      const { run_id } = await this._request<{ run_id: string }>('runs', post(body));
      this._errors.delete('run');
      const run: IRunRecord = {
        run_id, status: 'running', notebook: source.path, started: this._now() / 1000, steps: {}
      };
      this._track(source.path, run, signaturesOf(this._dag?.steps ?? [], this._cells));
      this._changed.emit();
      this._schedulePoll(0);
      return run_id;
    } catch (error) {
      this._fail('run', error);
      return null;
    }
  }

  /** Ask the server to cancel the followed run. */
  async cancel(): Promise<void> {
    const run = this.run;
    if (!run || !this.running) {
      return;
    }
    try {
      await this._request(`runs/${encodeURIComponent(run.run_id)}`, { method: 'DELETE' });
      await this._poll();
    } catch (error) {
      this._fail('cancel', error);
    }
  }

  /** Show a past run's states (from the history list). */
  async showRun(runId: string): Promise<void> {
    const source = this._source;
    if (!source) {
      return;
    }
    try {
      const run = await this._request<IRunRecord>(`runs/${encodeURIComponent(runId)}`);
      this._track(source.path, run, signaturesOf(this._dag?.steps ?? [], this._cells));
      this._changed.emit();
      if (isActive(run.status)) {
        this._schedulePoll(0);
      }
    } catch (error) {
      this._fail('run record', error);
    }
  }

  async loadHistory(): Promise<void> {
    const source = this._source;
    if (!source) {
      return;
    }
    try {
      const answer = await this._request<IRunRecord[] | { runs: IRunRecord[] }>('runs');
      const runs = Array.isArray(answer) ? answer : (answer?.runs ?? []);
      if (source === this._source) {
        const history = runs
          .filter(r => sameNotebook(r.path || r.notebook, source.path))
          .sort((a, b) => (b.started ?? 0) - (a.started ?? 0))
          .slice(0, 10);
        if (JSON.stringify(history) !== JSON.stringify(this._history)) {
          this._history = history;
          this._changed.emit();
        }
      }
    } catch {
      // The history is a convenience: a failure here must not hide the DAG.
    }
  }

  /** What the node of step `name` shows now. */
  nodeState(name: string): INodeState {
    const step = this._dag?.steps.find(s => s.name === name);
    if (!step) {
      return { state: 'never', reason: '', seconds: null, notebook: null };
    }
    const signature = stepSignature(step, this._cells);
    return deriveNodeState(step, signature, this._tracked(), this._now());
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    clearTimeout(this._debounce);
    clearTimeout(this._historyTimer);
    this._stopPolling();
    this._source?.changed.disconnect(this.scheduleAnalysis, this);
    Signal.clearData(this);
  }

  /**
   * Show the newest run of this notebook when the model follows none, or when a
   * newer one started elsewhere (CLI, magic, schedule) while the shown one ended.
   * A run older than the notebook's last save is not shown: its states may not
   * match the code any more (the cache states say what holds).
   */
  private _adoptLatest(): void {
    const source = this._source;
    const latest = this._history[0];
    if (!source || !latest || !this._dag) {
      return;
    }
    const tracked = this._tracked();
    if (tracked) {
      const newer = (latest.started ?? 0) > (tracked.run.started ?? 0) + 0.5;
      const seen = latest.run_id === tracked.run.run_id || latest.run_id === tracked.latestSeen;
      if (seen || isActive(tracked.run.status) || !newer) {
        return;
      }
    } else {
      const saved = source.savedAt?.() ?? null;
      if (saved !== null && !isActive(latest.status) && (latest.started ?? 0) + 1 < saved) {
        return;
      }
    }
    this._track(source.path, latest, signaturesOf(this._dag.steps, this._cells));
    this._changed.emit();
    if (isActive(latest.status)) {
      this._schedulePoll(0);
    }
  }

  /** Re-read the history every `historyPollMs` (the server coalesces these reads). */
  private _scheduleHistory(): void {
    clearTimeout(this._historyTimer);
    if (!this._source || this._disposed) {
      return;
    }
    this._historyTimer = setTimeout(async () => {
      await this.loadHistory();
      this._adoptLatest();
      this._scheduleHistory();
    }, this.historyPollMs);
  }

  private _tracked(): ITrackedRun | null {
    return (this._source && this._runs.get(this._source.path)) ?? null;
  }

  private _track(path: string, run: IRunRecord, signatures: Map<string, string>): void {
    const latestSeen = this._history[0]?.run_id;
    this._runs.set(path, { run, signatures, firstSeenRunning: new Map(), latestSeen });
  }

  private _schedulePoll(delay: number): void {
    this._stopPolling();
    this._pollTimer = setTimeout(() => void this._poll(), delay);
  }

  private _stopPolling(): void {
    clearTimeout(this._pollTimer);
    this._pollTimer = undefined;
  }

  private async _poll(): Promise<void> {
    const tracked = this._tracked();
    if (!tracked || this._disposed) {
      return;
    }
    const wasActive = isActive(tracked.run.status);
    try {
      const id = encodeURIComponent(tracked.run.run_id);
      tracked.run = await this._request<IRunRecord>(`runs/${id}`);
      this._errors.delete('run status');
      this._changed.emit();
    } catch (error) {
      this._fail('run status', error);
    }
    if (this._tracked() !== tracked) {
      return;
    }
    if (wasActive && !this._dashboardLink && !this.dashboardOverride) {
      await this._loadStatus(); // the link shows as soon as the cluster is up
    }
    if (TERMINAL.has(tracked.run.status)) {
      this._stopPolling();
      if (wasActive) {
        this._runEnded.emit(tracked.run);
      }
      // the run may have started the server's warm cluster: its dashboard is the link now
      await Promise.all([this.loadHistory(), this.analyze(), this._loadStatus()]);
    } else {
      this._schedulePoll(this.pollIntervalMs);
    }
  }

  private async _loadStatus(): Promise<void> {
    try {
      const status = await this._request<IServerStatus>('status');
      const link = status?.dashboard_link || null;
      const changed = JSON.stringify(status) !== JSON.stringify(this._status);
      this._status = status ?? null;
      this._dashboardLink = link;
      if (changed) {
        this._changed.emit();
      }
    } catch {
      this._dashboardLink = null;
    }
  }

  private _fail(what: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this._errors.set(what, `mlpipe ${what} failed: ${message}`);
    this._changed.emit();
  }

  private _request: RequestFn;
  private _debounceMs: number;
  private _now: () => number;
  private _source: INotebookSource | null = null;
  private _dag: IDag | null = null;
  private _cells: ICellPayload[] = [];
  private _seq = 0;
  private _debounce: ReturnType<typeof setTimeout> | undefined;
  private _pollTimer: ReturnType<typeof setTimeout> | undefined;
  private _historyTimer: ReturnType<typeof setTimeout> | undefined;
  private _status: IServerStatus | null = null;
  private _runEnded = new Signal<this, IRunRecord>(this);
  private _runs = new Map<string, ITrackedRun>();
  private _history: IRunRecord[] = [];
  private _dashboardLink: string | null = null;
  private _errors = new Map<string, string>();
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}

function post(body: unknown): { method: string; body: string } {
  return { method: 'POST', body: JSON.stringify(body) };
}

/** Fill the optional fields an older or partial server may leave out. */
export function normalizeDag(dag: Partial<IDag>): IDag {
  return {
    steps: (dag.steps ?? []).map(s => ({
      ...s,
      reads: s.reads ?? [],
      binds: s.binds ?? [],
      outputs: s.outputs ?? [],
      params: s.params ?? [],
      after: s.after ?? [],
      cells: s.cells ?? [s.cell],
      resources: s.resources ?? { cpu: null, gpu: null, memory: null }
    })),
    edges: dag.edges ?? [],
    params: dag.params ?? {},
    order: dag.order ?? [],
    warnings: dag.warnings ?? [],
    errors: dag.errors ?? []
  };
}

/** A run's `notebook` may be the server-relative path or an absolute one. */
function sameNotebook(recorded: string | null | undefined, path: string): boolean {
  if (!recorded) {
    return true;
  }
  return recorded === path || recorded.endsWith('/' + path);
}
