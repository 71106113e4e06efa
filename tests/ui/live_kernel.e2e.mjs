// Issue 19 in real JupyterLab: after a pipeline run, a notebook's cells run in a real
// kernel restore from the pipeline's entry; a setup cell edited and re-run without saving
// is what the next %%step cell is keyed with (it re-runs, with the new value).
//
// MLPIPE_UI = {url, token, notebook, outDir, deadlineS}; prints PASS lines, exits non-zero
// naming the step that failed (a screenshot failure-live.png in outDir).
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const config = JSON.parse(process.env.MLPIPE_UI);
const started = Date.now();
let current = 'start';
const step = async (what, action) => {
  current = what;
  console.log(`step ${((Date.now() - started) / 1000).toFixed(1)}s ${what}`);
  return action();
};
const check = (condition, message) => {
  if (!condition) throw new Error(message);
};

mkdirSync(config.outDir, { recursive: true });
const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'mlpipe-chromium-')), {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  viewport: { width: 1400, height: 900 }
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(120000);
const deadline = setTimeout(() => {
  console.log(`FAIL live: over ${config.deadlineS}s at step: ${current}`);
  process.exit(3);
}, config.deadlineS * 1000);

/** Run cell `index` of the open notebook in its kernel; its stream text. */
const runCell = index =>
  page.evaluate(async index => {
    const app = window.jupyterapp;
    const panel = app.shell.currentWidget;
    panel.content.activeCellIndex = index;
    await app.commands.execute('notebook:run-cell');
    const cell = panel.content.widgets[index];
    for (let i = 0; i < 600 && cell.model.executionCount === null; i++) {
      await new Promise(r => setTimeout(r, 100));
    }
    return cell.model.outputs
      .toJSON()
      .filter(o => o.output_type === 'stream')
      .map(o => (Array.isArray(o.text) ? o.text.join('') : o.text))
      .join('');
  }, index);

try {
  await step('load JupyterLab', async () => {
    await page.goto(`${config.url}lab?reset&token=${config.token}`);
    await page.waitForFunction(() => window.jupyterapp, null, { timeout: 120000 });
    await page.evaluate(() => window.jupyterapp.restored);
  });
  await step(`open ${config.notebook} with a kernel`, async () => {
    await page.evaluate(async path => {
      const panel = await window.jupyterapp.commands.execute('docmanager:open', { path, factory: 'Notebook' });
      await panel.context.ready;
      await panel.sessionContext.ready;
      for (let i = 0; i < 1200 && panel.sessionContext.session?.kernel?.status !== 'idle'; i++) {
        await new Promise(r => setTimeout(r, 100));
      }
    }, config.notebook);
  });
  const outputs = [];
  await step('run the cells top to bottom', async () => {
    for (const index of [0, 1, 2]) outputs.push(await runCell(index));
  });
  check(/restored from cache: code, setup, modules unchanged \(run of /.test(outputs[2]) && outputs[2].endsWith('20\n'),
    `the step after the pipeline run: ${JSON.stringify(outputs[2])}`);
  console.log('PASS live: after mlpipe run, the step cell restores the pipeline entry (20)');
  await step('edit the setup cell (not saved) and run it and the step', async () => {
    await page.evaluate(() => {
      const panel = window.jupyterapp.shell.currentWidget;
      panel.content.widgets[1].model.sharedModel.setSource('SCALE = 3');
    });
    await runCell(1);
    outputs.push(await runCell(2));
  });
  const dirty = await page.evaluate(() => window.jupyterapp.shell.currentWidget.context.model.dirty);
  check(dirty, 'the notebook should be unsaved');
  check(outputs[3] === "mlpipe: step 'scaled' not restored: setup changed\n30\n",
    `the step after the unsaved setup edit: ${JSON.stringify(outputs[3])}`);
  console.log('PASS live: an edited, unsaved setup cell re-runs the step with the new value (30)');
  await page.screenshot({ path: join(config.outDir, 'live-kernel.png') });
  clearTimeout(deadline);
  await context.close();
  process.exit(0);
} catch (error) {
  console.log(`FAIL live at step: ${current}: ${String(error).split('\n')[0]}`);
  await page.screenshot({ path: join(config.outDir, 'failure-live.png') }).catch(() => {});
  process.exit(1);
}
