/**
 * Identity elimination (ONNX Dropout imports as Identity): readers of an Identity's output read its
 * input instead. An Identity whose output is a graph output stays (the output keeps its name).
 */
import { inferGraph } from '../infer.js';
import type { Graph } from '../ir.js';

export function eliminateIdentities(graph: Graph): Graph {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const alias = new Map<string, string>();
  const resolve = (t: string) => {
    let x = t;
    while (alias.has(x)) x = alias.get(x) as string;
    return x;
  };
  const nodes = [];
  for (const n of graph.nodes) {
    if (n.op === 'Identity' && !outputs.has(n.outputs[0])) {
      alias.set(n.outputs[0], resolve(n.inputs[0]));
      continue;
    }
    nodes.push(alias.size ? { ...n, inputs: n.inputs.map((t) => (t ? resolve(t) : t)) } : n);
  }
  if (!alias.size) return graph;
  return inferGraph({ ...graph, nodes });
}
