/**
 * Exhaustive search over every valid stage sequence, for checking the IOS DP on small graphs.
 *
 * A different algorithm on purpose: it builds schedules *forwards* (the DP works backwards), takes
 * every subset of the unscheduled operators by plain bitmask enumeration (the DP grows endings from
 * sinks), tests each candidate stage against the rules directly, and recurses without memoising, so
 * it visits every sequence. The space is the DP's: a stage is a set F of unscheduled operators whose
 * unscheduled predecessors are all in F, either
 *  - parallel: groups = the weakly connected components of F, each ≤ r operators, at most s groups;
 *  - merge: 2..s Convs accepted by `mergeableConvs`.
 * Stage latencies are cached by set (that is pricing, not memoising the search).
 */
import type { CostModel } from '../cost/model.js';
import type { Graph } from '../ir.js';
import { mergeableConvs, type Schedule, type Stage } from '../schedule.js';
import { buildDag } from '../topo.js';
import { type PartitionOptions, resolveOptions } from './types.js';

export interface BruteResult {
  latencyMs: number;
  schedule: Schedule;
  /** Complete stage sequences enumerated. */
  sequences: number;
}

/** Most operators brute force accepts: it enumerates all subsets of the remaining set at every step. */
export const BRUTE_MAX_NODES = 12;

export function brutePartition(graph: Graph, cost: CostModel, opts: PartitionOptions = {}): BruteResult {
  const o = resolveOptions(opts);
  const dag = buildDag(graph);
  const n = dag.nodes.length;
  if (n > BRUTE_MAX_NODES) throw new Error(`brute force: graph '${graph.name}' has ${n} nodes, at most ${BRUTE_MAX_NODES} supported`);
  const predMask = dag.preds.map((ps) => ps.reduce((m, u) => m | (1 << u), 0));
  const adjMask = dag.nodes.map((_, v) => predMask[v] | dag.succs[v].reduce((m, w) => m | (1 << w), 0));
  const bits = (mask: number) => dag.nodes.map((_, i) => i).filter((i) => mask & (1 << i));

  /** Connected components of the subgraph induced by `mask`, each ascending (a topological chain). */
  const components = (mask: number): number[][] => {
    const out: number[][] = [];
    let left = mask;
    while (left) {
      const seed = left & -left;
      let comp = seed;
      let frontier = seed;
      while (frontier) {
        let grown = 0;
        for (const v of bits(frontier)) grown |= adjMask[v] & mask;
        frontier = grown & ~comp;
        comp |= grown;
      }
      out.push(bits(comp));
      left &= ~comp;
    }
    return out.sort((a, b) => a[0] - b[0]);
  };

  const priced = new Map<string, number>();
  const price = (stage: Stage, key: string) => {
    let c = priced.get(key);
    if (c === undefined) {
      c = cost.stageLatency(graph, stage);
      priced.set(key, c);
    }
    return c;
  };

  /** The stages a set may form (zero, one or two: parallel and merge), cached per set. */
  const formed = new Map<number, Stage[]>();
  const stagesFor = (F: number): Stage[] => {
    const known = formed.get(F);
    if (known) return known;
    const out: Stage[] = [];
    formed.set(F, out);
    const comps = components(F);
    if (comps.length <= o.s && comps.every((c) => c.length <= o.r)) {
      out.push({ kind: 'parallel', groups: comps.map((c) => c.map((v) => dag.nodes[v].id)) });
    }
    const members = bits(F);
    if (o.merge && members.length >= 2 && members.length <= o.s && mergeableConvs(members.map((v) => dag.nodes[v])) === null) {
      out.push({ kind: 'merge', groups: members.map((v) => [dag.nodes[v].id]) });
    }
    return out;
  };

  let sequences = 0;
  const search = (remaining: number): { ms: number; stages: Stage[] } => {
    if (remaining === 0) {
      sequences++;
      return { ms: 0, stages: [] };
    }
    let best: { ms: number; stages: Stage[] } = { ms: Number.POSITIVE_INFINITY, stages: [] };
    // Every non-empty subset F of `remaining` (standard submask walk).
    for (let F = remaining; F > 0; F = (F - 1) & remaining) {
      const ready = bits(F).every((v) => (predMask[v] & remaining & ~F) === 0);
      if (!ready) continue;
      for (const stage of stagesFor(F)) {
        const ms = price(stage, `${stage.kind}:${F}`);
        const rest = search(remaining & ~F);
        if (ms + rest.ms < best.ms) best = { ms: ms + rest.ms, stages: [stage, ...rest.stages] };
      }
    }
    return best;
  };

  const all = n === 0 ? 0 : (1 << n) - 1;
  const best = search(all);
  return { latencyMs: best.ms, schedule: { model: graph.name, batch: graph.batch, stages: best.stages }, sequences };
}
