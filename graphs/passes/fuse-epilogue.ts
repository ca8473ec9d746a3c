/**
 * Epilogue fusion: a Conv, Gemm, MatMul or Add absorbs the activation after it, and a Conv, Gemm or
 * MatMul also the residual Add before that activation, as oneDNN's post-ops (IOS and TensorRT
 * schedule Conv+BN+ReLU as one operator; onnxruntime's NCHWc Conv takes the Sum too).
 *
 *   y = act(op(x, …) + r)
 *
 * On the CPU backend a Conv reads a residual kept in its output's blocked layout in place (a
 * binary-add post-op); measured on a 2-core EPYC against a separate Add: ResNet-50 −1.5 % (1 thread)
 * and −3 % (2 threads), NASNet-A Mobile −2.7 % (2 threads), MobileNetV2 within noise.
 * `residualInto` narrows the hosts (e.g. `['Gemm', 'MatMul']` leaves the Add after a Conv, which
 * then carries the activation).
 *
 * is written on the op node as attributes: `fused_sum: 1` (the node's last input is r, same shape as
 * the output) and `fused_activation: <Relu | Clip | Sigmoid | Tanh | LeakyRelu | HardSwish | Gelu>`
 * with the activation's own attributes prefixed `fused_` (see graphs/epilogue.ts, which ops.ts, the
 * reference evaluator, ONNX export and the native backends read).
 *
 * A step fuses only when the intermediate tensor has one reader and is not a graph output; the
 * fused node takes the absorbed node's place and output name, so readers and outputs are unchanged.
 */

import { EPILOGUE_ACTIVATIONS, EPILOGUE_HOSTS, RESIDUAL_HOSTS } from '../epilogue.js';
import { inferGraph } from '../infer.js';
import type { Graph, Node } from '../ir.js';

export function fuseEpilogues(graph: Graph, o: { residualInto?: readonly string[] } = {}): Graph {
  const residualInto = new Set((o.residualInto ?? ['Conv', 'Gemm', 'MatMul']).filter((op) => RESIDUAL_HOSTS.has(op)));
  const readers = new Map<string, Node[]>();
  for (const n of graph.nodes) for (const t of n.inputs) if (t) readers.set(t, [...(readers.get(t) ?? []), n]);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const inits = new Set(graph.initializers.map((i) => i.name));
  const shapes = new Map<string, number[]>(graph.inputs.map((v) => [v.name, v.shape]));
  const position = new Map<string, number>();
  graph.nodes.forEach((n, i) => {
    n.outputs.forEach((t, k) => {
      shapes.set(t, n.outShapes[k]);
      position.set(t, i);
    });
  });
  const onlyReader = (t: string): Node | undefined => {
    const r = readers.get(t);
    return r?.length === 1 && !outputs.has(t) ? r[0] : undefined;
  };
  const claimed = new Set<string>();
  // The last absorbed node's id → the fused node, which takes its place; the others are dropped.
  const placed = new Map<string, Node>();
  const dropped = new Set<string>();
  graph.nodes.forEach((host, at) => {
    if (!EPILOGUE_HOSTS.has(host.op) || claimed.has(host.id) || Object.keys(host.attrs).some((k) => k.startsWith('fused_'))) return;
    const fused: Node = { ...host, attrs: { ...host.attrs }, inputs: [...host.inputs] };
    const absorbed: Node[] = [];
    let next = onlyReader(host.outputs[0]);
    if (next?.op === 'Add' && residualInto.has(host.op) && !claimed.has(next.id) && next.inputs[0] !== next.inputs[1]) {
      const other = next.inputs[0] === host.outputs[0] ? next.inputs[1] : next.inputs[0];
      // A residual of the output's shape; when both addends are fusable the later producer takes
      // the Add, so the other branch (a ResNet shortcut) stays free to run beside it.
      const fits = !inits.has(other) && shapes.get(other)?.join() === host.outShapes[0].join();
      if (fits && (position.get(other) ?? -1) < at) {
        fused.inputs.push(other);
        fused.attrs.fused_sum = 1;
        absorbed.push(next);
        next = onlyReader(next.outputs[0]);
      }
    }
    if (
      next &&
      !claimed.has(next.id) &&
      EPILOGUE_ACTIVATIONS[next.op] &&
      (next.op !== 'Gelu' || ['none', 'tanh', undefined].includes(next.attrs.approximate as string))
    ) {
      fused.attrs.fused_activation = next.op;
      for (const k of EPILOGUE_ACTIVATIONS[next.op]) if (next.attrs[k] !== undefined) fused.attrs[`fused_${k}`] = next.attrs[k];
      absorbed.push(next);
    }
    const last = absorbed[absorbed.length - 1];
    if (!last) return;
    fused.outputs = [...last.outputs];
    for (const a of absorbed) claimed.add(a.id);
    dropped.add(host.id);
    for (const a of absorbed.slice(0, -1)) dropped.add(a.id);
    placed.set(last.id, fused);
  });
  if (!placed.size) return graph;
  const nodes = graph.nodes.filter((n) => !dropped.has(n.id)).map((n) => placed.get(n.id) ?? n);
  return inferGraph({ ...graph, nodes });
}
