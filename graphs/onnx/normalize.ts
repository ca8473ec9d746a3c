/**
 * ONNX node -> IR node form, one rule per op: constant tensor inputs become attributes, opset
 * variants collapse to one form (Split sizes as attr vs input, Clip bounds, Reduce axes, Softmax's
 * pre-13 semantics), auto_pad becomes explicit pads, and legacy attributes that change nothing at
 * inference (consumed_inputs, momentum, is_test, storage_order, ...) are dropped. Forms the IR cannot
 * express exactly are errors, never approximations.
 */
import { type Attrs, GraphError, numel } from '../ir.js';
import { shortFloat, type TensorValue } from './proto.js';

export interface NormalizeContext {
  opset: number;
  /** File and node, for errors. */
  where: string;
  /** Static shape of a tensor defined so far. */
  shape(tensor: string): number[];
  /** Value of a constant tensor (initializer or Constant node), if it is one. */
  constant(tensor: string): TensorValue | undefined;
}

export interface Normalized {
  inputs: string[];
  attrs: Attrs;
}

/** Attributes that only ever mattered for training or for outputs the IR drops. */
const LEGACY = ['consumed_inputs', 'is_test', 'momentum', 'storage_order', 'seed', 'ratio', 'broadcast'];

export function normalizeNode(op: string, rawInputs: string[], rawAttrs: Attrs, ctx: NormalizeContext): Normalized {
  const fail = (msg: string): never => {
    throw new GraphError(msg, ctx.where);
  };
  const inputs = [...rawInputs];
  while (inputs.length && !inputs[inputs.length - 1]) inputs.pop();
  const attrs: Attrs = { ...rawAttrs };
  if (['Add', 'Sub', 'Mul', 'Div'].includes(op) && attrs.axis !== undefined) fail("legacy broadcast with 'axis' (opset < 7) is not supported");
  if (attrs.broadcast !== undefined && attrs.broadcast !== 1 && attrs.broadcast !== 0) fail(`broadcast = ${attrs.broadcast}`);
  for (const k of LEGACY) delete attrs[k];

  const has = (k: number) => k < inputs.length && inputs[k] !== '';
  const constOf = (k: number, what: string): TensorValue => {
    const c = ctx.constant(inputs[k]);
    if (!c) fail(`input ${k} (${what}, '${inputs[k]}') must be a constant (initializer or Constant node); computed ${what} is not supported`);
    return c as TensorValue;
  };
  const ints = (k: number, what: string): number[] => {
    const c = constOf(k, what);
    if (c.dtype !== 'int64') fail(`input ${k} (${what}) must be int64`);
    return Array.from(c.data as BigInt64Array, (v) => Number(v));
  };
  const floats = (k: number, what: string): number[] => {
    const c = constOf(k, what);
    if (c.dtype !== 'float32') fail(`input ${k} (${what}) must be float32`);
    return Array.from(c.data as Float32Array, shortFloat);
  };
  const scalar = (k: number, what: string): number => {
    const v = floats(k, what);
    if (v.length !== 1) fail(`input ${k} (${what}) must hold one value, got ${v.length}`);
    return v[0];
  };
  /** Keeps the first n inputs (the data inputs), after the rest were folded. */
  const keep = (n: number): Normalized => {
    const ins = inputs.slice(0, n);
    if (ins.some((t) => !t)) fail('an input the op needs is empty');
    return { inputs: ins, attrs };
  };

  switch (op) {
    case 'Conv':
    case 'MaxPool':
    case 'AveragePool': {
      const x = ctx.shape(inputs[0]);
      const kernel = (attrs.kernel_shape as number[] | undefined) ?? (op === 'Conv' ? ctx.shape(inputs[1]).slice(2) : fail("missing attribute 'kernel_shape'"));
      resolveAutoPad(attrs, x, kernel, fail);
      return keep(op === 'Conv' ? 3 : 1);
    }
    case 'ConvTranspose': {
      const ap = attrs.auto_pad ?? 'NOTSET';
      if (ap === 'VALID') attrs.pads = new Array(2 * (ctx.shape(inputs[0]).length - 2)).fill(0);
      else if (ap !== 'NOTSET') fail(`auto_pad '${ap}' is not supported for ConvTranspose; give explicit pads`);
      delete attrs.auto_pad;
      if (attrs.output_shape !== undefined) fail("attribute 'output_shape' is not supported; give explicit pads and output_padding");
      return keep(3);
    }
    case 'BatchNormalization':
      if (attrs.spatial === 0) fail('spatial = 0 (per-element statistics) is not supported');
      if (attrs.training_mode === 1) fail('training_mode = 1 is not supported (inference only)');
      delete attrs.spatial;
      delete attrs.training_mode;
      return keep(5);
    case 'Clip':
      if (ctx.opset >= 11) {
        if (has(1)) attrs.min = scalar(1, 'min');
        if (has(2)) attrs.max = scalar(2, 'max');
      }
      return keep(1);
    case 'Gelu':
    case 'LayerNormalization': {
      const need = op === 'Gelu' ? 20 : 17;
      if (ctx.opset < need) fail(`${op} is in the default domain from opset ${need}; this model imports opset ${ctx.opset}`);
      if (op === 'LayerNormalization') delete attrs.stash_type;
      return keep(op === 'Gelu' ? 1 : 3);
    }
    case 'Concat':
      if (attrs.axis === undefined) attrs.axis = 1; // opset < 4 default
      return keep(inputs.length);
    case 'Split': {
      if (ctx.opset >= 13 && has(1)) attrs.split = ints(1, 'split');
      if (attrs.num_outputs !== undefined) {
        const n = attrs.num_outputs as number;
        delete attrs.num_outputs;
        if (attrs.split === undefined) {
          const x = ctx.shape(inputs[0]);
          const a = (attrs.axis as number | undefined) ?? 0;
          const dim = x[a < 0 ? a + x.length : a];
          // num_outputs with a remainder: equal chunks of ceil(dim/n), the last one smaller.
          if (dim % n !== 0) {
            const c = Math.ceil(dim / n);
            attrs.split = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(c, dim - i * c)));
          }
        }
      }
      return keep(1);
    }
    case 'Reshape': {
      if (ctx.opset >= 5) attrs.shape = ints(1, 'shape');
      if (attrs.allowzero === 1 && (attrs.shape as number[]).includes(0)) fail('allowzero = 1 with a 0 in the shape is not supported');
      delete attrs.allowzero;
      return keep(1);
    }
    case 'Expand':
      attrs.shape = ints(1, 'shape');
      return keep(1);
    case 'Pad': {
      if (attrs.paddings !== undefined) {
        attrs.pads = attrs.paddings; // opset 1 name
        delete attrs.paddings;
      }
      if (ctx.opset >= 11) {
        const rank = ctx.shape(inputs[0]).length;
        let pads = ints(1, 'pads');
        if (has(2)) attrs.value = scalar(2, 'constant_value');
        if (has(3)) {
          // opset 18 `axes`: pads given for these axes only; the others get none.
          const axes = ints(3, 'axes').map((a) => (a < 0 ? a + rank : a));
          const full = new Array(2 * rank).fill(0);
          axes.forEach((a, i) => {
            full[a] = pads[i];
            full[a + rank] = pads[i + axes.length];
          });
          pads = full;
        }
        attrs.pads = pads;
      }
      return keep(1);
    }
    case 'Resize':
      return resize(inputs, attrs, ctx, has, floats, ints, fail);
    case 'Softmax': {
      if (ctx.opset < 13) {
        // Before opset 13 Softmax flattens [axis..] into one axis; equal to the IR's only on the last.
        const rank = ctx.shape(inputs[0]).length;
        const axis = (attrs.axis as number | undefined) ?? 1;
        const a = axis < 0 ? axis + rank : axis;
        if (a !== rank - 1)
          fail(
            `opset ${ctx.opset} Softmax with axis ${axis} on a rank-${rank} input normalises over axes ${a}..${rank - 1} together; only the last axis is supported`,
          );
        attrs.axis = axis;
      }
      return keep(1);
    }
    case 'ReduceSum':
    case 'ReduceMean':
    case 'ReduceMax': {
      const inputFrom = op === 'ReduceSum' ? 13 : 18;
      if (ctx.opset >= inputFrom && has(1)) attrs.axes = ints(1, 'axes');
      const noop = attrs.noop_with_empty_axes === 1;
      delete attrs.noop_with_empty_axes;
      const axes = attrs.axes as number[] | undefined;
      if (axes === undefined || axes.length === 0) {
        if (noop) fail('noop_with_empty_axes = 1 without axes is not supported');
        attrs.axes = ctx.shape(inputs[0]).map((_, i) => i);
      }
      return keep(1);
    }
    case 'Slice': {
      const x = ctx.shape(inputs[0]);
      const starts = ctx.opset >= 10 ? ints(1, 'starts') : ((attrs.starts as number[] | undefined) ?? fail("missing attribute 'starts'"));
      const ends = ctx.opset >= 10 ? ints(2, 'ends') : ((attrs.ends as number[] | undefined) ?? fail("missing attribute 'ends'"));
      const axes = ctx.opset >= 10 ? (has(3) ? ints(3, 'axes') : undefined) : (attrs.axes as number[] | undefined);
      const steps = ctx.opset >= 10 && has(4) ? ints(4, 'steps') : starts.map(() => 1);
      if (ends.length !== starts.length || steps.length !== starts.length || (axes && axes.length !== starts.length))
        fail(`starts [${starts}], ends [${ends}], axes [${axes ?? ''}] and steps [${steps}] differ in length`);
      // Values past any dim ("to the end" sentinels such as INT64_MAX) become the dim or −dim − 1,
      // which clamp the same way (and export as int64); the rest stay as written.
      const ax = (axes ?? starts.map((_, i) => i)).map((a) => (a < 0 ? a + x.length : a));
      const bound = (v: number, dim: number) => Math.min(dim, Math.max(-dim - 1, v));
      const st: number[] = [];
      const en: number[] = [];
      ax.forEach((a, i) => {
        if (a < 0 || a >= x.length) fail(`axis ${(axes ?? [])[i]} out of range for rank ${x.length}`);
        if (steps[i] === 0) fail(`step 0 on axis ${a}`);
        st.push(bound(starts[i], x[a]));
        en.push(bound(ends[i], x[a]));
      });
      for (const k of ['starts', 'ends', 'axes', 'steps']) delete attrs[k];
      Object.assign(attrs, { starts: st, ends: en, axes: ax, steps });
      return keep(1);
    }
    case 'Max':
    case 'Min':
      if (inputs.length !== 2) fail(`${op} of ${inputs.length} inputs is not supported (exactly 2)`);
      return keep(2);
    case 'Dropout':
      if (has(2)) {
        const mode = ctx.constant(inputs[2]);
        if (!mode || mode.data.some((v: number | bigint) => Number(v) !== 0)) fail('training_mode must be a constant false (inference only)');
      }
      return { inputs: [inputs[0]], attrs: {} };
    default:
      return keep(inputs.length);
  }
}

