/**
 * Pattern fusion of the decomposed forms exporters write for LayerNorm and GELU (PyTorch below
 * opset 17 / 20, TF and Paddle converters) back into one operator each:
 *
 *   LayerNormalization:  m = ReduceMean(x, trailing axes); d = x − m; v = ReduceMean(d² or d·d);
 *                        y = d / √(v + ε) [· γ] [+ β]
 *   Gelu (erf form):     y = x · (erf(x / √2 | x · 1/√2) + 1) · 0.5, in either multiplication order
 *
 * A match needs every intermediate tensor read only inside the pattern and not a graph output, and
 * the constants' values (ε, 1/√2, 1, 0.5, γ, β) present as initializer data; anything else is left
 * as it is. The fused node keeps the id of the pattern's last node and its output name.
 */
import { inferGraph } from '../infer.js';
import type { Attrs, Graph, Initializer, Node, OpType } from '../ir.js';
import { shortFloat } from '../onnx/proto.js';

interface Index {
  producer: Map<string, Node>;
  readers: Map<string, Node[]>;
  inits: Map<string, Initializer>;
  outputs: Set<string>;
  shape: Map<string, number[]>;
}

function index(graph: Graph): Index {
  const producer = new Map<string, Node>();
  const readers = new Map<string, Node[]>();
  const shape = new Map<string, number[]>(graph.inputs.map((v) => [v.name, v.shape]));
  for (const n of graph.nodes) {
    n.outputs.forEach((t, k) => {
      producer.set(t, n);
      shape.set(t, n.outShapes[k]);
    });
    for (const t of n.inputs) if (t) readers.set(t, [...(readers.get(t) ?? []), n]);
  }
  for (const i of graph.initializers) shape.set(i.name, i.shape);
  return { producer, readers, inits: new Map(graph.initializers.map((i) => [i.name, i])), outputs: new Set(graph.outputs.map((o) => o.name)), shape };
}

/** The value of a scalar (one-element) float initializer with data, else undefined. */
function scalarOf(ix: Index, t: string): number | undefined {
  const i = ix.inits.get(t);
  if (!i?.data || i.dtype !== 'float32' || i.data.length !== 1) return undefined;
  return Number(i.data[0]);
}

const near = (v: number | undefined, want: number) => v !== undefined && Math.abs(v - want) <= 1e-6 * Math.max(1, Math.abs(want));

/** A match: the nodes it replaces (the last one's output becomes the fused node's) and the new node. */
interface Match {
  nodes: Node[];
  fused: { op: OpType; inputs: string[]; attrs: Attrs };
  added?: Initializer[];
}

/** Producer of `t` if it is `op`, and `t` is read only by `reader` and is no graph output. */
function privateProducer(ix: Index, t: string, op: string, readers = 1): Node | undefined {
  const p = ix.producer.get(t);
  if (!p || p.op !== op || ix.outputs.has(t) || (ix.readers.get(t)?.length ?? 0) !== readers) return undefined;
  return p;
}

/** The other input of a binary node, given one. */
const other = (n: Node, t: string): string | undefined => (n.inputs[0] === t ? n.inputs[1] : n.inputs[1] === t ? n.inputs[0] : undefined);

function matchLayerNorm(ix: Index, last: Node): Match | undefined {
  // Optional affine tail: [+ β] after [· γ].
  let node = last;
  let beta: string | undefined;
  let gamma: string | undefined;
  const tail = (n: Node, op: string): { inner: Node; param: string } | undefined => {
    if (n.op !== op) return undefined;
    for (const [a, b] of [n.inputs, [...n.inputs].reverse()]) {
      const p = ix.producer.get(a);
      if (p && ix.inits.get(b)?.data && !ix.outputs.has(a) && ix.readers.get(a)?.length === 1) return { inner: p, param: b };
    }
    return undefined;
  };
  const nodes: Node[] = [];
  const add = tail(node, 'Add');
  if (add && (add.inner.op === 'Mul' || add.inner.op === 'Div')) {
    beta = add.param;
    nodes.push(node);
    node = add.inner;
  }
  const mul = tail(node, 'Mul');
  if (mul && mul.inner.op === 'Div') {
    gamma = mul.param;
    nodes.push(node);
    node = mul.inner;
  }
  // The core: d / √(ReduceMean(d²) + ε).
  if (node.op !== 'Div') return undefined;
  const [d, s] = node.inputs;
  const sqrt = privateProducer(ix, s, 'Sqrt');
  const addEps = sqrt && privateProducer(ix, sqrt.inputs[0], 'Add');
  if (!addEps) return undefined;
  const vName = addEps.inputs.find((t) => scalarOf(ix, t) === undefined);
  const eps = scalarOf(ix, other(addEps, vName ?? '') ?? '');
  const rv = vName && privateProducer(ix, vName, 'ReduceMean');
  if (!rv || eps === undefined) return undefined;
  const sq = ix.producer.get(rv.inputs[0]);
  if (!sq || ix.outputs.has(rv.inputs[0]) || ix.readers.get(rv.inputs[0])?.length !== 1) return undefined;
  const squares =
    (sq.op === 'Pow' && sq.inputs[0] === d && near(scalarOf(ix, sq.inputs[1]), 2)) || (sq.op === 'Mul' && sq.inputs[0] === d && sq.inputs[1] === d);
  if (!squares) return undefined;
  const sub = privateProducer(ix, d, 'Sub', 2);
  if (!sub) return undefined;
  const [x, mName] = sub.inputs;
  const rm = privateProducer(ix, mName, 'ReduceMean');
  if (!rm || rm.inputs[0] !== x) return undefined;
  // Both means over the same trailing axes, kept as 1s.
  const xs = ix.shape.get(x) ?? [];
  const r = xs.length;
  const axesOf = (n: Node) => ((n.attrs.axes as number[] | undefined) ?? []).map((a) => (a < 0 ? a + r : a)).sort((p, q) => p - q);
  const axes = axesOf(rm);
  if (!axes.length || axes.join() !== axesOf(rv).join() || axes.some((a, i) => a !== r - axes.length + i)) return undefined;
  if ((rm.attrs.keepdims ?? 1) !== 1 || (rv.attrs.keepdims ?? 1) !== 1) return undefined;
  const norm = xs.slice(axes[0]);
  const n = norm.reduce((a, b) => a * b, 1);
  const paramOk = (t: string | undefined) => {
    const i = t === undefined ? undefined : ix.inits.get(t);
    if (!i) return true;
    const lead = i.shape.slice(0, Math.max(0, i.shape.length - norm.length));
    return i.data?.length === n && lead.every((v) => v === 1) && i.shape.slice(-norm.length).join() === norm.slice(-i.shape.length).join();
  };
  if (!paramOk(gamma) || !paramOk(beta)) return undefined;
  const added: Initializer[] = [];
  const reshaped = (t: string, role: 'gamma' | 'beta'): string => {
    const i = ix.inits.get(t) as Initializer;
    if (i.shape.join() === norm.join()) return t;
    const name = `${t}.ln_${role}`;
    added.push({ ...i, name, shape: norm.slice(), data: i.data });
    return name;
  };
  let scale = gamma ? reshaped(gamma, 'gamma') : undefined;
  if (!scale) {
    scale = `${last.id}.ln_gamma`;
    added.push({ name: scale, shape: norm.slice(), dtype: 'float32', trainable: false, role: 'gamma', data: new Float32Array(n).fill(1) });
  }
  const inputs = [x, scale, ...(beta ? [reshaped(beta, 'beta')] : [])];
  return {
    nodes: [rm, sub, sq, rv, addEps, sqrt, node, ...nodes.reverse()],
    fused: { op: 'LayerNormalization', inputs, attrs: { axis: axes[0], epsilon: shortFloat(eps) } },
    added,
  };
}

