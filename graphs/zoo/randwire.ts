/**
 * RandWire-WS (Xie et al. 2019, "Exploring Randomly Wired Neural Networks for Image Recognition"),
 * small computation regime (paper Table 1; C = 78, N = 32, WS(K = 4, P = 0.75)):
 *
 *   conv1  3x3 conv s2, C/2 channels, BN                       112²
 *   conv2  Relu-Conv(3x3 s2)-BN, C                               56²
 *   conv3  random graph, N nodes, C                              28²
 *   conv4  random graph, N nodes, 2C                             14²
 *   conv5  random graph, N nodes, 4C                              7²
 *   classifier  Relu-Conv(1x1, 1280)-BN, global average pool, fc 1000
 *
 * Each stage draws its own Watts–Strogatz graph from one seeded stream (`seedrandom`), so a seed
 * fixes the whole network. Edges point from the lower to the higher node index, which makes a DAG.
 * A node aggregates its inputs, then applies Relu → depthwise 3x3 → pointwise 1x1 → BN; nodes
 * without predecessors read the stage input with stride 2; the stage output is the unweighted mean
 * of the nodes without successors (the paper's extra input / output nodes).
 *
 * Aggregation: the paper's weighted sum Σ sigmoid(w_i)·x_i has learnable positive weights. At
 * inference sigmoid(w_i) is a constant, so it is modelled as a Mul by a per-edge trainable scalar
 * initializer followed by an Add chain; the scalar holds 1/in-degree (a point in that positive family
 * that keeps the sum a mean, so random-weight runs stay in range). A node with a single input has no
 * Mul: a positive scale commutes with the Relu and is absorbed by the BN after the linear convs.
 */
import seedrandom from 'seedrandom';
import { GraphBuilder, type T } from '../builder.js';
import { type Graph, GraphError } from '../ir.js';
import { positiveInt } from './common.js';

export interface RandWireOptions {
  batch?: number;
  resolution?: number;
  /** Seed of the graph generator: equal seeds give identical networks. */
  seed?: number;
  /** Nodes per random stage (N). */
  nodes?: number;
  /** Watts–Strogatz ring degree (K, even). */
  k?: number;
  /** Watts–Strogatz rewiring probability (P). */
  p?: number;
  /** Base channel width (C). */
  channels?: number;
}

const MODEL = 'randwire';
const where = `zoo model '${MODEL}'`;

/**
 * Watts–Strogatz small-world graph as the paper (and networkx) build it: a ring where each node
 * links to its K/2 neighbours on each side; then for i = 1..K/2, clockwise over the nodes, the edge
 * to the i-th next node is rewired with probability P to a uniformly chosen node that is neither the
 * node itself nor already linked to it. Returns undirected edges [u, v] with u < v, sorted.
 */
