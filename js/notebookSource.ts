/** Adapters between a JupyterLab notebook and what the model and sidebar need. */
import { NotebookPanel } from '@jupyterlab/notebook';
import { PathExt } from '@jupyterlab/coreutils';
import { INotebookSource } from './model';
import { ICellPayload } from './types';

/** See `panel` as an INotebookSource: its unsaved cells and their changes. */
export function notebookSource(panel: NotebookPanel): INotebookSource {
  return {
    get path() {
      return panel.context.path;
    },
    cells: () => cellsOf(panel),
    changed: panel.context.model.contentChanged,
    save: () => panel.context.save(),
    ready: panel.context.ready,
    savedAt: () => {
      const modified = panel.context.contentsModel?.last_modified;
      const ms = modified ? Date.parse(modified) : NaN;
      return Number.isNaN(ms) ? null : ms / 1000;
    }
  };
}

export function cellsOf(panel: NotebookPanel): ICellPayload[] {
  const cells = panel.content.model?.cells;
  const payload: ICellPayload[] = [];
  if (!cells) {
    return payload;
  }
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    const tags = cell.getMetadata('tags');
    payload.push({
      source: cell.sharedModel.getSource(),
      tags: Array.isArray(tags) ? tags.map(String) : [],
      cell_type: cell.type
    });
  }
  return payload;
}

/** Select cell `index` of `panel` and scroll it into view. */
export async function selectCell(panel: NotebookPanel, index: number): Promise<void> {
  const notebook = panel.content;
  if (index < 0 || index >= notebook.widgets.length) {
    return;
  }
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  await notebook.scrollToItem(index, 'smart');
}

/** The index of the first code cell with an error output, or -1. */
export function firstErrorCell(panel: NotebookPanel): number {
  const cells = panel.content.model?.cells;
  if (!cells) {
    return -1;
  }
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i).toJSON();
    const outputs = (cell.outputs ?? []) as { output_type?: string }[];
    if (outputs.some(output => output.output_type === 'error')) {
      return i;
    }
  }
  return -1;
}

/**
 * A run record's `notebook` as a server-relative path: relative paths are
 * taken as they are; an absolute one is cut at its `.mlpipe/` store and put
 * beside the source notebook, where the store lives by default.
 */
export function stepNotebookPath(recorded: string, sourcePath: string): string {
  if (!recorded.startsWith('/')) {
    return recorded;
  }
  const at = recorded.lastIndexOf('/.mlpipe/');
  if (at < 0) {
    return recorded;
  }
  return PathExt.join(PathExt.dirname(sourcePath), recorded.slice(at + 1));
}

/** Whether `path` is an executed step notebook kept with a run (in a `.mlpipe` store). */
export function isStepNotebook(path: string): boolean {
  return path.startsWith('.mlpipe/') || path.includes('/.mlpipe/');
}
