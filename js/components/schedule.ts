/**
 * Pure helpers of the publish and schedule dialogs: names, parameters, times.
 * No DOM, no requests.
 */
import { ICronPreview, INewSchedule } from '../types';
import { parseValue } from './params';

/** The server's rule for pipeline and schedule names (schedule/publish.py NAME_RE). */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Why `name` cannot name a pipeline (or schedule), as one line; null when it can. */
export function nameProblem(name: string, what = 'pipeline'): string | null {
  if (!name) {
    return `a ${what} name is required`;
  }
  if (!NAME_RE.test(name)) {
    return (
      `${what} name '${name}' is not valid: use 1-64 letters, digits, '_', '.' or '-', ` +
      'starting with a letter or digit'
    );
  }
  return null;
}

/** `dir/Breast cancer.ipynb` -> `Breast_cancer`: the file stem made a valid name. */
export function defaultName(path: string): string {
  const file = path.split('/').pop() ?? '';
  const stem = file.replace(/\.ipynb$/i, '');
  const cleaned = stem
    .replace(/[^A-Za-z0-9_.-]+/g, '_')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return cleaned || 'pipeline';
}

export interface IParsedParams {
  params: Record<string, unknown>;
  /** One line naming the first bad line, or null. */
  error: string | null;
}

/**
 * `NAME = VALUE` lines (blank lines and `#` comments skipped) -> parameters; values are
 * read like the sidebar's parameter inputs (`0.1`, `True`, `"a"`, `abc`).
 */
export function parseParamLines(text: string): IParsedParams {
  const params: Record<string, unknown> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith('#')) {
      continue;
    }
    const match = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match || !match[2].trim()) {
      return { params, error: `params line ${i + 1}: '${line}' is not NAME = VALUE` };
    }
    params[match[1]] = parseValue(match[2]);
  }
  return { params, error: null };
}

/** An ISO time (`2026-11-24T06:00+01:00`) as a short local time: `Mon, Nov 24, 06:00`. */
export function formatWhen(iso: string | null | undefined): string {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  if (isNaN(date.getTime())) {
    return iso;
  }
  return date.toLocaleString(undefined, {
    weekday: 'short',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false
  });
}

/** The one-line preview of a cron expression: `every weekday at 06:00; next: Mon, ...`. */
export function previewText(preview: ICronPreview): string {
  const next = preview.next?.[0];
  return next ? `${preview.description}; next: ${formatWhen(next)}` : preview.description;
}

/** What the schedule dialog returns: the schedule, and the parameter lines as typed. */
export interface IScheduleInput {
  schedule: INewSchedule;
  paramsText: string;
}

/** The first thing that keeps `input` from being a schedule (one line), or null. */
export function scheduleProblem(input: IScheduleInput): string | null {
  const { name, pipeline, cron } = input.schedule;
  return (
    nameProblem(name, 'schedule') ??
    nameProblem(pipeline) ??
    (cron ? null : 'a cron expression is required, e.g. 0 6 * * 1-5') ??
    parseParamLines(input.paramsText).error
  );
}
