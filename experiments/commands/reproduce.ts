/** `topsched reproduce <experiment|all>`: one command per result in docs/results/. */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { shippedGpgPolicyDir } from '../../agents/gpg/shipped.js';
import { packageRoot } from '../../graphs/package-root.js';
import { ablations } from '../reproduce/ablations.js';
import { adaptation } from '../reproduce/adaptation.js';
import { executorResults } from '../reproduce/executor.js';
import type { Experiment } from '../reproduce/experiment.js';
import { gpgResults } from '../reproduce/gpg.js';
import { interferenceExperiment } from '../reproduce/interference.js';
import { maddpgVsFixed } from '../reproduce/maddpg-vs-fixed.js';
import { measuredCost } from '../reproduce/measured-cost.js';
import { memoryPlanning } from '../reproduce/memory-planning.js';
import { modelSharing } from '../reproduce/model-sharing.js';
import { multiModelServing } from '../reproduce/multi-model-serving.js';
import { parallelModes } from '../reproduce/parallel-modes.js';
import { partitionSearch } from '../reproduce/partition-search.js';
import { perLayerBatching } from '../reproduce/per-layer-batching.js';
import { realModels } from '../reproduce/real-models.js';
import { reproduce } from '../reproduce/run-all.js';
import { scaleOut } from '../reproduce/scale-out.js';
import { searchCost } from '../reproduce/search-cost.js';
import { selfAcceleration } from '../reproduce/self-acceleration.js';
import { simFidelity } from '../reproduce/sim-fidelity.js';
import { singleModel } from '../reproduce/single-model.js';

