/**
 * Training GPG with REINFORCE.
 *
 * Each iteration draws a few graphs; for each, one GNN forward pass gives the node scores, then M
 * partitions are sampled from the same policy. Reward = −latency / reference latency (the greedy
 * partition's, so graphs of every size weigh alike). Latency is a sum over stages, so a decision
 * is credited only with the stages from its own onwards (return-to-go), against a baseline that is
 * input-dependent as Decima's: the mean latency-to-go of the other M − 1 rollouts of the same graph
 * at the same progress (operators placed). Advantages are divided by their RMS. A small entropy
 * bonus keeps decisions from collapsing early.
 *
 * Gradients: every decision is a Bernoulli with logit z = score(v) + w·f, so
 * ∂ log π / ∂z = taken − σ(z); summing over decisions gives ∂J/∂score(v) per node and ∂J/∂w on the
 * host. The GNN receives its gradient through the surrogate loss −Σ_v score(v)·G_v (G fixed), whose
 * parameter gradient equals −∂J/∂θ: one dense backward pass per graph, no gather.
 */
import * as tf from '@tensorflow/tfjs';
import type { CostModel } from '../../graphs/cost/model.js';
import type { Graph } from '../../graphs/ir.js';
import { greedyPartition } from '../../graphs/partition/greedy.js';
import { Adam, clipGradient } from '../nn.js';
import { makeRng } from '../rng.js';
import { decodePartition, type Rollout } from './decode.js';
import { type GraphInput, prepareGraph } from './features.js';
import { Gnn } from './gnn.js';
import type { GpgPolicy } from './policy.js';

export interface GpgTrainConfig {
  seed: number;
  iterations: number;
  /** Sampled partitions per graph per iteration (M ≥ 2 for the leave-one-out baseline). */
  rollouts: number;
  /** Graphs per iteration. */
  graphsPerIteration: number;
  lr: number;
  entropy: number;
  /** Global gradient-norm clip of each update. */
  gradClip: number;
  /**
   * Model selection on the training graphs: at the end of `train`, restore the parameters whose
   * greedy evaluation (every `evalEvery` iterations, and before the first update) was best, so a
   * run whose updates drift never ends worse on its own training set than where it started.
   */
  keepBest: boolean;
}

export const GPG_TRAIN_DEFAULTS: GpgTrainConfig = {
  seed: 0,
  iterations: 100,
  rollouts: 8,
  graphsPerIteration: 4,
  lr: 3e-3,
  entropy: 1e-2,
  gradClip: 1,
  keepBest: true,
};

export interface TrainGraph {
  input: GraphInput;
  /** Greedy partition latency: the reward's scale. */
  refLatency: number;
}

export interface IterationLog {
  iteration: number;
  /** Mean over drawn graphs of mean sampled latency / greedy latency. */
  sampledRatio: number;
  /** Mean over drawn graphs of the greedy-decoded latency / greedy latency (after the update). */
  greedyRatio?: number;
  wallMs: number;
}

export function prepareTrainGraphs(graphs: Graph[], cost: CostModel, opts: { r: number; s: number }): TrainGraph[] {
  return graphs.map((graph) => ({ input: prepareGraph(graph, cost), refLatency: greedyPartition(graph, cost, opts).latencyMs }));
}

/**
 * For each progress point p (operators placed, 0..n), the latency of the rollout's stages that
 * start at or after p: what is still to come once p operators are placed.
 */
export function remainingByProgress(roll: Rollout, n: number): Float64Array {
  const out = new Float64Array(n + 1);
  let k = roll.stageStart.length - 1;
  let tail = 0;
  for (let p = n; p >= 0; p--) {
    while (k >= 0 && roll.stageStart[k] >= p) tail += roll.stageLatency[k--];
    out[p] = tail;
  }
  return out;
}

export class GpgTrainer {
  readonly cfg: GpgTrainConfig;
  private readonly gnnOpt: Adam<Gnn>;
  private readonly headOpt: Adam;
  private readonly rng: () => number;
  iteration = 0;

  constructor(
    readonly policy: GpgPolicy,
    readonly graphs: TrainGraph[],
    readonly cost: CostModel,
    cfg: Partial<GpgTrainConfig> = {},
  ) {
    this.cfg = { ...GPG_TRAIN_DEFAULTS, ...cfg };
    if (!graphs.length) throw new Error('gpg train: no training graphs');
    if (!Number.isInteger(this.cfg.rollouts) || this.cfg.rollouts < 2)
      throw new Error(`gpg train: 'rollouts' must be an integer ≥ 2, got ${this.cfg.rollouts}`);
    this.gnnOpt = new Adam(policy.gnn, { lr: this.cfg.lr });
    this.headOpt = new Adam(policy.head, { lr: this.cfg.lr });
    this.rng = makeRng(`${this.cfg.seed}/gpg-train`);
  }

  /** Latency ratio (to greedy) of the greedy-decoded policy on each graph. */
  evaluate(graphs: TrainGraph[] = this.graphs): number[] {
    const { r, s } = this.policy.cfg;
    return graphs.map(
      (g) => decodePartition(g.input, this.cost, this.policy.scores(g.input), this.policy.head.host, { r, s, mode: 'greedy' }).latencyMs / g.refLatency,
    );
  }

