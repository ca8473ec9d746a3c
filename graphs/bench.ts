/**
 * Scaling of the graph pipeline on long graphs: inference, a greedy partition and arena planning of
 * a Relu chain and of a ladder (each node also reads the tensor two back, so every stage has a
 * long-lived neighbour), at two sizes. Time per node stays flat when the work is O(n log n);
 * a quadratic planner multiplies it by the size ratio.
 */
import { SyntheticCostModel } from './cost/index.js';
import { inferGraph } from './infer.js';
import type { Graph, Node } from './ir.js';
import { planMemory } from './memory/planner.js';
import { partition } from './partition/index.js';

function longGraph(kind: 'chain' | 'ladder', n: number): Graph {
  const nodes: Node[] = [];
  for (let i = 0; i < n; i++) {
    const prev = i ? `t${i - 1}` : 'x';
    const inputs = kind === 'ladder' && i >= 2 ? [prev, `t${i - 2}`] : [prev];
    nodes.push({
      id: `n${i}`,
      op: inputs.length > 1 ? 'Add' : 'Relu',
      inputs,
      outputs: [`t${i}`],
      attrs: {},
      outShapes: [],
      outDtypes: [],
      macs: 0,
      flops: 0,
      bytes: 0,
      params: 0,
    });
  }
  return inferGraph({
    name: `${kind}${n}`,
    batch: 1,
    inputs: [{ name: 'x', shape: [1, 16], dtype: 'float32' }],
    outputs: [{ name: `t${n - 1}`, shape: [], dtype: 'float32' }],
    nodes,
    initializers: [],
  });
}

export interface PlannerBenchRow {
  graph: string;
  nodes: number;
  inferMs: number;
  partitionMs: number;
  planMs: number;
  planUsPerNode: number;
  arenaOverLoad: number;
}

export function benchPlanner(sizes: readonly number[] = [5_000, 50_000]): PlannerBenchRow[] {
  const cost = new SyntheticCostModel({ seed: 0 });
  const rows: PlannerBenchRow[] = [];
  for (const kind of ['chain', 'ladder'] as const) {
    for (const n of sizes) {
      let t = performance.now();
      const g = longGraph(kind, n);
      const inferMs = performance.now() - t;
      t = performance.now();
      const { schedule } = partition(g, 'greedy', cost);
      const partitionMs = performance.now() - t;
      t = performance.now();
      const plan = planMemory(g, schedule);
      const planMs = performance.now() - t;
      rows.push({ graph: kind, nodes: n, inferMs, partitionMs, planMs, planUsPerNode: (planMs * 1000) / n, arenaOverLoad: plan.arenaBytes / plan.loadBytes });
    }
  }
  return rows;
}
