/**
 * Topological utilities over the operator DAG. Edges are node-to-node data dependencies (a node
 * reading a tensor another node writes); graph inputs and initializers add no edges.
 */
import { Heap } from './heap.js';
import { type Graph, GraphError, type Node } from './ir.js';

/** Node-index adjacency: preds[i] and succs[i] hold indices into graph.nodes, sorted, deduplicated. */
export interface Dag {
  nodes: Node[];
  index: Map<string, number>;
  preds: number[][];
  succs: number[][];
}

export function buildDag(graph: Graph): Dag {
  const index = new Map<string, number>();
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, i) => {
    if (index.has(n.id)) throw new GraphError(`duplicate node id '${n.id}'`, `graph '${graph.name}'`);
    index.set(n.id, i);
    for (const t of n.outputs) {
      const other = producer.get(t);
      if (other !== undefined) throw new GraphError(`tensor '${t}' is written by both '${graph.nodes[other].id}' and '${n.id}'`, `graph '${graph.name}'`);
      producer.set(t, i);
    }
  });
  const preds: number[][] = graph.nodes.map(() => []);
  const succs: number[][] = graph.nodes.map(() => []);
  graph.nodes.forEach((n, i) => {
    const ps = new Set<number>();
    for (const t of n.inputs) {
      const p = producer.get(t);
      if (p !== undefined) ps.add(p);
    }
    preds[i] = [...ps].sort((a, b) => a - b);
    for (const p of preds[i]) succs[p].push(i);
  });
  for (const s of succs) s.sort((a, b) => a - b);
  return { nodes: graph.nodes, index, preds, succs };
}

/** Kahn's algorithm, ties broken by position in graph.nodes (stable). Throws on a cycle. */
export function topoOrder(dag: Dag): number[] {
  const n = dag.nodes.length;
  const indeg = dag.preds.map((p) => p.length);
  // A binary heap keeps the order stable without an O(n²) scan.
  const heap = new Heap<number>((a, b) => a < b);
  for (let i = 0; i < n; i++) if (indeg[i] === 0) heap.push(i);
  const order: number[] = [];
  while (heap.size) {
    const v = heap.pop() as number;
    order.push(v);
    for (const s of dag.succs[v]) if (--indeg[s] === 0) heap.push(s);
  }
  if (order.length !== n) {
    const stuck = dag.nodes.filter((_, i) => indeg[i] > 0).map((x) => x.id);
    throw new GraphError(`cycle through nodes ${stuck.slice(0, 5).join(', ')}${stuck.length > 5 ? ', ...' : ''}`);
  }
  return order;
}

/** Longest path (in edges) from any source to each node. */
export function depths(dag: Dag, order = topoOrder(dag)): number[] {
  const d = new Array(dag.nodes.length).fill(0);
  for (const v of order) for (const p of dag.preds[v]) d[v] = Math.max(d[v], d[p] + 1);
  return d;
}

/** Returns the graph with its nodes in a stable topological order (same object if already so). */
export function sortGraph(graph: Graph): Graph {
  const order = topoOrder(buildDag(graph));
  if (order.every((v, i) => v === i)) return graph;
  return { ...graph, nodes: order.map((i) => graph.nodes[i]) };
}
