/** Helpers shared by the ONNX tests: hand-built ModelProtos, onnxruntime runs, error checks. */
import * as ort from 'onnxruntime-node';
import seedrandom from 'seedrandom';
import { expect } from 'vitest';
import { type Graph, GraphError } from '../graphs/ir.js';
import { type NodeProto, onnx, type TensorProto } from '../graphs/onnx/proto.js';
import type { TensorData } from '../graphs/weights.js';

export async function runOrt(
  bytes: Uint8Array,
  graph: Graph,
  inputs: Map<string, TensorData>,
): Promise<Map<string, { dims: readonly number[]; data: Float32Array }>> {
  const session = await ort.InferenceSession.create(bytes);
  const feeds: Record<string, ort.Tensor> = {};
  for (const v of graph.inputs) {
    const data = inputs.get(v.name) as TensorData;
    feeds[v.name] = data instanceof BigInt64Array ? new ort.Tensor('int64', data, v.shape) : new ort.Tensor('float32', data, v.shape);
  }
  const res = await session.run(feeds);
  await session.release();
  return new Map(Object.entries(res).map(([k, t]) => [k, { dims: t.dims, data: t.data as Float32Array }]));
}

/**
 * Max over elements of |a−b| / max(|b|, 0.01·max|b|): relative error, with |b| floored at 1 % of the
 * tensor's largest magnitude so that float32 cancellation in values near 0 (a − b with a ≈ b, a
 * linear interpolation crossing 0) does not count as a disagreement.
 */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let maxAbs = 0;
  for (let i = 0; i < b.length; i++) maxAbs = Math.max(maxAbs, Math.abs(b[i]));
  const floor = 1e-2 * maxAbs + 1e-30;
  let e = 0;
  for (let i = 0; i < b.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), floor));
  return e;
}

export const allFinite = (a: ArrayLike<number>) => Array.prototype.every.call(a, Number.isFinite);

export function tensorProto(name: string, dims: number[], values: number[], int64 = false): TensorProto {
  return int64 ? { name, dims, dataType: 7, int64Data: values } : { name, dims, dataType: 1, floatData: values };
}

export function vi(name: string, dims: (number | string)[], elemType = 1) {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } } };
}

export function modelBytes(opts: {
  nodes: NodeProto[];
  inputs: ReturnType<typeof vi>[];
  outputs: ReturnType<typeof vi>[];
  inits?: TensorProto[];
  opset: number;
}): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 7,
    opsetImport: [{ domain: '', version: opts.opset }],
    graph: { name: 'hand', node: opts.nodes, input: opts.inputs, output: opts.outputs, initializer: opts.inits ?? [] },
  }).finish();
}

export const A = onnx.AttributeProto.AttributeType;
export const ai = (name: string, i: number) => ({ name, type: A.INT, i });
export const ais = (name: string, ints: number[]) => ({ name, type: A.INTS, ints });
export const astr = (name: string, s: string) => ({ name, type: A.STRING, s: new TextEncoder().encode(s) });
export const af = (name: string, f: number) => ({ name, type: A.FLOAT, f });

export function uniform(n: number, seed: string, scale = 0.5): number[] {
  const r = seedrandom(seed);
  return Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

export function expectGraphError(fn: () => unknown, ...parts: string[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(GraphError);
  for (const p of parts) expect((err as Error).message).toContain(p);
}
