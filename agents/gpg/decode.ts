/**
 * Builds a stage partition step by step from GPG's per-node scores.
 *
 * One stage at a time:
 *  1. Candidates are the operators whose predecessors are all placed in earlier stages or in the
 *     stage being built. They are taken in order of their GNN score (ties by topological position);
 *     the first candidate of a stage always enters it (a stage is never empty).
 *  2. For each further candidate v the policy decides "add v to this stage" with probability
 *     σ(z), z = score(v) + w · f(v, stage), where f are features of the decision computed from the
 *     cost model: the marginal stage latency of adding v, v's own latency, the stage's size and
 *     group count, whether v joins an existing group (and whether that merges groups or goes
 *     through a fan-out), how often v was deferred, progress (DYNAMIC_FEATURES). Adding v may make its successors candidates in the same stage.
 *     A candidate that would break IOS's pruning — a group of more than r operators or more than
 *     s groups — is skipped without a decision.
 *  3. When no candidate is left the stage closes: its groups are the connected components of the
 *     stage's operators, each run as a chain in topological order (exactly IOS's parallel stages).
 *
 * Greedy decoding adds v iff σ(z) > 0.5; sampling draws from the Bernoulli and records each
 * decision for REINFORCE. Deciding "yes" except where a candidate merges groups or joins through a
 * fan-out gives IOS's greedy schedule (ready operators extended along single-input/single-output
 * chains up to r) — the prior GpgPolicy starts from; the learned scores and weights decide what to
 * defer or join instead.
 */

import type { CostModel } from '../../graphs/cost/model.js';
import { Heap } from '../../graphs/heap.js';
import type { Schedule, Stage } from '../../graphs/schedule.js';
import type { GraphInput } from './features.js';

export const DYNAMIC_FEATURES = [
  'bias',
  'joins_group',
  'delta_over_own',
  'delta_over_stage',
  'own_over_stage',
  'groups_frac',
  'size_frac',
  'deferrals',
  'group_size_frac',
  'progress',
  'merges_groups',
  'joins_fanout',
] as const;
export const NUM_DYNAMIC_FEATURES = DYNAMIC_FEATURES.length;

export interface Decision {
  node: number;
  /** Index of the stage being built when the decision was made. */
  stage: number;
  feats: Float32Array;
  /** σ(z) at decision time. */
  p: number;
  z: number;
  taken: boolean;
}

export interface Rollout {
  /** Stages as groups of node indices (each group in topological order). */
  stages: number[][][];
  decisions: Decision[];
  latencyMs: number;
  /** Per stage: operators placed before it, and its latency (for per-stage credit assignment). */
  stageStart: number[];
  stageLatency: number[];
  /** Teacher forcing only: per stage, the ready set and the teacher's picks from it. */
  rankings: Ranking[];
}

export interface DecodeOptions {
  r: number;
  s: number;
  mode: 'greedy' | 'sample';
  /** Uniform [0, 1) source; required when sampling. */
  rng?: () => number;
  /** Keep the per-decision records (training needs them; inference does not). */
  record?: boolean;
  /**
   * Teacher forcing (imitation): the stage index of every node in a target schedule whose stages
   * are reachable by this decoder (parallel stages within r and s). Each stage then starts with
   * the best-scored ready node of the teacher's stage and every decision follows the teacher; the
   * rollout records the labels and, per stage, the ready set and which of it the teacher takes.
   */
  teacher?: Int32Array;
}

export interface Ranking {
  /** Nodes ready when the stage began. */
  ready: number[];
  /** Those of them in the teacher's stage. */
  targets: number[];
}

