// End-to-end scenarios of the pipeline sidebar in a real JupyterLab.
// Usage: MLPIPE_UI='{"url","token","outDir",...}' node sidebar.e2e.mjs SCENARIO
// Prints "PASS <check>" lines; exits 1 with "FAIL <scenario>: <why>" on failure.
import { join } from 'node:path';
import {
  appendToActiveCell, check, clickButton, clickNode, openLab,
  readGraph, SIDEBAR, snap, waitGraph
} from './lab.mjs';

const config = JSON.parse(process.env.MLPIPE_UI);
const pass = what => console.log(`PASS ${what}`);
const allIn = (graph, states) => graph.nodes.length > 0 && graph.nodes.every(n => states.includes(n.state));
const RUN_TIMEOUT = 150000;

function sameEdges(graph, expected) {
  const key = e => `${e.from}->${e.to}`;
  const seen = new Set(graph.edges.map(key));
  return seen.size === expected.length && expected.every(e => seen.has(key(e)));
}

/** The panel draws the DAG of `mlpipe dag --format json`; an edit adds a dependency live. */
async function staticScenario({ page, outDir }) {
  const dag = config.dag;
  const graph = await waitGraph(page, g => g.nodes.length === dag.steps.length && sameEdges(g, dag.edges),
    `${dag.steps.length} nodes and ${dag.edges.length} edges`);
  check(JSON.stringify(graph.nodes.map(n => n.name)) === JSON.stringify(dag.steps.map(s => s.name)),
    `node names ${graph.nodes.map(n => n.name)} != ${dag.steps.map(s => s.name)}`);
  for (const edge of dag.edges) {
    const drawn = graph.edges.find(e => e.from === edge.from && e.to === edge.to);
    check(drawn.title.endsWith(edge.vars.join(', ')), `edge ${edge.from}->${edge.to} says '${drawn.title}', not ${edge.vars}`);
  }
  pass(`${graph.nodes.length} nodes and ${graph.edges.length} edges, as mlpipe dag says`);
  await snap(page, outDir, '01-dag');

  const { from, to, var: name, cell } = config.edit;
  await clickNode(page, to);
  await page.waitForFunction(
    want => document.querySelector('.jp-NotebookPanel .jp-Cell.jp-mod-active .cm-content')?.textContent.startsWith(want),
    `%%step ${to}`);
  pass(`clicking node '${to}' selects its cell ${cell + 1}`);
  await appendToActiveCell(page, `print(type(${name}))`);
  const after = await waitGraph(page, g => g.edges.some(e => e.from === from && e.to === to),
    `the new edge ${from} -> ${to} (${name})`, 10000);
  const edge = after.edges.find(e => e.from === from && e.to === to);
  check(edge.title.includes(name), `new edge '${edge.title}' lacks '${name}'`);
  pass(`editing '${to}' to read '${name}' adds the edge ${from} -> ${to} live`);
  await snap(page, outDir, '02-new-edge');

  const settings = await page.evaluate(async ({ url, token }) => {
    const answer = await fetch(`${url}lab/api/settings/mlpipe-jupyter:plugin?token=${token}`);
    return answer.json();
  }, config);
  check(settings.schema?.properties?.pollInterval?.default === 1000, `settings schema not served: ${JSON.stringify(settings).slice(0, 200)}`);
  await page.keyboard.press('Control+Shift+C');
  await page.keyboard.insertText('pipeline');
  const items = await page.locator('.lm-CommandPalette-item:visible .lm-CommandPalette-itemLabel').allTextContents();
  check(['Run pipeline', 'Show pipeline'].every(label => items.includes(label)), `palette shows ${items}`);
  await page.keyboard.press('Escape');
  pass('settings schema served; "Run pipeline" and "Show pipeline" in the command palette');
}

/** An analysis error is one readable line; clicking it selects the cell. */
async function errorScenario({ page, outDir }) {
  const line = page.locator(`${SIDEBAR} .mlpipe-error`).first();
  await line.waitFor({ state: 'visible' });
  const text = await line.textContent();
  check(text.includes(config.error.message.slice(0, 20)), `error line '${text}' is not '${config.error.message}'`);
  pass(`error shown as one line: ${text}`);
  await line.click();
  await page.waitForFunction(want => {
    const cell = document.querySelector('.jp-NotebookPanel .jp-Cell.jp-mod-active .cm-content');
    return cell && cell.textContent.startsWith(want);
  }, config.error.cellStart);
  pass(`clicking the error selects cell ${config.error.cell + 1}`);
  await snap(page, outDir, '03-error');
}

