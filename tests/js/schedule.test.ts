/**
 * @jest-environment jsdom
 */
import './jsdomLumino';
import { LivePreview, PreviewResult } from '../../js/components/livePreview';
import {
  defaultName,
  nameProblem,
  parseParamLines,
  previewText,
  scheduleProblem
} from '../../js/components/schedule';
import { ScheduleModel } from '../../js/schedules';
import { ICronPreview, ISchedule } from '../../js/types';
import { PublishForm } from '../../js/widgets/publishForm';
import { ScheduleForm } from '../../js/widgets/scheduleForm';
import { ScheduleList } from '../../js/widgets/scheduleList';
import { PipelineToolbar } from '../../js/widgets/toolbar';

const MALICIOUS = '<img src=x onerror=alert(1)>';
const WEEKDAYS: ICronPreview = {
  cron: '0 6 * * 1-5',
  description: 'every weekday at 06:00',
  next: ['2026-11-23T06:00+00:00', '2026-11-24T06:00+00:00', '2026-11-25T06:00+00:00']
};

function schedule(name: string, extra: Partial<ISchedule> = {}): ISchedule {
  return {
    name, pipeline: name, cron: '0 6 * * 1-5', description: 'every weekday at 06:00',
    params: {}, paused: false, next_run: '2026-11-23T06:00:00+00:00', ...extra
  };
}

/** A fake `requestAPI` recording calls; answers from `routes` by "METHOD endpoint" prefix. */
function fakeServer(routes: Record<string, unknown>) {
  const calls: { endPoint: string; method: string; body: any }[] = [];
  const request = async <T>(endPoint: string, init: { method?: string; body?: string } = {}) => {
    const method = init.method ?? 'GET';
    calls.push({ endPoint, method, body: init.body ? JSON.parse(init.body) : undefined });
    const key = Object.keys(routes).find(k => `${method} ${endPoint}`.startsWith(k));
    const answer = key === undefined ? new Error(`no route ${method} ${endPoint}`) : routes[key];
    if (answer instanceof Error) {
      throw answer;
    }
    return answer as T;
  };
  return { calls, request };
}

function type(input: HTMLInputElement | HTMLTextAreaElement, value: string): void {
  input.value = value;
  input.dispatchEvent(new Event('input'));
}

describe('names and parameters', () => {
  it('makes the notebook stem a valid pipeline name', () => {
    expect(defaultName('work/Breast cancer (v2).ipynb')).toBe('Breast_cancer_v2_');
    expect(defaultName('_private.ipynb')).toBe('private');
    expect(defaultName('###.ipynb')).toBe('pipeline');
    expect(nameProblem(defaultName('a'.repeat(100) + '.ipynb'))).toBeNull();
  });

  it('says why a name is refused, in one line', () => {
    expect(nameProblem('cancer')).toBeNull();
    expect(nameProblem('')).toBe('a pipeline name is required');
    expect(nameProblem('-x', 'schedule')).toMatch(/^schedule name '-x' is not valid: use 1-64/);
    expect(nameProblem('a b')).not.toBeNull();
  });

  it('reads NAME = VALUE lines, naming the first bad one', () => {
    expect(parseParamLines('lr = 0.1\n# note\n\nflag = True\nname = abc')).toEqual({
      params: { lr: 0.1, flag: true, name: 'abc' },
      error: null
    });
    expect(parseParamLines('lr = 0.1\noops').error).toBe("params line 2: 'oops' is not NAME = VALUE");
  });

  it('checks a schedule field by field', () => {
    const input = (cron: string, paramsText = '') => ({
      schedule: { name: 'nightly', pipeline: 'cancer', cron, params: {} },
      paramsText
    });
    expect(scheduleProblem(input('0 6 * * *'))).toBeNull();
    expect(scheduleProblem(input(''))).toMatch(/cron expression is required/);
    expect(scheduleProblem(input('0 6 * * *', 'x'))).toMatch(/params line 1/);
  });

  it('previews a cron expression as description and next time', () => {
    const text = previewText(WEEKDAYS);
    expect(text.startsWith('every weekday at 06:00; next: ')).toBe(true);
    expect(text).toMatch(/\d\d:\d\d/);
    expect(previewText({ ...WEEKDAYS, next: [] })).toBe('every weekday at 06:00');
  });
});

