/**
 * CostModel: the one interface every partitioner and the simulator price schedules with (IOS's
 * design). Latencies are milliseconds for the batch the graph was built at (graph.batch).
 *
 * Implementations: roofline (device spec, analytical), synthetic (seeded, for tests), profiled
 * (tables measured by the native profiler) and learned (co-run interference predictor).
 */
import { type Graph, indexTensors, type Node, type ValueInfo } from '../ir.js';
import type { Schedule, Stage } from '../schedule.js';

export interface CostModel {
  /** Shown in results, e.g. `roofline:v100`. */
  readonly name: string;
  /** One operator run alone on an idle device. */
  opLatency(graph: Graph, node: Node): number;
  /** One stage: its groups run concurrently, each a chain on its own stream. */
  stageLatency(graph: Graph, stage: Stage): number;
}

/** End-to-end latency of a schedule: stages run back to back. */
export function scheduleLatency(cost: CostModel, graph: Graph, schedule: Schedule): number {
  let t = 0;
  for (const stage of schedule.stages) t += cost.stageLatency(graph, stage);
  return t;
}

/** Resolves node ids of a stage once, with a clear error for an unknown id. */
export function stageNodes(graph: Graph, stage: Stage, byId: Map<string, Node>): Node[][] {
  return stage.groups.map((g) =>
    g.map((id) => {
      const n = byId.get(id);
      if (!n) throw new Error(`stage names '${id}', not a node of '${graph.name}'`);
      return n;
    }),
  );
}

/** A per-graph id → node map, cached on the graph object (graphs are immutable once inferred). */
const nodeMaps = new WeakMap<Graph, Map<string, Node>>();
export function nodeMap(graph: Graph): Map<string, Node> {
  let m = nodeMaps.get(graph);
  if (!m) {
    m = new Map(graph.nodes.map((n) => [n.id, n]));
    nodeMaps.set(graph, m);
  }
  return m;
}

const tensorInfos = new WeakMap<Graph, Map<string, ValueInfo>>();
/** A per-graph tensor name → shape/dtype map, cached like nodeMap. */
export function tensorInfo(graph: Graph): Map<string, ValueInfo> {
  let m = tensorInfos.get(graph);
  if (!m) {
    m = indexTensors(graph).info;
    tensorInfos.set(graph, m);
  }
  return m;
}
