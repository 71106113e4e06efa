/** DOM helpers of the dialog forms: labelled inputs and message lines, text only. */

/** `<label><span>text</span>control</label>`, one row of a form. */
export function labelled(text: string, control: HTMLElement): HTMLLabelElement {
  const label = document.createElement('label');
  label.className = 'mlpipe-field';
  const span = document.createElement('span');
  span.className = 'mlpipe-field-label';
  span.textContent = text;
  label.append(span, control);
  return label;
}

/** A styled single-line input. */
export function textInput(cls: string, value: string, placeholder = ''): HTMLInputElement {
  const input = document.createElement('input');
  input.className = `jp-mod-styled ${cls}`;
  input.value = value;
  input.placeholder = placeholder;
  input.spellcheck = false;
  return input;
}

/** Set a message line's text and kind ('error', 'note' or 'ok'); hidden when empty. */
export function setMessage(el: HTMLElement, text: string, kind: 'error' | 'note' | 'ok'): void {
  el.textContent = text;
  el.classList.toggle('mlpipe-form-error', kind === 'error');
  el.classList.toggle('mlpipe-form-ok', kind === 'ok');
  el.hidden = !text;
}

export function messageLine(cls: string): HTMLDivElement {
  const el = document.createElement('div');
  el.className = `mlpipe-form-message ${cls}`;
  el.hidden = true;
  return el;
}
