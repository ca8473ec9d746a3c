/**
 * Imitation pre-training of GPG from IOS-DP's schedules (behaviour cloning, which REINFORCE in
 * train.ts could then refine). The teacher is IOS-DP without merge stages, whose stages lie in
 * GPG's decoding space; the decoder replays each teacher schedule (teacher forcing) and two losses
 * train the same scores and weights the policy decodes with:
 *  - per decision, binary cross-entropy of σ(z) against "the teacher adds this operator";
 *  - per stage, a ranking loss −log Σ_{v ∈ teacher's pick} softmax(score over ready nodes)_v, so the
 *    operator that opens a stage at inference (the best-scored ready one) is one the teacher uses.
 * Measured: on 12-node-per-stage RandWire graphs the policy reaches ~73 % decision accuracy and
 * its greedy decoding gets worse than the heuristic prior it starts from (errors compound), so the
 * default pipeline (experiment.ts) does not use it; it stays as a tool for richer policies.
 * Gradients follow train.ts: computed per node on the host, pushed into the GNN through the
 * surrogate loss Σ_v score(v)·G_v.
 */
import * as tf from '@tensorflow/tfjs';
import type { CostModel } from '../../graphs/cost/model.js';
import type { Graph } from '../../graphs/ir.js';
import { iosDpPartition } from '../../graphs/partition/ios-dp.js';
import type { PartitionOptions } from '../../graphs/partition/types.js';
import type { Schedule } from '../../graphs/schedule.js';
import { Adam, clipGradient } from '../nn.js';
import { makeRng } from '../rng.js';
import { decodePartition } from './decode.js';
import type { GraphInput } from './features.js';
import { Gnn } from './gnn.js';
import type { GpgPolicy } from './policy.js';
import type { TrainGraph } from './train.js';

export interface TeacherGraph extends TrainGraph {
  /** Stage index of every node in the teacher schedule. */
  teacher: Int32Array;
  teacherLatency: number;
}

/** Stage index per node of a schedule with parallel stages only. */
export function stageIndex(g: GraphInput, schedule: Schedule): Int32Array {
  const out = new Int32Array(g.n).fill(-1);
  schedule.stages.forEach((st, k) => {
    if (st.kind !== 'parallel')
      throw new Error(`gpg imitation: teacher stage ${k} of '${g.graph.name}' is a ${st.kind} stage; use a schedule without merge stages`);
    for (const grp of st.groups)
      for (const id of grp) {
        const v = g.dag.index.get(id);
        if (v === undefined) throw new Error(`gpg imitation: teacher names '${id}', not a node of '${g.graph.name}'`);
        out[v] = k;
      }
  });
  const miss = out.indexOf(-1);
  if (miss >= 0) throw new Error(`gpg imitation: teacher schedule leaves '${g.dag.nodes[miss].id}' out`);
  return out;
}

/** IOS-DP (no merge stages) as the teacher of each training graph. */
export function withTeachers(graphs: TrainGraph[], cost: CostModel, opts: PartitionOptions = {}): TeacherGraph[] {
  return graphs.map((g) => {
    const ios = iosDpPartition(g.input.graph as Graph, cost, { ...opts, merge: false });
    return { ...g, teacher: stageIndex(g.input, ios.schedule), teacherLatency: ios.latencyMs };
  });
}

export interface ImitationLog {
  iteration: number;
  /** Mean binary cross-entropy of the decisions. */
  bce: number;
  /** Mean ranking loss per stage. */
  rank: number;
  /** Fraction of decisions the policy gets right (σ(z) > 0.5 ⇔ teacher adds). */
  accuracy: number;
}

export class GpgImitation {
  private readonly gnnOpt: Adam<Gnn>;
  private readonly headOpt: Adam;
  private readonly rng: () => number;
  iteration = 0;

