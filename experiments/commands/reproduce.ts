/** `topsched reproduce <experiment|all>`: one command per result in docs/results/. */
import { join } from 'node:path';
import type { Command } from 'commander';
import { executorResults } from '../reproduce/executor.js';
import type { Experiment } from '../reproduce/experiment.js';
import { gpgResults } from '../reproduce/gpg.js';
import { maddpgVsFixed } from '../reproduce/maddpg-vs-fixed.js';
import { partitionSearch } from '../reproduce/partition-search.js';
import { simFidelity } from '../reproduce/sim-fidelity.js';

export const EXPERIMENTS: Experiment[] = [
  {
    name: 'partition-search',
    minutes: 2,
    description: 'sequential / greedy / IOS-DP latency and DP search statistics for every zoo model (roofline V100 and 2-core CPU)',
    run: (outDir, log) => {
      partitionSearch({ out: join(outDir, 'partition-search.md'), log });
    },
  },
  {
    name: 'executor',
    minutes: 3,
    description: 'native CPU executor: dispatch overhead, 2 streams vs 1, Inception-v3 vs onnxruntime-node, arena/LOAD per zoo model, RSS over 10,000 runs',
    run: async (outDir, log) => {
      await executorResults({ out: join(outDir, 'executor.md'), log });
    },
  },
  {
    name: 'gpg',
    minutes: 2,
    description: 'train the GPG partitioner, then GPG vs IOS-DP vs greedy on held-out RandWire seeds and NASNet-A Mobile (roofline V100)',
    run: async (outDir, log) => {
      await gpgResults({ out: join(outDir, 'gpg.md'), log });
    },
  },
  {
    name: 'maddpg-vs-fixed',
    minutes: 6,
    description: 'train MADDPG (launcher + scheduler) on the simulated two-model env; throughput, backlog, p95 vs every fixed-frequency level',
    run: async (outDir, log) => {
      await maddpgVsFixed({ out: join(outDir, 'maddpg-vs-fixed.md'), log });
    },
  },
  {
    name: 'sim-fidelity',
    minutes: 3,
    description: 'calibrated simulator vs native CPU executor: same Poisson workload and fixed policy, throughput and p50/p95/p99 latency',
    run: async (outDir, log) => {
      await simFidelity({ out: join(outDir, 'sim-fidelity.md'), log });
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
