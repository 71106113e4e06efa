/**
 * The cron schedules, compact and collapsible: name, readable cron, next run or
 * "paused", and pause/resume/remove, reported through callbacks.
 */
import { Widget } from '@lumino/widgets';
import { formatWhen } from '../components/schedule';
import { ISchedule } from '../types';

export interface IScheduleListOptions {
  onSetPaused: (name: string, paused: boolean) => void;
  onRemove: (name: string) => void;
  /** Start collapsed (default: expanded). */
  collapsed?: boolean;
}

export class ScheduleList extends Widget {
  constructor(options: IScheduleListOptions) {
    super();
    this.addClass('mlpipe-schedules');
    this._options = options;
    this._collapsed = options.collapsed ?? false;
    this._toggle = document.createElement('button');
    this._toggle.className = 'mlpipe-section-title mlpipe-schedules-toggle';
    this._toggle.addEventListener('click', () => {
      this._collapsed = !this._collapsed;
      this._draw();
    });
    this._error = document.createElement('div');
    this._error.className = 'mlpipe-message mlpipe-error';
    this._list = document.createElement('ul');
    this.render([], null);
  }

  get collapsed(): boolean {
    return this._collapsed;
  }

  /** Show these schedules; the list is redrawn only when they changed. */
  render(schedules: ISchedule[], error: string | null): void {
    const key = JSON.stringify([schedules, error]);
    if (key === this._key) {
      return;
    }
    this._key = key;
    this._schedules = schedules;
    this._errorText = error;
    this._draw();
  }

  private _draw(): void {
    const count = this._schedules.length;
    this.setHidden(count === 0 && !this._errorText);
    this._toggle.textContent = `${this._collapsed ? '▸' : '▾'} Schedules (${count})`;
    this._toggle.setAttribute('aria-expanded', String(!this._collapsed));
    this._error.textContent = this._errorText ?? '';
    this._list.hidden = this._collapsed;
    // the error line is in the DOM only while there is one (`.mlpipe-error` means "shown")
    this.node.replaceChildren(this._toggle, ...(this._errorText ? [this._error] : []), this._list);
    this._list.replaceChildren(...this._schedules.map(s => this._item(s)));
  }

  private _item(schedule: ISchedule): HTMLLIElement {
    const item = document.createElement('li');
    item.className = 'mlpipe-schedule';
    item.classList.toggle('mlpipe-paused', schedule.paused);
    item.dataset.schedule = schedule.name;
    const name = span('mlpipe-schedule-title', schedule.name);
    const when = span('mlpipe-schedule-when', whenText(schedule));
    item.title = tooltip(schedule);
    const pause = small(schedule.paused ? 'Resume' : 'Pause', 'mlpipe-schedule-pause', () =>
      this._options.onSetPaused(schedule.name, !schedule.paused)
    );
    const remove = small('Remove', 'mlpipe-schedule-remove', () =>
      this._options.onRemove(schedule.name)
    );
    const head = document.createElement('div');
    head.className = 'mlpipe-schedule-head';
    head.append(name, pause, remove);
    item.append(head, span('mlpipe-schedule-cron', schedule.description || schedule.cron), when);
    if (schedule.last_error) {
      item.append(span('mlpipe-schedule-error', schedule.last_error));
    }
    if (schedule.skipped && schedule.last_skip_reason) {
      const times = schedule.skipped === 1 ? 'once' : `${schedule.skipped} times`;
      item.append(span('mlpipe-schedule-skipped', `skipped ${times}: ${schedule.last_skip_reason}`));
    }
    return item;
  }

  private _options: IScheduleListOptions;
  private _collapsed: boolean;
  private _toggle: HTMLButtonElement;
  private _error: HTMLDivElement;
  private _list: HTMLUListElement;
  private _schedules: ISchedule[] = [];
  private _errorText: string | null = null;
  private _key = '';
}

function whenText(schedule: ISchedule): string {
  if (schedule.paused) {
    return 'paused';
  }
  return schedule.next_run ? `next: ${formatWhen(schedule.next_run)}` : '';
}

function tooltip(schedule: ISchedule): string {
  const version = schedule.version ? ` v${schedule.version}` : ' (latest version)';
  const lines = [`${schedule.name}: pipeline ${schedule.pipeline}${version}`, `cron ${schedule.cron}`];
  const params = Object.entries(schedule.params ?? {});
  if (params.length) {
    lines.push(`params: ${params.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}`);
  }
  if (schedule.last_run_id) {
    lines.push(`last run: ${schedule.last_run_id}`);
  }
  return lines.join('\n');
}

function span(cls: string, text: string): HTMLSpanElement {
  const el = document.createElement('span');
  el.className = cls;
  el.textContent = text;
  return el;
}

function small(label: string, cls: string, onClick: () => void): HTMLButtonElement {
  const el = document.createElement('button');
  el.className = `jp-Button mlpipe-button mlpipe-small-button ${cls}`;
  el.textContent = label;
  el.addEventListener('click', event => {
    event.stopPropagation();
    onClick();
  });
  return el;
}
