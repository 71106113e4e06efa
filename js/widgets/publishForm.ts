/**
 * The body of the Publish dialog: the pipeline name (default: the notebook's stem),
 * checked as the user types. `getValue()` is the name the dialog returns.
 */
import { Widget } from '@lumino/widgets';
import { labelled, messageLine, setMessage, textInput } from '../components/form';
import { nameProblem } from '../components/schedule';

export interface IPublishFormOptions {
  /** The name to start from (the notebook's stem, or the name it was published under). */
  name: string;
  /** An error to show from the start (the server refused the last try). */
  error?: string;
}

export class PublishForm extends Widget {
  constructor(options: IPublishFormOptions) {
    super();
    this.addClass('mlpipe-form');
    this.addClass('mlpipe-publish-form');
    this._input = textInput('mlpipe-publish-name', options.name, 'pipeline name');
    this._message = messageLine('mlpipe-publish-message');
    const note = document.createElement('div');
    note.className = 'mlpipe-form-note';
    note.textContent =
      'Publishes an immutable snapshot of the saved notebook as the next version of this ' +
      'pipeline; unchanged cells keep the latest version.';
    this._input.addEventListener('input', () => this.check());
    this.node.append(labelled('Pipeline name', this._input), this._message, note);
    if (options.error) {
      setMessage(this._message, options.error, 'error');
    } else {
      this.check();
    }
  }

  getValue(): string {
    return this._input.value.trim();
  }

  /** Show why the name is not valid (or nothing); returns the problem. */
  check(): string | null {
    const problem = nameProblem(this.getValue());
    setMessage(this._message, problem ?? '', 'error');
    return problem;
  }

  protected onAfterAttach(): void {
    this._input.select();
  }

  private _input: HTMLInputElement;
  private _message: HTMLDivElement;
}
