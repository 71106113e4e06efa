import { Signal } from '@lumino/signaling';
import { INotebookSource, PipelineModel } from '../../js/model';
import { ICellPayload, IDag, IRunRecord, IStepInfo } from '../../js/types';

function step(name: string, cell: number, extra: Partial<IStepInfo> = {}): IStepInfo {
  return {
    name, cell, reads: [], binds: [], outputs: [], params: [],
    resources: { cpu: null, gpu: null, memory: null },
    retries: 0, timeout: null, cache: true, after: [], cells: [cell], ...extra
  };
}

function dagOf(steps: IStepInfo[], extra: Partial<IDag> = {}): IDag {
  return { steps, edges: [], params: {}, order: steps.map(s => s.name), warnings: [], errors: [], ...extra };
}

class FakeNotebook implements INotebookSource {
  constructor(public path: string, public sources: string[]) {}
  changed = new Signal<this, void>(this);
  saves = 0;
  cells(): ICellPayload[] {
    return this.sources.map(source => ({ source, tags: [] }));
  }
  async save(): Promise<void> {
    this.saves += 1;
  }
  edit(index: number, source: string): void {
    this.sources[index] = source;
    this.changed.emit();
  }
}

/** A fake `requestAPI`: records calls, answers from a route table. */
class FakeServer {
  calls: { endPoint: string; method: string; body: any }[] = [];
  dag: IDag = dagOf([]);
  run: IRunRecord | null = null;
  runs: IRunRecord[] = [];
  request = async <T>(endPoint: string, init: { method?: string; body?: string } = {}): Promise<T> => {
    const method = init.method ?? 'GET';
    this.calls.push({ endPoint, method, body: init.body ? JSON.parse(init.body) : undefined });
    const answer = this.answer(endPoint, method);
    if (answer instanceof Error) {
      throw answer;
    }
    return answer as T;
  };
  answer(endPoint: string, method: string): unknown {
    if (endPoint === 'dag') return JSON.parse(JSON.stringify(this.dag));
    if (endPoint === 'status') return { dashboard_link: 'http://dask:8787/status' };
    if (endPoint === 'runs' && method === 'POST') return { run_id: 'r1' };
    if (endPoint === 'runs') return { runs: this.runs };
    if (endPoint.startsWith('runs/')) return JSON.parse(JSON.stringify(this.run));
    return new Error(`no route ${endPoint}`);
  }
  count(endPoint: string, method = 'POST'): number {
    return this.calls.filter(c => c.endPoint === endPoint && c.method === method).length;
  }
}

/** Let pending promise callbacks run (fake timers do not advance them). */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await Promise.resolve();
  }
}

