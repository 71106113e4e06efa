/**
 * Pure derivation of what a node shows: the latest run's state while that run
 * is active or the step is unchanged since it ran, else the cache state.
 */
import { ICellPayload, INodeState, IRunRecord, IStepInfo, IStepRun } from './types';

/** A run followed by the sidebar, with the step signatures it started from. */
export interface ITrackedRun {
  run: IRunRecord;
  /** Step name -> signature of its code when the run started (or was shown). */
  signatures: Map<string, string>;
  /** Step name -> when (ms) the sidebar first saw it running, if the server gave no `started`. */
  firstSeenRunning: Map<string, number>;
  /** The newest run of the history when this one was shown (a newer one replaces it). */
  latestSeen?: string;
}

/** The code a step runs, as a comparable string: its cells' sources. */
export function stepSignature(step: IStepInfo, cells: ICellPayload[]): string {
  const indexes = step.cells && step.cells.length ? step.cells : [step.cell];
  return indexes.map(i => cells[i]?.source ?? '').join('\u0000');
}

export function signaturesOf(steps: IStepInfo[], cells: ICellPayload[]): Map<string, string> {
  return new Map(steps.map(s => [s.name, stepSignature(s, cells)]));
}

/** The state of `step` given the tracked run (if any) and its current signature. */
export function deriveNodeState(
  step: IStepInfo,
  signature: string,
  tracked: ITrackedRun | null,
  nowMs: number
): INodeState {
  const fromRun = tracked ? runState(step, signature, tracked, nowMs) : null;
  return fromRun ?? cacheState(step, tracked, signature);
}

function runState(
  step: IStepInfo,
  signature: string,
  tracked: ITrackedRun,
  nowMs: number
): INodeState | null {
  if (tracked.run.status === 'queued') {
    return queued();
  }
  const active = tracked.run.status === 'running';
  const startedWith = tracked.signatures.get(step.name);
  const unchanged = startedWith === undefined || startedWith === signature;
  const record = tracked.run.steps[step.name];
  if (!record) {
    return active && startedWith !== undefined ? pending() : null;
  }
  if (!active && !unchanged) {
    return null;
  }
  const cancelled =
    record.status === 'skipped' &&
    (tracked.run.status === 'cancelled' || /cancel/.test(record.reason ?? ''));
  return {
    state: cancelled ? 'cancelled' : record.status,
    reason: record.error || record.reason || '',
    seconds: seconds(step.name, record, tracked, nowMs),
    notebook: record.path || record.notebook || null,
    record
  };
}

/** The whole run waits for one of the server's run slots (`max_concurrent_runs`). */
function queued(): INodeState {
  const reason = 'the run is queued: the server runs at most max_concurrent_runs at once';
  return { state: 'queued', reason, seconds: null, notebook: null };
}

function pending(): INodeState {
  return { state: 'pending', reason: 'waiting for its inputs', seconds: null, notebook: null };
}

function seconds(
  name: string,
  record: IStepRun,
  tracked: ITrackedRun,
  nowMs: number
): number | null {
  if (record.status !== 'running') {
    return record.duration_s ?? null;
  }
  if (typeof record.started === 'number') {
    return Math.max(0, nowMs / 1000 - record.started);
  }
  if (!tracked.firstSeenRunning.has(name)) {
    tracked.firstSeenRunning.set(name, nowMs);
  }
  return Math.max(0, (nowMs - tracked.firstSeenRunning.get(name)!) / 1000);
}

function cacheState(
  step: IStepInfo,
  tracked: ITrackedRun | null,
  signature: string
): INodeState {
  const none = { seconds: null, notebook: null };
  if (step.cache_state) {
    return { state: step.cache_state.state, reason: step.cache_state.reason ?? '', ...none };
  }
  if (step.cache === false) {
    return { state: 'never', reason: 'not cached (--no-cache): runs every time', ...none };
  }
  const ran = tracked?.run.steps[step.name];
  const before = tracked?.signatures.get(step.name);
  if (ran && before !== undefined && before !== signature) {
    return { state: 'stale', reason: 'code edited since the last run', ...none };
  }
  return { state: 'never', reason: 'not run in this session', ...none };
}

export const TERMINAL: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled']);

/** A run that may still change: waiting for a slot or running (it can be cancelled). */
export function isActive(status: string): boolean {
  return status === 'queued' || status === 'running';
}

/** Text for a state, as the node shows it. */
export function stateLabel(state: INodeState): string {
  const secs = state.seconds;
  const time = secs === null ? '' : ` ${formatSeconds(secs)}`;
  switch (state.state) {
    case 'never':
      return 'not run';
    case 'running':
      return `running${time}`;
    case 'succeeded':
      return `succeeded${time}`;
    default:
      return state.state;
  }
}

/**
 * The reason in a few words, for the node's own text line: a failed step's
 * error without the "(cell 3 of step 'x')" tail, any reason cut to `max`.
 */
export function shortReason(state: INodeState, max = 26): string {
  let text = (state.reason || '').split('\n')[0].trim();
  text = text.replace(/\s*\((?:cell \d+|[^()]*) of step '[^']*'\)$/, '');
  text = text.replace(/\s*\(step '[^']*'\)$/, '');
  text = text.replace(/^cached: /, '').replace(/^never run: /, '');
  if (state.state === 'cached' && /^code, setup, parameters/.test(text)) {
    text = 'unchanged';
  }
  return text.length > max ? text.slice(0, max - 1) + '\u2026' : text;
}

export function formatSeconds(secs: number): string {
  if (secs < 10) {
    return `${secs.toFixed(1)}s`;
  }
  if (secs < 120) {
    return `${Math.round(secs)}s`;
  }
  return `${Math.floor(secs / 60)}m${String(Math.round(secs % 60)).padStart(2, '0')}s`;
}
