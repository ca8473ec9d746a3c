/**
 * The protobuf layer shared by ONNX import and export: the generated `onnx` namespace of the
 * `onnx-proto` package, int64 (protobufjs `Long`) conversion, and TensorProto <-> typed arrays.
 * Only float32 and int64 tensors exist in the IR; anything else is refused with the tensor's name.
 */
import onnxProto from 'onnx-proto';
import { type DType, GraphError, numel } from '../ir.js';

/** The generated message classes (`onnx.ModelProto.decode`, `onnx.ModelProto.encode`, ...). */
export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.IModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

/** TensorProto.DataType values the IR uses (and a few named in errors). */
export const DT = { FLOAT: 1, INT32: 6, INT64: 7, FLOAT16: 10, DOUBLE: 11, BFLOAT16: 16 } as const;
const DT_NAMES = [
  'UNDEFINED',
  'FLOAT',
  'UINT8',
  'INT8',
  'UINT16',
  'INT16',
  'INT32',
  'INT64',
  'STRING',
  'BOOL',
  'FLOAT16',
  'DOUBLE',
  'UINT32',
  'UINT64',
  'COMPLEX64',
  'COMPLEX128',
  'BFLOAT16',
];

export function dtypeName(code: number): string {
  return DT_NAMES[code] ?? `type ${code}`;
}

/** ONNX element type -> IR dtype, or undefined when the IR has no such dtype. */
export function irDtype(code: number): DType | undefined {
  if (code === DT.FLOAT) return 'float32';
  if (code === DT.INT64) return 'int64';
  return undefined;
}

export function onnxDtype(dtype: DType): number {
  return dtype === 'int64' ? DT.INT64 : DT.FLOAT;
}

/**
 * The shortest decimal that is the same float32 as `f`: ONNX stores float attributes and scalars
 * as float32, so 1e-5 comes back as 0.000009999999747...; this returns 1e-5 again.
 */
export function shortFloat(f: number): number {
  if (!Number.isFinite(f) || Math.fround(f) !== f) return f;
  for (let p = 1; p <= 9; p++) {
    const d = Number(f.toPrecision(p));
    if (Math.fround(d) === f) return d;
  }
  return f;
}

type LongLike = number | { toNumber(): number; toString(): string } | null | undefined;

/** protobufjs decodes int64 fields as `Long` when the `long` package is present; numbers otherwise. */
export function toNum(v: LongLike): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  const n = v.toNumber();
  if (!Number.isSafeInteger(n)) throw new GraphError(`int64 value ${v.toString()} is beyond 2^53`);
  return n;
}

function toBig(v: LongLike): bigint {
  if (v === null || v === undefined) return 0n;
  return typeof v === 'number' ? BigInt(v) : BigInt(v.toString());
}

export interface TensorValue {
  shape: number[];
  dtype: DType;
  data: Float32Array | BigInt64Array;
}

/**
 * A TensorProto's values as a typed array. raw_data is little-endian by the ONNX spec, which is
 * what typed arrays use on every platform Node runs on; bytes are copied into a fresh buffer
 * because the decoder's slice may not be aligned to 4/8 bytes.
 */
export function tensorFromProto(t: TensorProto, where: string): TensorValue {
  const name = t.name || '<unnamed>';
  const code = t.dataType ?? 0;
  if (t.dataLocation === 1) throw new GraphError(`tensor '${name}' stores its data externally, which is not supported`, where);
  const dtype = irDtype(code);
  if (!dtype) throw new GraphError(`tensor '${name}' has element type ${dtypeName(code)}; only FLOAT and INT64 are supported`, where);
  const shape = (t.dims ?? []).map((d) => toNum(d as LongLike));
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new GraphError(`tensor '${name}' has invalid dims [${shape}]`, where);
  const n = numel(shape);
  const width = dtype === 'int64' ? 8 : 4;
  const raw = t.rawData;
  let data: Float32Array | BigInt64Array;
  if (raw && raw.length > 0) {
    if (raw.length !== n * width)
      throw new GraphError(`tensor '${name}' has ${raw.length} bytes of raw_data, expected ${n * width} for dims [${shape}]`, where);
    const bytes = new Uint8Array(raw.length);
    bytes.set(raw);
    data = dtype === 'int64' ? new BigInt64Array(bytes.buffer) : new Float32Array(bytes.buffer);
  } else if (dtype === 'float32') {
    const src = t.floatData ?? [];
    if (src.length !== n) throw new GraphError(`tensor '${name}' has ${src.length} float_data values, expected ${n}`, where);
    data = Float32Array.from(src);
  } else {
    const src = t.int64Data ?? [];
    if (src.length !== n) throw new GraphError(`tensor '${name}' has ${src.length} int64_data values, expected ${n}`, where);
    data = BigInt64Array.from(src, (v) => toBig(v as LongLike));
  }
  return { shape, dtype, data };
}

export function tensorToProto(name: string, shape: number[], data: Float32Array | BigInt64Array, docString?: string): TensorProto {
  return {
    name,
    dims: shape,
    dataType: data instanceof BigInt64Array ? DT.INT64 : DT.FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    ...(docString ? { docString } : {}),
  };
}
