// Issue 22 in a real JupyterLab: the DAG fits its panel, failures are said in view.
// Usage: MLPIPE_UI='{"url","token","outDir","deadlineS",...}' node sidebar_fit.e2e.mjs SCENARIO
// Prints "step"/"PASS" lines; on failure "FAIL <scenario> at step '<what>': <why>" and exits 1.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { check, clickButton, currentStep, openLab, overlays, readGraph, SIDEBAR, snap, step, waitGraph, waitValue, widenSidebar } from './lab.mjs';

const config = JSON.parse(process.env.MLPIPE_UI);
const pass = what => console.log(`PASS ${what}`);
const RUN_TIMEOUT = 150000;

/** Rendered size (px) of each node's name and smallest text, and whether it lies inside the panel's width. */
async function nodeText(page) {
  return page.evaluate(sel => {
    const svg = document.querySelector(`${sel} .mlpipe-graph-svg`);
    const panel = svg.getBoundingClientRect();
    return [...svg.querySelectorAll('.mlpipe-node')].map(g => {
      const sizes = [...g.querySelectorAll('text')].filter(t => !t.closest('.mlpipe-gpu-badge, .mlpipe-random-badge'))
        .map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
      const box = g.getBoundingClientRect();
      return { name: g.dataset.step, minPx: Math.min(...sizes), inWidth: box.left >= panel.left - 1 && box.right <= panel.right + 1 };
    });
  }, SIDEBAR);
}

async function mode(page) {
  return page.evaluate(sel => {
    const graph = document.querySelector(`${sel} .mlpipe-graph`);
    return { mode: graph?.dataset.mode, direction: graph?.dataset.direction, width: graph?.getBoundingClientRect().width };
  }, SIDEBAR);
}

async function listRows(page) {
  return page.locator(`${SIDEBAR} .mlpipe-step-row`).evaluateAll(rows =>
    rows.filter(r => r.offsetParent !== null).map(r => ({ name: r.dataset.step, state: r.dataset.state, text: r.textContent })));
}

async function statusText(page) {
  return page.locator(`${SIDEBAR} .mlpipe-status-line`).evaluate(el => (el.classList.contains('lm-mod-hidden') ? '' : el.textContent));
}

/** breast_cancer at 1400x900 and the default sidebar width: every node readable; screenshots light and dark. */
async function fitScenario(lab) {
  const { page, outDir } = lab;
  const names = config.dag.steps.map(s => s.name);
  await step('wait for the DAG', () => waitGraph(page, g => g.nodes.length === names.length, `${names.length} nodes`));
  const shown = await mode(page);
  check(shown.mode === 'graph' && shown.direction === 'TB', `at the default width (${shown.width}px) the panel shows ${JSON.stringify(shown)}`);
  const texts = await nodeText(page);
  for (const t of texts) {
    check(t.minPx >= 11, `node '${t.name}' text renders at ${t.minPx.toFixed(1)}px (< 11px)`);
    check(t.inWidth, `node '${t.name}' sticks out of the ${shown.width}px panel`);
  }
  pass(`default sidebar (${Math.round(shown.width)}px): ${texts.length} nodes top to bottom, smallest text ${Math.min(...texts.map(t => t.minPx)).toFixed(1)}px`);
  await snap(page, outDir, 'sidebar-light');
  await step('switch to the dark theme', async () => {
    await page.evaluate(() => window.jupyterapp.commands.execute('apputils:change-theme', { theme: 'JupyterLab Dark' }));
    await page.waitForFunction(() => document.body.dataset.jpThemeLight === 'false');
    await page.waitForTimeout(500);  // the theme's CSS variables apply on the next frames
  });
  await snap(page, outDir, 'sidebar-dark');
  await page.evaluate(() => window.jupyterapp.commands.execute('apputils:change-theme', { theme: 'JupyterLab Light' }));
  await page.waitForFunction(() => document.body.dataset.jpThemeLight === 'true');
}

/** fanout: a list at 250 px, branches in notebook order in the graph of a wide sidebar. */
async function listScenario(lab) {
  const { page, outDir } = lab;
  const names = config.dag.steps.map(s => s.name);
  await step('narrow the sidebar to 250px', () => widenSidebar(page, 250));
  const rows = await step('wait for the step list', () =>
    waitValue(page, () => listRows(page), r => r.length === names.length, `${names.length} rows in the step list`));
  check(JSON.stringify(rows.map(r => r.name)) === JSON.stringify(names), `list order ${rows.map(r => r.name)} != ${names}`);
  pass(`at 250px the step list shows ${rows.length} steps in notebook order`);
  await snap(page, outDir, 'sidebar-list');
  await step('widen the sidebar to 860px', () => widenSidebar(page, 860));
  await step('wait for the graph', () => waitValue(page, () => mode(page), m => m.mode === 'graph', 'the graph'));
  const order = await page.evaluate(([sel, branches]) => {
    const m = document.querySelector(`${sel} .mlpipe-graph`).dataset.direction;
    const pos = n => document.querySelector(`${sel} .mlpipe-node[data-step="${n}"]`).getBoundingClientRect();
    return { direction: m, along: branches.map(n => (m === 'LR' ? pos(n).top : pos(n).left)) };
  }, [SIDEBAR, config.branches]);
  const sorted = [...order.along].sort((a, b) => a - b);
  check(JSON.stringify(sorted) === JSON.stringify(order.along), `branches ${config.branches} drawn at ${order.along} (${order.direction})`);
  pass(`at 860px (${order.direction}) the branches ${config.branches.join(', ')} are in notebook order`);
}

