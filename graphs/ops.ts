/**
 * Shape and cost rules per operator type. Each rule sees the input shapes (and which inputs are
 * initializers) and returns output shapes plus MACs/FLOPs. Errors name the node and the rule.
 */
import { EPILOGUE_ACTIVATIONS, epilogueOf, RESIDUAL_HOSTS, withoutEpilogue } from './epilogue.js';
import { type DType, GraphError, type Initializer, type Node, numel, type OpType } from './ir.js';

export interface OpInput {
  shape: number[];
  dtype: DType;
  /** Set when the input is an initializer (weights, constants). */
  init?: Initializer;
}

export interface OpResult {
  shapes: number[][];
  dtypes: DType[];
  macs: number;
  /** FLOPs other than 2×MACs (elementwise arithmetic, reductions, ...). */
  extraFlops: number;
}

type Rule = (node: Node, ins: OpInput[]) => OpResult;

const fail = (node: Node, msg: string): never => {
  throw new GraphError(msg, `node '${node.id}' (${node.op})`);
};

export function attrInt(node: Node, name: string, dflt?: number): number {
  const v = node.attrs[name];
  if (v === undefined) {
    if (dflt === undefined) fail(node, `missing attribute '${name}'`);
    return dflt as number;
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(node, `attribute '${name}' must be an integer, got ${showAttr(v)}`);
  return v as number;
}

/** JSON.stringify turns NaN and ±Infinity into null; errors should show what was there. */
const showAttr = (v: unknown): string =>
  Array.isArray(v) ? `[${v.map(showAttr).join(', ')}]` : typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v);

export function attrInts(node: Node, name: string, dflt?: number[]): number[] {
  const v = node.attrs[name];
  if (v === undefined) {
    if (dflt === undefined) fail(node, `missing attribute '${name}'`);
    return dflt as number[];
  }
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || Number.isNaN(x))) {
    fail(node, `attribute '${name}' must be a list of numbers, got ${showAttr(v)}`);
  }
  return v as number[];
}

export function attrStr(node: Node, name: string, dflt: string): string {
  const v = node.attrs[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'string') fail(node, `attribute '${name}' must be a string, got ${JSON.stringify(v)}`);
  return v as string;
}

function arity(node: Node, ins: OpInput[], min: number, max = min): void {
  if (ins.length < min || ins.length > max) {
    fail(node, `expects ${min === max ? min : `${min}..${max}`} inputs, got ${ins.length}`);
  }
}

