/** The public interface of the extension, for other plugins. */
import { Token } from '@lumino/coreutils';
import { PipelineModel } from './model';

export const PLUGIN_ID = 'mlpipe-jupyter:plugin';

export namespace CommandIDs {
  export const run = 'mlpipe:run';
  export const show = 'mlpipe:show';
  export const cancel = 'mlpipe:cancel';
  export const publish = 'mlpipe:publish';
  export const schedule = 'mlpipe:schedule';
}

/** The pipeline of the active notebook, as the sidebar shows it. */
export interface IPipelineTracker {
  readonly model: PipelineModel;
}

export const IPipelineTracker = new Token<IPipelineTracker>(
  'mlpipe-jupyter:IPipelineTracker',
  'The pipeline model of the active notebook (DAG, run state).'
);
