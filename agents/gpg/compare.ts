/**
 * GPG against the search-based partitioners on the same graphs and cost model: predicted latency
 * and wall-clock search time of GPG (features + one forward pass + greedy decode), IOS-DP and
 * IOS's greedy. This is the measurement behind the "within 5 % of IOS-DP at ≥ 100× less search
 * time" goal; it reports what it measures, whichever way it falls.
 */
import type { CostModel } from '../../graphs/cost/model.js';
import type { Graph } from '../../graphs/ir.js';
import { partition } from '../../graphs/partition/index.js';
import type { PartitionOptions } from '../../graphs/partition/types.js';
import type { GpgPolicy } from './policy.js';

export interface CompareRow {
  graph: string;
  nodes: number;
  sequentialMs: number;
  greedyMs: number;
  iosMs: number;
  gpgMs: number;
  /** GPG latency / IOS-DP latency (≤ 1.05 meets the goal). */
  gpgOverIos: number;
  iosSearchMs: number;
  gpgSearchMs: number;
  /** IOS-DP search time / GPG time (≥ 100 meets the goal). */
  speedup: number;
  /** IOS-DP ran out of its time budget on some part (its schedule is then partly greedy). */
  iosBudgetExceeded: boolean;
}

export function compareWithIos(policy: GpgPolicy, graphs: Graph[], cost: CostModel, opts: PartitionOptions = {}): CompareRow[] {
  return graphs.map((graph) => {
    const seq = partition(graph, 'sequential', cost, opts);
    const greedy = partition(graph, 'greedy', cost, opts);
    const ios = partition(graph, 'ios-dp', cost, opts);
    policy.partition(graph, cost, opts); // warm-up: JIT and caches, as a deployed partitioner would be
    const gpg = policy.partition(graph, cost, opts);
    return {
      graph: graph.name,
      nodes: graph.nodes.length,
      sequentialMs: seq.latencyMs,
      greedyMs: greedy.latencyMs,
      iosMs: ios.latencyMs,
      gpgMs: gpg.latencyMs,
      gpgOverIos: gpg.latencyMs / ios.latencyMs,
      iosSearchMs: ios.stats.wallMs,
      gpgSearchMs: gpg.stats.wallMs,
      speedup: ios.stats.wallMs / gpg.stats.wallMs,
      iosBudgetExceeded: Boolean(ios.stats.budgetExceeded),
    };
  });
}