describe('LivePreview', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('asks once typing pauses, for the latest text only', async () => {
    const fetch = jest.fn(async (text: string) => text.toUpperCase());
    const results: (PreviewResult<string> | null)[] = [];
    const live = new LivePreview({ fetch, onResult: r => results.push(r), debounceMs: 300 });
    for (const text of ['0', '0 6', '0 6 *', '0 6 * * *']) {
      live.update(text);
      jest.advanceTimersByTime(100);
    }
    expect(fetch).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(300);
    expect(fetch.mock.calls).toEqual([['0 6 * * *']]);
    expect(results).toEqual([{ ok: true, value: '0 6 * * *'.toUpperCase() }]);
  });

  it('drops an answer that arrives after the text changed', async () => {
    let release: (v: string) => void = () => undefined;
    const fetch = jest.fn((text: string) =>
      text === 'slow' ? new Promise<string>(r => (release = r)) : Promise.resolve(text)
    );
    const results: (PreviewResult<string> | null)[] = [];
    const live = new LivePreview({ fetch, onResult: r => results.push(r), debounceMs: 10 });
    live.update('slow');
    await jest.advanceTimersByTimeAsync(10);
    live.update('fast');
    await jest.advanceTimersByTimeAsync(10);
    release('slow');
    await Promise.resolve();
    expect(results).toEqual([{ ok: true, value: 'fast' }]);
  });

  it('turns a refusal into its one-line error, and blank text into no preview', async () => {
    const live = new LivePreview<string>({
      fetch: async () => {
        throw new Error("cron '61 * * * *': minute must be 0-59, got 61");
      },
      onResult: r => results.push(r),
      debounceMs: 10
    });
    const results: (PreviewResult<string> | null)[] = [];
    live.update('61 * * * *');
    await jest.advanceTimersByTimeAsync(10);
    live.update('  ');
    expect(results).toEqual([
      { ok: false, error: "cron '61 * * * *': minute must be 0-59, got 61" },
      null
    ]);
  });
});

describe('ScheduleModel', () => {
  it('publishes with POST pipelines {path, name} and remembers the name', async () => {
    const server = fakeServer({ 'POST pipelines': { name: 'cancer', version: 2, created: true } });
    const model = new ScheduleModel({ request: server.request });
    const changed = jest.fn();
    model.changed.connect(changed);
    const published = await model.publish('nb/breast_cancer.ipynb', 'cancer');
    expect(published.version).toBe(2);
    expect(server.calls).toEqual([
      { endPoint: 'pipelines', method: 'POST', body: { path: 'nb/breast_cancer.ipynb', name: 'cancer' } }
    ]);
    expect(model.publishedName('nb/breast_cancer.ipynb')).toBe('cancer');
    expect(model.pipelines).toEqual(['cancer']);
    expect(changed).toHaveBeenCalled();
  });

  it('rejects a refused publish with the server message', async () => {
    const server = fakeServer({ 'POST pipelines': new Error("step 'x' (cell 2): name 'y' is read") });
    const model = new ScheduleModel({ request: server.request });
    await expect(model.publish('a.ipynb', 'a')).rejects.toThrow("step 'x' (cell 2)");
    expect(model.publishedName('a.ipynb')).toBeNull();
  });

  it('previews a cron expression through GET cron, encoded', async () => {
    const server = fakeServer({ 'GET cron?cron=': WEEKDAYS });
    const model = new ScheduleModel({ request: server.request });
    expect(await model.previewCron('0 6 * * 1-5')).toEqual(WEEKDAYS);
    expect(server.calls[0].endPoint).toBe('cron?cron=0%206%20*%20*%201-5');
  });

  it('adds, pauses, resumes and removes schedules, reloading the list each time', async () => {
    const server = fakeServer({
      'POST schedules': schedule('nightly'),
      'GET schedules': [schedule('nightly')],
      'GET pipelines': [{ name: 'cancer', version: 1 }],
      'PATCH schedules/nightly': schedule('nightly', { paused: true }),
      'DELETE schedules/nightly': null
    });
    const model = new ScheduleModel({ request: server.request });
    await model.add({ name: 'nightly', pipeline: 'cancer', cron: '0 6 * * 1-5', params: { lr: 1 } });
    expect(model.schedules.map(s => s.name)).toEqual(['nightly']);
    expect(model.pipelines).toEqual(['cancer']);
    await model.setPaused('nightly', true);
    await model.setPaused('nightly', false);
    await model.remove('nightly');
    const actions = server.calls.filter(c => c.method !== 'GET');
    expect(actions).toEqual([
      { endPoint: 'schedules', method: 'POST', body: { name: 'nightly', pipeline: 'cancer', cron: '0 6 * * 1-5', params: { lr: 1 } } },
      { endPoint: 'schedules/nightly', method: 'PATCH', body: { paused: true } },
      { endPoint: 'schedules/nightly', method: 'PATCH', body: { paused: false } },
      { endPoint: 'schedules/nightly', method: 'DELETE', body: undefined }
    ]);
    expect(server.calls.filter(c => c.endPoint === 'schedules' && c.method === 'GET')).toHaveLength(4);
    expect(model.error).toBeNull();
  });

  it('keeps a failed list action as one line', async () => {
    const server = fakeServer({ 'DELETE schedules/gone': new Error("schedule 'gone' does not exist") });
    const model = new ScheduleModel({ request: server.request });
    await model.remove('gone');
    expect(model.error).toBe("mlpipe remove of schedule 'gone' failed: schedule 'gone' does not exist");
  });
});

