/**
 * A briefly trained GPG partitioner for the reproductions that need one (single-model latency,
 * search cost): the same trainer, policy and training-set recipe as `reproduce gpg`
 * (agents/gpg/train.ts, zoo models + RandWire samples), sized down to fit their budgets. The policy
 * is returned live (the caller partitions with it and disposes it), unlike runGpgExperiment which
 * disposes its policy after its own comparison.
 */
import { initBackend } from '../../agents/backend.js';
import { GpgPolicy } from '../../agents/gpg/policy.js';
import { type GpgTrainConfig, GpgTrainer, prepareTrainGraphs } from '../../agents/gpg/train.js';
import type { CostModel } from '../../graphs/cost/model.js';
import type { Graph } from '../../graphs/ir.js';
import { buildModel } from '../../graphs/zoo/index.js';
import { randwire } from '../../graphs/zoo/randwire.js';

/** 10–30 s on a 2-core machine (0.15–0.5 s per iteration, depending on load). */
export const GPG_QUICK_TRAIN: Partial<GpgTrainConfig> = { seed: 0, iterations: 60, rollouts: 6, graphsPerIteration: 3 };

/** Zoo models trained on; RandWire seeds 1..4 full size and 5..10 small (12 nodes per stage) as in `reproduce gpg`. */
export const GPG_QUICK_ZOO = ['squeezenet1_1', 'mobilenet_v2', 'resnet50', 'inception_v3'];
export const GPG_QUICK_RANDWIRE_SMALL = [5, 6, 7, 8, 9, 10];

export interface TrainedGpg {
  policy: GpgPolicy;
  trainedOn: string[];
  iterations: number;
  trainWallMs: number;
  /** Greedy-decoded latency / IOS greedy latency on the training graphs after training (mean). */
  finalRatio: number;
  cost: string;
}

export async function trainQuickGpg(
  cost: CostModel,
  opts: { train?: Partial<GpgTrainConfig>; zoo?: string[]; randwireSmall?: number[]; log?: (line: string) => void } = {},
): Promise<TrainedGpg> {
  // GPG trains with tfjs; wasm is deterministic and needs no native build.
  await initBackend('wasm', { log: () => {} });
  const cfg = { ...GPG_QUICK_TRAIN, ...opts.train };
  const graphs: Graph[] = [
    ...(opts.zoo ?? GPG_QUICK_ZOO).map((n) => buildModel(n, {})),
    ...(opts.randwireSmall ?? GPG_QUICK_RANDWIRE_SMALL).map((seed) => ({ ...randwire({ seed, nodes: 12 }), name: `randwire_n12_s${seed}` })),
  ];
  const policy = new GpgPolicy({ seed: cfg.seed ?? 0 });
  try {
    const t0 = performance.now();
    const trainer = new GpgTrainer(policy, prepareTrainGraphs(graphs, cost, { r: policy.cfg.r, s: policy.cfg.s }), cost, cfg);
    const log = trainer.train(trainer.cfg.iterations, (l) => {
      if (l.greedyRatio !== undefined) opts.log?.(`  gpg iteration ${l.iteration}: decoded/greedy ${l.greedyRatio.toFixed(4)}`);
    });
    const last = [...log].reverse().find((l) => l.greedyRatio !== undefined);
    return {
      policy,
      trainedOn: graphs.map((g) => g.name),
      iterations: trainer.cfg.iterations,
      trainWallMs: performance.now() - t0,
      finalRatio: last?.greedyRatio ?? Number.NaN,
      cost: cost.name,
    };
  } catch (e) {
    policy.dispose();
    throw e;
  }
}
