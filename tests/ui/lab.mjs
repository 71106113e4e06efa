// Drive a running JupyterLab with Debian's chromium through playwright-core
// (no browser download). Helpers shared by the sidebar scenarios.
//
// Every wait is on a condition, with limits generous enough for a loaded 2-core CI
// machine (the lab, Dask workers and chromium share it): no fixed sleeps.
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const SIDEBAR = '#mlpipe-sidebar';
/** The limit of a wait for something the page shows in answer to a click or a request. */
export const WAIT_MS = 60000;
const FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
];

export function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

const started = Date.now();
let current = 'start';

/** Name the scenario step that runs now (a failure names it); logs the elapsed time. */
export async function step(what, action) {
  current = what;
  console.log(`step ${((Date.now() - started) / 1000).toFixed(1)}s ${what}`);
  return action();
}

export function currentStep() {
  return current;
}

/**
 * A fresh browser profile, a page on the lab with `notebook` open (without a kernel:
 * nothing here executes cells, and a kernel starting on a loaded machine only competes
 * for the CPU) and the sidebar shown `sidebarWidth` px wide.
 */
export async function openLab({ url, token, notebook, outDir, width = 1700, height = 1000, sidebarWidth = 860 }) {
  mkdirSync(outDir, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'mlpipe-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport: { width, height }
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(WAIT_MS);
  page.setDefaultNavigationTimeout(120000);
  const errors = [];
  page.on('pageerror', error => errors.push(String(error.stack ?? error).split('\n').slice(0, 4).join(' <- ')));
  const lab = { context, page, errors, outDir };
  await step('load JupyterLab', async () => {
    await page.goto(`${url}lab?reset&token=${token}`);
    // window.jupyterapp: the lab runs with --LabApp.expose_app_in_browser=True.
    await page.waitForFunction(() => window.jupyterapp, null, { timeout: 120000 });
    await page.evaluate(() => window.jupyterapp.restored);
  });
  await step(`open ${notebook} with no kernel`, async () => {
    await page.evaluate(async path => {
      const app = window.jupyterapp;
      const panel = await app.commands.execute('docmanager:open', {
        path,
        factory: 'Notebook',
        kernelPreference: { shouldStart: false, canStart: false, autoStartDefault: false }
      });
      await panel.context.ready;
    }, notebook);
    await page.waitForSelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell');
  });
  await step('show the sidebar', async () => {
    await page.evaluate(() => window.jupyterapp.commands.execute('mlpipe:show'));
    await page.waitForSelector(`${SIDEBAR} .mlpipe-toolbar`, { state: 'visible' });
    const header = `Pipeline: ${notebook.split('/').pop()}`;
    await page.waitForFunction(
      ([sel, want]) => document.querySelector(`${sel} .mlpipe-header`)?.textContent === want,
      [SIDEBAR, header]
    );
    if (sidebarWidth) {  // 0: JupyterLab's default width
      await widenSidebar(page, sidebarWidth);
    }
  });
  return lab;
}

/** Drag the split handle left of the right sidebar until the panel is about `px` wide. */
export async function widenSidebar(page, px) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const panel = await page.locator(SIDEBAR).boundingBox();
    if (panel && Math.abs(panel.width - px) <= 8) {
      return;
    }
    const handles = page.locator('#jp-main-split-panel > .lm-SplitPanel-handle');
    const count = await handles.count();
    for (let i = count - 1; i >= 0; i--) {
      const box = await handles.nth(i).boundingBox();
      if (box && box.width > 0 && Math.abs(box.x + box.width - panel.x) < 6) {
        await page.mouse.move(box.x + box.width / 2, box.y + 200);
        await page.mouse.down();
        await page.mouse.move(panel.x + panel.width - px, box.y + 200, { steps: 5 });
        await page.mouse.up();
        break;
      }
    }
    // Lumino lays the split panel out on the next animation frame.
    await page.evaluate(() => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  }
  const panel = await page.locator(SIDEBAR).boundingBox();
  throw new Error(`the sidebar is ${panel?.width} px wide after dragging its handle, not ${px}`);
}

/** The graph as the sidebar draws it: nodes with their state, edges with their label. */
export async function readGraph(page) {
  return page.evaluate(sel => {
    const root = document.querySelector(sel);
    if (!root) {
      return { nodes: [], edges: [] };
    }
    // A panel too narrow for a readable graph shows the step list instead: its rows are the nodes.
    const list = root.querySelector('.mlpipe-graph')?.dataset.mode === 'list';
    const nodes = list
      ? [...root.querySelectorAll('.mlpipe-step-row')].map(row => ({
          name: row.dataset.step,
          state: row.dataset.state,
          text: row.querySelector('.mlpipe-step-row-state')?.textContent ?? ''
        }))
      : [...root.querySelectorAll('.mlpipe-node')].map(g => ({
          name: g.dataset.step,
          state: g.dataset.state,
          text: g.querySelector('.mlpipe-node-state')?.textContent ?? ''
        }));
    const edges = [...root.querySelectorAll('.mlpipe-edge')].map(g => ({
      from: g.dataset.from,
      to: g.dataset.to,
      label: g.querySelector('.mlpipe-edge-label')?.textContent ?? '',
      title: g.querySelector('title')?.textContent ?? ''
    }));
    return { nodes, edges };
  }, SIDEBAR);
}

