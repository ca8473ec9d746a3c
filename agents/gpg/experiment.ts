/**
 * The GPG experiment end to end: train on zoo models and RandWire samples, then partition graphs
 * never seen in training (RandWire seeds outside the training range, NASNet-A Mobile) and compare
 * with IOS-DP and IOS's greedy under the same cost model (compare.ts). The CLI and the results
 * pages call this; it only computes and returns, writing nothing unless `out` is given.
 */
import type { CostModel } from '../../graphs/cost/model.js';
import type { Graph } from '../../graphs/ir.js';
import { optimizeGraph } from '../../graphs/passes/index.js';
import { buildModel } from '../../graphs/zoo/index.js';
import { randwire } from '../../graphs/zoo/randwire.js';
import { type CompareRow, compareWithIos } from './compare.js';
import { type GpgConfig, GpgPolicy } from './policy.js';
import { type GpgTrainConfig, GpgTrainer, type IterationLog, prepareTrainGraphs } from './train.js';

export interface GpgExperimentOptions {
  cost: CostModel;
  policy?: Partial<GpgConfig>;
  train?: Partial<GpgTrainConfig>;
  /** Zoo models trained on. */
  zooTrain?: string[];
  /** Full-size RandWire seeds trained on, and small ones (12 nodes per stage) for variety. */
  randwireTrain?: number[];
  randwireSmallTrain?: number[];
  /** Held-out graphs: RandWire seeds (none may be in training) and zoo names. */
  randwireTest?: number[];
  zooTest?: string[];
  /** Train and compare on the optimised graphs (graphs/passes: folded BatchNorm, fused epilogues),
   *  as `topsched partition` searches them. Default true. */
  optimize?: boolean;
  /** Save the trained policy here (checkpoint folder). */
  out?: string;
  onLog?: (log: IterationLog) => void;
}

export interface GpgExperimentResult {
  trainedOn: string[];
  log: IterationLog[];
  /** Held-out comparison of the trained policy. */
  trained: CompareRow[];
  /** The same for the untrained prior (initial weights), to show what training adds. */
  prior: { graph: string; gpgMs: number; gpgOverIos: number }[];
  trainWallMs: number;
  /** The parameters kept by model selection on the training graphs (GpgTrainConfig.keepBest). */
  selected?: { iteration: number; greedyRatio: number };
}

export function runGpgExperiment(o: GpgExperimentOptions): GpgExperimentResult {
  const zooTrain = o.zooTrain ?? ['squeezenet1_1', 'mobilenet_v2', 'resnet50', 'inception_v3', 'bert_layer', 'din'];
  const rwTrain = o.randwireTrain ?? [1, 2, 3, 4];
  const rwSmall = o.randwireSmallTrain ?? [5, 6, 7, 8, 9, 10];
  const rwTest = o.randwireTest ?? [100, 101, 102];
  const overlap = rwTest.filter((s) => rwTrain.includes(s) || rwSmall.includes(s));
  if (overlap.length) throw new Error(`gpg experiment: RandWire seeds [${overlap}] are both trained on and held out`);
  const prepare = (g: Graph): Graph => (o.optimize === false ? g : optimizeGraph(g).graph);
  const train: Graph[] = [
    ...zooTrain.map((n) => buildModel(n, {})),
    ...rwTrain.map((seed) => randwire({ seed })),
    ...rwSmall.map((seed) => ({ ...randwire({ seed, nodes: 12 }), name: `randwire_n12_s${seed}` })),
  ].map(prepare);
  const test: Graph[] = [
    ...rwTest.map((seed) => ({ ...randwire({ seed }), name: `randwire_s${seed}` })),
    ...(o.zooTest ?? ['nasnet_mobile']).map((n) => buildModel(n, {})),
  ].map(prepare);

  const policy = new GpgPolicy(o.policy);
  const prior = new GpgPolicy(o.policy);
  try {
    const t0 = performance.now();
    const trainer = new GpgTrainer(policy, prepareTrainGraphs(train, o.cost, { r: policy.cfg.r, s: policy.cfg.s }), o.cost, o.train);
    const log = trainer.train(trainer.cfg.iterations, o.onLog, 25);
    const trainWallMs = performance.now() - t0;
    if (o.out) policy.save(o.out, { trainedOn: train.map((g) => g.name), iterations: trainer.cfg.iterations, cost: o.cost.name });
    const trained = compareWithIos(policy, test, o.cost, { r: policy.cfg.r, s: policy.cfg.s });
    const priorRows = test.map((g, i) => {
      const ms = prior.partition(g, o.cost).latencyMs;
      return { graph: g.name, gpgMs: ms, gpgOverIos: ms / trained[i].iosMs };
    });
    return { trainedOn: train.map((g) => g.name), log, trained, prior: priorRows, trainWallMs, selected: trainer.selected };
  } finally {
    policy.dispose();
    prior.dispose();
  }
}