function matchGelu(ix: Index, last: Node): Match | undefined {
  if (last.op !== 'Mul') return undefined;
  // Order A: (x · (erf(..) + 1)) · 0.5.  Order B: (x · 0.5) · (erf(..) + 1).
  const erfPlusOne = (t: string): { x: string; nodes: Node[] } | undefined => {
    const add = privateProducer(ix, t, 'Add');
    if (!add) return undefined;
    const e = add.inputs.find((i) => near(scalarOf(ix, other(add, i) ?? ''), 1));
    const erf = e && privateProducer(ix, e, 'Erf');
    if (!erf) return undefined;
    const scaled = ix.producer.get(erf.inputs[0]);
    if (!scaled || ix.readers.get(erf.inputs[0])?.length !== 1 || ix.outputs.has(erf.inputs[0])) return undefined;
    const xIn = scaled.inputs.find((i) => scalarOf(ix, i) === undefined);
    const c = scalarOf(ix, other(scaled, xIn ?? '') ?? '');
    if (!xIn || !((scaled.op === 'Div' && scaled.inputs[0] === xIn && near(c, Math.SQRT2)) || (scaled.op === 'Mul' && near(c, Math.SQRT1_2)))) return undefined;
    return { x: xIn, nodes: [scaled, erf, add] };
  };
  for (const [a, b] of [last.inputs, [...last.inputs].reverse()]) {
    if (near(scalarOf(ix, b), 0.5)) {
      const inner = privateProducer(ix, a, 'Mul');
      if (!inner) continue;
      for (const [p, q] of [inner.inputs, [...inner.inputs].reverse()]) {
        const e = erfPlusOne(q);
        if (e && e.x === p) return { nodes: [...e.nodes, inner, last], fused: { op: 'Gelu', inputs: [p], attrs: {} } };
      }
    }
    const e = erfPlusOne(b);
    const half = privateProducer(ix, a, 'Mul');
    if (e && half) {
      const xIn = half.inputs.find((i) => near(scalarOf(ix, other(half, i) ?? ''), 0.5));
      if (xIn === e.x) return { nodes: [...e.nodes, half, last], fused: { op: 'Gelu', inputs: [xIn], attrs: {} } };
    }
  }
  return undefined;
}

function fuse(graph: Graph, match: (ix: Index, last: Node) => Match | undefined): Graph {
  const ix = index(graph);
  const taken = new Set<string>();
  const replace = new Map<string, Node>();
  const added: Initializer[] = [];
  // Last nodes first: the longest pattern (with its affine tail) claims its nodes before a shorter one.
  for (const n of [...graph.nodes].reverse()) {
    const m = match(ix, n);
    if (!m || m.nodes.some((p) => taken.has(p.id))) continue;
    for (const p of m.nodes) taken.add(p.id);
    replace.set(n.id, { ...n, op: m.fused.op, inputs: m.fused.inputs, attrs: m.fused.attrs });
    added.push(...(m.added ?? []));
  }
  if (!replace.size) return graph;
  const nodes = graph.nodes.filter((n) => !taken.has(n.id) || replace.has(n.id)).map((n) => replace.get(n.id) ?? n);
  const names = new Set(graph.initializers.map((i) => i.name));
  return inferGraph({ ...graph, nodes, initializers: [...graph.initializers, ...added.filter((i) => !names.has(i.name))] });
}

export function fuseLayerNorms(graph: Graph): Graph {
  return fuse(graph, matchLayerNorm);
}

export function fuseGelus(graph: Graph): Graph {
  return fuse(graph, matchGelu);
}
