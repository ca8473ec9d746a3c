/**
 * Constant folding at import: the shape computations exporters emit (Shape → Gather → Unsqueeze →
 * Concat → Reshape, ConstantOfShape, Equal/Where, Range, Cast, ...) evaluated on the host once the
 * input shapes are known, so they never become IR nodes. Values are held as float64 with their
 * ONNX element type; int64 beyond 2^53 only occurs as a "to the end" sentinel (Slice ends), which
 * clamping treats the same. Every fold is bounded in size before anything is allocated.
 */
import { type Attrs, GraphError, numel } from '../ir.js';
import { reshapeShape, sliceAxis } from '../ops.js';
import { type AttributeProto, DT, dtypeName, type TensorProto, type TensorValue, tensorFromProto, toNum } from './proto.js';

export type FoldDType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool' | 'uint8' | 'int8';

/** A constant the folder can compute with. */
export interface Folded {
  shape: number[];
  dtype: FoldDType;
  data: Float64Array;
}

/** Largest tensor a fold may produce (elements); larger results stay nodes. */
export const MAX_FOLD_ELEMENTS = 1 << 24;

/** ONNX ops the folder evaluates when every data input is a constant. */
export const FOLDABLE = new Set([
  'Shape',
  'Size',
  'Identity',
  'Cast',
  'Gather',
  'Unsqueeze',
  'Squeeze',
  'Concat',
  'Slice',
  'ConstantOfShape',
  'Equal',
  'Less',
  'Greater',
  'LessOrEqual',
  'GreaterOrEqual',
  'Not',
  'And',
  'Or',
  'Where',
  'Range',
  'Expand',
  'Reshape',
  'Flatten',
  'Transpose',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Neg',
  'Abs',
  'Min',
  'Max',
  'Sqrt',
  'Pow',
  'Floor',
  'Ceil',
  'ReduceProd',
  'ReduceSum',
  'ReduceMin',
  'ReduceMax',
]);

/** ONNX element type code → folder dtype. */
const CODES: Record<number, FoldDType> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 9: 'bool', 11: 'float64' };

const isFloat = (d: FoldDType) => d === 'float32' || d === 'float64';

/** Rounds a value to what its element type can hold (float32 rounding, integer truncation). */
function store(d: FoldDType, v: number): number {
  switch (d) {
    case 'float32':
      return Math.fround(v);
    case 'float64':
      return v;
    case 'bool':
      return v !== 0 ? 1 : 0;
    case 'int32':
      return Math.trunc(v) | 0;
    case 'uint8':
      return Math.trunc(v) & 0xff;
    case 'int8':
      return (Math.trunc(v) << 24) >> 24;
    default:
      return Math.trunc(v);
  }
}

export function toFolded(t: TensorValue): Folded {
  return { shape: t.shape.slice(), dtype: t.dtype, data: Float64Array.from(t.data as ArrayLike<number | bigint>, Number) };
}

const INT64_MAX = 9223372036854775807n;

/** A folded constant as an IR tensor (float32 or int64), or undefined for other element types. */
export function toTensorValue(f: Folded): TensorValue | undefined {
  if (f.dtype === 'float32') return { shape: f.shape, dtype: 'float32', data: Float32Array.from(f.data) };
  if (f.dtype === 'int64' || f.dtype === 'int32')
    return {
      shape: f.shape,
      dtype: 'int64',
      data: BigInt64Array.from(f.data, (v) => (v >= 2 ** 63 ? INT64_MAX : v <= -(2 ** 63) ? -INT64_MAX - 1n : BigInt(v))),
    };
  return undefined;
}

