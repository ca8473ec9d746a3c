/** The commander program behind `topsched`; tests drive it in-process through `createProgram()`. */
import { Command } from 'commander';
import { parseByteSize, setMaxFileBytes, setMemoryLimit } from '../graphs/limits.js';
import { registerBench } from './commands/bench.js';
import { registerEnvCheck } from './commands/env-check.js';
import { registerEval } from './commands/eval.js';
import { registerInferBatch } from './commands/infer-batch.js';
import { registerInfo } from './commands/info.js';
import { registerModels } from './commands/models.js';
import { registerPartition } from './commands/partition.js';
import { registerProfile } from './commands/profile.js';
import { registerQuickstart } from './commands/quickstart.js';
import { registerReproduce } from './commands/reproduce.js';
import { registerRun } from './commands/run.js';
import { registerServe } from './commands/serve.js';
import { registerSimulate } from './commands/simulate.js';
import { registerSweep } from './commands/sweep.js';
import { registerTrain } from './commands/train.js';
import { projectVersion } from './version.js';

export function createProgram(): Command {
  const program = new Command();
  program
    .name('topsched')
    .description('Learned scheduling of asynchronous multi-model DNN inference: models, schedules, executors, environment, agents')
    .version(projectVersion())
    .option('--memory-limit <size>', 'most bytes one tensor, model or run may take, e.g. 8G (default: half the free memory; env TOPSCHED_MEMORY_LIMIT)')
    .option('--max-file-size <size>', 'largest model, schedule, config or trace file read, e.g. 512M (default 2G; env TOPSCHED_MAX_FILE_BYTES)')
    .showHelpAfterError()
    .hook('preAction', (cmd) => {
      const o = cmd.opts() as { memoryLimit?: string; maxFileSize?: string };
      setMemoryLimit(o.memoryLimit === undefined ? undefined : parseByteSize(o.memoryLimit, '--memory-limit'));
      setMaxFileBytes(o.maxFileSize === undefined ? undefined : parseByteSize(o.maxFileSize, '--max-file-size'));
    });
  registerModels(program);
  registerPartition(program);
  registerRun(program);
  registerProfile(program);
  registerSimulate(program);
  registerEnvCheck(program);
  registerInfo(program);
  registerBench(program);
  registerReproduce(program);
  registerQuickstart(program);
  registerTrain(program);
  registerEval(program);
  registerServe(program);
  registerSweep(program);
  registerInferBatch(program);
  return program;
}
