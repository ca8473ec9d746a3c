/** `topsched quickstart`: the `npm start` experiment (experiments/quickstart.ts) with its scale knobs. */
import type { Command } from 'commander';
import { intOption, numberOption } from './options.js';

export function registerQuickstart(program: Command): void {
  program
    .command('quickstart')
    .description('profile two models on the native CPU executor, calibrate the simulator, train MADDPG in it, evaluate it and two baselines natively (~2 min)')
    // No commander defaults: quickstart() owns them (6000 steps, 10 s, load 0.8, 75 s budget, seed 1).
    .option('--steps <n>', 'MADDPG training steps in the calibrated simulator (default 6000)', intOption('--steps'))
    .option('--seconds <s>', 'seconds of each native evaluation run (default 10)', numberOption('--seconds'))
    .option('--load <x>', "offered load as a fraction of the calibrated simulator's capacity (default 0.8)", numberOption('--load'))
    .option('--train-budget <s>', 'wall-clock cap on training, seconds (default 75)', numberOption('--train-budget'))
    .option('--seed <n>', 'workload seed of the evaluation runs (default 1)', intOption('--seed', 0))
    .option('--out <dir>', 'run directory (default runs/quickstart_<time>)')
    .addHelpText('after', '\nExamples:\n  topsched quickstart\n  topsched quickstart --steps 2000 --seconds 5 --out runs/qs-small')
    .action(async (opts: { steps?: number; seconds?: number; load?: number; trainBudget?: number; seed?: number; out?: string }) => {
      // Imported when the command runs: it loads tfjs and the native addon.
      const { quickstart } = await import('../quickstart.js');
      await quickstart({
        trainSteps: opts.steps,
        evalSeconds: opts.seconds,
        load: opts.load,
        trainBudgetS: opts.trainBudget,
        seed: opts.seed,
        outDir: opts.out,
      });
    });
}