/** SAME_UPPER / SAME_LOWER / VALID -> explicit pads, as ONNX defines them (output = ceil(in / stride)). */
function resolveAutoPad(attrs: Attrs, x: number[], kernel: number[], fail: (m: string) => never): void {
  const ap = (attrs.auto_pad as string | undefined) ?? 'NOTSET';
  delete attrs.auto_pad;
  if (ap === 'NOTSET') return;
  const nsp = kernel.length;
  if (ap === 'VALID') {
    attrs.pads = new Array(2 * nsp).fill(0);
    return;
  }
  if (ap !== 'SAME_UPPER' && ap !== 'SAME_LOWER') fail(`auto_pad '${ap}' is unknown`);
  const strides = (attrs.strides as number[] | undefined) ?? new Array(nsp).fill(1);
  const dil = (attrs.dilations as number[] | undefined) ?? new Array(nsp).fill(1);
  const pads = new Array(2 * nsp).fill(0);
  for (let i = 0; i < nsp; i++) {
    const inSize = x[i + 2];
    const out = Math.ceil(inSize / strides[i]);
    const total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - inSize);
    const small = Math.floor(total / 2);
    pads[i] = ap === 'SAME_UPPER' ? small : total - small;
    pads[i + nsp] = total - pads[i];
  }
  attrs.pads = pads;
}

