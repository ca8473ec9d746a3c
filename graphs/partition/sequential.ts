/** The sequential baseline: one operator per stage, in the graph's topological order (what a plain framework runs). */
import { type CostModel, scheduleLatency } from '../cost/model.js';
import type { Graph } from '../ir.js';
import { sequentialSchedule, validateSchedule } from '../schedule.js';
import type { PartitionOptions, PartitionResult } from './types.js';

export function sequentialPartition(graph: Graph, cost: CostModel, _opts: PartitionOptions = {}): PartitionResult {
  const t0 = performance.now();
  const schedule = validateSchedule(graph, sequentialSchedule(graph));
  const latencyMs = scheduleLatency(cost, graph, schedule);
  return {
    schedule,
    latencyMs,
    stats: { method: 'sequential', states: 0, transitions: 0, stagesCosted: schedule.stages.length, wallMs: performance.now() - t0 },
  };
}