/** Run from the panel: every node succeeds; run again: every node is cached. */
async function runScenario({ page, outDir }) {
  await waitGraph(page, g => g.nodes.length === config.dag.steps.length, 'the DAG');
  await clickButton(page, 'mlpipe-run');
  const seen = new Set();
  await waitGraph(page, g => {
    g.nodes.forEach(n => seen.add(n.state));
    return allIn(g, ['succeeded']);
  }, 'every node succeeded', RUN_TIMEOUT, true);
  pass(`first run: every node succeeded (states seen: ${[...seen].sort().join(', ')})`);
  await snap(page, outDir, '04-succeeded');
  await clickButton(page, 'mlpipe-run');
  await waitGraph(page, g => allIn(g, ['cached']), 'every node cached', RUN_TIMEOUT, true);
  pass('second run: every node cached');
  await snap(page, outDir, '05-cached');
  const runs = await page.locator(`${SIDEBAR} .mlpipe-history-item`).count();
  check(runs >= 2, `run history lists ${runs} runs, expected 2`);
  pass(`run history lists ${runs} runs`);
}

/** A broken step fails, its consumers are skipped, clicking it opens its executed notebook. */
async function failureScenario({ page, outDir }) {
  const { step } = config.broken;
  await waitGraph(page, g => g.nodes.length === config.dag.steps.length, 'the DAG');
  await clickNode(page, step);
  await appendToActiveCell(page, 'raise RuntimeError("broken on purpose")');
  await page.waitForTimeout(600);
  await clickButton(page, 'mlpipe-run');
  const graph = await waitGraph(page, g => {
    const node = g.nodes.find(n => n.name === step);
    return node && node.state === 'failed' && g.nodes.every(n => !['pending', 'queued', 'running'].includes(n.state));
  }, `node '${step}' failed and the run over`, RUN_TIMEOUT, true);
  const states = Object.fromEntries(graph.nodes.map(n => [n.name, n.state]));
  for (const later of config.broken.downstream) {
    check(states[later] === 'skipped', `downstream '${later}' is ${states[later]}, expected skipped`);
  }
  pass(`'${step}' failed, downstream skipped: ${JSON.stringify(states)}`);
  await snap(page, outDir, '06-failed');
  await clickNode(page, step);
  const tab = page.locator(`.lm-DockPanel-tabBar .lm-TabBar-tab:has-text("${step}.ipynb")`);
  await tab.waitFor({ state: 'visible', timeout: 30000 });
  await page.waitForFunction(() => document.querySelectorAll('.jp-NotebookPanel').length >= 2);
  const title = await page.locator(`${SIDEBAR} .mlpipe-header`).textContent();
  check(title.endsWith(config.notebook.split('/').pop()), `the sidebar left the pipeline for '${title}'`);
  pass(`clicking the failed node opens ${step}.ipynb; the sidebar keeps the pipeline`);
  await snap(page, outDir, '07-step-notebook');
}

/** A notebook with a `--gpu 1` step runs from the panel on a server with gpu_workers = 1. */
async function gpuRunScenario({ page, outDir }) {
  await waitGraph(page, g => g.nodes.length === config.dag.steps.length, 'the DAG');
  const badge = page.locator(`${SIDEBAR} .mlpipe-node[data-step="${config.gpuStep}"] .mlpipe-gpu-badge`);
  check(await badge.count() === 1, `node '${config.gpuStep}' has no GPU badge`);
  await clickButton(page, 'mlpipe-run');
  const graph = await waitGraph(page, g => allIn(g, ['succeeded']), 'every node succeeded', RUN_TIMEOUT, true);
  pass(`${graph.nodes.length} nodes succeeded, '${config.gpuStep}' (--gpu 1) included, without a GPU`);
  await snap(page, outDir, '08-gpu-succeeded');
}

/** The dialog on screen, its accept button, and a toast with `text`. */
const dialog = page => page.locator('.jp-Dialog');
const accept = page => dialog(page).locator('.jp-Dialog-button.jp-mod-accept').click();
const toast = (page, text) => page.locator('.Toastify__toast', { hasText: text }).first().waitFor({ state: 'visible' });