describe('PublishForm', () => {
  it('starts from the given name and checks names as they are typed', () => {
    const form = new PublishForm({ name: 'breast_cancer' });
    const input = form.node.querySelector<HTMLInputElement>('input')!;
    const message = form.node.querySelector<HTMLElement>('.mlpipe-publish-message')!;
    expect(form.getValue()).toBe('breast_cancer');
    expect(message.hidden).toBe(true);
    type(input, ' bad name ');
    expect(message.hidden).toBe(false);
    expect(message.textContent).toMatch(/^pipeline name 'bad name' is not valid/);
    type(input, 'cancer');
    expect(message.hidden).toBe(true);
    expect(form.getValue()).toBe('cancer');
  });

  it('shows the server refusal it is given as text', () => {
    const form = new PublishForm({ name: 'x', error: `Publish failed: ${MALICIOUS}` });
    expect(form.node.querySelector('img')).toBeNull();
    expect(form.node.textContent).toContain(MALICIOUS);
  });
});

describe('ScheduleForm', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function form(preview: (expr: string) => Promise<ICronPreview>, published = ['cancer']) {
    return new ScheduleForm({ name: 'cancer', pipeline: 'cancer', published, preview, debounceMs: 200 });
  }

  it('shows a live readable preview of the cron expression as it is typed', async () => {
    const preview = jest.fn(async () => WEEKDAYS);
    const widget = form(preview);
    const cron = widget.node.querySelector<HTMLInputElement>('.mlpipe-schedule-cron')!;
    expect(widget.previewText).toBe('');
    type(cron, '0 6 * *');
    type(cron, '0 6 * * 1-5');
    await jest.advanceTimersByTimeAsync(200);
    expect(preview.mock.calls).toEqual([['0 6 * * 1-5']]);
    expect(widget.previewText).toMatch(/^every weekday at 06:00; next: /);
    const line = widget.node.querySelector<HTMLElement>('.mlpipe-cron-preview')!;
    expect(line.title.split('\n')).toEqual(WEEKDAYS.next);
  });

  it('shows the one-line error of a bad expression, as text', async () => {
    const widget = form(async () => {
      throw new Error(`cron '${MALICIOUS}': expected 5 fields`);
    });
    type(widget.node.querySelector<HTMLInputElement>('.mlpipe-schedule-cron')!, MALICIOUS);
    await jest.advanceTimersByTimeAsync(200);
    const line = widget.node.querySelector<HTMLElement>('.mlpipe-cron-preview')!;
    expect(line.classList.contains('mlpipe-form-error')).toBe(true);
    expect(widget.previewText).toBe(`cron '${MALICIOUS}': expected 5 fields`);
    expect(widget.node.querySelector('img')).toBeNull();
  });

  it('returns name, pipeline, cron and parsed params; warns of an unpublished pipeline', () => {
    const widget = form(async () => WEEKDAYS, []);
    const note = widget.node.querySelector<HTMLElement>('.mlpipe-schedule-pipeline-note')!;
    expect(note.textContent).toBe("'cancer' is not published yet: publish it first, or its runs will fail");
    type(widget.node.querySelector<HTMLInputElement>('.mlpipe-schedule-cron')!, '@daily');
    type(widget.node.querySelector<HTMLTextAreaElement>('textarea')!, 'lr = 0.5\nmode = fast');
    expect(widget.getValue().schedule).toEqual({
      name: 'cancer', pipeline: 'cancer', cron: '@daily', params: { lr: 0.5, mode: 'fast' }
    });
    expect(widget.check()).toBeNull();
    widget.dispose();
  });
});

