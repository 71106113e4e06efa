/** A small form for the notebook's `%%params` values, sent with a run. */
import { Widget } from '@lumino/widgets';
import { parseValue } from '../components/params';

export class ParamsForm extends Widget {
  constructor() {
    super();
    this.addClass('mlpipe-params');
  }

  /** Show one input per parameter; values typed so far are kept. */
  setParams(defaults: Record<string, unknown>): void {
    const names = Object.keys(defaults);
    const key = JSON.stringify(defaults);
    if (key === this._key) {
      return;
    }
    this._key = key;
    this.node.replaceChildren();
    this.setHidden(names.length === 0);
    if (!names.length) {
      return;
    }
    const legend = document.createElement('div');
    legend.className = 'mlpipe-section-title';
    legend.textContent = 'Parameters';
    this.node.appendChild(legend);
    for (const name of names) {
      this.node.appendChild(this._row(name, defaults[name]));
    }
  }

  /** The values that differ from the defaults, parsed as JSON literals where they parse. */
  values(): Record<string, unknown> {
    const values: Record<string, unknown> = {};
    this.node.querySelectorAll<HTMLInputElement>('input[data-param]').forEach(input => {
      if (input.value !== input.defaultValue) {
        values[input.dataset.param!] = parseValue(input.value);
      }
    });
    return values;
  }

  private _row(name: string, value: unknown): HTMLElement {
    const label = document.createElement('label');
    label.className = 'mlpipe-param';
    const span = document.createElement('span');
    span.textContent = name;
    const input = document.createElement('input');
    input.className = 'jp-mod-styled';
    input.dataset.param = name;
    input.value = typeof value === 'string' ? value : JSON.stringify(value);
    input.defaultValue = input.value;
    input.spellcheck = false;
    label.append(span, input);
    return label;
  }

  private _key = '';
}