  constructor(
    readonly policy: GpgPolicy,
    readonly graphs: TeacherGraph[],
    readonly cost: CostModel,
    readonly cfg: { lr?: number; graphsPerIteration?: number; seed?: number; gradClip?: number } = {},
  ) {
    if (!graphs.length) throw new Error('gpg imitation: no graphs');
    this.gnnOpt = new Adam(policy.gnn, { lr: cfg.lr ?? 3e-3 });
    this.headOpt = new Adam(policy.head, { lr: cfg.lr ?? 3e-3 });
    this.rng = makeRng(`${cfg.seed ?? 0}/gpg-imitation`);
  }

  step(): ImitationLog {
    const { r, s } = this.policy.cfg;
    const pool = this.graphs.map((_, i) => i);
    const drawn: number[] = [];
    while (drawn.length < Math.min(this.cfg.graphsPerIteration ?? 4, pool.length)) drawn.push(pool.splice(Math.floor(this.rng() * pool.length), 1)[0]);
    const gGnn = new Float32Array(this.policy.gnn.numParams);
    const gHead = new Float32Array(this.policy.head.numParams);
    let bce = 0;
    let rank = 0;
    let right = 0;
    let decisions = 0;
    let stages = 0;
    for (const gi of drawn) {
      const g = this.graphs[gi];
      const scores = this.policy.scores(g.input, 'tfjs');
      const roll = decodePartition(g.input, this.cost, scores, this.policy.head.host, { r, s, mode: 'greedy', record: true, teacher: g.teacher });
      // Descent gradients of the mean losses w.r.t. each score and each head weight.
      const G = new Float32Array(g.input.n);
      const nd = Math.max(1, roll.decisions.length);
      for (const d of roll.decisions) {
        const y = d.taken ? 1 : 0;
        bce -= y ? Math.log(Math.max(d.p, 1e-12)) : Math.log(Math.max(1 - d.p, 1e-12));
        if (d.p > 0.5 === d.taken) right++;
        const gz = (d.p - y) / nd;
        G[d.node] += gz;
        for (let k = 0; k < gHead.length; k++) gHead[k] += gz * d.feats[k];
      }
      decisions += roll.decisions.length;
      const ns = Math.max(1, roll.rankings.length);
      for (const { ready, targets } of roll.rankings) {
        if (ready.length < 2) continue;
        const m = Math.max(...ready.map((v) => scores[v]));
        const e = ready.map((v) => Math.exp(scores[v] - m));
        const Z = e.reduce((a, b) => a + b, 0);
        const isT = new Set(targets);
        const pT = ready.reduce((acc, v, i) => acc + (isT.has(v) ? e[i] / Z : 0), 0);
        rank -= Math.log(Math.max(pT, 1e-12));
        ready.forEach((v, i) => {
          const p = e[i] / Z;
          G[v] += (p - (isT.has(v) ? p / pT : 0)) / ns;
        });
      }
      stages += roll.rankings.length;
      const theta = this.policy.gnn.theta;
      const t = Gnn.tensors(g.input);
      const Gt = tf.tensor1d(G);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(this.policy.gnn.apply(t.x, t.aPred, t.aSucc), Gt)) as tf.Scalar, [theta]);
      const gt = grads[theta.name].dataSync();
      for (let k = 0; k < gGnn.length; k++) gGnn[k] += gt[k] / drawn.length;
      tf.dispose([value, ...Object.values(grads), Gt, t.x, t.aPred, t.aSucc]);
    }
    for (let k = 0; k < gHead.length; k++) gHead[k] /= drawn.length;
    clipGradient(gGnn, this.policy.gnn.segments, this.cfg.gradClip ?? 1, 'global');
    clipGradient(gHead, this.policy.head.segments, this.cfg.gradClip ?? 1, 'global');
    this.gnnOpt.apply(gGnn);
    this.headOpt.apply(gHead);
    this.iteration += 1;
    return { iteration: this.iteration, bce: bce / Math.max(1, decisions), rank: rank / Math.max(1, stages), accuracy: right / Math.max(1, decisions) };
  }
}