describe('ScheduleList', () => {
  it('lists name, readable cron and next run, or paused', () => {
    const list = new ScheduleList({ onSetPaused: jest.fn(), onRemove: jest.fn() });
    expect(list.isHidden).toBe(true);
    expect(list.node.querySelector('.mlpipe-error')).toBeNull();
    list.render([schedule('nightly'), schedule('weekly', { paused: true, next_run: null })], null);
    expect(list.isHidden).toBe(false);
    const items = [...list.node.querySelectorAll<HTMLElement>('.mlpipe-schedule')];
    expect(items.map(i => i.querySelector('.mlpipe-schedule-title')!.textContent)).toEqual(['nightly', 'weekly']);
    expect(items[0].querySelector('.mlpipe-schedule-cron')!.textContent).toBe('every weekday at 06:00');
    expect(items[0].querySelector('.mlpipe-schedule-when')!.textContent).toMatch(/^next: /);
    expect(items[1].querySelector('.mlpipe-schedule-when')!.textContent).toBe('paused');
    expect(items[1].querySelector('.mlpipe-schedule-pause')!.textContent).toBe('Resume');
  });

  it('says when fires were skipped because the previous run was still going', () => {
    const list = new ScheduleList({ onSetPaused: jest.fn(), onRemove: jest.fn() });
    const reason = 'run 20261201-060000-ab12cd of the previous fire is still running';
    list.render([schedule('nightly'), schedule('busy', { skipped: 2, last_skip_reason: reason })], null);
    const items = [...list.node.querySelectorAll<HTMLElement>('.mlpipe-schedule')];
    expect(items[0].querySelector('.mlpipe-schedule-skipped')).toBeNull();
    expect(items[1].querySelector('.mlpipe-schedule-skipped')!.textContent).toBe(`skipped 2 times: ${reason}`);
  });

  it('reports pause, resume and remove through its callbacks', () => {
    const onSetPaused = jest.fn();
    const onRemove = jest.fn();
    const list = new ScheduleList({ onSetPaused, onRemove });
    list.render([schedule('nightly'), schedule('weekly', { paused: true })], null);
    const click = (name: string, cls: string) =>
      list.node.querySelector<HTMLElement>(`[data-schedule="${name}"] .${cls}`)!.click();
    click('nightly', 'mlpipe-schedule-pause');
    click('weekly', 'mlpipe-schedule-pause');
    click('weekly', 'mlpipe-schedule-remove');
    expect(onSetPaused.mock.calls).toEqual([['nightly', true], ['weekly', false]]);
    expect(onRemove.mock.calls).toEqual([['weekly']]);
  });

  it('collapses to its title', () => {
    const list = new ScheduleList({ onSetPaused: jest.fn(), onRemove: jest.fn() });
    list.render([schedule('nightly')], null);
    const toggle = list.node.querySelector<HTMLElement>('.mlpipe-schedules-toggle')!;
    expect(toggle.textContent).toBe('▾ Schedules (1)');
    toggle.click();
    expect(list.collapsed).toBe(true);
    expect(toggle.textContent).toBe('▸ Schedules (1)');
    expect(list.node.querySelector('ul')!.hidden).toBe(true);
  });

  it('renders names, errors and tooltips as text, never markup', () => {
    (window as any).alert = jest.fn();
    const list = new ScheduleList({ onSetPaused: jest.fn(), onRemove: jest.fn() });
    const evil = schedule(MALICIOUS, { description: MALICIOUS, last_error: MALICIOUS, params: { p: MALICIOUS } });
    list.render([evil], `mlpipe schedules failed: ${MALICIOUS}`);
    document.body.appendChild(list.node);
    expect(document.querySelectorAll('img')).toHaveLength(0);
    expect(list.node.querySelector('.mlpipe-schedule-title')!.textContent).toBe(MALICIOUS);
    expect(list.node.querySelector('.mlpipe-schedule-error')!.textContent).toBe(MALICIOUS);
    expect(list.node.querySelector<HTMLElement>('.mlpipe-schedule')!.title).toContain(MALICIOUS);
    expect((window as any).alert).not.toHaveBeenCalled();
    list.node.remove();
  });
});

describe('PipelineToolbar publish and schedule', () => {
  it('enables them from the state and reports clicks', () => {
    const onPublish = jest.fn();
    const onSchedule = jest.fn();
    const noop = () => undefined;
    const bar = new PipelineToolbar({ onRun: noop, onCancel: noop, onRefresh: noop, onPublish, onSchedule });
    const publish = bar.node.querySelector<HTMLButtonElement>('.mlpipe-publish')!;
    const sched = bar.node.querySelector<HTMLButtonElement>('.mlpipe-schedule')!;
    expect([publish.disabled, sched.disabled]).toEqual([true, true]);
    bar.setState({ canRun: true, running: false, dashboardUrl: null, canPublish: true, canSchedule: true });
    expect([publish.disabled, sched.disabled]).toEqual([false, false]);
    publish.click();
    sched.click();
    expect([onPublish.mock.calls.length, onSchedule.mock.calls.length]).toEqual([1, 1]);
  });
});