  /** One REINFORCE update; returns what happened. */
  step(): IterationLog {
    const t0 = performance.now();
    const { rollouts: M, entropy } = this.cfg;
    const { r, s } = this.policy.cfg;
    // Draw graphs without replacement (all of them when there are few).
    const pool = this.graphs.map((_, i) => i);
    const drawn: number[] = [];
    while (drawn.length < Math.min(this.cfg.graphsPerIteration, pool.length)) drawn.push(pool.splice(Math.floor(this.rng() * pool.length), 1)[0]);

    const gGnn = new Float32Array(this.policy.gnn.numParams);
    const gHead = new Float32Array(this.policy.head.numParams);
    const scale = 1 / (M * drawn.length);
    let ratio = 0;
    for (const gi of drawn) {
      const g = this.graphs[gi];
      const scores = this.policy.scores(g.input, 'tfjs');
      const rolls = Array.from({ length: M }, () =>
        decodePartition(g.input, this.cost, scores, this.policy.head.host, { r, s, mode: 'sample', rng: this.rng, record: true }),
      );
      const rewards = rolls.map((x) => -x.latencyMs / g.refLatency);
      const total = rewards.reduce((a, b) => a + b, 0);
      ratio += -total / M;
      // Credit per stage: a decision made while building stage k affects stage k and later ones
      // only, so its return is the latency still to come, −Σ_{j≥k} L_j; the baseline is the mean
      // latency the other rollouts still had at the same progress (operators placed).
      const togo = rolls.map((x) => remainingByProgress(x, g.input.n));
      const advs = rolls.map((x, i) =>
        x.decisions.map((d) => {
          const at = x.stageStart[d.stage];
          let others = 0;
          for (let j = 0; j < M; j++) if (j !== i) others += togo[j][at];
          return -(togo[i][at] - others / (M - 1)) / g.refLatency;
        }),
      );
      // Latency differences between samples are a few percent; scaling advantages by their RMS
      // keeps the step size independent of that (and of the graph).
      let sq = 0;
      let count = 0;
      for (const a of advs) {
        for (const x of a) sq += x * x;
        count += a.length;
      }
      const spread = Math.sqrt(sq / Math.max(1, count)) || 1;
      // ∂J/∂score per node, ∂J/∂w: Σ over rollouts and decisions of advantage·(taken − p), plus the entropy term.
      const G = new Float32Array(g.input.n);
      rolls.forEach((roll, i) => {
        roll.decisions.forEach((d, k) => {
          const adv = advs[i][k] / spread;
          const gz = scale * (adv * ((d.taken ? 1 : 0) - d.p) - entropy * d.z * d.p * (1 - d.p));
          G[d.node] += gz;
          for (let q = 0; q < gHead.length; q++) gHead[q] += gz * d.feats[q];
        });
      });
      // The GNN's share: gradient of the surrogate −Σ score·G (minimised by Adam ⇒ J ascends).
      const theta = this.policy.gnn.theta;
      const t = Gnn.tensors(g.input);
      const Gt = tf.tensor1d(G);
      const { value, grads } = tf.variableGrads(() => tf.neg(tf.sum(tf.mul(this.policy.gnn.apply(t.x, t.aPred, t.aSucc), Gt))) as tf.Scalar, [theta]);
      const gt = grads[theta.name].dataSync();
      for (let k = 0; k < gGnn.length; k++) gGnn[k] += gt[k];
      tf.dispose([value, ...Object.values(grads), Gt, t.x, t.aPred, t.aSucc]);
    }
    // Adam minimises: the head's ascent gradient flips sign.
    for (let k = 0; k < gHead.length; k++) gHead[k] = -gHead[k];
    clipGradient(gGnn, this.policy.gnn.segments, this.cfg.gradClip, 'global');
    clipGradient(gHead, this.policy.head.segments, this.cfg.gradClip, 'global');
    this.gnnOpt.apply(gGnn);
    this.headOpt.apply(gHead);
    this.iteration += 1;
    return { iteration: this.iteration, sampledRatio: ratio / drawn.length, wallMs: performance.now() - t0 };
  }

  /** Runs `iterations` updates; `onLog` sees each (with a greedy evaluation every `evalEvery`). */
  train(iterations = this.cfg.iterations, onLog?: (log: IterationLog) => void, evalEvery = 10): IterationLog[] {
    const out: IterationLog[] = [];
    const mean = () => {
      const ev = this.evaluate();
      return ev.reduce((a, b) => a + b, 0) / ev.length;
    };
    const snapshot = (ratio: number) => ({ ratio, iteration: this.iteration, gnn: this.policy.gnn.host.slice(), head: this.policy.head.host.slice() });
    let best = this.cfg.keepBest && evalEvery > 0 ? snapshot(mean()) : undefined;
    for (let i = 0; i < iterations; i++) {
      const log = this.step();
      if (evalEvery > 0 && (this.iteration % evalEvery === 0 || i === iterations - 1)) {
        log.greedyRatio = mean();
        if (best && log.greedyRatio < best.ratio) best = snapshot(log.greedyRatio);
      }
      out.push(log);
      onLog?.(log);
    }
    if (best && best.iteration !== this.iteration) {
      this.policy.gnn.setParams(best.gnn);
      this.policy.head.setParams(best.head);
    }
    this.selected = best ? { iteration: best.iteration, greedyRatio: best.ratio } : undefined;
    return out;
  }

  /** The evaluation `train` kept (keepBest): its iteration (0 = the initial weights) and ratio. */
  selected?: { iteration: number; greedyRatio: number };
}