function normAxis(node: Node, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(node, `axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Numpy-style broadcast of two shapes. */
export function broadcast(node: Node, a: number[], b: number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) fail(node, `cannot broadcast shapes [${a}] and [${b}]`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

const f32 = (shapes: number[][]): DType[] => shapes.map(() => 'float32');

/** Spatial output size for conv/pool windows. */
function windowOut(node: Node, inSize: number, k: number, s: number, padBegin: number, padEnd: number, d: number, ceil: boolean): number {
  const eff = d * (k - 1) + 1;
  const span = inSize + padBegin + padEnd - eff;
  if (span < 0) fail(node, `window ${k} (dilation ${d}) larger than padded input ${inSize + padBegin + padEnd}`);
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // ONNX/PyTorch rule: the last window must start inside the input or left padding.
  if (ceil && (out - 1) * s >= inSize + padBegin) out -= 1;
  return out;
}

function spatial(node: Node, x: number[], kernel: number[], pooling: boolean): number[] {
  const nsp = x.length - 2;
  if (kernel.length !== nsp) fail(node, `kernel_shape [${kernel}] does not match input rank ${x.length}`);
  const strides = attrInts(node, 'strides', new Array(nsp).fill(1));
  const dil = attrInts(node, 'dilations', new Array(nsp).fill(1));
  const pads = attrInts(node, 'pads', new Array(2 * nsp).fill(0));
  const need = (name: string, v: number[], len: number, min: number) => {
    if (v.length !== len) fail(node, `attribute '${name}' has ${v.length} values [${v}], expected ${len} for a rank-${x.length} input`);
    const frac = v.findIndex((d) => !Number.isInteger(d));
    if (frac >= 0) fail(node, `attribute '${name}'[${frac}] is ${v[frac]}, must be a whole number`);
    const bad = v.findIndex((d) => d < min);
    if (bad >= 0) fail(node, `attribute '${name}'[${bad}] is ${v[bad]}, must be at least ${min}`);
  };
  need('kernel_shape', kernel, nsp, 1);
  need('strides', strides, nsp, 1);
  need('dilations', dil, nsp, 1);
  need('pads', pads, 2 * nsp, 0);
  const ceil = pooling && attrInt(node, 'ceil_mode', 0) === 1;
  const out: number[] = [];
  for (let i = 0; i < nsp; i++) out.push(windowOut(node, x[i + 2], kernel[i], strides[i], pads[i], pads[i + nsp], dil[i], ceil));
  return out;
}

const conv: Rule = (node, ins) => {
  arity(node, ins, 2, 3);
  const [x, w] = ins;
  if (x.shape.length !== 4) fail(node, `expects NCHW input, got [${x.shape}]`);
  if (w.shape.length !== 4) fail(node, `expects OIHW weight, got [${w.shape}]`);
  const group = attrInt(node, 'group', 1);
  if (group < 1) fail(node, `attribute 'group' is ${group}, must be at least 1`);
  const kernel = attrInts(node, 'kernel_shape', w.shape.slice(2));
  if (kernel.join() !== w.shape.slice(2).join())
    fail(node, `attribute 'kernel_shape' [${kernel}] disagrees with the weight's kernel [${w.shape.slice(2)}] (weight [${w.shape}])`);
  if (x.shape[1] !== w.shape[1] * group) {
    fail(node, `input channels ${x.shape[1]} != weight in-channels ${w.shape[1]} × group ${group}`);
  }
  if (w.shape[0] % group !== 0) fail(node, `output channels ${w.shape[0]} not divisible by group ${group}`);
  if (ins[2] && numel(ins[2].shape) !== w.shape[0]) fail(node, `bias has ${numel(ins[2].shape)} values, expected ${w.shape[0]}`);
  const sp = spatial(node, x.shape, kernel, false);
  const out = [x.shape[0], w.shape[0], ...sp];
  const macs = numel(out) * w.shape[1] * kernel[0] * kernel[1];
  return { shapes: [out], dtypes: ['float32'], macs, extraFlops: ins[2] ? numel(out) : 0 };
};

const convTranspose: Rule = (node, ins) => {
  arity(node, ins, 2, 3);
  const [x, w] = ins;
  if (x.shape.length !== 4 || w.shape.length !== 4) fail(node, 'expects NCHW input and IOHW weight');
  const group = attrInt(node, 'group', 1);
  if (x.shape[1] !== w.shape[0]) fail(node, `input channels ${x.shape[1]} != weight dim 0 ${w.shape[0]}`);
  const kernel = attrInts(node, 'kernel_shape', w.shape.slice(2));
  const strides = attrInts(node, 'strides', [1, 1]);
  const dil = attrInts(node, 'dilations', [1, 1]);
  const pads = attrInts(node, 'pads', [0, 0, 0, 0]);
  const outPad = attrInts(node, 'output_padding', [0, 0]);
  const sp = [0, 1].map((i) => strides[i] * (x.shape[i + 2] - 1) + outPad[i] + (kernel[i] - 1) * dil[i] + 1 - pads[i] - pads[i + 2]);
  if (sp.some((v) => v <= 0)) fail(node, `non-positive output size [${sp}]`);
  const out = [x.shape[0], w.shape[1] * group, ...sp];
  const macs = numel(x.shape) * w.shape[1] * kernel[0] * kernel[1];
  return { shapes: [out], dtypes: ['float32'], macs, extraFlops: ins[2] ? numel(out) : 0 };
};

const gemm: Rule = (node, ins) => {
  arity(node, ins, 2, 3);
  const [a, b] = ins;
  if (a.shape.length !== 2 || b.shape.length !== 2) fail(node, `expects 2-D inputs, got [${a.shape}] and [${b.shape}]`);
  const ta = attrInt(node, 'transA', 0);
  const tb = attrInt(node, 'transB', 0);
  const [m, k] = ta ? [a.shape[1], a.shape[0]] : a.shape;
  const [k2, n] = tb ? [b.shape[1], b.shape[0]] : b.shape;
  if (k !== k2) fail(node, `inner dimensions differ: ${k} vs ${k2}`);
  if (ins[2]) broadcast(node, ins[2].shape, [m, n]);
  return { shapes: [[m, n]], dtypes: ['float32'], macs: m * n * k, extraFlops: ins[2] ? m * n : 0 };
};

const matmul: Rule = (node, ins) => {
  arity(node, ins, 2);
  const [a, b] = ins;
  if (a.shape.length < 2 || b.shape.length < 2) fail(node, 'expects inputs of rank >= 2');
  const m = a.shape[a.shape.length - 2];
  const k = a.shape[a.shape.length - 1];
  const k2 = b.shape[b.shape.length - 2];
  const n = b.shape[b.shape.length - 1];
  if (k !== k2) fail(node, `inner dimensions differ: [${a.shape}] × [${b.shape}]`);
  const batch = broadcast(node, a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = [...batch, m, n];
  return { shapes: [out], dtypes: ['float32'], macs: numel(batch) * m * n * k, extraFlops: 0 };
};

const batchNorm: Rule = (node, ins) => {
  arity(node, ins, 5);
  const c = ins[0].shape[1];
  for (let i = 1; i < 5; i++) if (numel(ins[i].shape) !== c) fail(node, `input ${i} has ${numel(ins[i].shape)} values, expected ${c} channels`);
  return { shapes: [ins[0].shape.slice()], dtypes: ['float32'], macs: 0, extraFlops: 2 * numel(ins[0].shape) };
};

/** Elementwise unary ops: one output like the input, `cost` FLOPs per element. */
const unary =
  (cost: number): Rule =>
  (node, ins) => {
    arity(node, ins, 1);
    return { shapes: [ins[0].shape.slice()], dtypes: [ins[0].dtype], macs: 0, extraFlops: cost * numel(ins[0].shape) };
  };

const binary: Rule = (node, ins) => {
  arity(node, ins, 2);
  const out = broadcast(node, ins[0].shape, ins[1].shape);
  return { shapes: [out], dtypes: ['float32'], macs: 0, extraFlops: numel(out) };
};

const concat: Rule = (node, ins) => {
  if (ins.length < 1) fail(node, 'expects at least one input');
  const rank = ins[0].shape.length;
  const axis = normAxis(node, attrInt(node, 'axis'), rank);
  const out = ins[0].shape.slice();
  for (let i = 1; i < ins.length; i++) {
    const s = ins[i].shape;
    if (s.length !== rank) fail(node, `input ${i} has rank ${s.length}, expected ${rank}`);
    for (let d = 0; d < rank; d++) {
      if (d !== axis && s[d] !== out[d]) fail(node, `input ${i} shape [${s}] does not match [${ins[0].shape}] off axis ${axis}`);
    }
    out[axis] += s[axis];
  }
  return { shapes: [out], dtypes: [ins[0].dtype], macs: 0, extraFlops: 0 };
};

const split: Rule = (node, ins) => {
  arity(node, ins, 1);
  const x = ins[0].shape;
  const axis = normAxis(node, attrInt(node, 'axis', 0), x.length);
  const sizes = attrInts(node, 'split', []);
  const parts = sizes.length ? sizes : new Array(node.outputs.length).fill(x[axis] / node.outputs.length);
  if (parts.length !== node.outputs.length) fail(node, `split has ${parts.length} sizes for ${node.outputs.length} outputs`);
  const total = parts.reduce((s, v) => s + v, 0);
  if (total !== x[axis] || parts.some((p) => !Number.isInteger(p) || p <= 0)) fail(node, `split sizes [${parts}] do not tile axis ${axis} of size ${x[axis]}`);
  const shapes = parts.map((p) => {
    const s = x.slice();
    s[axis] = p;
    return s;
  });
  return { shapes, dtypes: f32(shapes), macs: 0, extraFlops: 0 };
};

/** Output shape of Reshape (0 copies the input dim unless allowzero, one -1 is inferred). */
export function reshapeShape(x: number[], target: number[], allowzero: boolean, fail: (m: string) => never): number[] {
  const out = target.map((d, i) => (d === 0 && !allowzero ? x[i] : d));
  const minus = out.filter((d) => d === -1).length;
  if (minus > 1) fail(`shape [${target}] has more than one -1`);
  const known = out.filter((d) => d !== -1).reduce((s, v) => s * v, 1);
  if (minus === 1) {
    if (known === 0 || numel(x) % known !== 0) fail(`cannot reshape [${x}] to [${target}]`);
    out[out.indexOf(-1)] = numel(x) / known;
  }
  if (numel(out) !== numel(x)) fail(`cannot reshape [${x}] (${numel(x)} elements) to [${target}]`);
  return out;
}

const reshape: Rule = (node, ins) => {
  arity(node, ins, 1);
  const out = reshapeShape(ins[0].shape, attrInts(node, 'shape'), false, (m) => fail(node, m));
  return { shapes: [out], dtypes: [ins[0].dtype], macs: 0, extraFlops: 0 };
};

const flatten: Rule = (node, ins) => {
  arity(node, ins, 1);
  const x = ins[0].shape;
  const axis = attrInt(node, 'axis', 1);
  const a = axis < 0 ? axis + x.length : axis;
  if (a < 0 || a > x.length) fail(node, `axis ${axis} out of range for rank ${x.length}`);
  return { shapes: [[numel(x.slice(0, a)), numel(x.slice(a))]], dtypes: [ins[0].dtype], macs: 0, extraFlops: 0 };
};

const transpose: Rule = (node, ins) => {
  arity(node, ins, 1);
  const x = ins[0].shape;
  const perm = attrInts(
    node,
    'perm',
    x.map((_, i) => x.length - 1 - i),
  );
  if (perm.length !== x.length || [...perm].sort((a, b) => a - b).some((p, i) => p !== i))
    fail(node, `perm [${perm}] is not a permutation of rank ${x.length}`);
  return { shapes: [perm.map((p) => x[p])], dtypes: [ins[0].dtype], macs: 0, extraFlops: 0 };
};

const pool: Rule = (node, ins) => {
  arity(node, ins, 1);
  const x = ins[0].shape;
  if (x.length !== 4) fail(node, `expects NCHW input, got [${x}]`);
  const kernel = attrInts(node, 'kernel_shape');
  const sp = spatial(node, x, kernel, true);
  const out = [x[0], x[1], ...sp];
  return { shapes: [out], dtypes: ['float32'], macs: 0, extraFlops: numel(out) * kernel[0] * kernel[1] };
};

const globalPool: Rule = (node, ins) => {
  arity(node, ins, 1);
  const x = ins[0].shape;
  if (x.length !== 4) fail(node, `expects NCHW input, got [${x}]`);
  return { shapes: [[x[0], x[1], 1, 1]], dtypes: ['float32'], macs: 0, extraFlops: numel(x) };
};

const resize: Rule = (node, ins) => {
  arity(node, ins, 1);
  const x = ins[0].shape;
  const scales = attrInts(node, 'scales');
  if (scales.length !== x.length) fail(node, `scales [${scales}] do not match rank ${x.length}`);
  const out = x.map((d, i) => Math.floor(d * scales[i]));
  const mode = attrStr(node, 'mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear') fail(node, `mode '${mode}' is not supported (nearest, linear)`);
  return { shapes: [out], dtypes: ['float32'], macs: 0, extraFlops: mode === 'linear' ? 4 * numel(out) : 0 };
};

const softmax: Rule = (node, ins) => {
  arity(node, ins, 1);
  normAxis(node, attrInt(node, 'axis', -1), ins[0].shape.length);
  return { shapes: [ins[0].shape.slice()], dtypes: ['float32'], macs: 0, extraFlops: 5 * numel(ins[0].shape) };
};

const layerNorm: Rule = (node, ins) => {
  arity(node, ins, 2, 3);
  const x = ins[0].shape;
  const axis = normAxis(node, attrInt(node, 'axis', -1), x.length);
  const norm = numel(x.slice(axis));
  if (numel(ins[1].shape) !== norm) fail(node, `scale has ${numel(ins[1].shape)} values, expected ${norm}`);
  return { shapes: [x.slice()], dtypes: ['float32'], macs: 0, extraFlops: 8 * numel(x) };
};

const pad: Rule = (node, ins) => {
  arity(node, ins, 1);
  const x = ins[0].shape;
  const pads = attrInts(node, 'pads');
  if (pads.length !== 2 * x.length) fail(node, `pads [${pads}] need ${2 * x.length} values`);
  const mode = attrStr(node, 'mode', 'constant');
  if (mode !== 'constant' && mode !== 'reflect' && mode !== 'edge') fail(node, `mode '${mode}' is not supported (constant, reflect, edge)`);
  if (mode !== 'constant' && pads.some((p) => p < 0)) fail(node, `mode '${mode}' with negative pads [${pads}] is not supported`);
  if (mode === 'reflect' && x.some((d, i) => pads[i] >= d || pads[i + x.length] >= d))
    fail(node, `reflect pads [${pads}] must be smaller than the input dims [${x}]`);
  const out = x.map((d, i) => d + pads[i] + pads[i + x.length]);
  if (out.some((d) => d <= 0)) fail(node, `pads [${pads}] leave an empty tensor`);
  return { shapes: [out], dtypes: ['float32'], macs: 0, extraFlops: 0 };
};

const gather: Rule = (node, ins) => {
  arity(node, ins, 2);
  const [data, idx] = ins;
  if (idx.dtype !== 'int64') fail(node, 'indices must be int64');
  const axis = normAxis(node, attrInt(node, 'axis', 0), data.shape.length);
  const out = [...data.shape.slice(0, axis), ...idx.shape, ...data.shape.slice(axis + 1)];
  return { shapes: [out], dtypes: [data.dtype], macs: 0, extraFlops: 0 };
};

const expand: Rule = (node, ins) => {
  arity(node, ins, 1);
  const out = broadcast(node, ins[0].shape, attrInts(node, 'shape'));
  return { shapes: [out], dtypes: [ins[0].dtype], macs: 0, extraFlops: 0 };
};

const reduce: Rule = (node, ins) => {
  arity(node, ins, 1);
  const x = ins[0].shape;
  const axes = attrInts(node, 'axes').map((a) => normAxis(node, a, x.length));
  const keep = attrInt(node, 'keepdims', 1) === 1;
  const out: number[] = [];
  x.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return { shapes: [out], dtypes: ['float32'], macs: 0, extraFlops: numel(x) };
};

/** ONNX Slice on one axis: the clamped first index and the element count (step may be negative). */
export function sliceAxis(dim: number, start: number, end: number, step: number): { start: number; count: number } {
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  const [lo, hi] = step > 0 ? [0, dim] : [-1, dim - 1];
  s = Math.min(Math.max(s, lo), hi);
  e = Math.min(Math.max(e, lo), hi);
  return { start: s, count: Math.max(0, Math.ceil((e - s) / step)) };
}

/** Slice: attributes starts, ends, axes (default 0..n-1) and steps (default 1), as ONNX's inputs. */
const slice: Rule = (node, ins) => {
  arity(node, ins, 1);
  const x = ins[0].shape;
  const starts = attrInts(node, 'starts');
  const ends = attrInts(node, 'ends');
  const axes = attrInts(
    node,
    'axes',
    starts.map((_, i) => i),
  );
  const steps = attrInts(
    node,
    'steps',
    starts.map(() => 1),
  );
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length)
    fail(node, `starts [${starts}], ends [${ends}], axes [${axes}] and steps [${steps}] differ in length`);
  const out = x.slice();
  const seen = new Set<number>();
  axes.forEach((a, i) => {
    const ax = normAxis(node, a, x.length);
    if (seen.has(ax)) fail(node, `axis ${a} is sliced twice`);
    seen.add(ax);
    if (!Number.isInteger(steps[i]) || steps[i] === 0) fail(node, `step ${steps[i]} on axis ${a}`);
    out[ax] = sliceAxis(x[ax], starts[i], ends[i], steps[i]).count;
  });
  if (out.some((d) => d === 0)) fail(node, `slice of [${x}] is empty ([${out}])`);
  return { shapes: [out], dtypes: [ins[0].dtype], macs: 0, extraFlops: 0 };
};

const instanceNorm: Rule = (node, ins) => {
  arity(node, ins, 3);
  const x = ins[0].shape;
  if (x.length < 3) fail(node, `expects an input of rank >= 3 (N, C, spatial...), got [${x}]`);
  for (let i = 1; i < 3; i++) if (numel(ins[i].shape) !== x[1]) fail(node, `input ${i} has ${numel(ins[i].shape)} values, expected ${x[1]} channels`);
  return { shapes: [x.slice()], dtypes: ['float32'], macs: 0, extraFlops: 8 * numel(x) };
};

/**
 * LSTM / GRU (ONNX, layout 0, default activations Sigmoid/Tanh). Inputs as the importer fills them:
 * X [seq, batch, input], W [dirs, G·hidden, input], R [dirs, G·hidden, hidden], B [dirs, 2·G·hidden],
 * initial_h [dirs, batch, hidden], LSTM also initial_c and optionally peepholes P [dirs, 3·hidden]
 * (G = 4 for LSTM, 3 for GRU). Outputs Y [seq, dirs, batch, hidden], Y_h, LSTM also Y_c.
 */
const recurrent: Rule = (node, ins) => {
  const lstm = node.op === 'LSTM';
  arity(node, ins, lstm ? 6 : 5, lstm ? 7 : 5);
  const [x, w, r, b, h0] = ins;
  if (x.shape.length !== 3) fail(node, `X must be [seq, batch, input], got [${x.shape}]`);
  const [seq, batch, input] = x.shape;
  const hidden = attrInt(node, 'hidden_size');
  const direction = attrStr(node, 'direction', 'forward');
  if (!['forward', 'reverse', 'bidirectional'].includes(direction)) fail(node, `direction '${direction}' is not forward, reverse or bidirectional`);
  const dirs = direction === 'bidirectional' ? 2 : 1;
  const g = lstm ? 4 : 3;
  const want = (t: OpInput, name: string, shape: number[]) => {
    if (t.shape.join() !== shape.join()) fail(node, `${name} has shape [${t.shape}], expected [${shape}]`);
  };
  want(w, 'W', [dirs, g * hidden, input]);
  want(r, 'R', [dirs, g * hidden, hidden]);
  want(b, 'B', [dirs, 2 * g * hidden]);
  want(h0, 'initial_h', [dirs, batch, hidden]);
  if (lstm) want(ins[5], 'initial_c', [dirs, batch, hidden]);
  if (ins[6]) want(ins[6], 'P', [dirs, 3 * hidden]);
  if (node.outputs.length !== (lstm ? 3 : 2)) fail(node, `has ${node.outputs.length} outputs, expected ${lstm ? 'Y, Y_h, Y_c' : 'Y, Y_h'}`);
  const state = [dirs, batch, hidden];
  const shapes = [[seq, dirs, batch, hidden], state, ...(lstm ? [state] : [])];
  const macs = seq * dirs * batch * g * hidden * (input + hidden);
  return { shapes, dtypes: f32(shapes), macs, extraFlops: seq * dirs * batch * hidden * (lstm ? 20 : 16) };
};

/** PRelu: the slope broadcasts to the input (unidirectionally). */
const prelu: Rule = (node, ins) => {
  const r = binary(node, ins);
  if (r.shapes[0].join() !== ins[0].shape.join()) fail(node, `slope [${ins[1].shape}] does not broadcast to the input [${ins[0].shape}]`);
  return r;
};

/** A host op with an epilogue (graphs/epilogue.ts): the op's rule on its own inputs, then the residual and activation. */
const withEpilogue =
  (rule: Rule): Rule =>
  (node, ins) => {
    const ep = epilogueOf(node);
    if (!ep.sum && !ep.activation) return rule(node, ins);
    if (ep.activation && !EPILOGUE_ACTIVATIONS[ep.activation.op])
      fail(node, `fused_activation '${ep.activation.op}' is not one of ${Object.keys(EPILOGUE_ACTIVATIONS).join(', ')}`);
    if (ep.sum && !RESIDUAL_HOSTS.has(node.op)) fail(node, `fused_sum is for ${[...RESIDUAL_HOSTS].join(', ')} only`);
    if (ep.sum && ins.length < 2) fail(node, 'fused_sum without a residual input');
    const res = rule(withoutEpilogue(node), ep.sum ? ins.slice(0, -1) : ins);
    const out = res.shapes[0];
    if (ep.sum && ins[ins.length - 1].shape.join() !== out.join())
      fail(node, `the fused residual has shape [${ins[ins.length - 1].shape}], the output [${out}]`);
    return { ...res, extraFlops: res.extraFlops + numel(out) * ((ep.sum ? 1 : 0) + (ep.activation ? 2 : 0)) };
  };

const identity: Rule = (node, ins) => {
  arity(node, ins, 1);
  return { shapes: [ins[0].shape.slice()], dtypes: [ins[0].dtype], macs: 0, extraFlops: 0 };
};

export const OP_RULES: Record<OpType, Rule> = {
  Conv: withEpilogue(conv),
  ConvTranspose: convTranspose,
  Gemm: withEpilogue(gemm),
  MatMul: withEpilogue(matmul),
  BatchNormalization: batchNorm,
  Relu: unary(1),
  Clip: unary(2),
  Sigmoid: unary(4),
  HardSigmoid: unary(3),
  Gelu: unary(8),
  Tanh: unary(6),
  Add: withEpilogue(binary),
  Mul: binary,
  Sub: binary,
  Div: binary,
  Concat: concat,
  Split: split,
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  MaxPool: pool,
  AveragePool: pool,
  GlobalAveragePool: globalPool,
  Resize: resize,
  Softmax: softmax,
  LayerNormalization: layerNorm,
  Pad: pad,
  Gather: gather,
  Expand: expand,
  ReduceSum: reduce,
  ReduceMean: reduce,
  ReduceMax: reduce,
  Identity: identity,
  Pow: binary,
  Sqrt: unary(1),
  Reciprocal: unary(1),
  Exp: unary(4),
  Log: unary(4),
  Erf: unary(8),
  Neg: unary(1),
  Abs: unary(1),
  Max: binary,
  Min: binary,
  LeakyRelu: unary(2),
  PRelu: prelu,
  HardSwish: unary(4),
  Slice: slice,
  InstanceNormalization: instanceNorm,
  LSTM: recurrent,
  GRU: recurrent,
};

/** Whether the IR knows an operator type. */
export function isOpType(op: string): op is OpType {
  return Object.hasOwn(OP_RULES, op);
}
