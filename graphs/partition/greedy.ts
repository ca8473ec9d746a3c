/**
 * IOS's greedy baseline (`Block.greedy_schedule` in the IOS code): repeatedly put every ready
 * operator (all predecessors scheduled) into one parallel stage, at most `s` groups per stage; ready
 * operators beyond `s` wait for the next stage, ahead of the newly ready ones.
 *
 * Groups. IOS's schedule units are compound operators (Conv+BN+ReLU is one `Sequential` unit), while
 * this IR keeps BatchNorm and Relu as separate nodes. Taking single nodes as groups would give the
 * greedy baseline three stages per IOS unit, so by default (`chains: true`) each ready operator is
 * extended along its single-input/single-output chain (the next node is its only consumer and reads
 * nothing else scheduled later), up to `r` operators — the closest match to IOS's units. Such groups
 * are exactly the connected components of the stage, so every greedy stage lies in the IOS-DP
 * search space and the DP can never do worse on a single part. `chains: false` gives the literal
 * one-node-per-group greedy.
 */
import { type CostModel, scheduleLatency } from '../cost/model.js';
import type { Graph } from '../ir.js';
import { type Schedule, validateSchedule } from '../schedule.js';
import { buildDag, type Dag, topoOrder } from '../topo.js';
import { type PartitionOptions, type PartitionResult, resolveOptions } from './types.js';

export interface GreedyOptions {
  s: number;
  r: number;
  chains: boolean;
}

/**
 * Greedy stages over `nodes` (node indices of `dag`, a set closed under "scheduled before": every
 * predecessor outside it is taken as already run). Returns stages of groups of node indices.
 */
export function greedyStages(dag: Dag, nodes: readonly number[], opts: GreedyOptions): number[][][] {
  const inSet = new Set(nodes);
  const order = topoOrder(dag).filter((v) => inSet.has(v));
  const pos = new Map(order.map((v, i) => [v, i]));
  const pending = new Map<number, number>();
  for (const v of order) pending.set(v, dag.preds[v].filter((u) => inSet.has(u)).length);
  const succsIn = (v: number) => dag.succs[v].filter((w) => inSet.has(w));
  const predsIn = (v: number) => dag.preds[v].filter((u) => inSet.has(u));
  let ready = order.filter((v) => pending.get(v) === 0);
  const stages: number[][][] = [];
  while (ready.length) {
    const taken = ready.slice(0, opts.s);
    const deferred = ready.slice(opts.s);
    const groups: number[][] = [];
    for (const v of taken) {
      const group = [v];
      if (opts.chains) {
        let tail = v;
        while (group.length < opts.r) {
          const next = succsIn(tail);
          if (next.length !== 1 || predsIn(next[0]).length !== 1) break;
          tail = next[0];
          group.push(tail);
        }
      }
      groups.push(group);
    }
    stages.push(groups);
    const fresh: number[] = [];
    for (const g of groups) {
      for (const v of g) {
        for (const w of succsIn(v)) {
          const left = (pending.get(w) as number) - 1;
          pending.set(w, left);
          // Chain members became "ready" inside their group; only outsiders join the queue.
          if (left === 0 && !g.includes(w)) fresh.push(w);
        }
      }
    }
    fresh.sort((a, b) => (pos.get(a) as number) - (pos.get(b) as number));
    ready = [...deferred, ...fresh];
  }
  return stages;
}

export function greedyPartition(graph: Graph, cost: CostModel, opts: PartitionOptions = {}): PartitionResult {
  const t0 = performance.now();
  const o = resolveOptions(opts);
  const dag = buildDag(graph);
  const stages = greedyStages(
    dag,
    dag.nodes.map((_, i) => i),
    o,
  );
  const schedule: Schedule = {
    model: graph.name,
    batch: graph.batch,
    stages: stages.map((groups) => ({ kind: 'parallel' as const, groups: groups.map((g) => g.map((v) => dag.nodes[v].id)) })),
  };
  validateSchedule(graph, schedule);
  const latencyMs = scheduleLatency(cost, graph, schedule);
  return { schedule, latencyMs, stats: { method: 'greedy', states: 0, transitions: 0, stagesCosted: schedule.stages.length, wallMs: performance.now() - t0 } };
}
