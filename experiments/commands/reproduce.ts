/** `topsched reproduce <experiment|all>`: one command per result in docs/results/. */
import { join } from 'node:path';
import type { Command } from 'commander';
import { partitionSearch } from '../reproduce/partition-search.js';

interface Experiment {
  name: string;
  description: string;
  run(outDir: string, log: (line: string) => void): void | Promise<void>;
}

export const EXPERIMENTS: Experiment[] = [
  {
    name: 'partition-search',
    description: 'sequential / greedy / IOS-DP latency and DP search statistics for every zoo model (roofline V100 and 2-core CPU)',
    run: (outDir, log) => {
      partitionSearch({ out: join(outDir, 'partition-search.md'), log });
    },
  },
];

export function registerReproduce(program: Command): void {
  program
    .command('reproduce <experiment>')
    .description(`rerun an experiment and rewrite its docs/results/ file: ${EXPERIMENTS.map((e) => e.name).join(' | ')} | all`)
    .option('--out-dir <dir>', 'where results go', 'docs/results')
    .option('--quiet', 'print no progress')
    .addHelpText(
      'after',
      `\nExperiments:\n${EXPERIMENTS.map((e) => `  ${e.name.padEnd(18)} ${e.description}`).join('\n')}\n\nExamples:\n  topsched reproduce partition-search\n  topsched reproduce all --out-dir /tmp/results`,
    )
    .action(async (name: string, opts: { outDir: string; quiet?: boolean }) => {
      const chosen = name === 'all' ? EXPERIMENTS : EXPERIMENTS.filter((e) => e.name === name);
      if (!chosen.length) throw new Error(`unknown experiment '${name}' (known: ${EXPERIMENTS.map((e) => e.name).join(', ')}, all)`);
      const log = opts.quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
      for (const e of chosen) {
        const t0 = performance.now();
        await e.run(opts.outDir, log);
        log(`${e.name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${opts.outDir}`);
      }
    });
}
