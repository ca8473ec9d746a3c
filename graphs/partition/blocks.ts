/**
 * Cutting a graph into blocks and parts for the IOS dynamic programme.
 *
 * A *cut operator* is one every path of the graph passes through: every other operator is its
 * ancestor or its descendant (the exit of an Inception module, a ResNet add). Nothing before a cut
 * can share a stage with anything after it except through the cut itself, so cutting there loses
 * little. IOS takes its blocks from the model definition; here they are found in O(V + E) from one
 * topological order: position i holds a cut v iff the only edges crossing the gap before i enter v,
 * the only edges crossing the gap after i leave v, no operator before v is a sink and none after v
 * is a source (then every earlier operator reaches v and v reaches every later one).
 *
 * Blocks: consecutive cut-to-cut segments are packed together while the block stays within
 * `maxPartOps` (so any graph of at most `maxPartOps` operators is one exact DP, and a chain is not
 * split into one-operator blocks). A segment larger than that is a block of its own and is cut into
 * ⌈n / maxPartOps⌉ near-equal *parts* along a depth-sorted order (longest path from the inputs, ties
 * by topological position): horizontal slices keep the parallel branches of a wide block together,
 * where slicing IOS's definition order would put whole branches in different parts and lose their
 * concurrency. Every part's predecessors lie in earlier parts, so concatenating the parts'
 * schedules is valid.
 *
 * State cap (not in IOS): the DP's work grows with the number of states of a part — its sets closed
 * under predecessors — which explodes with width (a 48-operator slice of a NASNet cell has well over
 * 10^4). A part with more than `maxPartStates` states (counted exactly, up to the cap, before any
 * search) is halved along the same depth order until each piece fits. Infinity gives IOS's rule.
 */

import { type Dag, depths, topoOrder } from '../topo.js';
import * as B from './bitset.js';

export interface Block {
  /** Node indices, topologically ordered. */
  nodes: number[];
  /** The block's nodes split into DP parts, each topologically ordered. */
  parts: number[][];
}

/** Whether each node (by index) is a cut operator. */
export function cutOperators(dag: Dag, order = topoOrder(dag)): boolean[] {
  const n = order.length;
  const pos = new Array<number>(dag.nodes.length);
  order.forEach((v, i) => {
    pos[v] = i;
  });
  // cross[i] = edges (a, b) with pos(a) < i <= pos(b): the edges crossing the gap before position i.
  const delta = new Array<number>(n + 2).fill(0);
  let firstSink = n;
  let lastSource = -1;
  for (let i = 0; i < n; i++) {
    const v = order[i];
    if (dag.succs[v].length === 0) firstSink = Math.min(firstSink, i);
    if (dag.preds[v].length === 0) lastSource = Math.max(lastSource, i);
    for (const w of dag.succs[v]) {
      delta[i + 1]++;
      delta[pos[w] + 1]--;
    }
  }
  const cross = new Array<number>(n + 1).fill(0);
  let run = 0;
  for (let i = 0; i <= n; i++) {
    run += delta[i];
    cross[i] = run;
  }
  const cut = new Array<boolean>(dag.nodes.length).fill(false);
  for (let i = 0; i < n; i++) {
    const v = order[i];
    cut[v] = i <= firstSink && i >= lastSource && cross[i] === dag.preds[v].length && cross[i + 1] === dag.succs[v].length;
  }
  return cut;
}

/**
 * Number of predecessor-closed subsets (the DP's states, ∅ and the whole set included) of `nodes`
 * (topologically ordered), counting stops once it passes `cap`. Every such set is reached from the
 * whole set by removing sinks one at a time, so a walk over "remove one sink" finds them all.
 */
export function countStates(dag: Dag, nodes: readonly number[], cap = Number.POSITIVE_INFINITY): number {
  const m = nodes.length;
  const numeric = m <= B.NUMERIC_KEY_BITS;
  const local = new Map<number, number>();
  nodes.forEach((v, i) => {
    local.set(v, i);
  });
  const succ = nodes.map((v) =>
    B.fromMembers(
      m,
      dag.succs[v].filter((w) => local.has(w)).map((w) => local.get(w) as number),
    ),
  );
  const all = B.fromMembers(
    m,
    nodes.map((_, i) => i),
  );
  const seen = new Set<B.SetKey>([B.keyOf(all, numeric)]);
  const stack = [all];
  while (stack.length) {
    const S = stack.pop() as Uint32Array;
    for (const v of B.members(S)) {
      if (B.intersects(succ[v], S)) continue;
      const next = S.slice();
      next[v >>> 5] &= ~(1 << (v & 31));
      const k = B.keyOf(next, numeric);
      if (seen.has(k)) continue;
      seen.add(k);
      if (seen.size > cap) return seen.size;
      stack.push(next);
    }
  }
  return seen.size;
}

export function splitBlocks(dag: Dag, maxPartOps: number, maxPartStates = Number.POSITIVE_INFINITY): Block[] {
  const order = topoOrder(dag);
  const cut = cutOperators(dag, order);
  const segments: number[][] = [];
  let cur: number[] = [];
  for (const v of order) {
    cur.push(v);
    if (cut[v]) {
      segments.push(cur);
      cur = [];
    }
  }
  if (cur.length) segments.push(cur);

  const blocks: number[][] = [];
  let acc: number[] = [];
  for (const seg of segments) {
    if (acc.length + seg.length <= maxPartOps) {
      acc = acc.concat(seg);
      continue;
    }
    if (acc.length) blocks.push(acc);
    acc = seg;
  }
  if (acc.length) blocks.push(acc);

  const depth = depths(dag, order);
  const pos = new Array<number>(dag.nodes.length);
  order.forEach((v, i) => {
    pos[v] = i;
  });
  const byDepth = (nodes: number[]) => nodes.slice().sort((a, b) => depth[a] - depth[b] || pos[a] - pos[b]);
  const byPos = (nodes: number[]) => nodes.sort((a, b) => pos[a] - pos[b]);
  // Halves a part (depth order) until each piece has at most maxPartStates states.
  const fitPart = (part: number[], out: number[][]) => {
    if (part.length < 2 || !Number.isFinite(maxPartStates) || countStates(dag, part, maxPartStates) <= maxPartStates) {
      out.push(part);
      return;
    }
    const sliced = byDepth(part);
    const half = Math.ceil(sliced.length / 2);
    fitPart(byPos(sliced.slice(0, half)), out);
    fitPart(byPos(sliced.slice(half)), out);
  };
  return blocks.map((nodes) => {
    const slices: number[][] = [];
    if (nodes.length <= maxPartOps) slices.push(nodes);
    else {
      const sliced = byDepth(nodes);
      const k = Math.ceil(nodes.length / maxPartOps);
      let at = 0;
      for (let p = 0; p < k; p++) {
        const take = Math.floor(nodes.length / k) + (p < nodes.length % k ? 1 : 0);
        slices.push(byPos(sliced.slice(at, at + take)));
        at += take;
      }
    }
    const parts: number[][] = [];
    for (const slice of slices) fitPart(slice, parts);
    return { nodes, parts };
  });
}
