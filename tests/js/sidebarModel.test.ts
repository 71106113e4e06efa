/** The model's part in issue 22: no empty flash, the latest run after a reload, runs from elsewhere, run ends. */
import { Signal } from '@lumino/signaling';
import { INotebookSource, PipelineModel } from '../../js/model';
import { ICellPayload, IDag, IRunRecord, IStepInfo } from '../../js/types';

function step(name: string, cell: number): IStepInfo {
  return {
    name, cell, reads: [], binds: [], outputs: [], params: [],
    resources: { cpu: null, gpu: null, memory: null },
    retries: 0, timeout: null, cache: true, after: [], cells: [cell]
  };
}

const DAG: IDag = {
  steps: [step('load', 0), step('train', 1)], edges: [{ from: 'load', to: 'train', vars: ['df'] }],
  params: {}, order: ['load', 'train'], warnings: [], errors: []
};

function run(id: string, status: IRunRecord['status'], started: number, steps: IRunRecord['steps']): IRunRecord {
  return { run_id: id, status, started, path: 'demo.ipynb', steps };
}

/** A notebook whose cells arrive only when `load()` is called (JupyterLab's context.ready). */
class LateNotebook implements INotebookSource {
  path = 'demo.ipynb';
  changed = new Signal<this, void>(this);
  sources: string[] = [];
  savedAtS: number | null = 100;
  ready: Promise<void>;
  load!: () => void;
  constructor() {
    this.ready = new Promise(resolve => (this.load = () => {
      this.sources = ['%%step load\ndf = 1', '%%step train\nm = df'];
      resolve();
    }));
  }
  cells(): ICellPayload[] {
    return this.sources.map(source => ({ source, tags: [] }));
  }
  savedAt(): number | null {
    return this.savedAtS;
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await Promise.resolve();
  }
}

describe('PipelineModel (sidebar)', () => {
  let runs: IRunRecord[];
  let records: Map<string, IRunRecord>;
  let dagBodies: any[];
  let model: PipelineModel;

  const request = async <T>(endPoint: string, init: { method?: string; body?: string } = {}): Promise<T> => {
    if (endPoint === 'dag') {
      dagBodies.push(JSON.parse(init.body!));
      return JSON.parse(JSON.stringify(DAG));
    }
    if (endPoint === 'status') return { gpu_slots: 0 } as T;
    if (endPoint === 'runs' && init.method !== 'POST') return runs as T;
    if (endPoint.startsWith('runs/')) return JSON.parse(JSON.stringify(records.get(endPoint.slice(5)))) as T;
    throw new Error(`no route ${endPoint}`);
  };

  beforeEach(() => {
    jest.useFakeTimers();
    runs = [];
    records = new Map();
    dagBodies = [];
    model = new PipelineModel({ request, pollIntervalMs: 500, historyPollMs: 2000, now: () => 200_000 });
  });

  afterEach(() => {
    model.dispose();
    jest.useRealTimers();
  });

  it('sends its first POST dag only once the notebook has its cells', async () => {
    const nb = new LateNotebook();
    model.setSource(nb);
    await flush();
    expect(dagBodies).toHaveLength(0);
    nb.load();
    await flush();
    expect(dagBodies).toHaveLength(1);
    expect(dagBodies[0].cells).toHaveLength(2);
  });

  it('shows the latest run after a reload: a failed step stays failed, not stale', async () => {
    runs = [run('r1', 'failed', 150, {
      load: { status: 'succeeded', duration_s: 1 },
      train: { status: 'failed', error: "ValueError: boom (cell 2 of step 'train')" }
    })];
    const nb = new LateNotebook();
    nb.load();
    model.setSource(nb);
    await flush();
    expect(model.run?.run_id).toBe('r1');
    expect(model.nodeState('train')).toMatchObject({ state: 'failed' });
    expect(model.nodeState('load')).toMatchObject({ state: 'succeeded' });
  });

  it('does not show a run older than the notebook\'s last save', async () => {
    runs = [run('r0', 'succeeded', 50, { load: { status: 'succeeded' }, train: { status: 'succeeded' } })];
    const nb = new LateNotebook();
    nb.load();
    model.setSource(nb);
    await flush();
    expect(model.run).toBeNull();
  });

  it('follows a run started elsewhere (CLI) without a reload, and says when it ends', async () => {
    const nb = new LateNotebook();
    nb.load();
    model.setSource(nb);
    await flush();
    expect(model.run).toBeNull();
    const ended: string[] = [];
    model.runEnded.connect((_, r) => ended.push(`${r.run_id} ${r.status}`));
    const cli = run('r2', 'running', 190, { load: { status: 'running' } });
    runs = [cli];
    records.set('r2', cli);
    jest.advanceTimersByTime(2000);
    await flush();
    expect(model.run?.run_id).toBe('r2');
    expect(model.nodeState('load').state).toBe('running');
    records.set('r2', run('r2', 'succeeded', 190, { load: { status: 'succeeded' }, train: { status: 'cached' } }));
    jest.advanceTimersByTime(500);
    await flush();
    expect(ended).toEqual(['r2 succeeded']);
    expect(model.nodeState('train').state).toBe('cached');
  });
});
