/**
 * The body of the Schedule dialog: schedule name, published pipeline, cron expression
 * with a live readable preview (or its one-line error), and parameters.
 */
import { Widget } from '@lumino/widgets';
import { LivePreview, PreviewResult } from '../components/livePreview';
import { labelled, messageLine, setMessage, textInput } from '../components/form';
import {
  IScheduleInput,
  parseParamLines,
  previewText,
  scheduleProblem
} from '../components/schedule';
import { ICronPreview } from '../types';

export interface IScheduleFormOptions {
  /** Schedule name and pipeline to start from. */
  name: string;
  pipeline: string;
  cron?: string;
  /** `NAME = VALUE` lines. */
  params?: string;
  /** Published pipeline names, to warn about one that is not. */
  published: string[];
  /** Preview a cron expression (`GET cron`); rejects with its one-line error. */
  preview: (expr: string) => Promise<ICronPreview>;
  debounceMs?: number;
  /** An error to show from the start (the server refused the last try). */
  error?: string;
}

export class ScheduleForm extends Widget {
  constructor(options: IScheduleFormOptions) {
    super();
    this.addClass('mlpipe-form');
    this.addClass('mlpipe-schedule-form');
    this._published = options.published;
    this._name = textInput('mlpipe-schedule-name', options.name, 'schedule name');
    this._pipeline = textInput('mlpipe-schedule-pipeline', options.pipeline, 'published pipeline');
    this._cron = textInput('mlpipe-schedule-cron', options.cron ?? '', '0 6 * * 1-5');
    this._params = document.createElement('textarea');
    this._params.className = 'jp-mod-styled mlpipe-schedule-params';
    this._params.rows = 3;
    this._params.placeholder = 'lr = 0.1  (one NAME = VALUE a line)';
    this._params.value = options.params ?? '';
    this._pipelineNote = messageLine('mlpipe-schedule-pipeline-note');
    this._preview = messageLine('mlpipe-cron-preview');
    this._message = messageLine('mlpipe-schedule-message');
    this._live = new LivePreview<ICronPreview>({
      fetch: options.preview,
      onResult: result => this._showPreview(result),
      debounceMs: options.debounceMs
    });
    this._cron.addEventListener('input', () => this._live.update(this._cron.value));
    this._pipeline.addEventListener('input', () => this._checkPipeline());
    this.node.append(
      labelled('Schedule name', this._name),
      labelled('Pipeline', this._pipeline),
      this._pipelineNote,
      labelled('Cron', this._cron),
      this._preview,
      labelled('Parameters', this._params),
      this._message
    );
    this._checkPipeline();
    this._live.update(this._cron.value);
    if (options.error) {
      setMessage(this._message, options.error, 'error');
    }
  }

  /** The preview line's text, as shown. */
  get previewText(): string {
    return this._preview.hidden ? '' : (this._preview.textContent ?? '');
  }

  getValue(): IScheduleInput {
    const paramsText = this._params.value;
    const schedule = {
      name: this._name.value.trim(),
      pipeline: this._pipeline.value.trim(),
      cron: this._cron.value.trim(),
      params: parseParamLines(paramsText).params
    };
    return { schedule, paramsText };
  }

  /** The first thing that keeps the schedule from being added, shown and returned. */
  check(): string | null {
    const problem = scheduleProblem(this.getValue());
    setMessage(this._message, problem ?? '', 'error');
    return problem;
  }

  dispose(): void {
    this._live.dispose();
    super.dispose();
  }

  protected onAfterAttach(): void {
    this._cron.focus();
  }

  private _showPreview(result: PreviewResult<ICronPreview> | null): void {
    if (result === null) {
      setMessage(this._preview, '', 'note');
    } else if (result.ok) {
      setMessage(this._preview, previewText(result.value), 'ok');
      this._preview.title = result.value.next.join('\n');
    } else {
      setMessage(this._preview, result.error, 'error');
      this._preview.title = '';
    }
  }

  private _checkPipeline(): void {
    const name = this._pipeline.value.trim();
    const unknown = name && !this._published.includes(name);
    setMessage(
      this._pipelineNote,
      unknown ? `'${name}' is not published yet: publish it first, or its runs will fail` : '',
      'note'
    );
  }

  private _published: string[];
  private _name: HTMLInputElement;
  private _pipeline: HTMLInputElement;
  private _cron: HTMLInputElement;
  private _params: HTMLTextAreaElement;
  private _pipelineNote: HTMLDivElement;
  private _preview: HTMLDivElement;
  private _message: HTMLDivElement;
  private _live: LivePreview<ICronPreview>;
}
