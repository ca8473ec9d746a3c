/** The commander program behind `topsched`; tests drive it in-process through `createProgram()`. */
import { Command } from 'commander';
import { registerModels } from './commands/models.js';
import { registerPartition } from './commands/partition.js';
import { registerReproduce } from './commands/reproduce.js';

export function createProgram(): Command {
  const program = new Command();
  program
    .name('topsched')
    .description('Learned scheduling of asynchronous multi-model DNN inference: models, schedules, executors, environment, agents')
    .version('0.1.0')
    .showHelpAfterError();
  registerModels(program);
  registerPartition(program);
  registerReproduce(program);
  return program;
}
