// End-to-end scenarios of the pipeline sidebar in a real JupyterLab.
// Usage: MLPIPE_UI='{"url","token","outDir","deadlineS",...}' node sidebar.e2e.mjs SCENARIO
// Prints "step <elapsed> <what>" and "PASS <check>" lines; on failure prints
// "FAIL <scenario> at step '<what>': <why>", saves failure-<scenario>.png and exits 1.
import { join } from 'node:path';
import {
  appendToActiveCell, check, clickButton, currentStep, openLab, overlays, readGraph,
  selectStep, SIDEBAR, snap, step, WAIT_MS, waitActiveCell, waitGraph, waitValue
} from './lab.mjs';

const config = JSON.parse(process.env.MLPIPE_UI);
const pass = what => console.log(`PASS ${what}`);
const allIn = (graph, states) => graph.nodes.length > 0 && graph.nodes.every(n => states.includes(n.state));
/** One pipeline run of a small notebook, on a loaded 2-core machine. */
const RUN_TIMEOUT = 150000;

function sameEdges(graph, expected) {
  const key = e => `${e.from}->${e.to}`;
  const seen = new Set(graph.edges.map(key));
  return seen.size === expected.length && expected.every(e => seen.has(key(e)));
}

/** The panel draws the DAG of `mlpipe dag --format json`; an edit adds a dependency live. */
async function staticScenario({ page, outDir }) {
  const dag = config.dag;
  const graph = await step('wait for the DAG', () => waitGraph(page,
    g => g.nodes.length === dag.steps.length && sameEdges(g, dag.edges),
    `${dag.steps.length} nodes and ${dag.edges.length} edges`));
  check(JSON.stringify(graph.nodes.map(n => n.name)) === JSON.stringify(dag.steps.map(s => s.name)),
    `node names ${graph.nodes.map(n => n.name)} != ${dag.steps.map(s => s.name)}`);
  for (const edge of dag.edges) {
    const drawn = graph.edges.find(e => e.from === edge.from && e.to === edge.to);
    check(drawn.title.endsWith(edge.vars.join(', ')), `edge ${edge.from}->${edge.to} says '${drawn.title}', not ${edge.vars}`);
  }
  pass(`${graph.nodes.length} nodes and ${graph.edges.length} edges, as mlpipe dag says`);
  await snap(page, outDir, '01-dag');

  const { from, to, var: name, cell } = config.edit;
  await step(`click node '${to}'`, () => selectStep(page, to));
  pass(`clicking node '${to}' selects its cell ${cell + 1}`);
  await step(`type a read of '${name}' into '${to}'`, () => appendToActiveCell(page, `print(type(${name}))`));
  const after = await step(`wait for the new edge ${from} -> ${to}`, () => waitGraph(page,
    g => g.edges.some(e => e.from === from && e.to === to), `the new edge ${from} -> ${to} (${name})`));
  const edge = after.edges.find(e => e.from === from && e.to === to);
  check(edge.title.includes(name), `new edge '${edge.title}' lacks '${name}'`);
  pass(`editing '${to}' to read '${name}' adds the edge ${from} -> ${to} live`);
  await snap(page, outDir, '02-new-edge');

  const settings = await step('read the settings schema', () => page.evaluate(async ({ url, token }) => {
    const answer = await fetch(`${url}lab/api/settings/mlpipe-jupyter:plugin?token=${token}`);
    return answer.json();
  }, config));
  check(settings.schema?.properties?.pollInterval?.default === 1000, `settings schema not served: ${JSON.stringify(settings).slice(0, 200)}`);
  await step('find the commands in the palette', async () => {
    await page.keyboard.press('Control+Shift+C');
    const input = page.locator('.lm-CommandPalette-input');
    await input.waitFor({ state: 'visible' });
    await input.fill('pipeline');
    const labels = '.lm-CommandPalette-item:visible .lm-CommandPalette-itemLabel';
    await waitValue(page, () => page.locator(labels).allTextContents(),
      items => ['Run pipeline', 'Show pipeline'].every(label => items.includes(label)),
      '"Run pipeline" and "Show pipeline" in the palette');
    await page.keyboard.press('Escape');
  });
  pass('settings schema served; "Run pipeline" and "Show pipeline" in the command palette');
}