/** Wait until `predicate(graph)` holds; the last graph seen is in the error. */
export async function waitGraph(page, predicate, what, timeout = WAIT_MS, failOnError = false) {
  const end = Date.now() + timeout;
  let graph = null;
  while (Date.now() < end) {
    graph = await readGraph(page);
    if (predicate(graph)) {
      return graph;
    }
    const errors = failOnError ? await page.locator(`${SIDEBAR} .mlpipe-error`).allTextContents() : [];
    if (errors.length) {
      throw new Error(`the sidebar shows an error while waiting for ${what}: ${errors.join(' | ')}`);
    }
    await page.waitForTimeout(250);
  }
  const messages = await page.locator(`${SIDEBAR} .mlpipe-message`).allTextContents();
  throw new Error(`timed out after ${timeout / 1000}s waiting for ${what}; graph: ${JSON.stringify(graph)}; messages: ${JSON.stringify(messages)}`);
}

/** Wait until `read()` (run in this process) gives a value for which `predicate` holds. */
export async function waitValue(page, read, predicate, what, timeout = WAIT_MS) {
  const end = Date.now() + timeout;
  let value = null;
  while (Date.now() < end) {
    value = await read();
    if (predicate(value)) {
      return value;
    }
    await page.waitForTimeout(150);
  }
  throw new Error(`timed out after ${timeout / 1000}s waiting for ${what}; last seen: ${JSON.stringify(value)}`);
}

/** Click the node of step `name` and wait until its cell is the notebook's active cell. */
export async function selectStep(page, name) {
  await page.locator(`${SIDEBAR} .mlpipe-node[data-step="${name}"]`).click();
  await waitActiveCell(page, line => line.split(/\s+/)[0] === '%%step' && line.split(/\s+/)[1] === name,
    `the cell of step '${name}'`);
}

/** Wait until the first line of the active cell passes `predicate` (JupyterLab moves it on a frame). */
export async function waitActiveCell(page, predicate, what) {
  await waitValue(page, () => activeCellLines(page), lines => lines !== null && predicate(lines[0] ?? ''),
    `${what} to be the active cell`);
}

/** The lines of the notebook's active cell, as its editor shows them. */
export async function activeCellLines(page) {
  return page.evaluate(() => {
    const cell = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active');
    return cell ? [...cell.querySelectorAll('.cm-line')].map(line => line.textContent) : null;
  });
}

/** Append `text` as new lines at the end of the active cell, by typing; wait until it is there. */
export async function appendToActiveCell(page, text) {
  const editor = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active .cm-content');
  await editor.click();
  await page.waitForFunction(() => document.activeElement?.classList.contains('cm-content'));
  await page.keyboard.press('Control+End');
  for (const line of text.split('\n')) {
    await page.keyboard.press('Enter');
    await page.keyboard.press('Home');
    await page.keyboard.insertText(line);
  }
  const last = text.split('\n').pop();
  await waitValue(page, () => activeCellLines(page), lines => lines?.includes(last) ?? false,
    `the active cell to have the line '${last}'`);
  await page.keyboard.press('Escape');
}

export async function snap(page, outDir, name) {
  const path = join(outDir, `${name}.png`);
  await page.screenshot({ path });
  await page.locator(SIDEBAR).screenshot({ path: join(outDir, `${name}-sidebar.png`) });
  console.log(`screenshot ${path}`);
}

export async function clickButton(page, cls) {
  const button = page.locator(`${SIDEBAR} .${cls}`);
  await button.waitFor({ state: 'visible' });
  await page.waitForFunction(sel => !document.querySelector(sel).disabled, `${SIDEBAR} .${cls}`);
  await button.click();
}

/** What the page shows beside the sidebar, for a failure report: dialogs and toasts. */
export async function overlays(page) {
  return page.evaluate(() => ({
    dialogs: [...document.querySelectorAll('.jp-Dialog')].map(d =>
      (d.querySelector('.jp-Dialog-header')?.textContent ?? '').trim()),
    toasts: [...document.querySelectorAll('.Toastify__toast')].map(t => t.textContent.trim()),
    sidebarMessages: [...document.querySelectorAll('#mlpipe-sidebar .mlpipe-message')].map(m => m.textContent)
  }));
}