export const EXPERIMENTS: Experiment[] = [
  {
    name: 'partition-search',
    minutes: 2,
    description: 'sequential / greedy / IOS-DP latency and DP search statistics for every zoo model (roofline V100 and 2-core CPU)',
    run: async (outDir, log) => {
      await partitionSearch({ out: join(outDir, 'partition-search.md'), log });
    },
  },
  {
    name: 'scale-out',
    minutes: 3,
    description:
      'sweeps: 8 short training runs on the embedded pool and on BullMQ/Redis with a worker killed mid-run (resume, identical aggregate), queue overhead per job',
    run: async (outDir, log) => {
      await scaleOut({ out: join(outDir, 'scale-out.md'), log });
    },
  },
  {
    name: 'real-models',
    minutes: 1.5,
    description: 'the npm-shipped ONNX corpus: import time and operator counts, native CPU vs onnxruntime-node agreement and batch-1 latency',
    run: async (outDir, log) => {
      await realModels({ out: join(outDir, 'real-models.md'), log });
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
    name: 'measured-cost',
    minutes: 3,
    description: 'IOS-DP under measured (--cost measured), profiled and roofline costs, and the shipped GPG policy, judged by native CPU latency (4 networks)',
    run: async (outDir, log) => {
      await measuredCost({ out: join(outDir, 'measured-cost.md'), log });
    },
  },
  {
    name: 'sim-fidelity',
    minutes: 5,
    description:
      'calibrated simulator vs the real-time native env: 3 model mixes × 3 loads × 1–2 streams, same workload and policy; throughput and p50/p95/p99 errors',
    run: async (outDir, log) => {
      await simFidelity({ out: join(outDir, 'sim-fidelity.md'), log });
    },
  },
  {
    name: 'gpg',
    minutes: 1.5,
    description: 'train the GPG partitioner, then GPG vs IOS-DP vs greedy on held-out RandWire seeds and NASNet-A Mobile (roofline V100)',
    run: async (outDir, log) => {
      // The repository's results ship their policy with the package; results elsewhere keep theirs beside them.
      const shipped = resolve(outDir) === resolve(packageRoot(), 'docs', 'results');
      const policyOut = shipped ? shippedGpgPolicyDir() : join(outDir, 'gpg-policy');
      await gpgResults({ out: join(outDir, 'gpg.md'), log, policyOut });
      // The checkpoint writer keeps the replaced policy as '<dir>.previous' for crash recovery; a
      // finished reproduction has nothing to recover.
      rmSync(`${policyOut}.previous`, { recursive: true, force: true });
      log(`gpg: policy written to ${policyOut}`);
    },
  },
  {
    name: 'maddpg-vs-fixed',
    minutes: 2.5,
    description: 'train MADDPG (launcher + scheduler) on the simulated two-model env; throughput, backlog, p95 vs every fixed-frequency level',
    run: async (outDir, log) => {
      await maddpgVsFixed({ out: join(outDir, 'maddpg-vs-fixed.md'), log });
    },
  },
  {
    name: 'single-model',
    minutes: 3.5,
    description: 'sequential / greedy / IOS-DP / GPG / TOP latency of 4 CNNs: native CPU at batch 1, V100 roofline, batch sweep 1–128',
    run: async (outDir, log) => {
      await singleModel({ outDir, log });
    },
  },
  {
    name: 'search-cost',
    minutes: 1,
    description: 'GPG vs IOS-DP search time and predicted-latency ratio per network (zoo models, RandWire seeds; roofline V100)',
    run: async (outDir, log) => {
      await searchCost({ outDir, log });
    },
  },
  {
    name: 'self-acceleration',
    minutes: 1.5,
    description: "one model's native CPU throughput vs tasks in flight (1–8), stream pool (1–2) and batch size (1–32)",
    run: async (outDir, log) => {
      await selfAcceleration({ outDir, log });
    },
  },
  {
    name: 'multi-model-serving',
    minutes: 1.5,
    description: 'TOP (MADDPG) vs Triton-like / POS-like / fixed-frequency / one-at-a-time: throughput and p99 vs arrival rate (simulated V100)',
    run: async (outDir, log) => {
      await multiModelServing({ outDir, log });
    },
  },
  {
    name: 'ablations',
    minutes: 8,
    description: 'launcher only / scheduler only / both learned (3 seeds each) vs the best static policy: throughput, p99, backlog (simulated V100)',
    run: async (outDir, log) => {
      await ablations({ outDir, log });
    },
  },
  {
    name: 'adaptation',
    minutes: 55,
    description:
      'seven workloads (steady, bursty, diurnal, flash crowd, popularity shift, two held-out Azure replays) × two loads: MADDPG, MAPPO and residual learners vs tuned baselines, 95 % intervals',
    run: async (outDir, log, opts) => {
      await adaptation({ out: join(outDir, 'adaptation.md'), scale: opts?.scale, log });
    },
  },
  {
    name: 'parallel-modes',
    minutes: 0.5,
    description: 'MPInfer: streams / contexts / MPS and pinned vs pageable for 2–4 concurrent models (simulated V100), native 1 vs 2 streams',
    run: async (outDir, log) => {
      await parallelModes({ out: join(outDir, 'parallel-modes.md'), log });
    },
  },
  {
    name: 'memory-planning',
    minutes: 0.5,
    description: 'naive / caching / planned arena / trace plan bytes and latency per zoo model (native CPU), replicas in 512 MiB and 2 GiB',
    run: async (outDir, log) => {
      await memoryPlanning({ out: join(outDir, 'memory-planning.md'), log });
    },
  },
  {
    name: 'per-layer-batching',
    minutes: 0.5,
    description: 'memory oversubscription 1–2×: per-layer micro-batching vs fixed vs smaller batch (roofline V100), native split anchor',
    run: async (outDir, log) => {
      await perLayerBatching({ out: join(outDir, 'per-layer-batching.md'), log });
    },
  },
  {
    name: 'model-sharing',
    minutes: 0.5,
    description: 'one weights copy for N concurrent tasks vs one instance each (native CPU): bytes, RSS, throughput, tasks in a budget',
    run: async (outDir, log) => {
      await modelSharing({ out: join(outDir, 'model-sharing.md'), log });
    },
  },
  {
    name: 'interference',
    minutes: 1,
    description: 'native CPU co-run slowdowns of zoo model pairs/triples; MLP interference predictor on held-out combos; pairing regret',
    run: async (outDir, log) => {
      await interferenceExperiment({ out: join(outDir, 'interference.md'), log });
    },
  },
];

/** `experiments` defaults to the registry; tests pass their own list. */
export function registerReproduce(program: Command, experiments: Experiment[] = EXPERIMENTS): void {
  program
    .command('reproduce <experiment>')
    .description(`rerun an experiment and rewrite its docs/results/ files: ${experiments.map((e) => e.name).join(' | ')} | all`)
    .option('--out-dir <dir>', 'where results go', 'docs/results')
    .option('--only <names>', "with 'all': run only these experiments (comma-separated)")
    .option('--skip <names>', "with 'all': leave these experiments out (comma-separated)")
    .option('--quiet', 'print no progress (the plan and the summary still print)')
    .option('--scale <name>', "a named scale of experiments that have one (adaptation: 'tiny'); default: the documented scale")
    .addHelpText(
      'after',
      `\nExperiments:\n${experiments.map((e) => `  ${e.name.padEnd(18)} ${String(e.minutes).padStart(3)} min  ${e.description}`).join('\n')}\n\n` +
        "'all' prints the plan, runs each experiment (a failure is logged and the rest still run), prints a summary\n" +
        'and exits 1 if any failed; every run rewrites <out-dir>/README.md, the index of all results.\n\n' +
        'Examples:\n  topsched reproduce partition-search\n  topsched reproduce all --out-dir /tmp/results\n  topsched reproduce all --skip maddpg-vs-fixed,sim-fidelity',
    )
    .action(async (name: string, opts: { outDir: string; only?: string; skip?: string; quiet?: boolean; scale?: string }) => {
      const log = opts.quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
      const print = (line: string) => process.stdout.write(`${line}\n`);
      const { outcomes, exitCode } = await reproduce(experiments, name, {
        outDir: opts.outDir,
        only: opts.only,
        skip: opts.skip,
        scale: opts.scale,
        log,
        print,
      });
      if (exitCode) {
        const failed = outcomes.filter((o) => o.status === 'failed').map((o) => o.name);
        throw new Error(`${failed.length} of ${outcomes.length} experiments failed: ${failed.join(', ')}`);
      }
    });
}
