/**
 * Conv + BatchNormalization folding (inference): a BatchNormalization whose input is a Conv's only
 * use becomes part of the Conv: with s = γ / √(σ² + ε), W' = W · s per output channel and
 * b' = (b − μ) · s + β. The Conv takes the BatchNormalization's output name, so readers are
 * unchanged. Needs weight values: initializers without data are materialised first with `seed`
 * (what the executor does when it loads the graph).
 */
import { inferGraph } from '../infer.js';
import type { Graph, Initializer, Node } from '../ir.js';
import { materializeWeights } from '../weights.js';

export function foldConvBatchNorm(input: Graph, seed = 0): Graph {
  const readers = new Map<string, number>();
  for (const n of input.nodes) for (const t of n.inputs) if (t) readers.set(t, (readers.get(t) ?? 0) + 1);
  const outputs = new Set(input.outputs.map((o) => o.name));
  const producer = new Map<string, Node>();
  for (const n of input.nodes) for (const t of n.outputs) producer.set(t, n);
  const pairs = input.nodes
    .filter((bn) => bn.op === 'BatchNormalization')
    .map((bn) => ({ bn, conv: producer.get(bn.inputs[0]) }))
    .filter((p): p is { bn: Node; conv: Node } => !!p.conv && p.conv.op === 'Conv' && readers.get(p.bn.inputs[0]) === 1 && !outputs.has(p.bn.inputs[0]));
  if (!pairs.length) return input;
  const graph = materializeWeights(input, { seed });
  const inits = new Map(graph.initializers.map((i) => [i.name, i]));
  const isInit = (t: string | undefined) => t !== undefined && inits.has(t) && inits.get(t)?.dtype === 'float32';
  const folded = pairs.filter(({ bn, conv }) => isInit(conv.inputs[1]) && (!conv.inputs[2] || isInit(conv.inputs[2])) && bn.inputs.slice(1, 5).every(isInit));
  if (!folded.length) return input;
  const replace = new Map<string, Node>();
  const dropped = new Set<string>();
  const added: Initializer[] = [];
  const used = new Set(graph.initializers.map((i) => i.name));
  const fresh = (base: string) => {
    let name = base;
    for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  };
  for (const { bn, conv } of folded) {
    const get = (t: string) => inits.get(t)?.data as Float32Array;
    const w = get(conv.inputs[1]);
    const wInit = inits.get(conv.inputs[1]) as Initializer;
    const cout = wInit.shape[0];
    const per = w.length / cout;
    const [gamma, beta, mean, variance] = bn.inputs.slice(1, 5).map(get);
    const eps = (bn.attrs.epsilon as number | undefined) ?? 1e-5;
    const b = conv.inputs[2] ? get(conv.inputs[2]) : new Float32Array(cout);
    const w2 = new Float32Array(w.length);
    const b2 = new Float32Array(cout);
    for (let c = 0; c < cout; c++) {
      const s = gamma[c] / Math.sqrt(variance[c] + eps);
      for (let k = 0; k < per; k++) w2[c * per + k] = w[c * per + k] * s;
      b2[c] = (b[c] - mean[c]) * s + beta[c];
    }
    const wName = fresh(`${conv.inputs[1]}_bnfold`);
    const bName = fresh(`${conv.inputs[2] || `${conv.id}_bias`}_bnfold`);
    added.push({ ...wInit, name: wName, data: w2 }, { name: bName, shape: [cout], dtype: 'float32', trainable: true, role: 'bias', data: b2 });
    replace.set(conv.id, { ...conv, inputs: [conv.inputs[0], wName, bName], outputs: [bn.outputs[0]] });
    dropped.add(bn.id);
  }
  const nodes = graph.nodes.filter((n) => !dropped.has(n.id)).map((n) => replace.get(n.id) ?? n);
  // Initializers nobody reads any more (the old weights, the BN statistics) go with dead code.
  const read = new Set(nodes.flatMap((n) => n.inputs));
  const initializers = [...graph.initializers, ...added].filter((i) => read.has(i.name));
  return inferGraph({ ...graph, nodes, initializers });
}
