/**
 * Seeded random weights and inputs for graphs that carry no values (every zoo model).
 *
 * Each initializer draws from its own generator keyed by (seed, initializer name), so its values do
 * not depend on the order of initializers or on which other tensors exist. Distributions by role
 * keep activations O(1) through deep networks, so random-weight models produce finite, non-trivial
 * outputs that executors can be compared on:
 *   weight     uniform ±gain·sqrt(3/fan_in)  (variance gain²/fan_in: LeCun, or He when gain = √2)
 *   bias, beta, mean, embedding   uniform ±0.1
 *   gamma      uniform [0.8, 1.2]
 *   var        uniform [0.5, 1.5]
 *   const      must carry data (an error names it otherwise)
 *
 * fan_in is read from how the weight is used, because the shape alone is ambiguous ([k, n] for
 * MatMul vs [out, in] for Gemm with transB = 1):
 *   Conv [O, I/g, kh, kw]           → I/g·kh·kw (product of dims after the first)
 *   ConvTranspose [I, O/g, kh, kw]  → I·kh·kw / (stride_h·stride_w): inputs landing on one output
 *   Gemm B                          → B.shape[1] when transB = 1, else B.shape[0]
 *   MatMul B [..., k, n]            → k;  MatMul A [..., m, k] (weight on the left) → k
 *   anything else                   → product of dims after the first (the [out, in] convention)
 * gain (see gainAfter) is √2 when the layer's output reaches a Relu / Clip, directly or through a
 * BatchNorm or a bias Add (the rectifier halves the second moment); RESIDUAL_GAIN = 0.5 when it
 * ends a residual branch (reaches an Add of two activations), so a stack of residual blocks grows
 * its variance by ~1.2× per block instead of ~2× (He everywhere gave ResNet-50 logits of rms 5e3;
 * this rule gives rms 0.9); 1 otherwise. Measured logit rms at batch 1 with seed 0: squeezenet1_1
 * 2.3, resnet50 0.9, inception_v3 7.7, mobilenet_v2 1.4, nasnet_mobile 12, nasnet_large 29,
 * randwire 0.11, bert_layer 1.0.
 */
import seedrandom from 'seedrandom';
import { type Graph, GraphError, type Initializer, type Node, numel } from './ir.js';

export interface MaterializeOptions {
  seed?: number;
}

/** Per-tensor generator: alea is seedrandom's fastest (≈65 M values/s), enough for NASNet-Large. */
function rngFor(seed: number, name: string): () => number {
  return seedrandom.alea(`topsched/${seed}/${name}`);
}

function fillUniform(n: number, lo: number, hi: number, rng: () => number): Float32Array {
  const out = new Float32Array(n);
  const span = hi - lo;
  for (let i = 0; i < n; i++) out[i] = lo + span * rng();
  return out;
}

/** Consumers of every tensor: the (node, input position) pairs reading it. */
function consumers(graph: Graph): Map<string, { node: Node; pos: number }[]> {
  const m = new Map<string, { node: Node; pos: number }[]>();
  for (const node of graph.nodes) {
    node.inputs.forEach((t, pos) => {
      const list = m.get(t);
      if (list) list.push({ node, pos });
      else m.set(t, [{ node, pos }]);
    });
  }
  return m;
}

const rectifiers = new Set(['Relu', 'Clip']);

/**
 * Gain for a layer from what its output meets next, looking through a BatchNorm or a bias Add:
 * a rectifier → √2 (He); a residual Add of two activations → RESIDUAL_GAIN, so that a deep stack of
 * residual blocks grows its variance by a small factor per block instead of doubling it; else 1.
 */
export const RESIDUAL_GAIN = 0.5;

function gainAfter(node: Node, uses: Map<string, { node: Node; pos: number }[]>, isInit: (t: string) => boolean): number {
  let cur = node;
  for (let step = 0; step < 3; step++) {
    const next = uses.get(cur.outputs[0]) ?? [];
    if (next.some((u) => rectifiers.has(u.node.op))) return Math.SQRT2;
    if (next.length !== 1) return 1;
    const n = next[0].node;
    if (n.op === 'BatchNormalization' || (n.op === 'Add' && n.inputs.some(isInit))) cur = n;
    else if (n.op === 'Add') return RESIDUAL_GAIN;
    else return 1;
  }
  return 1;
}

function fanIn(init: Initializer, use: { node: Node; pos: number } | undefined): number {
  const s = init.shape;
  const tail = numel(s.slice(1));
  if (!use) return tail;
  const { node, pos } = use;
  switch (node.op) {
    case 'ConvTranspose': {
      const strides = (node.attrs.strides as number[] | undefined) ?? [1, 1];
      return Math.max(1, (s[0] * numel(s.slice(2))) / numel(strides));
    }
    case 'Gemm':
      if (pos === 1) return node.attrs.transB === 1 || node.attrs.transB === true ? s[1] : s[0];
      return node.attrs.transA === 1 || node.attrs.transA === true ? s[0] : s[1];
    case 'MatMul':
      return pos === 1 ? s[s.length - 2] : s[s.length - 1];
    default:
      return tail;
  }
}

