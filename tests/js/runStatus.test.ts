import { changedParams, runSummary, statusLine, unplaceable } from '../../js/runStatus';
import { shortReason } from '../../js/state';
import { IRunRecord } from '../../js/types';

const ORDER = ['load', 'clean', 'features', 'train', 'evaluate', 'report'];

function run(status: IRunRecord['status'], steps: IRunRecord['steps'], extra: Partial<IRunRecord> = {}): IRunRecord {
  return { run_id: 'r1', status, started: 1000, steps, ...extra };
}

describe('statusLine', () => {
  it('says the cluster is starting before any step ran', () => {
    const line = statusLine(run('running', { load: { status: 'queued' } }), ORDER, 1_004_000);
    expect(line!.text).toBe('starting cluster\u2026 4.0s');
  });

  it('counts finished steps while running, with the elapsed time', () => {
    const steps: IRunRecord['steps'] = {
      load: { status: 'cached' }, clean: { status: 'succeeded' }, features: { status: 'succeeded' },
      train: { status: 'running' }
    };
    expect(statusLine(run('running', steps), ORDER, 1_012_000)!.text).toBe('running 3/6, 12s');
  });

  it('names the first failed step in notebook order with its error, and its notebook', () => {
    const steps: IRunRecord['steps'] = {
      report: { status: 'skipped' },
      evaluate: { status: 'failed', error: "ValueError: boom (cell 9 of step 'evaluate')", path: 'x/evaluate.ipynb' }
    };
    const line = statusLine(run('failed', steps, { finished: 1010 }), ORDER, 0)!;
    expect(line).toMatchObject({ kind: 'failed', text: 'failed: evaluate: ValueError: boom', notebook: 'x/evaluate.ipynb' });
  });

  it('shows the run-level error when no step failed (a step no worker can take)', () => {
    const error = "step 'train' needs GPU=1 but no worker has GPU; run with --gpu-workers 1";
    const line = statusLine(run('failed', { train: { status: 'skipped' } }, { error }), ORDER, 0)!;
    expect(line.text).toBe(`failed: ${error}`);
  });

  it('sums up a finished run', () => {
    const steps: IRunRecord['steps'] = { load: { status: 'cached' }, clean: { status: 'succeeded' } };
    expect(statusLine(run('succeeded', steps, { finished: 1008.2 }), ORDER, 0)!.text)
      .toBe('succeeded in 8.2s: 1 ran, 1 cached');
  });
});

describe('run history summary', () => {
  it('gives duration, counts, changed parameters and trigger', () => {
    const r = run('succeeded', { a: { status: 'succeeded' }, b: { status: 'cached' } },
      { finished: 1003, params: { lr: 0.2, n: 5 }, trigger: 'cli' });
    expect(changedParams(r, { lr: 0.1, n: 5 })).toBe('lr=0.2');
    expect(runSummary(r, { lr: 0.1, n: 5 }, 0)).toBe('succeeded \u00b7 3.0s \u00b7 1 ran, 1 cached \u00b7 lr=0.2 \u00b7 cli');
  });
});

describe('unplaceable', () => {
  const steps = [
    { name: 'train', resources: { gpu: 1 } },
    { name: 'big', resources: { gpu: 2 } },
    { name: 'load', resources: { gpu: 0 } }
  ];
  it('warns about GPU steps when the server has no GPU worker', () => {
    const found = unplaceable(steps, { gpu_slots: 0 });
    expect([...found.keys()]).toEqual(['train', 'big']);
    expect(found.get('train')).toMatch(/^step 'train' needs GPU=1 but no worker has a GPU/);
  });
  it('warns only about more GPUs than a worker has when there are GPU workers', () => {
    expect([...unplaceable(steps, { gpu_slots: 1 }).keys()]).toEqual(['big']);
  });
  it('says nothing when the cluster is not the server\'s (a scheduler address)', () => {
    expect(unplaceable(steps, { gpu_slots: null }).size).toBe(0);
  });
});

describe('shortReason', () => {
  const state = (s: any, reason: string) => ({ state: s, reason, seconds: null, notebook: null });
  it('drops the "(cell N of step ...)" tail of an error', () => {
    expect(shortReason(state('failed', "ValueError: boom (cell 3 of step 'train')"))).toBe('ValueError: boom');
  });
  it('words an unchanged cache hit in one word', () => {
    expect(shortReason(state('cached', 'cached: code, setup, parameters, inputs, modules, packages and files unchanged'))).toBe('unchanged');
  });
  it('cuts a long reason with an ellipsis', () => {
    expect(shortReason(state('stale', 'x'.repeat(40)), 10)).toBe('xxxxxxxxx\u2026');
  });
});
