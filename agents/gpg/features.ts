/**
 * What the GPG network sees of an operator DAG: per-node features, normalised so graphs of any
 * size and scale share one input range, and dense mean-aggregation matrices for message passing in
 * both edge directions (dense, because the wasm backend has no gradient for gather/segment-sum).
 *
 * Node features (NODE_FEATURES names them):
 *   MACs, bytes moved, output elements (log-scaled); depth and height (longest paths from the
 *   sources / to the sinks, over the graph's longest path); op latency from the cost model (over
 *   the graph's largest, and over its mean); in/out degree; slack — the latency of the longest
 *   path through the node over the critical path (1 on the critical path); op-category one-hot.
 *
 * The network runs message passing two ways with the same result: dense matrices on tfjs for
 * training (the wasm backend has no gradient for gather / segment-sum) and adjacency lists on the
 * host for inference (O(E·D) instead of O(n²·D)).
 */
import type { CostModel } from '../../graphs/cost/model.js';
import type { Graph, Node } from '../../graphs/ir.js';
import { buildDag, type Dag, topoOrder } from '../../graphs/topo.js';

const CATEGORIES: Record<string, number> = {
  Conv: 0,
  ConvTranspose: 0,
  Gemm: 1,
  MatMul: 1,
  MaxPool: 2,
  AveragePool: 2,
  GlobalAveragePool: 2,
  Concat: 4,
  Split: 4,
  Reshape: 4,
  Flatten: 4,
  Transpose: 4,
  Pad: 4,
  Expand: 4,
  Gather: 4,
  Identity: 4,
};
const ELEMENTWISE = new Set([
  'BatchNormalization',
  'Relu',
  'Clip',
  'Sigmoid',
  'HardSigmoid',
  'Gelu',
  'Tanh',
  'Add',
  'Mul',
  'Sub',
  'Div',
  'Pow',
  'Sqrt',
  'Reciprocal',
  'Exp',
  'Log',
  'Erf',
  'Neg',
  'Abs',
  'Max',
  'Min',
  'LeakyRelu',
  'PRelu',
  'HardSwish',
]);

export const NODE_FEATURES = [
  'log_macs',
  'log_bytes',
  'log_out_elems',
  'depth',
  'height',
  'lat_over_max',
  'lat_over_mean',
  'in_degree',
  'out_degree',
  'slack',
  'cat_conv',
  'cat_matmul',
  'cat_pool',
  'cat_elementwise',
  'cat_layout',
  'cat_other',
] as const;
export const NUM_NODE_FEATURES = NODE_FEATURES.length;

function category(node: Node): number {
  const c = CATEGORIES[node.op];
  if (c !== undefined) return c;
  return ELEMENTWISE.has(node.op) ? 3 : 5;
}

/** A graph prepared for GPG: features, aggregation matrices and the facts the decoder needs. */
export interface GraphInput {
  graph: Graph;
  dag: Dag;
  n: number;
  /** Row-major [n × NUM_NODE_FEATURES]. */
  x: Float32Array;
  /** Dense aggregation matrices, built on first use by `denseAdjacency` (training only). */
  dense?: { aPred: Float32Array; aSucc: Float32Array };
  /** Cost-model latency of each operator alone, ms. */
  opLat: Float64Array;
  /** Topological position of each node. */
  topoPos: Int32Array;
}

export function prepareGraph(graph: Graph, cost: CostModel): GraphInput {
  const dag = buildDag(graph);
  const n = dag.nodes.length;
  if (n === 0) throw new Error(`gpg: graph '${graph.name}' has no operators`);
  const order = topoOrder(dag);
  const topoPos = new Int32Array(n);
  order.forEach((v, i) => {
    topoPos[v] = i;
  });
  const opLat = new Float64Array(n);
  dag.nodes.forEach((node, v) => {
    const ms = cost.opLatency(graph, node);
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`gpg: cost model '${cost.name}' priced node '${node.id}' of '${graph.name}' at ${ms} ms`);
    opLat[v] = ms;
  });
  // Longest paths in edges (depth, height) and in latency (for slack).
  const depth = new Float64Array(n);
  const latTo = new Float64Array(n);
  for (const v of order) {
    latTo[v] = opLat[v];
    for (const u of dag.preds[v]) {
      depth[v] = Math.max(depth[v], depth[u] + 1);
      latTo[v] = Math.max(latTo[v], latTo[u] + opLat[v]);
    }
  }
  const height = new Float64Array(n);
  const latFrom = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    const v = order[i];
    latFrom[v] = opLat[v];
    for (const w of dag.succs[v]) {
      height[v] = Math.max(height[v], height[w] + 1);
      latFrom[v] = Math.max(latFrom[v], latFrom[w] + opLat[v]);
    }
  }
  const maxDepth = depth.reduce((m, x) => Math.max(m, x), 1);
  const maxHeight = height.reduce((m, x) => Math.max(m, x), 1);
  const critical = latTo.reduce((m, x) => Math.max(m, x), Number.NEGATIVE_INFINITY);
  const maxLat = opLat.reduce((m, x) => Math.max(m, x), 0) || 1;
  const meanLat = opLat.reduce((a, b) => a + b, 0) / n || 1;

  const F = NUM_NODE_FEATURES;
  const x = new Float32Array(n * F);
  dag.nodes.forEach((node, v) => {
    const out = node.outShapes.reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
    const row = v * F;
    x[row + 0] = Math.log1p(node.macs) / 20;
    x[row + 1] = Math.log1p(node.bytes) / 20;
    x[row + 2] = Math.log1p(out) / 15;
    x[row + 3] = depth[v] / maxDepth;
    x[row + 4] = height[v] / maxHeight;
    x[row + 5] = opLat[v] / maxLat;
    x[row + 6] = Math.min(opLat[v] / meanLat, 10) / 10;
    x[row + 7] = Math.min(dag.preds[v].length, 4) / 4;
    x[row + 8] = Math.min(dag.succs[v].length, 4) / 4;
    x[row + 9] = critical > 0 ? (latTo[v] + latFrom[v] - opLat[v]) / critical : 1;
    x[row + 10 + category(node)] = 1;
  });
  return { graph, dag, n, x, opLat, topoPos };
}

/**
 * [n × n] mean-aggregation matrices: row v of aPred averages v's predecessors (zero for sources),
 * row v of aSucc its successors. Cached on the input; O(n²) memory, so only training builds them.
 */
export function denseAdjacency(g: GraphInput): { aPred: Float32Array; aSucc: Float32Array } {
  if (g.dense) return g.dense;
  const { n, dag } = g;
  const aPred = new Float32Array(n * n);
  const aSucc = new Float32Array(n * n);
  for (let v = 0; v < n; v++) {
    for (const u of dag.preds[v]) aPred[v * n + u] = 1 / dag.preds[v].length;
    for (const w of dag.succs[v]) aSucc[v * n + w] = 1 / dag.succs[v].length;
  }
  g.dense = { aPred, aSucc };
  return g.dense;
}