/** Wait until the visible element at `selector` has a text for which `predicate` holds. */
async function waitText(page, selector, predicate, what, timeout = 15000) {
  const end = Date.now() + timeout;
  let text = null;
  while (Date.now() < end) {
    text = await page.evaluate(sel => {
      const el = document.querySelector(sel);
      return el && !el.hidden ? el.textContent : null;
    }, selector);
    if (text !== null && predicate(text)) {
      return text;
    }
    await page.waitForTimeout(150);
  }
  throw new Error(`timed out waiting for ${what}; '${selector}' says ${JSON.stringify(text)}`);
}

/** Publish from the panel, then schedule it with a cron expression previewed live. */
async function scheduleScenario({ page, outDir }) {
  const { pipeline, cron, badCron, params } = config.schedule;
  await waitGraph(page, g => g.nodes.length === config.dag.steps.length, 'the DAG');
  await clickButton(page, 'mlpipe-publish');
  const name = dialog(page).locator('.mlpipe-publish-name');
  await name.waitFor({ state: 'visible' });
  const proposed = await name.inputValue();
  check(proposed === config.notebook.split('/').pop().replace('.ipynb', ''), `proposed name '${proposed}'`);
  await name.fill('not a name');
  const refusal = await waitText(page, '.jp-Dialog .mlpipe-publish-message', t => t.includes('is not valid'), 'the name check');
  await name.fill(pipeline);
  await accept(page);
  await toast(page, `Published ${pipeline} v1`);
  pass(`publish dialog proposed '${proposed}', refused 'not a name' (${refusal.split(':')[0]}); "Published ${pipeline} v1"`);
  await snap(page, outDir, '09-published');

  await clickButton(page, 'mlpipe-schedule');
  const cronInput = dialog(page).locator('.mlpipe-schedule-cron');
  await cronInput.waitFor({ state: 'visible' });
  const chosen = await dialog(page).locator('.mlpipe-schedule-pipeline').inputValue();
  check(chosen === pipeline, `the schedule dialog proposes pipeline '${chosen}', not '${pipeline}'`);
  await cronInput.fill(badCron);
  const error = await waitText(page, '.jp-Dialog .mlpipe-cron-preview.mlpipe-form-error', t => t.includes('cron'), 'the cron error');
  await cronInput.fill(cron.expr);
  const preview = await waitText(page, '.jp-Dialog .mlpipe-cron-preview.mlpipe-form-ok',
    t => t.includes('; next: '), 'the cron preview');
  check(preview.startsWith(cron.description), `preview '${preview}' does not start with '${cron.description}'`);
  pass(`cron '${badCron}' -> "${error}"; '${cron.expr}' -> "${preview}"`);
  await dialog(page).locator('.mlpipe-schedule-params').fill(params);
  await snap(page, outDir, '10-schedule-dialog');
  await accept(page);
  await toast(page, `Scheduled ${pipeline}`);
  const item = page.locator(`${SIDEBAR} .mlpipe-schedule[data-schedule="${pipeline}"]`);
  await item.waitFor({ state: 'visible' });
  const listed = await item.locator('.mlpipe-schedule-cron').textContent();
  const when = await item.locator('.mlpipe-schedule-when').textContent();
  check(listed === cron.description && when.startsWith('next: '), `the list shows '${listed}', '${when}'`);
  await item.locator('.mlpipe-schedule-pause').click();
  await waitText(page, `${SIDEBAR} .mlpipe-schedule[data-schedule="${pipeline}"] .mlpipe-schedule-when`, t => t === 'paused', 'paused');
  pass(`schedules list: ${pipeline}, "${listed}", "${when}"; Pause -> paused`);
  await snap(page, outDir, '11-schedules');
}

const SCENARIOS = {
  static: staticScenario, errors: errorScenario, run: runScenario, failure: failureScenario,
  gpu: gpuRunScenario, schedule: scheduleScenario
};

async function main() {
  const name = process.argv[2];
  const scenario = SCENARIOS[name];
  check(scenario, `unknown scenario '${name}'; one of ${Object.keys(SCENARIOS)}`);
  const outDir = config.outDir;
  const lab = await openLab({ ...config, outDir });
  try {
    await scenario(lab);
    check(lab.errors.length === 0, `page errors: ${lab.errors.join('; ')}`);
  } catch (error) {
    await lab.page.screenshot({ path: join(outDir, `failure-${name}.png`) }).catch(() => {});
    console.log(`graph at failure: ${JSON.stringify(await readGraph(lab.page).catch(() => null))}`);
    throw error;
  } finally {
    await lab.context.close();
  }
}

main().then(
  () => process.exit(0),
  error => {
    console.log(`FAIL ${process.argv[2]}: ${error.message.split('\n')[0]}`);
    process.exit(1);
  }
);