function resize(
  inputs: string[],
  attrs: Attrs,
  ctx: NormalizeContext,
  has: (k: number) => boolean,
  floats: (k: number, what: string) => number[],
  ints: (k: number, what: string) => number[],
  fail: (m: string) => never,
): Normalized {
  const x = ctx.shape(inputs[0]);
  let scales: number[] | undefined;
  if (ctx.opset < 11) {
    scales = floats(1, 'scales');
    // Resize-10 is Upsample's semantics: asymmetric coordinates, floor for nearest.
    attrs.coordinate_transformation_mode = 'asymmetric';
    if ((attrs.mode ?? 'nearest') === 'nearest') attrs.nearest_mode = 'floor';
  } else {
    if (has(2)) {
      const s = floats(2, 'scales');
      if (s.length) scales = s;
    }
    if (!scales && has(3)) {
      const sizes = ints(3, 'sizes');
      if (sizes.length !== x.length) fail(`sizes [${sizes}] do not match rank ${x.length}`);
      scales = sizes.map((size, i) => {
        let s = size / x[i];
        // The IR computes floor(in × scale); make sure that lands on the requested size.
        while (Math.floor(x[i] * s) < size) s *= 1 + Number.EPSILON;
        return s;
      });
    }
    if (!scales) fail('Resize needs constant scales or sizes');
  }
  if (attrs.coordinate_transformation_mode === 'tf_crop_and_resize') fail("coordinate_transformation_mode 'tf_crop_and_resize' is not supported");
  if (attrs.axes !== undefined) fail("attribute 'axes' is not supported; give scales for every axis");
  for (const [k, dflt] of [
    ['antialias', 0],
    ['exclude_outside', 0],
    ['keep_aspect_ratio_policy', 'stretch'],
  ] as const) {
    if (attrs[k] !== undefined && attrs[k] !== dflt) fail(`${k} = ${attrs[k]} is not supported`);
    delete attrs[k];
  }
  delete attrs.extrapolation_value; // only read by tf_crop_and_resize
  if (attrs.mode !== 'cubic') delete attrs.cubic_coeff_a;
  attrs.scales = scales as number[];
  if (numel(x) === 0) fail('empty input');
  return { inputs: [inputs[0]], attrs };
}
