/**
 * Pure words for a run (no DOM): the status line under the toolbar, the
 * notification when it ends, and the run history's summary of each run.
 */
import { formatSeconds } from './state';
import { IRunRecord, IStepRun } from './types';

export interface IStatusLine {
  /** `info` while queued or running, then the run's ending. */
  kind: 'info' | 'succeeded' | 'failed' | 'cancelled';
  text: string;
  /** The failed step whose executed notebook "Open traceback" opens. */
  failedStep?: string;
  /** That step's notebook (a server-relative path), when kept. */
  notebook?: string | null;
}

const DONE = new Set(['succeeded', 'cached', 'failed', 'skipped']);

/** Seconds from the run's start to its end, or to `nowMs` while it runs. */
export function runSeconds(run: IRunRecord, nowMs: number): number | null {
  if (typeof run.started !== 'number') {
    return null;
  }
  const end = typeof run.finished === 'number' ? run.finished : nowMs / 1000;
  return Math.max(0, end - run.started);
}

/** The first line of a step's error, with the step named: "evaluate: ValueError: boom". */
export function stepError(name: string, step: IStepRun): string {
  const line = (step.error || step.reason || 'failed').split('\n')[0];
  return `${name}: ${line.replace(/\s*\((?:[^()]*) of step '[^']*'\)$/, '').replace(/\s*\(step '[^']*'\)$/, '')}`;
}

/**
 * "starting cluster...", "running 3/6, 12 s", "failed: evaluate: ValueError: boom",
 * the run-level error, "succeeded in 8.2s: 2 ran, 4 cached", "cancelled after 12s".
 * `order` lists the steps in notebook order (the first failure named is the first there).
 */
export function statusLine(run: IRunRecord | null, order: string[], nowMs: number): IStatusLine | null {
  if (!run) {
    return null;
  }
  const secs = runSeconds(run, nowMs);
  const time = secs === null ? '' : formatSeconds(secs);
  const names = order.length ? order.filter(n => n in run.steps) : Object.keys(run.steps);
  for (const extra of Object.keys(run.steps)) {
    if (!names.includes(extra)) {
      names.push(extra);
    }
  }
  const steps = names.map(n => [n, run.steps[n]] as const);
  const total = Math.max(order.length, steps.length);
  const done = steps.filter(([, s]) => DONE.has(s.status)).length;
  switch (run.status) {
    case 'queued':
      return { kind: 'info', text: 'queued: waiting for a free run slot' };
    case 'running': {
      const started = steps.some(([, s]) => s.status === 'running' || (DONE.has(s.status) && s.status !== 'cached'));
      const toRun = steps.some(([, s]) => !DONE.has(s.status));
      if (!started && toRun) {
        return { kind: 'info', text: `starting cluster\u2026${time ? ` ${time}` : ''}` };
      }
      return { kind: 'info', text: `running ${done}/${total}${time ? `, ${time}` : ''}` };
    }
    case 'failed': {
      const failed = steps.find(([, s]) => s.status === 'failed');
      if (failed) {
        const [name, step] = failed;
        return {
          kind: 'failed',
          text: `failed: ${stepError(name, step)}`,
          failedStep: name,
          notebook: step.path || step.notebook || null
        };
      }
      return { kind: 'failed', text: `failed: ${run.error || 'the run ended without a step failing'}` };
    }
    case 'cancelled':
      return { kind: 'cancelled', text: `cancelled${time ? ` after ${time}` : ''}: ${done}/${total} done` };
    case 'succeeded':
    default: {
      const { ran, cached } = runCounts(run);
      return {
        kind: 'succeeded',
        text: `succeeded${time ? ` in ${time}` : ''}: ${ran} ran, ${cached} cached`
      };
    }
  }
}

/** How many steps ran (succeeded or failed) and how many were reused. */
export function runCounts(run: IRunRecord): { ran: number; cached: number; failed: number } {
  let ran = 0;
  let cached = 0;
  let failed = 0;
  for (const step of Object.values(run.steps ?? {})) {
    if (step.status === 'cached') {
      cached++;
    } else if (step.status === 'succeeded' || step.status === 'failed') {
      ran++;
      failed += step.status === 'failed' ? 1 : 0;
    }
  }
  return { ran, cached, failed };
}

/** Parameters whose value differs from the notebook's default: "lr=0.2, n=5". */
export function changedParams(run: IRunRecord, defaults: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(run.params ?? {})) {
    if (JSON.stringify(value) !== JSON.stringify(defaults[name])) {
      parts.push(`${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  }
  return parts.join(', ');
}

/** One line of the run history: "succeeded · 8.2s · 2 ran, 4 cached · lr=0.2 · cli". */
export function runSummary(run: IRunRecord, defaults: Record<string, unknown>, nowMs: number): string {
  const secs = runSeconds(run, nowMs);
  const { ran, cached } = runCounts(run);
  const parts: string[] = [run.status];
  if (secs !== null) {
    parts.push(formatSeconds(secs));
  }
  parts.push(`${ran} ran, ${cached} cached`);
  const params = changedParams(run, defaults);
  if (params) {
    parts.push(params);
  }
  if (run.trigger) {
    parts.push(run.trigger);
  }
  return parts.join(' \u00b7 ');
}

/** The parts of `GET status` that say which GPU steps can be placed. */
export interface IPlacementStatus {
  /** GPU workers the server's own cluster has (null: unknown, e.g. a scheduler address). */
  gpu_slots?: number | null;
}

/**
 * Steps no worker of the server's cluster can take, each with one line saying
 * why and what to do (before Run; the run itself would fail up front).
 */
export function unplaceable(
  steps: { name: string; resources?: { gpu: number | null } }[],
  status: IPlacementStatus | null
): Map<string, string> {
  const found = new Map<string, string>();
  const slots = status?.gpu_slots;
  if (slots === null || slots === undefined) {
    return found;
  }
  for (const step of steps) {
    const gpu = step.resources?.gpu ?? 0;
    if (gpu <= 0) {
      continue;
    }
    if (slots === 0) {
      found.set(
        step.name,
        `step '${step.name}' needs GPU=${gpu} but no worker has a GPU: start JupyterLab with ` +
          '--MlpipeService.gpu_workers=1, or set a Dask scheduler with GPU workers'
      );
    } else if (gpu > 1) {
      found.set(
        step.name,
        `step '${step.name}' needs GPU=${gpu} but each GPU worker has GPU=1: ask for --gpu 1`
      );
    }
  }
  return found;
}
