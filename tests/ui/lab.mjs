// Drive a running JupyterLab with Debian's chromium through playwright-core
// (no browser download). Helpers shared by the sidebar scenarios.
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const SIDEBAR = '#mlpipe-sidebar';
const FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
];

export function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

/** A fresh browser profile, a page on the lab with `notebook` open and the sidebar shown. */
export async function openLab({ url, token, notebook, outDir, width = 1700, sidebarWidth = 860 }) {
  const profile = mkdtempSync(join(tmpdir(), 'mlpipe-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport: { width, height: 1000 }
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30000);
  const errors = [];
  page.on('pageerror', error => errors.push(String(error)));
  await page.goto(`${url}lab/tree/${notebook}?token=${token}&reset`);
  await page.waitForSelector('.jp-NotebookPanel .jp-Cell', { timeout: 60000 });
  await page.click('.lm-TabBar-tab[data-id="mlpipe-sidebar"]');
  await page.waitForSelector(`${SIDEBAR} .mlpipe-toolbar`, { state: 'visible' });
  await widenSidebar(page, sidebarWidth);
  mkdirSync(outDir, { recursive: true });
  return { context, page, errors, outDir };
}

/** Drag the split handle left of the right sidebar so the panel is `px` wide. */
async function widenSidebar(page, px) {
  const panel = await page.locator(SIDEBAR).boundingBox();
  const handles = page.locator('#jp-main-split-panel > .lm-SplitPanel-handle');
  const count = await handles.count();
  for (let i = count - 1; i >= 0; i--) {
    const box = await handles.nth(i).boundingBox();
    if (box && box.width > 0 && Math.abs(box.x + box.width - panel.x) < 6) {
      await page.mouse.move(box.x + box.width / 2, box.y + 200);
      await page.mouse.down();
      await page.mouse.move(panel.x + panel.width - px, box.y + 200, { steps: 5 });
      await page.mouse.up();
      return;
    }
  }
}

/** The graph as the sidebar draws it: nodes with their state, edges with their label. */
export async function readGraph(page) {
  return page.evaluate(sel => {
    const root = document.querySelector(sel);
    const nodes = [...root.querySelectorAll('.mlpipe-node')].map(g => ({
      name: g.dataset.step,
      state: g.dataset.state,
      text: g.querySelector('.mlpipe-node-state').textContent
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
export async function waitGraph(page, predicate, what, timeout = 30000, failOnError = false) {
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
  throw new Error(`timed out waiting for ${what}; graph: ${JSON.stringify(graph)}; messages: ${JSON.stringify(messages)}`);
}

export async function clickNode(page, name) {
  await page.locator(`${SIDEBAR} .mlpipe-node[data-step="${name}"]`).click();
}

/** Source text of the notebook's active cell. */
export async function activeCellSource(page) {
  return page.evaluate(() => {
    const cell = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active');
    return cell ? cell.querySelector('.cm-content')?.textContent ?? '' : null;
  });
}

/** Append `text` as new lines at the end of the active cell, by typing. */
export async function appendToActiveCell(page, text) {
  const editor = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active .cm-content');
  await editor.click();
  await page.keyboard.press('Control+End');
  for (const line of text.split('\n')) {
    await page.keyboard.press('Enter');
    await page.keyboard.press('Home');
    await page.keyboard.insertText(line);
  }
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
