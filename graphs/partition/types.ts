/**
 * The partitioner interface: a graph and a cost model in, a schedule with its predicted latency and
 * search statistics out. Every partitioner (sequential, greedy, IOS-DP, GPG) returns this shape so
 * tools and experiments can compare them on latency and search cost alike.
 */
import type { CostModel } from '../cost/model.js';
import type { Graph } from '../ir.js';
import type { Schedule } from '../schedule.js';

export interface PartitionOptions {
  /** IOS pruning: most operators in one group (a chain on one stream). Default 3. */
  r?: number;
  /** IOS pruning: most groups (streams) in one stage; also caps merge stages and greedy stages. Default 8. */
  s?: number;
  /** IOS: blocks with more operators are cut into parts of at most this many for the DP. Default 50. */
  maxPartOps?: number;
  /**
   * IOS-DP (not in IOS): a part with more DP states than this is halved until each piece fits, so
   * wide blocks (NASNet, RandWire) finish; Infinity searches every part whole. Default 20000.
   */
  maxPartStates?: number;
  /** IOS-DP: also consider merge stages (sibling convolutions fused). Default true. */
  merge?: boolean;
  /**
   * IOS-DP: wall-clock budget for the whole search, ms. Each part gets an equal share of what is
   * left when it starts; a part that overruns its share runs the cheaper of the greedy baseline and
   * its sequential chain instead (marked `fallback` in the stats). Default: no budget.
   */
  timeBudgetMs?: number;
  /** Greedy: extend each ready operator into its maximal single-in/single-out chain (≤ r ops). Default true. */
  chains?: boolean;
}

/** Search effort of one DP part (a slice of a block). */
export interface PartStats {
  ops: number;
  states: number;
  transitions: number;
  /** The part overran its share of the time budget; what it runs instead (the cheaper of the two). */
  fallback?: 'greedy' | 'sequential';
}

/** One block: the operators between two cut operators (every path of the graph passes through them). */
export interface BlockStats {
  ops: number;
  parts: PartStats[];
}

export interface SearchStats {
  method: string;
  /** DP states (memo entries) visited; 0 for methods without a search. */
  states: number;
  /** Stage choices evaluated (endings tried from a state). */
  transitions: number;
  /** Distinct stages priced by the cost model. */
  stagesCosted: number;
  wallMs: number;
  blocks?: BlockStats[];
  /** IOS-DP only: the time budget ran out and some parts were scheduled greedily. */
  budgetExceeded?: boolean;
}

export interface PartitionResult {
  schedule: Schedule;
  /** Predicted end-to-end latency of `schedule` under the cost model, ms. */
  latencyMs: number;
  stats: SearchStats;
}

export type Partitioner = (graph: Graph, cost: CostModel, opts?: PartitionOptions) => PartitionResult;

/** Options with defaults filled in and checked; errors name the option. */
export interface ResolvedOptions {
  r: number;
  s: number;
  maxPartOps: number;
  maxPartStates: number;
  merge: boolean;
  timeBudgetMs: number;
  chains: boolean;
}

export function resolveOptions(opts: PartitionOptions = {}): ResolvedOptions {
  const r = opts.r ?? 3;
  const s = opts.s ?? 8;
  const maxPartOps = opts.maxPartOps ?? 50;
  const maxPartStates = opts.maxPartStates ?? 20_000;
  const timeBudgetMs = opts.timeBudgetMs ?? Number.POSITIVE_INFINITY;
  const positive = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`partition option '${name}' must be a positive integer, got ${JSON.stringify(v)}`);
  };
  positive('r', r);
  positive('s', s);
  positive('maxPartOps', maxPartOps);
  if (!(maxPartStates >= 2)) throw new Error(`partition option 'maxPartStates' must be at least 2, got ${JSON.stringify(opts.maxPartStates)}`);
  if (!(timeBudgetMs > 0)) throw new Error(`partition option 'timeBudgetMs' must be positive, got ${JSON.stringify(opts.timeBudgetMs)}`);
  return { r, s, maxPartOps, maxPartStates, merge: opts.merge ?? true, timeBudgetMs, chains: opts.chains ?? true };
}
