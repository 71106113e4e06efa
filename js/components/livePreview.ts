/**
 * A live preview of what the user types: ask once typing pauses, keep only the answer
 * to the latest text. Used for the schedule dialog's cron preview; no DOM.
 */

export type PreviewResult<T> = { ok: true; value: T } | { ok: false; error: string };

export interface ILivePreviewOptions<T> {
  /** Ask the server (e.g. `GET cron?cron=EXPR`); a rejection's message is the error shown. */
  fetch: (text: string) => Promise<T>;
  /** Called with the answer for the latest text, or null when the text is blank. */
  onResult: (result: PreviewResult<T> | null) => void;
  debounceMs?: number;
}

export class LivePreview<T> {
  constructor(options: ILivePreviewOptions<T>) {
    this._fetch = options.fetch;
    this._onResult = options.onResult;
    this._debounceMs = options.debounceMs ?? 300;
  }

  /** The text changed: preview it after `debounceMs` without a further change. */
  update(text: string): void {
    clearTimeout(this._timer);
    const seq = ++this._seq;
    const trimmed = text.trim();
    if (!trimmed) {
      this._onResult(null);
      return;
    }
    this._timer = setTimeout(() => void this._ask(trimmed, seq), this._debounceMs);
  }

  /** Stop: no further requests or results. */
  dispose(): void {
    clearTimeout(this._timer);
    this._seq++;
  }

  private async _ask(text: string, seq: number): Promise<void> {
    let result: PreviewResult<T>;
    try {
      result = { ok: true, value: await this._fetch(text) };
    } catch (error) {
      result = { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    if (seq === this._seq) {
      this._onResult(result);
    }
  }

  private _fetch: (text: string) => Promise<T>;
  private _onResult: (result: PreviewResult<T> | null) => void;
  private _debounceMs: number;
  private _timer: ReturnType<typeof setTimeout> | undefined;
  private _seq = 0;
}