/** An initializer or tensor attribute of any numeric element type. */
export function foldedFromProto(t: TensorProto, where: string): Folded {
  const code = t.dataType ?? 0;
  if (code === DT.FLOAT || code === DT.INT64) return toFolded(tensorFromProto(t, where));
  const dtype = CODES[code];
  const name = t.name || '<unnamed>';
  if (!dtype) throw new GraphError(`tensor '${name}' has element type ${dtypeName(code)}, which the importer cannot read`, where);
  if (t.dataLocation === 1) throw new GraphError(`tensor '${name}' stores its data externally, which is not supported`, where);
  const shape = (t.dims ?? []).map((d) => toNum(d as number));
  const n = numel(shape);
  if (n > MAX_FOLD_ELEMENTS) throw new GraphError(`tensor '${name}' has ${n} ${dtypeName(code)} values, more than the importer reads`, where);
  const raw = t.rawData;
  let values: ArrayLike<number>;
  if (raw?.length) {
    const bytes = new Uint8Array(raw.length);
    bytes.set(raw);
    values =
      dtype === 'float64'
        ? new Float64Array(bytes.buffer)
        : dtype === 'int32'
          ? new Int32Array(bytes.buffer)
          : dtype === 'int8'
            ? new Int8Array(bytes.buffer)
            : bytes;
  } else values = dtype === 'float64' ? (t.doubleData ?? []) : (t.int32Data ?? []);
  if (values.length !== n) throw new GraphError(`tensor '${name}' has ${values.length} values, expected ${n} for dims [${shape}]`, where);
  return { shape, dtype, data: Float64Array.from(values, (v) => store(dtype, v)) };
}

const stridesOf = (shape: number[]): number[] => {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
};

/** out[i] = f(inputs broadcast to the common shape). */
function broadcastMap(ins: Folded[], dtype: FoldDType, f: (v: number[]) => number, fail: (m: string) => never): Folded {
  const rank = Math.max(...ins.map((t) => t.shape.length));
  const shape: number[] = [];
  for (let d = 0; d < rank; d++) {
    let dim = 1;
    for (const t of ins) {
      const x = t.shape[t.shape.length - rank + d] ?? 1;
      if (x !== 1 && dim !== 1 && x !== dim) fail(`cannot broadcast shapes ${ins.map((t) => `[${t.shape}]`).join(' and ')}`);
      if (x !== 1) dim = x;
    }
    shape.push(dim);
  }
  const n = bounded(shape, fail);
  const st = ins.map((t) => {
    const s = stridesOf(t.shape);
    return shape.map((_dim, d) => {
      const k = d - (rank - t.shape.length);
      return k < 0 || t.shape[k] === 1 ? 0 : s[k];
    });
  });
  const data = new Float64Array(n);
  const idx = new Array(rank).fill(0);
  const vals = new Array(ins.length).fill(0);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < ins.length; k++) {
      let off = 0;
      for (let d = 0; d < rank; d++) off += idx[d] * st[k][d];
      vals[k] = ins[k].data[off];
    }
    data[i] = store(dtype, f(vals));
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return { shape, dtype, data };
}

function bounded(shape: number[], fail: (m: string) => never): number {
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(`invalid shape [${shape}]`);
  const n = numel(shape);
  if (n > MAX_FOLD_ELEMENTS) throw new TooLarge();
  return n;
}

/** Thrown when a fold would exceed MAX_FOLD_ELEMENTS: the node then stays a node. */
class TooLarge extends Error {}

const ints = (t: Folded): number[] => Array.from(t.data);

