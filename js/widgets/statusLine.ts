/** The run status line under the toolbar: progress, the ending, the failure's reason. */
import { Widget } from '@lumino/widgets';
import { IStatusLine } from '../runStatus';

export interface IStatusLineOptions {
  /** Open the failed step's executed notebook at its traceback. */
  onOpenTraceback: (path: string) => void;
}

export class RunStatusLine extends Widget {
  constructor(options: IStatusLineOptions) {
    super();
    this.addClass('mlpipe-status-line');
    this._onOpen = options.onOpenTraceback;
  }

  /** Show `line`, and below it any `warnings` (steps no worker can take). */
  render(line: IStatusLine | null, warnings: string[]): void {
    this.node.replaceChildren();
    if (line) {
      const el = document.createElement('div');
      el.className = `mlpipe-status mlpipe-status-${line.kind}`;
      el.dataset.kind = line.kind;
      const text = document.createElement('span');
      text.className = 'mlpipe-status-text';
      text.textContent = line.text;
      el.appendChild(text);
      if (line.notebook) {
        const open = document.createElement('a');
        open.className = 'mlpipe-open-traceback';
        open.textContent = 'Open traceback';
        open.href = '#';
        const path = line.notebook;
        open.addEventListener('click', event => {
          event.preventDefault();
          this._onOpen(path);
        });
        el.append(' \u2013 ', open);
      }
      this.node.appendChild(el);
    }
    for (const warning of warnings) {
      const el = document.createElement('div');
      el.className = 'mlpipe-status mlpipe-status-warning';
      el.textContent = warning;
      this.node.appendChild(el);
    }
    this.setHidden(!this.node.childElementCount);
  }

  private _onOpen: (path: string) => void;
}
