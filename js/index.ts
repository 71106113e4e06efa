/**
 * mlpipe-jupyter: the pipeline sidebar plugin for JupyterLab 4.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, IFrame, MainAreaWidget, Notification } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';
import { requestAPI } from './api';
import { publishDialog, removeScheduleDialog, scheduleDialog } from './dialogs';
import { PipelineModel } from './model';
import {
  firstErrorCell,
  isStepNotebook,
  notebookSource,
  selectCell,
  stepNotebookPath
} from './notebookSource';
import { ScheduleModel } from './schedules';
import { CommandIDs, IPipelineTracker, PLUGIN_ID } from './tokens';
import { statusLine } from './runStatus';
import { IRunRecord, RequestFn } from './types';
import { PipelineGraphPanel } from './widgets/graphPanel';
import { PipelineSidebar } from './widgets/sidebar';
import { IStepLog } from './widgets/stepDetails';

export * from './tokens';

const pipelineIcon = new LabIcon({
  name: 'mlpipe-jupyter:pipeline',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161"><rect x="1" y="9" width="6" height="6" rx="1"/>' +
    '<rect x="17" y="3" width="6" height="6" rx="1"/><rect x="17" y="15" width="6" height="6" rx="1"/>' +
    '<path d="M7 11.2h4.2V6.8H17v1.4h-4.4v3h-.1v1.6h.1v3H17v1.4h-5.8v-4.4H7z"/></g></svg>'
});

const plugin: JupyterFrontEndPlugin<IPipelineTracker> = {
  id: PLUGIN_ID,
  description: 'A sidebar with the live pipeline DAG of the active notebook.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILabShell, ISettingRegistry, ICommandPalette],
  provides: IPipelineTracker,
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    labShell: ILabShell | null,
    settings: ISettingRegistry | null,
    palette: ICommandPalette | null
  ): IPipelineTracker => {
    const model = new PipelineModel({ request: requestAPI as RequestFn });
    const schedules = new ScheduleModel({ request: requestAPI as RequestFn });
    const sidebar = createSidebar(model, schedules, tracker, app);
    app.shell.add(sidebar, 'right', { rank: 600 });
    model.runEnded.connect((_, run) => notifyRunEnded(model, run, app.commands, tracker));
    const follow = (panel: NotebookPanel | null) => {
      // An executed step notebook opened from a failed node keeps the pipeline in view.
      if (!panel || !isStepNotebook(panel.context.path)) {
        model.setSource(panel ? notebookSource(panel) : null);
      }
    };
    tracker.currentChanged.connect((_, panel) => follow(panel));
    void app.restored.then(() => {
      follow(tracker.currentWidget);
      void schedules.load();
    });
    addCommands(app, model, sidebar, labShell, palette);
    addPublishCommands(app, model, schedules, palette);
    if (settings) {
      void settings.load(PLUGIN_ID).then(loaded => {
        const apply = () => applySettings(model, loaded.composite);
        loaded.changed.connect(apply);
        apply();
      });
    }
    return { model };
  }
};

/** Open an executed step notebook with no kernel, read-only, at its first error output (if any). */
async function openAtTraceback(
  commands: JupyterFrontEnd['commands'],
  path: string
): Promise<void> {
  // Reading a traceback needs no kernel: open it without one (the user may start one).
  const panel = (await commands.execute('docmanager:open', {
    path,
    factory: 'Notebook',
    kernelPreference: { shouldStart: false, canStart: true, autoStartDefault: false }
  })) as NotebookPanel | undefined;
  if (panel?.context) {
    await panel.context.ready;
    // A record of what ran: read-only, its run named on the tab's tooltip (a new label
    // would rename the file).
    const runId = /\/runs\/([^/]+)\/[^/]+\.ipynb$/.exec(path)?.[1];
    panel.title.caption = `${path}\n${runId ? `executed by run ${runId}, ` : ''}read-only`;
    panel.context.model.readOnly = true;
    const index = firstErrorCell(panel);
    if (index >= 0) {
      await selectCell(panel, index);
    }
  }
}