/** Max-heap of node indices by (score desc, topological position asc). */
function candidateHeap(score: Float32Array, pos: Int32Array): Heap<number> {
  return new Heap<number>((x, y) => {
    const d = score[x] - score[y];
    return d > 0 || (d === 0 && pos[x] < pos[y]);
  });
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

export function decodePartition(g: GraphInput, cost: CostModel, scores: Float32Array, w: Float32Array, o: DecodeOptions): Rollout {
  const { dag, n, opLat, topoPos, graph } = g;
  if (scores.length !== n) throw new Error(`gpg decode: ${scores.length} scores for ${n} nodes of '${graph.name}'`);
  if (w.length !== NUM_DYNAMIC_FEATURES) throw new Error(`gpg decode: ${w.length} feature weights, expected ${NUM_DYNAMIC_FEATURES}`);
  if (o.mode === 'sample' && !o.rng) throw new Error('gpg decode: sampling needs an rng');
  const ids = dag.nodes.map((x) => x.id);
  const missing = Int32Array.from(dag.preds, (p) => p.length);
  const placed = new Uint8Array(n);
  const deferrals = new Int32Array(n);
  const stages: number[][][] = [];
  const decisions: Decision[] = [];
  const stageStart: number[] = [];
  const rankings: Ranking[] = [];
  const teacher = o.teacher;
  if (teacher && teacher.length !== n) throw new Error(`gpg decode: teacher has ${teacher.length} entries for ${n} nodes of '${graph.name}'`);
  const stageLatency: number[] = [];
  let placedCount = 0;
  let latency = 0;
  // Nodes whose predecessors are all placed (the next stage's first candidates).
  let ready: number[] = [];
  for (let v = 0; v < n; v++) if (missing[v] === 0) ready.push(v);

  // Per-stage state: component id of each member (−1 outside the stage), component members.
  const comp = new Int32Array(n).fill(-1);
  const groupLatency = (members: number[][]): number => {
    const stage: Stage = { kind: 'parallel', groups: members.map((m) => [...m].sort((a, b) => topoPos[a] - topoPos[b]).map((v) => ids[v])) };
    return cost.stageLatency(graph, stage);
  };

  while (placedCount < n) {
    if (!ready.length) throw new Error(`gpg decode: no ready operator in '${graph.name}' with ${n - placedCount} left (cycle?)`);
    const heap = candidateHeap(scores, topoPos);
    for (const v of ready) heap.push(v);
    const comps = new Map<number, number[]>();
    let nextComp = 0;
    const members: number[] = [];
    let stageLat = 0;
    const add = (v: number, join: number[]) => {
      const merged = [v];
      for (const c of join) {
        merged.push(...(comps.get(c) as number[]));
        comps.delete(c);
      }
      const id = nextComp++;
      for (const u of merged) comp[u] = id;
      comps.set(id, merged);
      members.push(v);
      for (const x of dag.succs[v]) if (--missing[x] === 0) heap.push(x);
    };
    const joinsOf = (v: number): number[] => {
      const js = new Set<number>();
      for (const u of dag.preds[v]) if (comp[u] >= 0) js.add(comp[u]);
      return [...js];
    };
    let first: number;
    if (teacher) {
      const k = stages.length;
      const targets = ready.filter((v) => teacher[v] === k);
      if (!targets.length) throw new Error(`gpg decode: teacher stage ${k} of '${graph.name}' has no operator ready after the earlier stages`);
      rankings.push({ ready: [...ready], targets });
      first = targets.reduce((b, v) => (scores[v] > scores[b] || (scores[v] === scores[b] && topoPos[v] < topoPos[b]) ? v : b));
      // Take it out of the heap: rebuild without it.
      const rest: number[] = [];
      while (heap.size) {
        const v = heap.pop() as number;
        if (v !== first) rest.push(v);
      }
      for (const v of rest) heap.push(v);
    } else first = heap.pop() as number;
    add(first, joinsOf(first));
    stageLat = groupLatency([...comps.values()]);
    const skipped: number[] = [];
    while (heap.size) {
      const v = heap.pop() as number;
      const join = joinsOf(v);
      const size = 1 + join.reduce((s, c) => s + (comps.get(c) as number[]).length, 0);
      const groups = comps.size - join.length + 1;
      // Under teacher forcing a stage may pass through more partial groups than its final count.
      if (size > o.r || (!teacher && groups > o.s)) {
        skipped.push(v);
        continue;
      }
      const others = [...comps.entries()].filter(([c]) => !join.includes(c)).map(([, m]) => m);
      const merged = [v, ...join.flatMap((c) => comps.get(c) as number[])];
      const withV = groupLatency([...others, merged]);
      const delta = withV - stageLat;
      const own = Math.max(opLat[v], 1e-9);
      const f = new Float32Array(NUM_DYNAMIC_FEATURES);
      f[0] = 1;
      f[1] = join.length ? 1 : 0;
      f[2] = Math.min(2, Math.max(-1, delta / own));
      f[3] = Math.min(2, Math.max(0, delta / Math.max(stageLat, 1e-9)));
      f[4] = Math.min(2, own / Math.max(stageLat, 1e-9)) / 2;
      f[5] = comps.size / o.s;
      f[6] = members.length / (o.r * o.s);
      f[7] = Math.min(deferrals[v], 4) / 4;
      f[8] = size / o.r;
      f[9] = placedCount / n;
      // Joining two groups serialises them on one stream; joining through a node with several
      // consumers blocks its other consumers from that group: both cost concurrency.
      f[10] = join.length >= 2 ? 1 : 0;
      f[11] = dag.preds[v].some((u) => comp[u] >= 0 && dag.succs[u].length > 1) ? 1 : 0;
      let z = scores[v];
      for (let k = 0; k < NUM_DYNAMIC_FEATURES; k++) z += w[k] * f[k];
      const p = sigmoid(z);
      const taken = teacher ? teacher[v] === stages.length : o.mode === 'greedy' ? p > 0.5 : (o.rng as () => number)() < p;
      if (o.record) decisions.push({ node: v, stage: stages.length, feats: f, p, z, taken });
      if (taken) {
        add(v, join);
        stageLat = withV;
      } else skipped.push(v);
    }
    // Close the stage: members become placed; candidates whose predecessors are all placed now
    // are the next stage's ready set (rejected ones count a deferral).
    for (const v of members) {
      placed[v] = 1;
      comp[v] = -1;
    }
    if (teacher) {
      const k = stages.length;
      const missed = members.length !== teacher.reduce((c, t) => c + (t === k ? 1 : 0), 0);
      if (missed)
        throw new Error(
          `gpg decode: teacher stage ${k} of '${graph.name}' is not reachable (groups over r=${o.r}, s=${o.s}, or not closed under predecessors)`,
        );
    }
    stageStart.push(placedCount);
    stageLatency.push(stageLat);
    placedCount += members.length;
    latency += stageLat;
    stages.push([...comps.values()].map((m) => m.sort((a, b) => topoPos[a] - topoPos[b])));
    // Successors of members that were pushed but not taken are in `skipped` with missing = 0.
    const next = new Set<number>();
    for (const v of skipped) {
      if (!placed[v] && missing[v] === 0) {
        deferrals[v] += 1;
        next.add(v);
      }
    }
    ready = [...next];
  }
  return { stages, decisions, latencyMs: latency, stageStart, stageLatency, rankings };
}

export function rolloutSchedule(g: GraphInput, stages: number[][][]): Schedule {
  const ids = g.dag.nodes.map((x) => x.id);
  return {
    model: g.graph.name,
    batch: g.graph.batch,
    stages: stages.map((groups) => ({ kind: 'parallel' as const, groups: groups.map((m) => m.map((v) => ids[v])) })),
  };
}
