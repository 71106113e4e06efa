/** Analysis errors and warnings, one readable line each; clicking selects the cell. */
import { Widget } from '@lumino/widgets';
import { IAnalysisError } from '../types';

export interface IErrorLineOptions {
  onSelectCell: (cell: number) => void;
}

export class ErrorLine extends Widget {
  constructor(options: IErrorLineOptions) {
    super();
    this.addClass('mlpipe-messages');
    this._onSelectCell = options.onSelectCell;
  }

  render(errors: IAnalysisError[], warnings: string[], requestErrors: string[]): void {
    this.node.replaceChildren();
    for (const message of requestErrors) {
      this.node.appendChild(line('mlpipe-error', message, null));
    }
    for (const error of errors) {
      this.node.appendChild(line('mlpipe-error', error.message, error.cell, this._onSelectCell));
    }
    for (const warning of warnings) {
      this.node.appendChild(line('mlpipe-warning', warning, null));
    }
    this.setHidden(!this.node.childElementCount);
  }

  private _onSelectCell: (cell: number) => void;
}

function line(
  cls: string,
  message: string,
  cell: number | null,
  onSelect?: (cell: number) => void
): HTMLElement {
  const el = document.createElement('div');
  el.className = `mlpipe-message ${cls}`;
  el.textContent = message;
  if (cell !== null && cell !== undefined && onSelect) {
    el.classList.add('mlpipe-clickable');
    el.title = `Go to cell ${cell + 1}`;
    el.addEventListener('click', () => onSelect(cell));
  }
  return el;
}
