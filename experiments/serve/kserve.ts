/**
 * The KServe v2 / Triton HTTP inference protocol: request parsing (JSON tensors and the binary
 * tensor data extension) and response encoding. Pure functions over bytes; server.ts wires them.
 *
 * Binary extension: the body is a JSON header of `Inference-Header-Content-Length` bytes followed
 * by the raw tensors, in input order, of every input whose `parameters.binary_data_size` is set.
 * A response carries outputs in binary when the request asks (per output `parameters.binary_data`,
 * or request-wide `parameters.binary_data_output`); it then has the same layout and header.
 */
import type { ValueInfo } from '../../graphs/ir.js';
import type { TensorData } from '../../graphs/weights.js';

/** A request error: the server answers `status` with `{"error": message}`. */
export class ProtocolError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const DATATYPE = { float32: 'FP32', int64: 'INT64' } as const;
const BYTES = { FP32: 4, INT64: 8 } as const;
type Datatype = keyof typeof BYTES;

export function datatypeOf(v: ValueInfo): Datatype {
  const d = DATATYPE[v.dtype as keyof typeof DATATYPE];
  if (!d) throw new Error(`tensor '${v.name}': dtype ${v.dtype} cannot be served`);
  return d;
}

export const tensorMetadata = (v: ValueInfo) => ({ name: v.name, datatype: datatypeOf(v), shape: v.shape });

interface RequestInput {
  name?: unknown;
  shape?: unknown;
  datatype?: unknown;
  data?: unknown;
  parameters?: { binary_data_size?: unknown };
}

export interface ParsedRequest {
  id?: string;
  /** Inputs by the model's input order. */
  inputs: TensorData[];
  /** Requested outputs (all when the request names none), and whether each goes back in binary. */
  outputs: { name: string; binary: boolean }[];
}

function parseHeader(body: Buffer, headerLength: string | undefined): { header: Record<string, unknown>; binary: Buffer } {
  let jsonBytes: Buffer = body;
  let binary: Buffer = Buffer.alloc(0);
  if (headerLength !== undefined) {
    const n = Number(headerLength);
    if (!Number.isInteger(n) || n < 0 || n > body.length)
      throw new ProtocolError(
        `Inference-Header-Content-Length must be an integer in 0..${body.length} (the body's length), got ${JSON.stringify(headerLength)}`,
      );
    jsonBytes = body.subarray(0, n);
    binary = body.subarray(n);
  }
  let header: unknown;
  try {
    header = JSON.parse(jsonBytes.toString('utf8'));
  } catch (e) {
    throw new ProtocolError(`malformed JSON request: ${(e as Error).message}`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new ProtocolError('the request must be a JSON object with "inputs"');
  return { header: header as Record<string, unknown>, binary };
}

/** Flattens a (possibly nested) JSON data array, checking every element is a finite number. */
function flatNumbers(data: unknown, where: string): number[] {
  const out: number[] = [];
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) for (const y of x) walk(y);
    else if (typeof x === 'number' && Number.isFinite(x)) out.push(x);
    else throw new ProtocolError(`${where}: data must hold numbers, got ${JSON.stringify(x)?.slice(0, 40)}`);
  };
  walk(data);
  return out;
}

