/**
 * The JSON shapes of the mlpipe REST API (DESIGN.md, "Jupyter server extension"),
 * and the display state the sidebar derives from them.
 */

/** One cell of an (unsaved) notebook, as sent to `POST dag`. */
export interface ICellPayload {
  source: string;
  tags: string[];
  cell_type?: string;
}

export interface IResources {
  cpu: number | null;
  gpu: number | null;
  memory: number | string | null;
}

/** Per-step cache state, when the server's DAG response carries it. */
export interface ICacheState {
  state: 'cached' | 'stale' | 'never';
  reason?: string;
}

export interface IStepInfo {
  name: string;
  cell: number;
  reads: string[];
  binds: string[];
  outputs: string[];
  params: string[];
  resources: IResources;
  retries: number;
  timeout: number | null;
  /** `false` for `--no-cache`. */
  cache: boolean;
  /** Present when the DAG was asked for with the notebook's path. */
  cache_state?: ICacheState;
  after: string[];
  cells: number[];
  /** Why its results vary from run to run (rule 9: an unseeded global generator), or null. */
  nondeterministic?: string | null;
}

export interface IEdgeInfo {
  from: string;
  to: string;
  vars: string[];
}

export interface IAnalysisError {
  message: string;
  step: string | null;
  cell: number | null;
}

export interface IDag {
  steps: IStepInfo[];
  edges: IEdgeInfo[];
  params: Record<string, unknown>;
  order: string[];
  warnings: string[];
  errors: IAnalysisError[];
}

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export type StepRunStatus =
  | 'pending'
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'cached'
  | 'failed'
  | 'skipped';

export interface IStepRun {
  status: StepRunStatus;
  reason?: string | null;
  worker?: string | null;
  duration_s?: number | null;
  cache_key?: string | null;
  notebook?: string | null;
  /** `notebook` relative to the server root, as the server extension adds it. */
  path?: string | null;
  error?: string | null;
  /** Epoch seconds, when the server reports it. */
  started?: number | null;
  /** Dependencies the run found that the plan missed, e.g. "file:model.joblib from train". */
  discovered?: string[];
  finished?: number | null;
  attempt?: number;
  /** Threads the step's kernel may use, and the GPU device it got (when recorded). */
  threads?: number | null;
  device?: string | null;
  gpu_device?: string | null;
  /** Metrics the step logged (`mlp.log_metric`), when recorded. */
  metrics?: Record<string, unknown> | null;
}

export interface IRunRecord {
  run_id: string;
  status: RunStatus;
  notebook?: string | null;
  /** `notebook` relative to the server root. */
  path?: string | null;
  started?: number | null;
  finished?: number | null;
  params?: Record<string, unknown>;
  /** The run-level error (e.g. no worker can take a step), its first line. */
  error?: string | null;
  /** Who started it (sidebar, magic, cli, schedule, rest), when recorded. */
  trigger?: string | null;
  /** The run this one retries (`mlpipe retry`, `POST runs/ID/retry`), when it is a retry. */
  retry_of?: string | null;
  /** A cancel was asked for and the run has not ended yet. */
  cancel_requested?: boolean;
  steps: Record<string, IStepRun>;
}

/** What a node shows: the latest run's state, else the cache state. */
export type DisplayState = 'never' | 'stale' | 'cancelled' | StepRunStatus;

export interface INodeState {
  state: DisplayState;
  /** Why it ran, was reused, is stale or failed: shown as a tooltip. */
  reason: string;
  /** Seconds running so far, or the step's duration when done. */
  seconds: number | null;
  /** The executed step notebook, when the run kept one. */
  notebook: string | null;
  /** The run's record of the step, when the state comes from a run. */
  record?: IStepRun | null;
}

/** The one request function's shape, so the model can be tested with a fake. */
export type RequestFn = <T>(
  endPoint: string,
  init?: { method?: string; body?: string }
) => Promise<T>;

/** `GET cron?cron=EXPR`: the normalized form, a description and the next fire times. */
export interface ICronPreview {
  cron: string;
  description: string;
  next: string[];
}

/** A published pipeline version (`POST pipelines`). */
export interface IPublished {
  name: string;
  version: number;
  digest?: string;
  steps?: number;
  /** False when the notebook was unchanged since the latest version (that one is returned). */
  created?: boolean;
}

/** A cron schedule of a published pipeline (`GET schedules`). */
export interface ISchedule {
  name: string;
  pipeline: string;
  version?: number | null;
  cron: string;
  description: string;
  params: Record<string, unknown>;
  paused: boolean;
  next_run: string | null;
  last_fired?: string | null;
  last_run_id?: string | null;
  last_error?: string | null;
  /** Fires skipped because the previous run was still queued or running. */
  skipped?: number;
  last_skipped?: string | null;
  last_skip_reason?: string | null;
}

/** What the schedule dialog submits (`POST schedules`). */
export interface INewSchedule {
  name: string;
  pipeline: string;
  cron: string;
  params: Record<string, unknown>;
}