/** The values for one initializer from its role; `use` is its first consumer (for fan-in). */
function generate(init: Initializer, seed: number, graph: Graph, uses: Map<string, { node: Node; pos: number }[]>, inits: Set<string>): Float32Array {
  const where = `graph '${graph.name}'`;
  if (init.dtype !== 'float32')
    throw new GraphError(`initializer '${init.name}' (${init.dtype}, role '${init.role}') has no data; only float initializers can be generated`, where);
  const n = numel(init.shape);
  const rng = rngFor(seed, init.name);
  switch (init.role) {
    case 'weight': {
      const use = uses.get(init.name)?.[0];
      const fan = Math.max(1, fanIn(init, use));
      const gain = use ? gainAfter(use.node, uses, (t) => inits.has(t)) : 1;
      const a = gain * Math.sqrt(3 / fan);
      return fillUniform(n, -a, a, rng);
    }
    case 'bias':
    case 'beta':
    case 'mean':
    case 'embedding':
      return fillUniform(n, -0.1, 0.1, rng);
    case 'gamma':
      return fillUniform(n, 0.8, 1.2, rng);
    case 'var':
      return fillUniform(n, 0.5, 1.5, rng);
    case 'const':
      throw new GraphError(`constant initializer '${init.name}' has no data (constants must carry their values)`, where);
    default:
      throw new GraphError(`initializer '${init.name}' has unknown role '${String(init.role)}'`, where);
  }
}

/** The graph with every initializer that lacks `data` filled; initializers with data are kept as is. */
export function materializeWeights(graph: Graph, { seed = 0 }: MaterializeOptions = {}): Graph {
  if (graph.initializers.every((i) => i.data)) return graph;
  const uses = consumers(graph);
  const inits = new Set(graph.initializers.map((i) => i.name));
  const initializers = graph.initializers.map((init) => (init.data ? init : { ...init, data: generate(init, seed, graph, uses, inits) }));
  return { ...graph, initializers };
}

export type TensorData = Float32Array | BigInt64Array;

/** Ops that carry index values through unchanged, so a Gather further on still bounds them. */
const indexCarriers = new Set(['Identity', 'Reshape', 'Flatten', 'Transpose', 'Expand', 'Concat', 'Split', 'Slice']);

/** Exclusive upper bound for the values of an int64 tensor: the smallest table it indexes. */
function indexBound(graph: Graph, tensor: string, uses: Map<string, { node: Node; pos: number }[]>): number | undefined {
  const shapeOf = new Map<string, number[]>();
  for (const v of graph.inputs) shapeOf.set(v.name, v.shape);
  for (const i of graph.initializers) shapeOf.set(i.name, i.shape);
  for (const n of graph.nodes) {
    n.outputs.forEach((t, k) => {
      shapeOf.set(t, n.outShapes[k] ?? []);
    });
  }
  let bound: number | undefined;
  const seen = new Set<string>();
  const stack = [tensor];
  while (stack.length) {
    const t = stack.pop() as string;
    if (seen.has(t)) continue;
    seen.add(t);
    for (const { node, pos } of uses.get(t) ?? []) {
      if (node.op === 'Gather' && pos === 1) {
        const table = shapeOf.get(node.inputs[0]) ?? [];
        const axis = (node.attrs.axis as number | undefined) ?? 0;
        const dim = table[axis < 0 ? axis + table.length : axis];
        if (dim !== undefined) bound = bound === undefined ? dim : Math.min(bound, dim);
      } else if (indexCarriers.has(node.op)) {
        stack.push(...node.outputs);
      }
    }
  }
  return bound;
}

/**
 * One random tensor per graph input: float inputs uniform ±√3 (unit variance), int64 inputs
 * uniform valid indices into the table(s) the Gather they feed reads.
 */
export function randomInputs(graph: Graph, seed = 0): Map<string, TensorData> {
  const uses = consumers(graph);
  const out = new Map<string, TensorData>();
  for (const v of graph.inputs) {
    const n = numel(v.shape);
    const rng = rngFor(seed, `input:${v.name}`);
    if (v.dtype === 'float32') {
      out.set(v.name, fillUniform(n, -Math.sqrt(3), Math.sqrt(3), rng));
      continue;
    }
    const bound = indexBound(graph, v.name, uses);
    if (bound === undefined || bound < 1) {
      throw new GraphError(`int64 input '${v.name}' does not feed the indices of a Gather, so its valid range is unknown`, `graph '${graph.name}'`);
    }
    const arr = new BigInt64Array(n);
    for (let i = 0; i < n; i++) arr[i] = BigInt(Math.floor(rng() * bound));
    out.set(v.name, arr);
  }
  return out;
}
