/**
 * Hybrid inter/intra-op schedules: a cost model that prices each stage at its best assignment of
 * intra-op threads to groups (sum ≤ cores), so the partitioners that ask it — greedy and IOS-DP alike —
 * search the thread counts with the stage boundaries; `assignThreads` then writes the chosen counts
 * into the schedule (Stage.threads), which the native executor honours. On a CPU this is the choice
 * between running branches side by side on one thread each and giving one branch every core.
 * Only a base model that reads `Stage.threads` (the roofline) tells the assignments apart.
 */
import type { Graph, Node } from '../ir.js';
import type { Schedule, Stage } from '../schedule.js';
import type { CostModel } from './model.js';

/** Thread vectors for `groups` groups on `cores` cores: every group ≥ 1, sum ≤ cores (powers of two past 4). */
export function threadAssignments(groups: number, cores: number): number[][] {
  if (groups > cores) return [];
  const counts = Array.from({ length: cores }, (_, i) => i + 1).filter((k) => k <= 4 || (k & (k - 1)) === 0 || k === cores);
  const out: number[][] = [];
  const walk = (prefix: number[], left: number) => {
    if (out.length >= 512) return;
    if (prefix.length === groups) {
      out.push(prefix);
      return;
    }
    const rest = groups - prefix.length - 1;
    for (const k of counts) if (k + rest <= left) walk([...prefix, k], left - k);
  };
  walk([], cores);
  return out;
}

export class ThreadChoiceCostModel implements CostModel {
  readonly name: string;
  private readonly memo = new Map<string, { ms: number; threads?: number[] }>();

  constructor(
    readonly base: CostModel,
    readonly cores: number,
  ) {
    if (!Number.isInteger(cores) || cores < 1) throw new Error(`hybrid threads: cores must be a positive integer, got ${cores}`);
    this.name = `${base.name}, threads searched on ${cores} cores`;
  }

  opLatency(graph: Graph, node: Node): number {
    return this.base.opLatency(graph, node);
  }

  /** The cheapest assignment of the stage (undefined threads: more groups than cores). */
  best(graph: Graph, stage: Stage): { ms: number; threads?: number[] } {
    const key = `${graph.name}|${stage.kind}|${stage.groups.map((g) => g.join(',')).join('|')}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    let best: { ms: number; threads?: number[] } = { ms: this.base.stageLatency(graph, { kind: stage.kind, groups: stage.groups }) };
    const n = stage.kind === 'merge' ? 1 : stage.groups.length;
    for (const t of threadAssignments(n, this.cores)) {
      const threads = stage.kind === 'merge' ? stage.groups.map(() => t[0]) : t;
      const ms = this.base.stageLatency(graph, { kind: stage.kind, groups: stage.groups, threads });
      if (ms < best.ms - 1e-12) best = { ms, threads };
    }
    this.memo.set(key, best);
    return best;
  }

  stageLatency(graph: Graph, stage: Stage): number {
    return this.best(graph, stage).ms;
  }
}

/** The schedule with each stage's best thread assignment written in (stages left as they are otherwise). */
export function assignThreads(graph: Graph, schedule: Schedule, cost: ThreadChoiceCostModel): Schedule {
  return {
    ...schedule,
    stages: schedule.stages.map((st) => {
      const { threads } = cost.best(graph, st);
      const { threads: _old, ...rest } = st;
      return threads ? { ...rest, threads } : rest;
    }),
  };
}