/** Picks data through a strided index map: out[i] = src[offsets[i]]. */
function gatherBy(src: Folded, shape: number[], offsets: (i: number[]) => number, fail: (m: string) => never): Folded {
  const n = bounded(shape, fail);
  const data = new Float64Array(n);
  const idx = new Array(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    data[i] = src.data[offsets(idx)];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return { shape, dtype: src.dtype, data };
}

export interface FoldContext {
  opset: number;
  where: string;
  /** Shape of any tensor defined so far (constant or not). */
  shape(tensor: string): number[] | undefined;
}

/**
 * Evaluates one ONNX node on constant inputs (`undefined` where an input is not a constant).
 * Returns the outputs, or undefined when the node cannot be folded (a data input is not constant,
 * or the result would be too large); errors name the node.
 */
export function foldNode(
  op: string,
  inputNames: string[],
  ins: (Folded | undefined)[],
  attrs: Attrs,
  rawAttrs: AttributeProto[],
  ctx: FoldContext,
): Folded[] | undefined {
  const fail = (m: string): never => {
    throw new GraphError(m, ctx.where);
  };
  const axisOf = (a: number, rank: number) => {
    const r = a < 0 ? a + rank : a;
    if (r < 0 || r >= rank) fail(`axis ${a} out of range for rank ${rank}`);
    return r;
  };
  if (op === 'Shape' || op === 'Size') {
    const shape = ctx.shape(inputNames[0]);
    if (!shape) return undefined;
    if (op === 'Size') return [{ shape: [], dtype: 'int64', data: Float64Array.of(numel(shape)) }];
    const r = shape.length;
    const clampAxis = (a: number) => Math.min(Math.max(a < 0 ? a + r : a, 0), r);
    const s = clampAxis((attrs.start as number | undefined) ?? 0);
    const e = clampAxis((attrs.end as number | undefined) ?? r);
    const dims = shape.slice(s, Math.max(s, e));
    return [{ shape: [dims.length], dtype: 'int64', data: Float64Array.from(dims) }];
  }
  if (op === 'ConstantOfShape') {
    const shape = ins[0];
    if (!shape) return undefined;
    const v = rawAttrs.find((a) => a.name === 'value')?.t;
    const value = v ? foldedFromProto(v, ctx.where) : { shape: [1], dtype: 'float32' as FoldDType, data: Float64Array.of(0) };
    const dims = ints(shape);
    try {
      const n = bounded(dims, fail);
      return [{ shape: dims, dtype: value.dtype, data: new Float64Array(n).fill(value.data[0] ?? 0) }];
    } catch (e) {
      if (e instanceof TooLarge) return undefined;
      throw e;
    }
  }
  // Optional trailing inputs may be absent; every present one must be constant.
  const present = ins.filter((_, k) => inputNames[k]);
  if (present.some((t) => !t)) return undefined;
  const x = ins[0] as Folded;
  try {
    return evalOp(op, x, ins, attrs, ctx, fail, axisOf);
  } catch (e) {
    if (e instanceof TooLarge) return undefined;
    throw e;
  }
}

function evalOp(
  op: string,
  x: Folded,
  ins: (Folded | undefined)[],
  attrs: Attrs,
  ctx: FoldContext,
  fail: (m: string) => never,
  axisOf: (a: number, rank: number) => number,
): Folded[] {
  const all = ins.filter((t): t is Folded => t !== undefined);
  const cmp = (f: (a: number, b: number) => boolean) => [broadcastMap(all, 'bool', ([a, b]) => (f(a, b) ? 1 : 0), fail)];
  const arith = (f: (v: number[]) => number) => [broadcastMap(all, x.dtype, f, fail)];
  const intDiv = !isFloat(x.dtype);
  switch (op) {
    case 'Identity':
      return [x];
    case 'Cast': {
      const to = CODES[(attrs.to as number | undefined) ?? 0];
      if (!to) fail(`Cast to element type ${dtypeName((attrs.to as number) ?? 0)} is not supported`);
      return [{ shape: x.shape, dtype: to, data: x.data.map((v) => store(to, v)) }];
    }
    case 'Gather': {
      const idx = ins[1] as Folded;
      const axis = axisOf((attrs.axis as number | undefined) ?? 0, x.shape.length);
      const dim = x.shape[axis];
      const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
      const st = stridesOf(x.shape);
      const q = idx.shape.length;
      const istr = stridesOf(idx.shape);
      return [
        gatherBy(
          x,
          shape,
          (i) => {
            let off = 0;
            for (let d = 0; d < axis; d++) off += i[d] * st[d];
            let k = 0;
            for (let d = 0; d < q; d++) k += i[axis + d] * istr[d];
            let j = idx.data[k];
            if (j < 0) j += dim;
            if (j < 0 || j >= dim) fail(`index ${idx.data[k]} out of range for a dim of ${dim}`);
            off += j * st[axis];
            for (let d = axis + 1; d < x.shape.length; d++) off += i[d + q - 1] * st[d];
            return off;
          },
          fail,
        ),
      ];
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      const axes = ins[1] ? ints(ins[1]) : ((attrs.axes as number[] | undefined) ?? []);
      return [{ ...x, shape: squeezeShape(op, x.shape, axes, fail) }];
    }
    case 'Reshape': {
      const target = ints(ins[1] as Folded);
      return [{ ...x, shape: reshapeShape(x.shape, target, attrs.allowzero === 1, fail) }];
    }
    case 'Flatten': {
      const a = (attrs.axis as number | undefined) ?? 1;
      const r = a < 0 ? a + x.shape.length : a;
      return [{ ...x, shape: [numel(x.shape.slice(0, r)), numel(x.shape.slice(r))] }];
    }
    case 'Concat': {
      const rank = x.shape.length;
      const axis = axisOf(attrs.axis as number, rank);
      const shape = x.shape.slice();
      shape[axis] = all.reduce((s, t) => s + (t.shape[axis] ?? fail('inputs of different rank')), 0);
      const outer = numel(shape.slice(0, axis));
      const data = new Float64Array(bounded(shape, fail));
      let k = 0;
      for (let o = 0; o < outer; o++)
        for (const t of all) {
          const len = numel(t.shape.slice(axis));
          data.set(t.data.subarray(o * len, (o + 1) * len), k);
          k += len;
        }
      return [{ shape, dtype: x.dtype, data }];
    }
    case 'Slice': {
      const rank = x.shape.length;
      const starts = ins[1] ? ints(ins[1]) : (attrs.starts as number[]);
      const ends = ins[2] ? ints(ins[2]) : (attrs.ends as number[]);
      const axes = ins[3] ? ints(ins[3]) : ((attrs.axes as number[] | undefined) ?? starts.map((_, i) => i));
      const steps = ins[4] ? ints(ins[4]) : starts.map(() => 1);
      const from = new Array(rank).fill(0);
      const step = new Array(rank).fill(1);
      const shape = x.shape.slice();
      axes.forEach((a, i) => {
        const ax = axisOf(a, rank);
        if (steps[i] === 0) fail('Slice step 0');
        const r = sliceAxis(x.shape[ax], starts[i], ends[i], steps[i]);
        from[ax] = r.start;
        step[ax] = steps[i];
        shape[ax] = r.count;
      });
      const st = stridesOf(x.shape);
      return [gatherBy(x, shape, (i) => i.reduce((s, v, d) => s + (from[d] + v * step[d]) * st[d], 0), fail)];
    }
    case 'Transpose': {
      const r = x.shape.length;
      const perm = (attrs.perm as number[] | undefined) ?? x.shape.map((_, i) => r - 1 - i);
      const st = stridesOf(x.shape);
      return [
        gatherBy(
          x,
          perm.map((p) => x.shape[p]),
          (i) => i.reduce((s, v, d) => s + v * st[perm[d]], 0),
          fail,
        ),
      ];
    }
    case 'Expand':
      return [expandTo(x, broadcastShape(x.shape, ints(ins[1] as Folded), fail), fail)];
    case 'Where':
      return [broadcastMap(all, (ins[1] as Folded).dtype, ([c, a, b]) => (c ? a : b), fail)];
    case 'Range': {
      const [s, l, d] = all.map((t) => t.data[0]);
      if (d === 0) fail('Range delta 0');
      const n = Math.max(0, Math.ceil((l - s) / d));
      bounded([n], fail);
      return [{ shape: [n], dtype: x.dtype, data: Float64Array.from({ length: n }, (_, i) => store(x.dtype, s + i * d)) }];
    }
    case 'Equal':
      return cmp((a, b) => a === b);
    case 'Less':
      return cmp((a, b) => a < b);
    case 'Greater':
      return cmp((a, b) => a > b);
    case 'LessOrEqual':
      return cmp((a, b) => a <= b);
    case 'GreaterOrEqual':
      return cmp((a, b) => a >= b);
    case 'And':
      return cmp((a, b) => a !== 0 && b !== 0);
    case 'Or':
      return cmp((a, b) => a !== 0 || b !== 0);
    case 'Not':
      return [{ ...x, data: x.data.map((v) => (v ? 0 : 1)) }];
    case 'Add':
      return arith(([a, b]) => a + b);
    case 'Sub':
      return arith(([a, b]) => a - b);
    case 'Mul':
      return arith(([a, b]) => a * b);
    case 'Div':
      return arith(([a, b]) => (intDiv ? (b === 0 ? fail('integer division by zero') : Math.trunc(a / b)) : a / b));
    case 'Pow':
      return [broadcastMap(all, x.dtype, ([a, b]) => a ** b, fail)];
    case 'Min':
      return arith((v) => Math.min(...v));
    case 'Max':
      return arith((v) => Math.max(...v));
    case 'Neg':
      return arith(([a]) => -a);
    case 'Abs':
      return arith(([a]) => Math.abs(a));
    case 'Sqrt':
      return arith(([a]) => Math.sqrt(a));
    case 'Floor':
      return arith(([a]) => Math.floor(a));
    case 'Ceil':
      return arith(([a]) => Math.ceil(a));
    case 'ReduceProd':
    case 'ReduceSum':
    case 'ReduceMin':
    case 'ReduceMax': {
      const r = x.shape.length;
      const fromInput = op === 'ReduceSum' ? 13 : 18;
      const given = ctx.opset >= fromInput && ins[1] ? ints(ins[1]) : (attrs.axes as number[] | undefined);
      const axes = new Set((given?.length ? given : x.shape.map((_, i) => i)).map((a) => axisOf(a, r)));
      if (!given?.length && attrs.noop_with_empty_axes === 1) return [x];
      const keep = ((attrs.keepdims as number | undefined) ?? 1) === 1;
      const kept = x.shape.map((d, i) => (axes.has(i) ? 1 : d));
      const init = op === 'ReduceProd' ? 1 : op === 'ReduceSum' ? 0 : op === 'ReduceMin' ? Infinity : -Infinity;
      const acc = new Float64Array(numel(kept)).fill(init);
      const kst = stridesOf(kept);
      const idx = new Array(r).fill(0);
      for (let i = 0; i < x.data.length; i++) {
        let o = 0;
        for (let d = 0; d < r; d++) if (!axes.has(d)) o += idx[d] * kst[d];
        const v = x.data[i];
        acc[o] = op === 'ReduceProd' ? acc[o] * v : op === 'ReduceSum' ? acc[o] + v : op === 'ReduceMin' ? Math.min(acc[o], v) : Math.max(acc[o], v);
        for (let d = r - 1; d >= 0; d--) {
          if (++idx[d] < x.shape[d]) break;
          idx[d] = 0;
        }
      }
      const shape = keep ? kept : x.shape.filter((_, i) => !axes.has(i));
      return [{ shape, dtype: x.dtype, data: acc.map((v) => store(x.dtype, v)) }];
    }
    default:
      return fail(`the importer cannot fold '${op}'`);
  }
}

function broadcastShape(a: number[], b: number[], fail: (m: string) => never): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) fail(`cannot broadcast [${a}] to [${b}]`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

function expandTo(x: Folded, shape: number[], fail: (m: string) => never): Folded {
  const rank = shape.length;
  const st = stridesOf(x.shape);
  const off = rank - x.shape.length;
  return gatherBy(x, shape, (i) => i.reduce((s, v, d) => (d < off || x.shape[d - off] === 1 ? s : s + v * st[d - off]), 0), fail);
}

/** Output shape of Squeeze / Unsqueeze with the given axes (ONNX semantics, negative axes allowed). */
export function squeezeShape(op: 'Squeeze' | 'Unsqueeze', x: number[], axes: number[], fail: (m: string) => never): number[] {
  if (op === 'Squeeze') {
    const r = x.length;
    const drop = new Set(axes.map((a) => (a < 0 ? a + r : a)));
    for (const a of drop) {
      if (a < 0 || a >= r) fail(`Squeeze axis out of range for rank ${r}`);
      if (x[a] !== 1) fail(`Squeeze of axis ${a}, which has size ${x[a]} (not 1), in [${x}]`);
    }
    return axes.length ? x.filter((_, i) => !drop.has(i)) : x.filter((d) => d !== 1);
  }
  const r = x.length + axes.length;
  const add = new Set(axes.map((a) => (a < 0 ? a + r : a)));
  if ([...add].some((a) => a < 0 || a >= r) || add.size !== axes.length) fail(`Unsqueeze axes [${axes}] are invalid for rank ${x.length}`);
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < r; i++) out.push(add.has(i) ? 1 : x[k++]);
  return out;
}
