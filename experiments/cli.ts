#!/usr/bin/env node
/**
 * The `topsched` command line. Each command lives in experiments/commands/; errors from bad input
 * (unknown model, malformed file, invalid schedule) print one line naming the place and exit 1.
 */
import { Command } from 'commander';
import { registerModels } from './commands/models.js';
import { registerPartition } from './commands/partition.js';

const program = new Command();
program
  .name('topsched')
  .description('Learned scheduling of asynchronous multi-model DNN inference: models, schedules, executors, environment, agents')
  .version('0.1.0')
  .showHelpAfterError();

registerModels(program);
registerPartition(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  const err = e as Error;
  process.stderr.write(`topsched: ${err.message}\n`);
  if (process.env.TOPSCHED_DEBUG) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
}
