/**
 * Dead-code elimination: nodes none of whose outputs reach a graph output, and initializers no
 * remaining node reads, are removed. Pure: returns a new graph (shapes re-inferred).
 */
import { inferGraph } from '../infer.js';
import type { Graph } from '../ir.js';

export function eliminateDeadCode(graph: Graph): Graph {
  const live = new Set(graph.outputs.map((o) => o.name));
  const keep = new Array(graph.nodes.length).fill(false);
  // Nodes are in topological order: one backward sweep marks everything a live tensor depends on.
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (!n.outputs.some((t) => live.has(t))) continue;
    keep[i] = true;
    for (const t of n.inputs) if (t) live.add(t);
  }
  if (keep.every(Boolean) && graph.initializers.every((i) => live.has(i.name))) return graph;
  return inferGraph({
    ...graph,
    nodes: graph.nodes.filter((_, i) => keep[i]),
    initializers: graph.initializers.filter((i) => live.has(i.name)),
  });
}
