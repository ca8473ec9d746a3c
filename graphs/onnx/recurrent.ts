/**
 * ONNX LSTM / GRU → the IR's form: every optional input but LSTM's peepholes present (a missing bias
 * or initial state becomes a zero constant), every output named (an unused one gets a fresh name),
 * `sequence_lens` accepted only when it folds to the full length for every batch item. What the IR
 * cannot express exactly — layout 1, other activations, clip, input_forget — is an error naming it.
 */
import { type Attrs, GraphError } from '../ir.js';
import type { Folded } from './fold.js';

export interface RecurrentContext {
  where: string;
  shape(tensor: string): number[];
  constant(tensor: string): Folded | undefined;
  /** A name no tensor has yet, derived from `base`. */
  fresh(base: string): string;
}

export interface RecurrentForm {
  inputs: string[];
  outputs: string[];
  attrs: Attrs;
  /** Zero constants to add (missing bias and initial states). */
  constants: { name: string; value: Folded }[];
}

export function normalizeRecurrent(op: 'LSTM' | 'GRU', inputs: string[], outputs: string[], attrs: Attrs, ctx: RecurrentContext): RecurrentForm {
  const fail = (m: string): never => {
    throw new GraphError(m, ctx.where);
  };
  const lstm = op === 'LSTM';
  const has = (k: number) => !!inputs[k];
  if (!has(0) || !has(1) || !has(2)) fail('needs X, W and R');
  const layout = (attrs.layout as number | undefined) ?? 0;
  if (layout !== 0) fail(`layout ${layout} (batch first) is not supported; export with layout 0`);
  for (const k of ['clip', 'activation_alpha', 'activation_beta']) if (attrs[k] !== undefined) fail(`attribute '${k}' is not supported`);
  if (lstm && (attrs.input_forget ?? 0) !== 0) fail('input_forget = 1 is not supported');
  const direction = (attrs.direction as string | undefined) ?? 'forward';
  const dirs = direction === 'bidirectional' ? 2 : 1;
  if (attrs.activations !== undefined) {
    const one = lstm ? 'Sigmoid,Tanh,Tanh' : 'Sigmoid,Tanh';
    const want = dirs === 2 ? `${one},${one}` : one;
    if (String(attrs.activations).toLowerCase() !== want.toLowerCase()) fail(`activations '${attrs.activations}' are not supported (only the default ${want})`);
  }
  const hidden = attrs.hidden_size as number | undefined;
  if (!Number.isInteger(hidden) || (hidden as number) < 1) fail("needs a positive integer attribute 'hidden_size'");
  const H = hidden as number;
  const [seq, batch] = ctx.shape(inputs[0]);
  if (has(4)) {
    const lens = ctx.constant(inputs[4]);
    if (!lens || Array.from(lens.data).some((v) => v !== seq))
      fail(`sequence_lens ('${inputs[4]}') must be a constant equal to the sequence length ${seq} for every batch item; shorter sequences are not supported`);
  }
  const g = lstm ? 4 : 3;
  const constants: RecurrentForm['constants'] = [];
  const zeros = (what: string, shape: number[]) => {
    const name = ctx.fresh(`${outputs.find(Boolean) ?? op}.${what}`);
    constants.push({ name, value: { shape, dtype: 'float32', data: new Float64Array(shape.reduce((a, b) => a * b, 1)) } });
    return name;
  };
  const state = [dirs, batch, H];
  const ins = [
    inputs[0],
    inputs[1],
    inputs[2],
    has(3) ? inputs[3] : zeros('B', [dirs, 2 * g * H]),
    has(5) ? inputs[5] : zeros('initial_h', state),
    ...(lstm ? [has(6) ? inputs[6] : zeros('initial_c', state), ...(has(7) ? [inputs[7]] : [])] : []),
  ];
  const names = lstm ? ['Y', 'Y_h', 'Y_c'] : ['Y', 'Y_h'];
  const outs = names.map((n, k) => outputs[k] || ctx.fresh(`${outputs.find(Boolean) ?? op}.${n}`));
  const out: Attrs = { hidden_size: H, direction };
  if (!lstm && attrs.linear_before_reset) out.linear_before_reset = attrs.linear_before_reset;
  return { inputs: ins, outputs: outs, attrs: out, constants };
}
