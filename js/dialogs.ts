/**
 * The Publish and Schedule dialogs (JupyterLab `Dialog`s around PublishForm and
 * ScheduleForm). A refused name, cron or request reopens the dialog with what was
 * typed and the one-line reason; success is a notification.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { defaultName, IScheduleInput, nameProblem, scheduleProblem } from './components/schedule';
import { INotebookSource } from './model';
import { messageOf, ScheduleModel } from './schedules';
import { PublishForm } from './widgets/publishForm';
import { ScheduleForm } from './widgets/scheduleForm';

/** Save `source`, ask for a pipeline name, publish; the name it got, or null if cancelled. */
export async function publishDialog(
  source: INotebookSource,
  schedules: ScheduleModel
): Promise<string | null> {
  let name = schedules.publishedName(source.path) ?? defaultName(source.path);
  let error: string | undefined;
  for (;;) {
    const form = new PublishForm({ name, error });
    const result = await showDialog({
      title: 'Publish pipeline',
      body: form,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Publish' })],
      focusNodeSelector: 'input'
    });
    if (!result.button.accept) {
      return null;
    }
    name = result.value ?? '';
    const problem = nameProblem(name);
    if (problem) {
      error = problem;
      continue;
    }
    try {
      await source.save?.();
      const published = await schedules.publish(source.path, name);
      const what = `${published.name} v${published.version}`;
      if (published.created === false) {
        Notification.info(`${what} is unchanged: the latest version already has these cells`, {
          autoClose: 5000
        });
      } else {
        Notification.success(`Published ${what}`, { autoClose: 5000 });
      }
      return published.name;
    } catch (reason) {
      error = `Publish failed: ${messageOf(reason)}`;
    }
  }
}

/** Ask for a schedule of the notebook's published pipeline and add it. */
export async function scheduleDialog(
  source: INotebookSource,
  schedules: ScheduleModel
): Promise<void> {
  await schedules.load();
  const pipeline = schedules.publishedName(source.path) ?? defaultName(source.path);
  let input: IScheduleInput = {
    schedule: { name: pipeline, pipeline, cron: '', params: {} },
    paramsText: ''
  };
  let error: string | undefined;
  for (;;) {
    const { name, cron } = input.schedule;
    const form = new ScheduleForm({
      name,
      pipeline: input.schedule.pipeline,
      cron,
      params: input.paramsText,
      published: schedules.pipelines,
      preview: expr => schedules.previewCron(expr),
      error
    });
    const result = await showDialog({
      title: 'Schedule pipeline',
      body: form,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Add schedule' })]
    });
    if (!result.button.accept) {
      return;
    }
    input = result.value ?? input;
    const problem = scheduleProblem(input);
    if (problem) {
      error = problem;
      continue;
    }
    try {
      const added = await schedules.add(input.schedule);
      Notification.success(`Scheduled ${added.name}: ${added.description}`, { autoClose: 5000 });
      return;
    } catch (reason) {
      error = `Schedule failed: ${messageOf(reason)}`;
    }
  }
}

/** Ask before removing a schedule. */
export async function removeScheduleDialog(name: string, schedules: ScheduleModel): Promise<void> {
  const result = await showDialog({
    title: 'Remove schedule',
    body: `Remove the schedule '${name}'? Its pipeline stays published.`,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Remove' })]
  });
  if (result.button.accept) {
    await schedules.remove(name);
  }
}
