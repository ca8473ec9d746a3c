/**
 * Epilogues: a Conv, Gemm or MatMul node may carry the residual Add and the activation that follow
 * it (written by the fusion pass, graphs/passes/fuse-epilogue.ts), as oneDNN's sum / binary and
 * eltwise post-ops do:  y = act(op(x, …) + r); an Add may carry the activation after it.
 *
 * Attributes: `fused_sum: 1` means the node's last input is r (the output's shape);
 * `fused_activation` names the activation (one of EPILOGUE_ACTIVATIONS) and its own attributes
 * follow with a `fused_` prefix (fused_min, fused_max, fused_alpha, fused_approximate).
 */
import type { Attrs, Node } from './ir.js';

/** Ops that may carry an activation epilogue. */
export const EPILOGUE_HOSTS = new Set(['Conv', 'Gemm', 'MatMul', 'Add']);
/** Ops that may also carry a residual (fused_sum). */
export const RESIDUAL_HOSTS = new Set(['Conv', 'Gemm', 'MatMul']);
/** Activations an epilogue may hold, with the attributes each carries. */
export const EPILOGUE_ACTIVATIONS: Record<string, readonly string[]> = {
  Relu: [],
  Clip: ['min', 'max'],
  Sigmoid: [],
  Tanh: [],
  LeakyRelu: ['alpha'],
  HardSwish: [],
  Gelu: ['approximate'],
};

export interface Epilogue {
  /** The last input is added to the op's result (before the activation). */
  sum: boolean;
  /** The activation node this epilogue stands for (op and its attributes), if any. */
  activation?: { op: string; attrs: Attrs };
}

/** The epilogue a node carries (none: sum false, no activation). */
export function epilogueOf(node: Node): Epilogue {
  const sum = node.attrs.fused_sum === 1 || node.attrs.fused_sum === true;
  const op = node.attrs.fused_activation;
  if (typeof op !== 'string') return { sum };
  const attrs: Attrs = {};
  for (const k of EPILOGUE_ACTIVATIONS[op] ?? []) if (node.attrs[`fused_${k}`] !== undefined) attrs[k] = node.attrs[`fused_${k}`];
  return { sum, activation: { op, attrs } };
}

/** The node as its op alone: fused attributes and the residual input removed. */
export function withoutEpilogue(node: Node): Node {
  const ep = epilogueOf(node);
  if (!ep.sum && !ep.activation) return node;
  const attrs = Object.fromEntries(Object.entries(node.attrs).filter(([k]) => !k.startsWith('fused_')));
  return { ...node, attrs, inputs: ep.sum ? node.inputs.slice(0, -1) : node.inputs };
}
