/**
 * A seeded synthetic cost model for tests: every op gets a latency drawn from a seeded RNG keyed by
 * (seed, node id), so costs are reproducible and independent of evaluation order. A stage takes its
 * longest chain plus a contention share of the other chains' work plus a per-stage overhead, so
 * concurrency helps but not for free — the DP has real trade-offs to find.
 */
import seedrandom from 'seedrandom';
import type { Graph, Node } from '../ir.js';
import type { Stage } from '../schedule.js';
import { type CostModel, nodeMap, stageNodes } from './model.js';

export interface SyntheticOptions {
  seed: number;
  /** Op latencies are uniform in [minMs, maxMs). */
  minMs?: number;
  maxMs?: number;
  /** Fraction of each non-critical chain's work that still delays the stage (device sharing). */
  contention?: number;
  /** Fixed cost of every stage (launch + synchronisation), ms. */
  stageMs?: number;
  /** A merged conv costs this fraction of its parts run one after another. */
  mergeFactor?: number;
}

export class SyntheticCostModel implements CostModel {
  readonly name: string;
  private readonly opts: Required<SyntheticOptions>;
  private readonly cache = new Map<string, number>();

  constructor(opts: SyntheticOptions) {
    this.opts = { minMs: 0.1, maxMs: 1, contention: 0.35, stageMs: 0.05, mergeFactor: 0.6, ...opts };
    this.name = `synthetic:${opts.seed}`;
  }

  opLatency(_graph: Graph, node: Node): number {
    let ms = this.cache.get(node.id);
    if (ms === undefined) {
      const rng = seedrandom(`${this.opts.seed}:${node.id}`);
      ms = this.opts.minMs + (this.opts.maxMs - this.opts.minMs) * rng();
      this.cache.set(node.id, ms);
    }
    return ms;
  }

  stageLatency(graph: Graph, stage: Stage): number {
    const groups = stageNodes(graph, stage, nodeMap(graph));
    const chains = groups.map((g) => g.reduce((s, n) => s + this.opLatency(graph, n), 0));
    const total = chains.reduce((s, c) => s + c, 0);
    if (stage.kind === 'merge') return this.opts.stageMs + this.opts.mergeFactor * total;
    const longest = Math.max(...chains);
    return this.opts.stageMs + longest + this.opts.contention * (total - longest);
  }
}