export function wattsStrogatz(n: number, k: number, p: number, rng: () => number): [number, number][] {
  if (!Number.isInteger(n) || n < 2) throw new GraphError(`option 'nodes' must be an integer >= 2, got ${n}`, where);
  if (!Number.isInteger(k) || k < 2 || k % 2 !== 0 || k >= n) throw new GraphError(`option 'k' must be an even integer in [2, nodes), got ${k}`, where);
  if (!(p >= 0 && p <= 1)) throw new GraphError(`option 'p' must be a probability in [0, 1], got ${p}`, where);
  const adj: Set<number>[] = Array.from({ length: n }, () => new Set<number>());
  const link = (a: number, b: number) => {
    adj[a].add(b);
    adj[b].add(a);
  };
  for (let j = 1; j <= k / 2; j++) for (let u = 0; u < n; u++) link(u, (u + j) % n);
  for (let j = 1; j <= k / 2; j++) {
    for (let u = 0; u < n; u++) {
      if (rng() >= p) continue;
      const v = (u + j) % n;
      // A node linked to every other node has no free target; networkx skips it likewise.
      if (adj[u].size >= n - 1 || !adj[u].has(v)) continue;
      let w = Math.floor(rng() * n);
      while (w === u || adj[u].has(w)) w = Math.floor(rng() * n);
      adj[u].delete(v);
      adj[v].delete(u);
      link(u, w);
    }
  }
  const edges: [number, number][] = [];
  adj.forEach((s, u) => {
    for (const v of s) if (u < v) edges.push([u, v]);
  });
  return edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

/** Predecessor lists of the DAG made by orienting each edge from the lower to the higher index. */
export function dagPredecessors(n: number, edges: [number, number][]): number[][] {
  const preds: number[][] = Array.from({ length: n }, () => []);
  for (const [u, v] of edges) preds[Math.max(u, v)].push(Math.min(u, v));
  for (const ps of preds) ps.sort((a, b) => a - b);
  return preds;
}

/** Relu → depthwise 3x3 → pointwise 1x1 → BN: the node transformation. */
function reluSepConvBn(b: GraphBuilder, x: T, p: string, out: number, stride: number): T {
  let y = b.relu(x, `${p}.relu`);
  y = b.conv(y, { out: y.shape[1], kernel: 3, stride, pad: 1, group: y.shape[1], name: `${p}.depthwise` });
  y = b.conv(y, { out, kernel: 1, name: `${p}.pointwise` });
  return b.batchNorm(y, { name: `${p}.bn` });
}

/** Sum of `xs` as a chain of Adds named `${p}.sum_1`, `${p}.sum_2`, ... */
function sumChain(b: GraphBuilder, xs: T[], p: string): T {
  let acc = xs[0];
  for (let i = 1; i < xs.length; i++) acc = b.add(acc, xs[i], `${p}.sum_${i}`);
  return acc;
}

/** One random-graph stage: every node outputs `out` channels; input nodes downsample by 2. */
function stage(b: GraphBuilder, x: T, name: string, preds: number[][], out: number): T {
  const n = preds.length;
  const outputs: T[] = [];
  const hasSucc = new Array<boolean>(n).fill(false);
  for (const ps of preds) for (const u of ps) hasSucc[u] = true;
  for (let v = 0; v < n; v++) {
    const p = `${name}.node_${v}`;
    const ps = preds[v];
    if (ps.length === 0) {
      outputs.push(reluSepConvBn(b, x, p, out, 2));
      continue;
    }
    const ins =
      ps.length === 1
        ? [outputs[ps[0]]]
        : ps.map((u) => {
            const w = b.param(`${p}.scale_${u}.w`, [1], 'const', { trainable: true, data: Float32Array.of(1 / ps.length) });
            return b.mul(outputs[u], w, `${p}.scale_${u}`);
          });
    outputs.push(reluSepConvBn(b, sumChain(b, ins, p), p, out, 1));
  }
  const sinks = outputs.filter((_, v) => !hasSucc[v]);
  if (sinks.length === 1) return sinks[0];
  const sum = sumChain(b, sinks, `${name}.out`);
  return b.mul(sum, b.constant(1 / sinks.length, [1], `${name}.out.mean.scale`), `${name}.out.mean`);
}

/** RandWire-WS, graph `randwire`; input [batch, 3, resolution, resolution], output [batch, 1000]. */
export function randwire({ batch = 1, resolution = 224, seed = 0, nodes = 32, k = 4, p = 0.75, channels = 78 }: RandWireOptions = {}): Graph {
  positiveInt(MODEL, 'batch', batch);
  positiveInt(MODEL, 'resolution', resolution);
  positiveInt(MODEL, 'channels', channels);
  if (!Number.isFinite(seed)) throw new GraphError(`option 'seed' must be a finite number, got ${seed}`, where);
  // Five stride-2 stages need 32 pixels to leave at least one.
  if (resolution < 32) throw new GraphError(`option 'resolution' must be at least 32, got ${resolution}`, where);
  if (channels < 2) throw new GraphError(`option 'channels' must be at least 2 (conv1 has channels/2), got ${channels}`, where);
  const rng = seedrandom(`randwire-ws:${seed}`);
  const b = new GraphBuilder(MODEL);
  let x = b.input('input', [batch, 3, resolution, resolution]);
  x = b.batchNorm(b.conv(x, { out: Math.floor(channels / 2), kernel: 3, stride: 2, pad: 1, name: 'conv1.conv' }), { name: 'conv1.bn' });
  x = b.relu(x, 'conv2.relu');
  x = b.batchNorm(b.conv(x, { out: channels, kernel: 3, stride: 2, pad: 1, name: 'conv2.conv' }), { name: 'conv2.bn' });
  [1, 2, 4].forEach((mult, s) => {
    const preds = dagPredecessors(nodes, wattsStrogatz(nodes, k, p, rng));
    x = stage(b, x, `conv${s + 3}`, preds, mult * channels);
  });
  x = b.relu(x, 'classifier.relu');
  x = b.batchNorm(b.conv(x, { out: 1280, kernel: 1, name: 'classifier.conv' }), { name: 'classifier.bn' });
  x = b.flatten(b.globalAvgPool(x, 'classifier.pool'), 1, 'classifier.flatten');
  b.output(b.linear(x, 1000, { name: 'classifier.fc' }));
  return b.build();
}
