/**
 * The steps as a list, for a panel too narrow for a readable graph: per step its
 * state colour, name, state with time, and the reason on one line.
 */
import { INodeView } from '../components/graph';
import { shortReason, stateLabel } from '../state';

export interface IStepListOptions {
  onClick: (name: string) => void;
}

export class StepList {
  constructor(options: IStepListOptions) {
    this.node = document.createElement('ul');
    this.node.className = 'mlpipe-step-list';
    this._onClick = options.onClick;
  }

  readonly node: HTMLUListElement;

  render(views: INodeView[]): void {
    this.node.replaceChildren(...views.map(view => this._row(view)));
  }

  private _row(view: INodeView): HTMLLIElement {
    const { step, state } = view;
    const row = document.createElement('li');
    row.className = `mlpipe-step-row mlpipe-state-${state.state}`;
    row.classList.toggle('mlpipe-selected', view.selected);
    row.dataset.step = step.name;
    row.dataset.state = state.state;
    row.tabIndex = 0;
    row.title = [step.name, stateLabel(state), state.reason].filter(Boolean).join('\n');
    const head = document.createElement('div');
    head.className = 'mlpipe-step-row-head';
    const name = span('mlpipe-step-row-name', step.name);
    const label = span('mlpipe-step-row-state', stateLabel(state));
    head.append(name, label);
    if ((step.resources?.gpu ?? 0) > 0) {
      head.append(span('mlpipe-step-row-badge', 'GPU'));
    }
    row.append(head);
    const reason = shortReason(state, 60);
    if (reason) {
      row.append(span('mlpipe-step-row-reason', reason));
    }
    row.addEventListener('click', () => this._onClick(step.name));
    row.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        this._onClick(step.name);
      }
    });
    return row;
  }

  private _onClick: (name: string) => void;
}

function span(cls: string, text: string): HTMLSpanElement {
  const el = document.createElement('span');
  el.className = cls;
  el.textContent = text;
  return el;
}