describe('PipelineModel', () => {
  let server: FakeServer;
  let model: PipelineModel;
  let nb: FakeNotebook;
  let now = 1_000_000;

  beforeEach(() => {
    jest.useFakeTimers();
    server = new FakeServer();
    server.dag = dagOf([step('load', 0), step('train', 1, { reads: ['df'] })], {
      edges: [{ from: 'load', to: 'train', vars: ['df'] }]
    });
    model = new PipelineModel({ request: server.request, debounceMs: 300, pollIntervalMs: 500, now: () => now });
    nb = new FakeNotebook('work/demo.ipynb', ['%%step load\ndf = 1', '%%step train\nm = df + 1']);
  });

  afterEach(() => {
    model.dispose();
    jest.useRealTimers();
  });

  it('analyses the unsaved cells when it starts following a notebook', async () => {
    model.setSource(nb);
    await flush();
    expect(server.count('dag')).toBe(1);
    const sent = server.calls.find(c => c.endPoint === 'dag')!.body;
    expect(sent.cells.map((c: ICellPayload) => c.source)).toEqual(nb.sources);
    expect(model.dag!.steps.map(s => s.name)).toEqual(['load', 'train']);
    expect(model.dashboardUrl).toBe('http://dask:8787/status');
  });

  it('debounces a burst of edits into one analysis, 300 ms after the last', async () => {
    model.setSource(nb);
    await flush();
    for (let i = 0; i < 5; i++) {
      nb.edit(1, `%%step train\nm = df + ${i}`);
      jest.advanceTimersByTime(100);
    }
    await flush();
    expect(server.count('dag')).toBe(1);
    jest.advanceTimersByTime(200);
    await flush();
    expect(server.count('dag')).toBe(2);
    expect(server.calls[server.calls.length - 1].body.cells[1].source).toBe('%%step train\nm = df + 4');
  });

  it('keeps the newest analysis when answers arrive out of order', async () => {
    model.setSource(nb);
    await flush();
    const answers: ((dag: IDag) => void)[] = [];
    model = new PipelineModel({
      request: <T>(endPoint: string) =>
        endPoint === 'dag'
          ? new Promise<T>(resolve => answers.push(dag => resolve(dag as T)))
          : Promise.resolve({} as T)
    });
    model.setSource(nb);
    const second = model.analyze();
    answers[1](dagOf([step('new', 0)]));
    await second;
    answers[0](dagOf([step('old', 0)]));
    await flush();
    expect(model.dag!.steps.map(s => s.name)).toEqual(['new']);
  });

  it('shows a request failure as one line and keeps the last DAG', async () => {
    model.setSource(nb);
    await flush();
    server.answer = () => new Error('500 Internal Server Error from /mlpipe/api/dag');
    await model.analyze();
    expect(model.requestErrors).toEqual(['mlpipe analysis failed: 500 Internal Server Error from /mlpipe/api/dag']);
    expect(model.dag!.steps).toHaveLength(2);
  });

  it('keeps a failed run start on show after the analysis that follows succeeds', async () => {
    model.setSource(nb);
    await flush();
    const answer = server.answer.bind(server);
    server.answer = (endPoint, method) =>
      endPoint === 'runs' && method === 'POST' ? new Error('internal error: ImportError') : answer(endPoint, method);
    expect(await model.startRun()).toBeNull();
    await model.analyze();
    expect(model.requestErrors).toEqual(['mlpipe run failed: internal error: ImportError']);
    expect(model.running).toBe(false);
  });

  it('shows cache state from the DAG before any run, and never-run without it', async () => {
    server.dag.steps[0].cache_state = { state: 'stale', reason: 'code changed' };
    model.setSource(nb);
    await flush();
    expect(model.nodeState('load')).toMatchObject({ state: 'stale', reason: 'code changed' });
    expect(model.nodeState('train').state).toBe('never');
  });

  it('saves, starts a run with the params and merges polled step states', async () => {
    model.setSource(nb);
    await flush();
    server.run = { run_id: 'r1', status: 'running', steps: { load: { status: 'running', started: now / 1000 - 3 } } };
    const id = await model.startRun({ lr: 0.5 });
    expect(id).toBe('r1');
    expect(nb.saves).toBe(1);
    const post = server.calls.find(c => c.endPoint === 'runs' && c.method === 'POST')!;
    expect(post.body).toEqual({ path: 'work/demo.ipynb', params: { lr: 0.5 } });
    expect(model.running).toBe(true);
    expect(model.nodeState('train').state).toBe('pending');

    jest.advanceTimersByTime(0);
    await flush();
    expect(model.nodeState('load')).toMatchObject({ state: 'running', seconds: 3 });
    expect(model.nodeState('train').state).toBe('pending');

    server.run = {
      run_id: 'r1', status: 'succeeded',
      steps: {
        load: { status: 'succeeded', duration_s: 1.5, reason: 'no cache entry' },
        train: { status: 'cached', reason: 'inputs unchanged' }
      }
    };
    server.runs = [server.run];
    jest.advanceTimersByTime(500);
    await flush();
    expect(model.running).toBe(false);
    expect(model.nodeState('load')).toMatchObject({ state: 'succeeded', seconds: 1.5 });
    expect(model.nodeState('train')).toMatchObject({ state: 'cached', reason: 'inputs unchanged' });
    expect(model.history.map(r => r.run_id)).toEqual(['r1']);
    // Done: no more polling.
    const polls = server.count('runs/r1', 'GET');
    jest.advanceTimersByTime(5000);
    await flush();
    expect(server.count('runs/r1', 'GET')).toBe(polls);
  });

  it('links the warm cluster\'s dashboard once a run that started it ends', async () => {
    let link = '';
    const answer = server.answer.bind(server);
    server.answer = (endPoint, method) =>
      endPoint === 'status' ? { dashboard_link: link || null } : answer(endPoint, method);
    model.setSource(nb);
    await flush();
    expect(model.dashboardUrl).toBeNull(); // no warm cluster before the first run
    server.run = { run_id: 'r1', status: 'running', steps: {} };
    await model.startRun({});
    link = 'http://127.0.0.1:40123/status'; // the server's warm cluster, started by the run
    server.run = { run_id: 'r1', status: 'succeeded', steps: {} };
    jest.advanceTimersByTime(0);
    await flush();
    expect(model.running).toBe(false);
    expect(model.dashboardUrl).toBe('http://127.0.0.1:40123/status');
  });

  /** Follow the notebook and start a run that the server answers as queued. */
  async function startQueued(): Promise<void> {
    model.setSource(nb);
    await flush();
    server.run = { run_id: 'r1', status: 'queued', steps: { load: { status: 'pending' }, train: { status: 'pending' } } };
    await model.startRun({});
    jest.advanceTimersByTime(0);
    await flush();
  }

  it('shows a queued run on every node, can cancel it, and follows it when it starts', async () => {
    await startQueued();
    expect(model.nodeState('load')).toMatchObject({ state: 'queued' });
    expect(model.nodeState('train').state).toBe('queued');
    expect(model.nodeState('load').reason).toContain('max_concurrent_runs');
    expect(model.running).toBe(true); // the cancel button stays enabled while it waits

    server.run = { run_id: 'r1', status: 'running', steps: { load: { status: 'running' }, train: { status: 'pending' } } };
    jest.advanceTimersByTime(500);
    await flush();
    expect(model.nodeState('load').state).toBe('running');
    expect(model.nodeState('train').state).toBe('pending');
  });

  it('stops polling a queued run once it is cancelled', async () => {
    await startQueued();
    server.run = {
      run_id: 'r1', status: 'cancelled',
      steps: { load: { status: 'skipped', reason: 'run cancelled' }, train: { status: 'skipped', reason: 'run cancelled' } }
    };
    jest.advanceTimersByTime(500);
    await flush();
    expect(model.running).toBe(false);
    expect(model.nodeState('load')).toMatchObject({ state: 'cancelled', reason: 'run cancelled' });
    const polls = server.count('runs/r1', 'GET');
    jest.advanceTimersByTime(5000);
    await flush();
    expect(server.count('runs/r1', 'GET')).toBe(polls);
  });

  it('marks a step edited after a finished run as stale, the others keep their run state', async () => {
    model.setSource(nb);
    await flush();
    server.run = {
      run_id: 'r1', status: 'succeeded',
      steps: { load: { status: 'succeeded' }, train: { status: 'succeeded' } }
    };
    await model.startRun();
    jest.advanceTimersByTime(0);
    await flush();
    expect(model.nodeState('train').state).toBe('succeeded');
    nb.edit(1, '%%step train\nm = df * 2');
    jest.advanceTimersByTime(300);
    await flush();
    expect(model.nodeState('train')).toMatchObject({ state: 'stale', reason: 'code edited since the last run' });
    expect(model.nodeState('load').state).toBe('succeeded');
  });

  it('reports a failed step with its executed notebook', async () => {
    model.setSource(nb);
    await flush();
    server.run = {
      run_id: 'r1', status: 'failed',
      steps: {
        load: { status: 'failed', error: "step 'load': NameError: x", notebook: '.mlpipe/runs/r1/load.ipynb' },
        train: { status: 'skipped', reason: 'upstream load failed' }
      }
    };
    await model.startRun();
    jest.advanceTimersByTime(0);
    await flush();
    expect(model.nodeState('load')).toMatchObject({
      state: 'failed', reason: "step 'load': NameError: x", notebook: '.mlpipe/runs/r1/load.ipynb'
    });
    expect(model.nodeState('train').state).toBe('skipped');
  });

  it('cancels the followed run with DELETE', async () => {
    model.setSource(nb);
    await flush();
    server.run = { run_id: 'r1', status: 'running', steps: {} };
    await model.startRun();
    server.run = { run_id: 'r1', status: 'cancelled', steps: {} };
    await model.cancel();
    expect(server.count('runs/r1', 'DELETE')).toBe(1);
    expect(model.run!.status).toBe('cancelled');
  });

  it('stops following a notebook it was switched away from', async () => {
    model.setSource(nb);
    await flush();
    model.setSource(null);
    nb.edit(0, '%%step load\ndf = 2');
    jest.advanceTimersByTime(1000);
    await flush();
    expect(server.count('dag')).toBe(1);
    expect(model.dag).toBeNull();
  });
});
