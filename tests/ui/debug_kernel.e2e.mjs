// Issue 24 in real JupyterLab: a failed node's "Debug in kernel" runs `%pipeline debug STEP`
// below the step's cell in the notebook's own kernel: the step's inputs as the failed run
// gave them are in the namespace, and the step's code is put in a new cell below.
//
// MLPIPE_UI = {url, token, notebook, step, outDir, deadlineS}; prints PASS lines, exits
// non-zero naming the step that failed (a screenshot failure-debug.png in outDir).
import { join } from 'node:path';
import { SIDEBAR, check, clickButton, currentStep, openLab, step, waitGraph, waitValue } from './lab.mjs';

const config = JSON.parse(process.env.MLPIPE_UI);
const deadline = setTimeout(() => {
  console.log(`FAIL debug: over ${config.deadlineS}s at step: ${currentStep()}`);
  process.exit(3);
}, config.deadlineS * 1000);

const { context, page } = await openLab({ ...config, width: 1700, height: 1000, sidebarWidth: 860 });

/** The open notebook's cells: source, execution count and stream text. */
const cells = () =>
  page.evaluate(() =>
    window.jupyterapp.shell.currentWidget.content.widgets.map(cell => ({
      source: cell.model.sharedModel.getSource(),
      count: cell.model.type === 'code' ? cell.model.executionCount : null,
      text: cell.model.type === 'code'
        ? cell.model.outputs.toJSON().map(o => (Array.isArray(o.text) ? o.text.join('') : o.text ?? '')).join('')
        : ''
    })));

try {
  await step('start the notebook kernel', () =>
    page.evaluate(async () => {
      const panel = window.jupyterapp.shell.currentWidget;
      await panel.sessionContext.changeKernel({ name: 'python3' });
      for (let i = 0; i < 1200 && panel.sessionContext.session?.kernel?.status !== 'idle'; i++) {
        await new Promise(r => setTimeout(r, 100));
      }
    }));
  await step(`wait for '${config.step}' to show failed`, () =>
    waitGraph(page, g => g.nodes.some(n => n.name === config.step && n.state === 'failed'),
      `step '${config.step}' failed in the sidebar`));
  await step(`select '${config.step}'`, () => page.locator(`${SIDEBAR} .mlpipe-node[data-step="${config.step}"]`).click());
  await step('click Debug in kernel', () => clickButton(page, 'mlpipe-debug'));
  const after = await step('wait for the debug cell to run', () =>
    waitValue(page, cells, list => list.some(c => c.source === `%pipeline debug ${config.step}` && c.count !== null),
      'the %pipeline debug cell to run', 120000));
  const at = after.findIndex(c => c.source === `%pipeline debug ${config.step}`);
  check(after[at - 1].source.startsWith(`%%step ${config.step}`),
    `the debug cell should be right below the step's cell, got ${JSON.stringify(after[at - 1].source)}`);
  console.log(`debug cell output: ${JSON.stringify(after[at].text.slice(0, 600))}`);
  const inserted = await step("wait for the step's code in a new cell", () =>
    waitValue(page, cells, list => list.filter(c => c.source.includes(config.marker)).length >= 2,
      "the step's code put in a cell of its own"));
  console.log(`PASS debug: '%pipeline debug ${config.step}' ran below its cell and put its code in a new cell`);
  await step('read the inputs from the kernel', () =>
    page.evaluate(async code => {
      const panel = window.jupyterapp.shell.currentWidget;
      const future = panel.sessionContext.session.kernel.requestExecute({ code, store_history: false });
      let text = '';
      future.onIOPub = msg => { if (msg.header.msg_type === 'stream') text += msg.content.text; };
      await future.done;
      window.__mlpipeProbe = text;
    }, config.probe));
  const probe = await page.evaluate(() => window.__mlpipeProbe);
  check(probe === config.expect, `the kernel's inputs: ${JSON.stringify(probe)}, expected ${JSON.stringify(config.expect)}`);
  console.log(`PASS debug: the kernel holds the failed run's inputs (${probe.trim()})`);
  await page.screenshot({ path: join(config.outDir, 'debug-kernel.png') });
  clearTimeout(deadline);
  await context.close();
  process.exit(0);
} catch (error) {
  console.log(`FAIL debug at step: ${currentStep()}: ${String(error).split('\n')[0]}`);
  await page.screenshot({ path: join(config.outDir, 'failure-debug.png') }).catch(() => {});
  process.exit(1);
}
