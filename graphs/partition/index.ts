/**
 * Partitioner registry: `partition(graph, method, cost, opts)` runs one search method by name.
 * Methods: `sequential` (one op per stage), `greedy` (IOS's greedy baseline), `ios-dp` (IOS's DP).
 */
import type { CostModel } from '../cost/model.js';
import type { Graph } from '../ir.js';
import { greedyPartition } from './greedy.js';
import { iosDpPartition } from './ios-dp.js';
import { sequentialPartition } from './sequential.js';
import type { Partitioner, PartitionOptions, PartitionResult } from './types.js';

export { greedyPartition, greedyStages } from './greedy.js';
export { iosDpPartition } from './ios-dp.js';
export { sequentialPartition } from './sequential.js';
export * from './types.js';

export const PARTITIONERS = {
  sequential: sequentialPartition,
  greedy: greedyPartition,
  'ios-dp': iosDpPartition,
} as const satisfies Record<string, Partitioner>;

export type PartitionMethod = keyof typeof PARTITIONERS;

export function partitionMethods(): PartitionMethod[] {
  return Object.keys(PARTITIONERS) as PartitionMethod[];
}

export function partition(graph: Graph, method: PartitionMethod, cost: CostModel, opts: PartitionOptions = {}): PartitionResult {
  const run = Object.hasOwn(PARTITIONERS, method) ? PARTITIONERS[method] : undefined;
  if (!run) throw new Error(`unknown partition method ${JSON.stringify(method)} (known: ${partitionMethods().join(', ')})`);
  return run(graph, cost, opts);
}