/** A failed step's error is in the status line and on its node without hovering; after a reload it is still failed. */
async function failedScenario(lab) {
  const { page, outDir } = lab;
  const { step: broken, error } = config.broken;
  await step('wait for the DAG', () => waitGraph(page, g => g.nodes.length === config.dag.steps.length, 'the DAG'));
  await step('click Run', () => clickButton(page, 'mlpipe-run'));
  const line = await step('wait for the failure in the status line', () => waitValue(page, () => statusText(page),
    t => t.startsWith('failed:'), 'a failed status line', RUN_TIMEOUT));
  check(line.includes(`${broken}: ${error}`) && line.includes('Open traceback'), `status line says '${line}'`);
  pass(`status line: '${line}'`);
  const reason = await page.locator(`${SIDEBAR} .mlpipe-node[data-step="${broken}"] .mlpipe-node-reason`).textContent();
  check(reason.includes(error), `node '${broken}' says '${reason}', not '${error}'`);
  pass(`node '${broken}' shows '${reason}' without hovering`);
  await snap(page, outDir, 'sidebar-failed');
  await step('close the browser (a reload)', () => lab.context.close());
  const again = await openLab({ ...config });
  lab.context = again.context;
  lab.page = again.page;
  const graph = await step('wait for the failed run after the reload', () => waitGraph(again.page,
    g => g.nodes.find(n => n.name === broken)?.state === 'failed', `node '${broken}' failed after the reload`));
  const states = Object.fromEntries(graph.nodes.map(n => [n.name, n.state]));
  check(!Object.values(states).includes('stale'), `after the reload: ${JSON.stringify(states)}`);
  const after = await statusText(again.page);
  check(after.includes(`${broken}: ${error}`), `after the reload the status line says '${after}'`);
  pass(`after a reload '${broken}' is still failed and the status line still says why: ${JSON.stringify(states)}`);
  // A run from the CLI shows in the history, and becomes the shown run, without a reload.
  const cli = await step('run the notebook from the CLI', () => new Promise((resolve, reject) => {
    execFile(config.python, ['-m', 'mlpipe_jupyter', 'run', config.notebookPath, '--json'],
      { cwd: config.notebookDir, timeout: RUN_TIMEOUT, maxBuffer: 1 << 24 },
      (error, stdout) => {
        try {
          resolve(JSON.parse(stdout).run_id);
        } catch {
          reject(new Error(`mlpipe run printed no run record: ${error ?? stdout.slice(0, 300)}`));
        }
      });
  }));
  const current = again.page.locator(`${SIDEBAR} .mlpipe-history-item.mlpipe-current`);
  await step(`wait for CLI run ${cli} in the history`, () => waitValue(again.page,
    () => current.evaluate(el => el.dataset.runId).catch(() => null), id => id === cli, `run ${cli} shown as the current run`));
  pass(`the CLI's run ${cli} is in the history and shown, without a reload`);
}

/** A step no worker can take: warned before Run, the run's placement error in the status line after. */
async function placementScenario(lab) {
  const { page, outDir } = lab;
  const { step: gpuStep } = config;
  await step('wait for the DAG', () => waitGraph(page, g => g.nodes.length === config.dag.steps.length, 'the DAG'));
  const before = await step('wait for the warning', () =>
    waitValue(page, () => statusText(page), t => t.includes(`step '${gpuStep}' needs GPU=2`), 'the placement warning'));
  pass(`before Run the status line warns: '${before}'`);
  await step('click Run', () => clickButton(page, 'mlpipe-run'));
  const line = await step('wait for the failed run', () => waitValue(page, () => statusText(page),
    t => t.startsWith('failed:'), 'a failed status line', RUN_TIMEOUT));
  check(/GPU/.test(line) && line.includes(gpuStep), `status line after the run: '${line}'`);
  pass(`after Run the status line says: '${line}'`);
  await snap(page, outDir, 'sidebar-placement');
}

const SCENARIOS = { fit: fitScenario, list: listScenario, failed: failedScenario, placement: placementScenario };

async function main() {
  const name = process.argv[2];
  const scenario = SCENARIOS[name];
  check(scenario, `unknown scenario '${name}'`);
  let lab = null;
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`scenario deadline of ${config.deadlineS}s passed`)), (config.deadlineS ?? 240) * 1000);
  });
  try {
    await Promise.race([(async () => {
      lab = await openLab({ ...config });
      await scenario(lab);
      check(lab.errors.length === 0, `page errors: ${lab.errors.join('; ')}`);
    })(), deadline]);
  } catch (error) {
    console.log(`FAIL ${name} at step '${currentStep()}': ${error.message.split('\n')[0]}`);
    if (lab?.page) {
      await lab.page.screenshot({ path: join(config.outDir, `failure-${name}.png`), timeout: 15000 }).catch(() => {});
      console.log(`graph at failure: ${JSON.stringify(await readGraph(lab.page).catch(() => null))}`);
      console.log(`page at failure: ${JSON.stringify(await overlays(lab.page).catch(() => null))}`);
    }
    process.exitCode = 1;
  } finally {
    clearTimeout(timer);
    await lab?.page?.evaluate(() => window.jupyterapp?.serviceManager.sessions.shutdownAll()).catch(() => {});
    await lab?.context?.close().catch(() => {});
  }
}

main().then(() => process.exit(process.exitCode ?? 0), error => {
  console.log(`FAIL ${process.argv[2]}: ${error.message.split('\n')[0]}`);
  process.exit(1);
});