/** A JupyterLab notification when a followed run ends; a failure offers its traceback. */
function notifyRunEnded(
  model: PipelineModel,
  run: IRunRecord,
  commands: JupyterFrontEnd['commands'],
  tracker: INotebookTracker
): void {
  const line = statusLine(run, model.dag?.steps.map(s => s.name) ?? [], Date.now());
  if (!line) {
    return;
  }
  const name = (run.path || run.notebook || '').split('/').pop();
  const message = `${name}: ${line.text}`;
  if (line.kind === 'failed') {
    const notebook = line.notebook;
    const actions = notebook
      ? [{
          label: 'Open traceback',
          callback: () => {
            const source = tracker.currentWidget?.context.path ?? '';
            void openAtTraceback(commands, stepNotebookPath(notebook, source));
          }
        }]
      : [];
    Notification.error(message, { autoClose: false, actions });
  } else if (line.kind === 'cancelled') {
    Notification.warning(message, { autoClose: 5000 });
  } else {
    Notification.success(message, { autoClose: 5000 });
  }
}

/**
 * The notebook the sidebar follows: not necessarily the current widget, which may be a
 * step's executed notebook opened from a node (read-only, never the one to act on).
 */
function sourcePanel(tracker: INotebookTracker, model: PipelineModel): NotebookPanel | null {
  const path = model.source?.path;
  if (path) {
    const found = tracker.find(panel => panel.context.path === path);
    if (found) {
      return found;
    }
  }
  return tracker.currentWidget;
}

/** Run `%pipeline debug STEP` in a new cell below the step's cell (it shows its output there). */
async function debugInKernel(
  app: JupyterFrontEnd, tracker: INotebookTracker, model: PipelineModel, step: string
): Promise<void> {
  const panel = sourcePanel(tracker, model);
  const info = model.dag?.steps.find(s => s.name === step);
  if (!panel || !info) {
    return;
  }
  app.shell.activateById(panel.id);  // back to the notebook from a step's executed one
  await panel.sessionContext.ready;
  const kernel = panel.sessionContext.session?.kernel;
  if (kernel) {  // a fresh kernel has not run `%load_ext mlpipe_jupyter` yet
    await kernel.requestExecute({ code: '%load_ext mlpipe_jupyter', silent: true, store_history: false }).done;
  }
  await selectCell(panel, info.cell);
  NotebookActions.insertBelow(panel.content);
  panel.content.activeCell?.model.sharedModel.setSource(`%pipeline debug ${step}`);
  await NotebookActions.run(panel.content, panel.sessionContext);
}

let graphPanel: MainAreaWidget<PipelineGraphPanel> | null = null;
let dashboardPanel: MainAreaWidget<IFrame> | null = null;

function openGraphInMain(app: JupyterFrontEnd, model: PipelineModel, onNodeClick: (name: string) => void): void {
  if (!graphPanel || graphPanel.isDisposed) {
    graphPanel = new MainAreaWidget({ content: new PipelineGraphPanel({ model, onNodeClick }) });
    graphPanel.id = 'mlpipe-graph-main';
    graphPanel.title.closable = true;
    app.shell.add(graphPanel, 'main', { mode: 'split-right' });
  }
  app.shell.activateById(graphPanel.id);
}

/** The Dask dashboard in a main-area tab (proxied through the Jupyter server when it can be). */
function openDashboard(app: JupyterFrontEnd, url: string): void {
  if (!dashboardPanel || dashboardPanel.isDisposed) {
    const frame = new IFrame({ sandbox: ['allow-scripts', 'allow-same-origin', 'allow-popups'] });
    dashboardPanel = new MainAreaWidget({ content: frame });
    dashboardPanel.id = 'mlpipe-dask-dashboard';
    dashboardPanel.title.label = 'Dask dashboard';
    dashboardPanel.title.closable = true;
    app.shell.add(dashboardPanel, 'main', { mode: 'split-right' });
  }
  dashboardPanel.content.url = url;
  app.shell.activateById(dashboardPanel.id);
}