/** An analysis error is one readable line; clicking it selects the cell. */
async function errorScenario({ page, outDir }) {
  const line = page.locator(`${SIDEBAR} .mlpipe-error`).first();
  await step('wait for the error line', () => line.waitFor({ state: 'visible' }));
  const text = await line.textContent();
  check(text.includes(config.error.message.slice(0, 20)), `error line '${text}' is not '${config.error.message}'`);
  pass(`error shown as one line: ${text}`);
  await step('click the error line', async () => {
    await line.click();
    await waitActiveCell(page, first => first === config.error.cellStart, `cell ${config.error.cell + 1}`);
  });
  pass(`clicking the error selects cell ${config.error.cell + 1}`);
  await snap(page, outDir, '03-error');
}

/** Run from the panel: every node succeeds; run again: every node is cached. */
async function runScenario({ page, outDir }) {
  await step('wait for the DAG', () => waitGraph(page, g => g.nodes.length === config.dag.steps.length, 'the DAG'));
  await step('click Run', () => clickButton(page, 'mlpipe-run'));
  const seen = new Set();
  await step('wait for the first run', () => waitGraph(page, g => {
    g.nodes.forEach(n => seen.add(n.state));
    return allIn(g, ['succeeded']);
  }, 'every node succeeded', RUN_TIMEOUT, true));
  pass(`first run: every node succeeded (states seen: ${[...seen].sort().join(', ')})`);
  await snap(page, outDir, '04-succeeded');
  // The run started the server's warm cluster: the sidebar's link is its Dask dashboard.
  const link = page.locator(`${SIDEBAR} .mlpipe-dashboard-link`);
  const href = await step('wait for the dashboard link', () =>
    waitValue(page, () => link.evaluate(a => (a.hidden ? '' : a.href)), h => h.startsWith('http'),
      'the Dask dashboard link'));
  // Proxied through the Jupyter server (jupyter-server-proxy): it asks for the token too.
  check(href.startsWith(config.url), `the dashboard link ${href} is not served by the Jupyter server at ${config.url}`);
  const answer = await step('open the dashboard link', () => fetch(`${href}?token=${config.token}`));
  check(answer.status === 200, `the dashboard link ${href} answered ${answer.status}`);
  pass(`dashboard link ${href} answers ${answer.status}`);
  await step('click Run again', () => clickButton(page, 'mlpipe-run'));
  await step('wait for the second run', () =>
    waitGraph(page, g => allIn(g, ['cached']), 'every node cached', RUN_TIMEOUT, true));
  pass('second run: every node cached');
  await snap(page, outDir, '05-cached');
  // The history reloads after the run's last poll: wait for it rather than count at once.
  const items = page.locator(`${SIDEBAR} .mlpipe-history-item`);
  const runs = await step('wait for both runs in the history', () =>
    waitValue(page, () => items.count(), n => n >= 2, 'the run history to list 2 runs'));
  pass(`run history lists ${runs} runs`);
}

/** A broken step fails, its consumers are skipped, clicking it opens its executed notebook. */
async function failureScenario({ page, outDir }) {
  const { step: broken } = config.broken;
  await step('wait for the DAG', () => waitGraph(page, g => g.nodes.length === config.dag.steps.length, 'the DAG'));
  await step(`click node '${broken}'`, () => selectStep(page, broken));
  await step(`break '${broken}'`, () => appendToActiveCell(page, 'raise RuntimeError("broken on purpose")'));
  await step('click Run', () => clickButton(page, 'mlpipe-run'));
  const graph = await step('wait for the run to fail', () => waitGraph(page, g => {
    const node = g.nodes.find(n => n.name === broken);
    return node && node.state === 'failed' && g.nodes.every(n => !['pending', 'queued', 'running'].includes(n.state));
  }, `node '${broken}' failed and the run over`, RUN_TIMEOUT, true));
  const states = Object.fromEntries(graph.nodes.map(n => [n.name, n.state]));
  for (const later of config.broken.downstream) {
    check(states[later] === 'skipped', `downstream '${later}' is ${states[later]}, expected skipped`);
  }
  pass(`'${broken}' failed, downstream skipped: ${JSON.stringify(states)}`);
  await snap(page, outDir, '06-failed');
  await step(`open ${broken}.ipynb from the failed node`, async () => {
    await page.locator(`${SIDEBAR} .mlpipe-node[data-step="${broken}"]`).click();
    const tab = page.locator(`.lm-DockPanel-tabBar .lm-TabBar-tab:has-text("${broken}.ipynb")`);
    await tab.waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.querySelectorAll('.jp-NotebookPanel').length >= 2);
  });
  const title = await page.locator(`${SIDEBAR} .mlpipe-header`).textContent();
  check(title.endsWith(config.notebook.split('/').pop()), `the sidebar left the pipeline for '${title}'`);
  pass(`clicking the failed node opens ${broken}.ipynb; the sidebar keeps the pipeline`);
  await step(`${broken}.ipynb is at its traceback`, () => page.waitForFunction(() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cell = panel?.content?.activeCell;
    return !!cell && (cell.model.toJSON().outputs ?? []).some(o => o.output_type === 'error');
  }));
  pass(`the active cell of ${broken}.ipynb holds the traceback`);
  await snap(page, outDir, '07-step-notebook');
  // Reading a traceback needs no kernel: the step notebook opens without one.
  await step(`${broken}.ipynb opened with no kernel`, async () => {
    const sessions = await page.evaluate(async () => {
      const manager = window.jupyterapp.serviceManager.sessions;
      await manager.refreshRunning();
      return Array.from(manager.running()).map(s => s.path);
    });
    check(!sessions.some(p => p.endsWith(`${broken}.ipynb`)), `a kernel started for ${broken}.ipynb`);
  });
}

