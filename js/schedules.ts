/**
 * ScheduleModel: published pipelines and cron schedules, as the sidebar shows them.
 *
 * Publishing, adding a schedule and previewing a cron expression reject with the
 * server's one-line message (the dialogs show it and stay open); pausing, resuming
 * and removing keep their failure in `error` (the list shows it).
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { ICronPreview, INewSchedule, IPublished, ISchedule, RequestFn } from './types';

export interface IScheduleModelOptions {
  request: RequestFn;
}

export class ScheduleModel implements IDisposable {
  constructor(options: IScheduleModelOptions) {
    this._request = options.request;
  }

  /** Emitted when the schedules, the published names or the error change. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get schedules(): ISchedule[] {
    return this._schedules;
  }
  /** Names of the published pipelines. */
  get pipelines(): string[] {
    return this._pipelines;
  }
  /** The last failed list action, one line; null when the last one worked. */
  get error(): string | null {
    return this._error;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  /** The name `path` was last published under from here, if any. */
  publishedName(path: string): string | null {
    return this._published.get(path) ?? null;
  }

  /** Reload the schedules and the published pipelines. */
  async load(): Promise<void> {
    try {
      const [schedules, pipelines] = await Promise.all([
        this._request<ISchedule[]>('schedules'),
        this._request<IPublished[]>('pipelines')
      ]);
      this._schedules = schedules ?? [];
      this._pipelines = (pipelines ?? []).map(p => p.name);
      this._setError(null);
    } catch (error) {
      this._setError(`mlpipe schedules failed: ${messageOf(error)}`);
    }
  }

  /** Publish the saved notebook `path` as `name`: the version it got (or the unchanged latest). */
  async publish(path: string, name: string): Promise<IPublished> {
    const published = await this._request<IPublished>('pipelines', post({ path, name }));
    this._published.set(path, published.name);
    if (!this._pipelines.includes(published.name)) {
      this._pipelines = [...this._pipelines, published.name].sort();
    }
    this._changed.emit();
    return published;
  }

  /** `GET cron?cron=EXPR`: rejects with the expression's one-line error. */
  previewCron(expr: string): Promise<ICronPreview> {
    return this._request<ICronPreview>(`cron?cron=${encodeURIComponent(expr)}`);
  }

  async add(schedule: INewSchedule): Promise<ISchedule> {
    const added = await this._request<ISchedule>('schedules', post(schedule));
    await this.load();
    return added;
  }

  async setPaused(name: string, paused: boolean): Promise<void> {
    const what = paused ? 'pause' : 'resume';
    await this._act(what, name, { method: 'PATCH', body: JSON.stringify({ paused }) });
  }

  async remove(name: string): Promise<void> {
    await this._act('remove', name, { method: 'DELETE' });
  }

  dispose(): void {
    this._disposed = true;
    Signal.clearData(this);
  }

  private async _act(what: string, name: string, init: { method: string; body?: string }) {
    try {
      await this._request(`schedules/${encodeURIComponent(name)}`, init);
      await this.load();
    } catch (error) {
      this._setError(`mlpipe ${what} of schedule '${name}' failed: ${messageOf(error)}`);
    }
  }

  private _setError(error: string | null): void {
    this._error = error;
    this._changed.emit();
  }

  private _request: RequestFn;
  private _schedules: ISchedule[] = [];
  private _pipelines: string[] = [];
  private _published = new Map<string, string>();
  private _error: string | null = null;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}

function post(body: unknown): { method: string; body: string } {
  return { method: 'POST', body: JSON.stringify(body) };
}

/** The one-line message of a rejection. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
