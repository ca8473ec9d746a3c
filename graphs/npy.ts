/**
 * NumPy `.npy` files (format versions 1.0, 2.0 and 3.0), the tensor format researchers already
 * use: read into the IR's float32 / int64 tensors, written atomically. Written by hand because the
 * format is one short header plus raw little-endian data and no maintained npm package reads it
 * into typed arrays without pulling in a NumPy-sized dependency.
 *
 * Read: little-endian (or byte-order-free) float32 and int64 as they are; float64, float16, int32,
 * int16, int8, uint8 and bool are converted (to float32 for floats, int64 for integers). Fortran
 * order, big-endian data, object arrays and structured dtypes are errors naming the file. The
 * element count is checked against the file size and the memory limit before anything is allocated.
 */
import { writeFileAtomic } from './atomic-write.js';
import { GraphError } from './ir.js';
import { checkAllocation, readFileBounded } from './limits.js';

export interface NpyTensor {
  shape: number[];
  dtype: 'float32' | 'int64';
  data: Float32Array | BigInt64Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Element readers by descr (without the byte-order character). */
const KINDS: Record<string, { bytes: number; out: 'float32' | 'int64'; read: (v: DataView, at: number) => number | bigint }> = {
  f4: { bytes: 4, out: 'float32', read: (v, at) => v.getFloat32(at, true) },
  f8: { bytes: 8, out: 'float32', read: (v, at) => v.getFloat64(at, true) },
  f2: { bytes: 2, out: 'float32', read: (v, at) => half(v.getUint16(at, true)) },
  i8: { bytes: 8, out: 'int64', read: (v, at) => v.getBigInt64(at, true) },
  i4: { bytes: 4, out: 'int64', read: (v, at) => BigInt(v.getInt32(at, true)) },
  i2: { bytes: 2, out: 'int64', read: (v, at) => BigInt(v.getInt16(at, true)) },
  i1: { bytes: 1, out: 'int64', read: (v, at) => BigInt(v.getInt8(at)) },
  u1: { bytes: 1, out: 'int64', read: (v, at) => BigInt(v.getUint8(at)) },
  b1: { bytes: 1, out: 'int64', read: (v, at) => BigInt(v.getUint8(at) ? 1 : 0) },
};

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Parses an .npy buffer; `where` names the file in errors. */
export function parseNpy(buf: Uint8Array, where: string): NpyTensor {
  const fail = (why: string): never => {
    throw new GraphError(`not a usable .npy file: ${why}`, where);
  };
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) fail('it does not start with the \\x93NUMPY magic');
  const major = buf[6];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) fail('truncated header');
    headerLen = view.getUint32(8, true);
    start = 12;
  } else return fail(`format version ${major}.${buf[7]} (1.0, 2.0 and 3.0 are read)`);
  if (start + headerLen > buf.length) fail(`the header claims ${headerLen} bytes, the file has ${buf.length - start} after the preamble`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(buf.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    return fail(`header ${JSON.stringify(header.trim())} lacks descr, fortran_order or shape`);
  if (fortran === 'True') fail('fortran_order is True (save with np.ascontiguousarray first)');
  const shape = shapeText
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')
    .map((x) => (/^\d+$/.test(x) ? Number(x) : fail(`shape (${shapeText}) has a non-integer dim '${x}'`)));
  const order = descr[0];
  const kind = KINDS[descr.slice(1)];
  if (!kind || !['<', '|', '='].includes(order))
    fail(`dtype '${descr}' (read: little-endian float32/64/16, int64/32/16/8, uint8, bool${order === '>' ? '; this one is big-endian' : ''})`);
  const n = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  if (!Number.isSafeInteger(n) || dataStart + n * kind.bytes !== buf.length)
    fail(`shape (${shape.join(', ')}) of '${descr}' needs ${n * kind.bytes} data bytes, the file has ${buf.length - dataStart}`);
  checkAllocation(n * (kind.out === 'float32' ? 4 : 8), `${where}: tensor data`);
  if (kind.out === 'float32') {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = kind.read(view, dataStart + i * kind.bytes) as number;
    return { shape, dtype: 'float32', data };
  }
  const data = new BigInt64Array(n);
  for (let i = 0; i < n; i++) data[i] = kind.read(view, dataStart + i * kind.bytes) as bigint;
  return { shape, dtype: 'int64', data };
}

export function readNpy(path: string): NpyTensor {
  return parseNpy(readFileBounded(path, '.npy file'), path);
}

/** The .npy bytes (format 1.0, C order, little-endian) of a tensor. */
export function encodeNpy(t: NpyTensor): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new GraphError(`encodeNpy: ${t.data.length} values for shape [${t.shape}]`);
  const dims = t.shape.length === 1 ? `${t.shape[0]},` : t.shape.join(', ');
  let header = `{'descr': '${t.dtype === 'float32' ? '<f4' : '<i8'}', 'fortran_order': False, 'shape': (${dims}), }`;
  // Pad with spaces so the data starts on a 64-byte boundary; the header ends with a newline.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64);
  header += '\n';
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + head.length + t.data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, head.length, true);
  out.set(head, 10);
  // Typed arrays are little-endian on every platform Node supports.
  out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), 10 + head.length);
  return out;
}

export function writeNpy(path: string, t: NpyTensor): void {
  writeFileAtomic(path, encodeNpy(t));
}