function createSidebar(
  model: PipelineModel,
  schedules: ScheduleModel,
  tracker: INotebookTracker,
  app: JupyterFrontEnd
): PipelineSidebar {
  const commands = app.commands;
  const selectStepCell = (name: string) => {
    const panel = sourcePanel(tracker, model);
    const step = model.dag?.steps.find(s => s.name === name);
    if (panel && step) {
      void selectCell(panel, step.cell);
    }
  };
  const sidebar = new PipelineSidebar({
    model,
    schedules,
    onSelectCell: cell => {
      const panel = sourcePanel(tracker, model);
      if (panel) {
        void selectCell(panel, cell);
      }
    },
    onOpenNotebook: path => {
      const source = tracker.currentWidget?.context.path ?? '';
      void openAtTraceback(commands, stepNotebookPath(path, source));
    },
    onPublish: () => void publishActive(model, schedules),
    onSchedule: () => void scheduleActive(model, schedules),
    onRemoveSchedule: name => void removeScheduleDialog(name, schedules),
    onDebug: step => void debugInKernel(app, tracker, model, step),
    onOpenInMain: () => openGraphInMain(app, model, selectStepCell),
    onOpenDashboard: url => openDashboard(app, url),
    fetchLog: (runId, step) =>
      (requestAPI as RequestFn)<IStepLog>(
        `runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(step)}/log`
      ),
    proxyUrl: path => URLExt.join(PageConfig.getBaseUrl(), path)
  });
  sidebar.title.icon = pipelineIcon;
  sidebar.title.caption = 'Pipeline (mlpipe)';
  return sidebar;
}

function addCommands(
  app: JupyterFrontEnd,
  model: PipelineModel,
  sidebar: PipelineSidebar,
  labShell: ILabShell | null,
  palette: ICommandPalette | null
): void {
  app.commands.addCommand(CommandIDs.show, {
    label: 'Show pipeline',
    caption: 'Show the pipeline DAG of the active notebook',
    execute: () => (labShell ? labShell.activateById(sidebar.id) : app.shell.activateById(sidebar.id))
  });
  app.commands.addCommand(CommandIDs.run, {
    label: 'Run pipeline',
    caption: 'Save the active notebook and run it as a pipeline',
    isEnabled: () => !!model.dag && !model.dag.errors.length && !model.running,
    execute: async () => {
      app.shell.activateById(sidebar.id);
      await model.startRun();
    }
  });
  app.commands.addCommand(CommandIDs.cancel, {
    label: 'Cancel pipeline run',
    isEnabled: () => model.running,
    execute: () => model.cancel()
  });
  model.changed.connect(() => app.commands.notifyCommandChanged());
  for (const command of [CommandIDs.show, CommandIDs.run, CommandIDs.cancel]) {
    palette?.addItem({ command, category: 'Pipeline' });
  }
}

function addPublishCommands(
  app: JupyterFrontEnd,
  model: PipelineModel,
  schedules: ScheduleModel,
  palette: ICommandPalette | null
): void {
  const canPublish = () => !!model.dag && model.dag.steps.length > 0 && !model.dag.errors.length;
  app.commands.addCommand(CommandIDs.publish, {
    label: 'Publish pipeline…',
    caption: 'Save the active notebook and publish it as a versioned pipeline',
    isEnabled: canPublish,
    execute: () => publishActive(model, schedules)
  });
  app.commands.addCommand(CommandIDs.schedule, {
    label: 'Schedule pipeline…',
    caption: 'Run a published pipeline on a cron schedule',
    isEnabled: () => !!model.source,
    execute: () => scheduleActive(model, schedules)
  });
  for (const command of [CommandIDs.publish, CommandIDs.schedule]) {
    palette?.addItem({ command, category: 'Pipeline' });
  }
}

async function publishActive(model: PipelineModel, schedules: ScheduleModel): Promise<void> {
  if (model.source) {
    await publishDialog(model.source, schedules);
  }
}

async function scheduleActive(model: PipelineModel, schedules: ScheduleModel): Promise<void> {
  if (model.source) {
    await scheduleDialog(model.source, schedules);
  }
}

function applySettings(model: PipelineModel, composite: Record<string, any>): void {
  model.pollIntervalMs = Math.max(200, Number(composite.pollInterval ?? 1000));
  model.schedulerAddress = String(composite.daskSchedulerAddress ?? '');
  model.dashboardOverride = String(composite.dashboardUrl ?? '');
}

export default plugin;