/** A notebook with a `--gpu 1` step runs from the panel on a server with gpu_workers = 1. */
async function gpuRunScenario({ page, outDir }) {
  await step('wait for the DAG', () => waitGraph(page, g => g.nodes.length === config.dag.steps.length, 'the DAG'));
  const badge = page.locator(`${SIDEBAR} .mlpipe-node[data-step="${config.gpuStep}"] .mlpipe-gpu-badge`);
  check(await badge.count() === 1, `node '${config.gpuStep}' has no GPU badge`);
  await step('click Run', () => clickButton(page, 'mlpipe-run'));
  const graph = await step('wait for the run', () =>
    waitGraph(page, g => allIn(g, ['succeeded']), 'every node succeeded', RUN_TIMEOUT, true));
  pass(`${graph.nodes.length} nodes succeeded, '${config.gpuStep}' (--gpu 1) included, without a GPU`);
  await snap(page, outDir, '08-gpu-succeeded');
}

/** The dialog whose body is a `form` (a JupyterLab dialog waits behind any other one). */
const dialog = (page, form) => page.locator('.jp-Dialog', { has: page.locator(`.${form}`) });
/** Accept the dialog and wait until it is gone. */
async function accept(page, form) {
  await dialog(page, form).locator('.jp-Dialog-button.jp-mod-accept').click();
  await dialog(page, form).waitFor({ state: 'detached' });
}
const toast = (page, text) => page.locator('.Toastify__toast', { hasText: text }).first().waitFor({ state: 'visible' });

/** Wait until the visible element at `selector` has a text for which `predicate` holds. */
async function waitText(page, selector, predicate, what, timeout = WAIT_MS) {
  const read = () => page.evaluate(sel => {
    const el = document.querySelector(sel);
    return el && !el.hidden ? el.textContent : null;
  }, selector);
  return waitValue(page, read, text => text !== null && predicate(text), `${what} ('${selector}')`, timeout);
}