/** Parses and checks an infer request against the model's inputs and outputs. */
export function parseInferRequest(
  model: string,
  body: Buffer,
  headerLength: string | undefined,
  inputs: readonly ValueInfo[],
  outputs: readonly ValueInfo[],
): ParsedRequest {
  const { header, binary } = parseHeader(body, headerLength);
  const given = header.inputs;
  if (!Array.isArray(given)) throw new ProtocolError(`"inputs" must be an array, got ${JSON.stringify(given)?.slice(0, 40)}`);
  const byName = new Map<string, RequestInput>();
  for (const [i, x] of (given as RequestInput[]).entries()) {
    if (!x || typeof x !== 'object' || typeof x.name !== 'string') throw new ProtocolError(`inputs[${i}] must be an object with a "name"`);
    if (!inputs.some((v) => v.name === x.name))
      throw new ProtocolError(`model '${model}' has no input '${x.name}' (inputs: ${inputs.map((v) => v.name).join(', ')})`);
    if (byName.has(x.name)) throw new ProtocolError(`input '${x.name}' is given twice`);
    byName.set(x.name, x);
  }
  let offset = 0;
  const binaryOrder = (given as RequestInput[]).filter((x) => x.parameters?.binary_data_size !== undefined);
  const binaryOf = new Map<RequestInput, Buffer>();
  for (const x of binaryOrder) {
    const n = x.parameters?.binary_data_size;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || offset + n > binary.length)
      throw new ProtocolError(`input '${x.name}': binary_data_size ${JSON.stringify(n)} does not fit the ${binary.length - offset} binary bytes left`);
    binaryOf.set(x, binary.subarray(offset, offset + n));
    offset += n;
  }
  if (offset !== binary.length) throw new ProtocolError(`${binary.length - offset} binary bytes after the last binary input`);
  const tensors = inputs.map((v) => {
    const x = byName.get(v.name);
    if (!x) throw new ProtocolError(`input '${v.name}' is missing (model '${model}' needs ${inputs.map((i) => i.name).join(', ')})`);
    const dt = datatypeOf(v);
    if (x.datatype !== dt) throw new ProtocolError(`input '${v.name}': datatype must be ${dt}, got ${JSON.stringify(x.datatype)}`);
    const shape = x.shape;
    if (!Array.isArray(shape) || shape.length !== v.shape.length || shape.some((d, k) => d !== v.shape[k]))
      throw new ProtocolError(`input '${v.name}': shape must be [${v.shape}], got ${JSON.stringify(shape)}`);
    const n = v.shape.reduce((a, b) => a * b, 1);
    const bin = binaryOf.get(x);
    if (bin) {
      if (bin.length !== n * BYTES[dt])
        throw new ProtocolError(`input '${v.name}': ${bin.length} binary bytes for ${n} ${dt} elements (${n * BYTES[dt]} bytes)`);
      // Copy: the body buffer is not aligned for a typed view.
      const copy = new Uint8Array(bin);
      return dt === 'FP32' ? new Float32Array(copy.buffer) : new BigInt64Array(copy.buffer);
    }
    if (x.data === undefined) throw new ProtocolError(`input '${v.name}': neither "data" nor binary_data_size`);
    const nums = flatNumbers(x.data, `input '${v.name}'`);
    if (nums.length !== n) throw new ProtocolError(`input '${v.name}': ${nums.length} values for shape [${v.shape}] (${n})`);
    if (dt === 'FP32') return Float32Array.from(nums);
    if (nums.some((y) => !Number.isInteger(y))) throw new ProtocolError(`input '${v.name}': INT64 data must be integers`);
    return BigInt64Array.from(nums, (y) => BigInt(y));
  });
  const params = (header.parameters ?? {}) as { binary_data_output?: unknown };
  const allBinary = params.binary_data_output === true;
  let wanted = outputs.map((v) => ({ name: v.name, binary: allBinary }));
  if (header.outputs !== undefined) {
    if (!Array.isArray(header.outputs)) throw new ProtocolError(`"outputs" must be an array, got ${JSON.stringify(header.outputs)?.slice(0, 40)}`);
    wanted = (header.outputs as { name?: unknown; parameters?: { binary_data?: unknown } }[]).map((o, i) => {
      if (!o || typeof o.name !== 'string') throw new ProtocolError(`outputs[${i}] must be an object with a "name"`);
      if (!outputs.some((v) => v.name === o.name))
        throw new ProtocolError(`model '${model}' has no output '${o.name}' (outputs: ${outputs.map((v) => v.name).join(', ')})`);
      return { name: o.name, binary: o.parameters?.binary_data === true || allBinary };
    });
  }
  const id = typeof header.id === 'string' ? header.id : undefined;
  return { id, inputs: tensors, outputs: wanted };
}

export interface EncodedResponse {
  body: Buffer | string;
  /** Set when binary outputs follow the JSON header. */
  headerLength?: number;
}

/** The infer response: JSON outputs, or JSON header + binary outputs. */
export function encodeInferResponse(model: string, req: ParsedRequest, outputs: readonly ValueInfo[], values: Record<string, TensorData>): EncodedResponse {
  const chunks: Buffer[] = [];
  const outs = req.outputs.map((o) => {
    const v = outputs.find((x) => x.name === o.name) as ValueInfo;
    const t = values[o.name];
    const base = { name: o.name, datatype: datatypeOf(v), shape: v.shape };
    if (o.binary) {
      chunks.push(Buffer.from(t.buffer, t.byteOffset, t.byteLength));
      return { ...base, parameters: { binary_data_size: t.byteLength } };
    }
    return { ...base, data: t instanceof BigInt64Array ? Array.from(t, Number) : Array.from(t) };
  });
  const json = JSON.stringify({ model_name: model, model_version: '1', ...(req.id !== undefined ? { id: req.id } : {}), outputs: outs });
  if (!chunks.length) return { body: json };
  const head = Buffer.from(json, 'utf8');
  return { body: Buffer.concat([head, ...chunks]), headerLength: head.length };
}