/** Publish from the panel, then schedule it with a cron expression previewed live. */
async function scheduleScenario({ page, outDir }) {
  const { pipeline, cron, badCron, params } = config.schedule;
  const PUBLISH = 'mlpipe-publish-form';
  const SCHEDULE = 'mlpipe-schedule-form';
  await step('wait for the DAG', () => waitGraph(page, g => g.nodes.length === config.dag.steps.length, 'the DAG'));
  const name = dialog(page, PUBLISH).locator('.mlpipe-publish-name');
  const proposed = await step('open the publish dialog', async () => {
    await clickButton(page, 'mlpipe-publish');
    await name.waitFor({ state: 'visible' });
    return name.inputValue();
  });
  check(proposed === config.notebook.split('/').pop().replace('.ipynb', ''), `proposed name '${proposed}'`);
  const refusal = await step('type a bad pipeline name', async () => {
    await name.fill('not a name');
    return waitText(page, '.jp-Dialog .mlpipe-publish-message', t => t.includes('is not valid'), 'the name check');
  });
  await step(`publish as '${pipeline}'`, async () => {
    await name.fill(pipeline);
    await accept(page, PUBLISH);
    await toast(page, `Published ${pipeline} v1`);
  });
  pass(`publish dialog proposed '${proposed}', refused 'not a name' (${refusal.split(':')[0]}); "Published ${pipeline} v1"`);
  await snap(page, outDir, '09-published');

  const cronInput = dialog(page, SCHEDULE).locator('.mlpipe-schedule-cron');
  const chosen = await step('open the schedule dialog', async () => {
    await clickButton(page, 'mlpipe-schedule');
    await cronInput.waitFor({ state: 'visible' });
    return dialog(page, SCHEDULE).locator('.mlpipe-schedule-pipeline').inputValue();
  });
  check(chosen === pipeline, `the schedule dialog proposes pipeline '${chosen}', not '${pipeline}'`);
  // The preview is asked for once typing pauses; each wait is for the answer to the text typed.
  const error = await step(`type the bad cron '${badCron}'`, async () => {
    await cronInput.fill(badCron);
    return waitText(page, '.jp-Dialog .mlpipe-cron-preview.mlpipe-form-error', t => t.includes('cron'), 'the cron error');
  });
  const preview = await step(`type the cron '${cron.expr}'`, async () => {
    await cronInput.fill(cron.expr);
    return waitText(page, '.jp-Dialog .mlpipe-cron-preview.mlpipe-form-ok', t => t.includes('; next: '), 'the cron preview');
  });
  check(preview.startsWith(cron.description), `preview '${preview}' does not start with '${cron.description}'`);
  pass(`cron '${badCron}' -> "${error}"; '${cron.expr}' -> "${preview}"`);
  await dialog(page, SCHEDULE).locator('.mlpipe-schedule-params').fill(params);
  await snap(page, outDir, '10-schedule-dialog');
  const item = page.locator(`${SIDEBAR} .mlpipe-schedule[data-schedule="${pipeline}"]`);
  await step('add the schedule', async () => {
    await accept(page, SCHEDULE);
    await toast(page, `Scheduled ${pipeline}`);
    await item.waitFor({ state: 'visible' });
  });
  const listed = await item.locator('.mlpipe-schedule-cron').textContent();
  const when = await item.locator('.mlpipe-schedule-when').textContent();
  check(listed === cron.description && when.startsWith('next: '), `the list shows '${listed}', '${when}'`);
  await step('pause the schedule', async () => {
    await item.locator('.mlpipe-schedule-pause').click();
    await waitText(page, `${SIDEBAR} .mlpipe-schedule[data-schedule="${pipeline}"] .mlpipe-schedule-when`, t => t === 'paused', 'paused');
  });
  pass(`schedules list: ${pipeline}, "${listed}", "${when}"; Pause -> paused`);
  await snap(page, outDir, '11-schedules');
}

const SCENARIOS = {
  static: staticScenario, errors: errorScenario, run: runScenario, failure: failureScenario,
  gpu: gpuRunScenario, schedule: scheduleScenario
};

/** Report the step that failed, with a screenshot and what the page showed. */
async function reportFailure(name, lab, error) {
  const what = currentStep();
  console.log(`FAIL ${name} at step '${what}': ${error.message.split('\n')[0]}`);
  if (!lab) {
    return;
  }
  const path = join(config.outDir, `failure-${name}.png`);
  const saved = await lab.page.screenshot({ path, timeout: 15000 }).then(() => true, () => false);
  console.log(saved ? `failure screenshot ${path}` : 'failure screenshot: the page did not answer');
  console.log(`graph at failure: ${JSON.stringify(await readGraph(lab.page).catch(() => null))}`);
  console.log(`page at failure: ${JSON.stringify(await overlays(lab.page).catch(() => null))}`);
  if (lab.errors.length) {
    console.log(`page errors: ${lab.errors.join('; ')}`);
  }
}

async function main() {
  const name = process.argv[2];
  const scenario = SCENARIOS[name];
  check(scenario, `unknown scenario '${name}'; one of ${Object.keys(SCENARIOS)}`);
  let lab = null;
  // Fail with the step's name and a screenshot before the caller's own timeout kills us.
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`scenario deadline of ${config.deadlineS}s passed`)),
      (config.deadlineS ?? 240) * 1000);
  });
  const body = async () => {
    lab = await openLab({ ...config });
    await scenario(lab);
    await step('check for page errors', () => {});
    check(lab.errors.length === 0, `page errors: ${lab.errors.join('; ')}`);
  };
  try {
    await Promise.race([body(), deadline]);
  } catch (error) {
    await reportFailure(name, lab, error);
    process.exitCode = 1;
  } finally {
    clearTimeout(timer);
    // Shut down any kernel left over, so the lab does not see a websocket dropped halfway.
    await lab?.page.evaluate(() => window.jupyterapp?.serviceManager.sessions.shutdownAll())
      .catch(() => {});
    await lab?.context.close().catch(() => {});
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  error => {
    console.log(`FAIL ${process.argv[2]} at step '${currentStep()}': ${error.message.split('\n')[0]}`);
    process.exit(1);
  }
);
