/**
 * Model I/O of `topsched run`: `--input name=file.npy` (repeatable) feeds real tensors, their shapes
 * binding an ONNX model's dynamic dims; `--output-dir` writes every graph output as `<name>.npy`;
 * `--check` runs onnxruntime-node on the same inputs (the original .onnx file, or the exported
 * graph with the executor's weights for zoo and JSON models) and compares each output:
 * max absolute and relative error, and whether every element satisfies |a − b| ≤ atol + rtol·|b|
 * (numpy.allclose). A failed check sets the exit code to 1.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import * as ort from 'onnxruntime-node';
import type { Graph } from '../../graphs/ir.js';
import { readFileBounded } from '../../graphs/limits.js';
import { type NpyTensor, readNpy, writeNpy } from '../../graphs/npy.js';
import { exportOnnx } from '../../graphs/onnx/export.js';
import { onnx } from '../../graphs/onnx/proto.js';
import type { ModelHandle } from '../../native/index.js';

type TensorData = Float32Array | BigInt64Array;

/** Repeatable `--input name=file.npy` into a record (a repeated name is an error). */
export function inputFileOption(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  const name = at > 0 ? value.slice(0, at) : '';
  const file = at > 0 ? value.slice(at + 1) : '';
  if (!name || !file) throw new InvalidArgumentError(`--input ${JSON.stringify(value)}: expected name=file.npy`);
  if (Object.hasOwn(previous, name)) throw new InvalidArgumentError(`--input gives '${name}' twice`);
  return { ...previous, [name]: file };
}

/** Reads every --input file (errors name the file). */
export function readInputs(files: Record<string, string>): Record<string, NpyTensor> {
  return Object.fromEntries(Object.entries(files).map(([name, file]) => [name, readNpy(file)]));
}

/** The tensors checked against the resolved graph's inputs: names, dtypes and shapes must match. */
export function checkInputs(graph: Graph, inputs: Record<string, NpyTensor>, files: Record<string, string>): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  for (const [name, t] of Object.entries(inputs)) {
    const v = graph.inputs.find((x) => x.name === name);
    if (!v)
      throw new Error(
        `--input ${name}=${files[name]}: the model has no input '${name}' (inputs: ${graph.inputs.map((x) => `${x.name} [${x.shape}] ${x.dtype}`).join(', ')})`,
      );
    if (v.dtype !== t.dtype) throw new Error(`--input ${name}=${files[name]}: ${t.dtype} data for a ${v.dtype} input`);
    if (v.shape.join() !== t.shape.join())
      throw new Error(
        `--input ${name}=${files[name]}: shape [${t.shape}] but the model's input is [${v.shape}] (for a dynamic ONNX input the file's shape binds it; check --batch / --input-shape)`,
      );
    out[name] = t.data;
  }
  return out;
}

/** File names for outputs: the name with anything but [A-Za-z0-9._-] replaced; collisions are errors. */
export function outputFiles(names: string[]): string[] {
  const files = names.map((n) => `${n.replace(/[^A-Za-z0-9._-]/g, '_') || 'output'}.npy`);
  const seen = new Map<string, string>();
  names.forEach((n, i) => {
    const other = seen.get(files[i]);
    if (other !== undefined) throw new Error(`outputs '${other}' and '${n}' would both be written as ${files[i]}`);
    seen.set(files[i], n);
  });
  return files;
}

export function writeOutputs(dir: string, graph: Graph, outputs: Record<string, TensorData>): string[] {
  mkdirSync(dir, { recursive: true });
  const files = outputFiles(graph.outputs.map((v) => v.name));
  return graph.outputs.map((v, k) => {
    const path = join(dir, files[k]);
    const data = outputs[v.name];
    writeNpy(path, { shape: v.shape, dtype: data instanceof BigInt64Array ? 'int64' : 'float32', data });
    return path;
  });
}

export interface OutputCheck {
  output: string;
  shape: number[];
  maxAbs: number;
  maxRel: number;
  /** Elements outside atol + rtol·|reference|. */
  mismatched: number;
  ok: boolean;
}

/** Max |a − b| and max |a − b| / max(|b|, atol) over two equally long arrays; mismatches against allclose. */
export function compareTensors(a: TensorData, b: TensorData, atol: number, rtol: number): { maxAbs: number; maxRel: number; mismatched: number } {
  if (a.length !== b.length) return { maxAbs: Number.POSITIVE_INFINITY, maxRel: Number.POSITIVE_INFINITY, mismatched: Math.max(a.length, b.length) };
  let maxAbs = 0;
  let maxRel = 0;
  let mismatched = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Number(a[i]);
    const y = Number(b[i]);
    const d = Number.isNaN(x) || Number.isNaN(y) ? (Number.isNaN(x) && Number.isNaN(y) ? 0 : Number.POSITIVE_INFINITY) : Math.abs(x - y);
    if (d > maxAbs) maxAbs = d;
    const r = d / Math.max(Math.abs(y), atol);
    if (r > maxRel) maxRel = r;
    if (!(d <= atol + rtol * Math.abs(y))) mismatched++;
  }
  return { maxAbs, maxRel, mismatched };
}

/**
 * Inputs fixed with --input-value are constants of our graph but still inputs of the file: their
 * onnxruntime tensors, typed and shaped as the file declares them.
 */
export function fixedInputFeeds(file: string, values: Record<string, number[]>): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  if (!Object.keys(values).length) return feeds;
  const declared = onnx.ModelProto.decode(readFileBounded(file, 'ONNX model')).graph?.input ?? [];
  for (const [name, v] of Object.entries(values)) {
    const tt = declared.find((d) => d.name === name)?.type?.tensorType;
    const dims = (tt?.shape?.dim ?? []).map((d) => Number(d.dimValue ?? 0) || v.length);
    feeds[name] =
      tt?.elemType === 7
        ? new ort.Tensor(
            'int64',
            BigInt64Array.from(v, (x) => BigInt(x)),
            dims,
          )
        : new ort.Tensor('float32', Float32Array.from(v), dims);
  }
  return feeds;
}

/**
 * onnxruntime-node on the same inputs: the original file for an .onnx spec, else the exported
 * graph with the executor's materialized weights. Outputs pair by position (the IR keeps them in
 * the model's order).
 */
export async function checkAgainstOrt(
  spec: string,
  model: ModelHandle,
  inputs: Record<string, TensorData>,
  outputs: Record<string, TensorData>,
  o: { atol: number; rtol: number; inputValues?: Record<string, number[]> },
): Promise<OutputCheck[]> {
  const graph = model.graph;
  const source = /\.onnx$/i.test(spec) ? spec : exportOnnx(graph, { seed: model.seed });
  const session = typeof source === 'string' ? await ort.InferenceSession.create(source) : await ort.InferenceSession.create(source);
  try {
    const feeds: Record<string, ort.Tensor> = {};
    graph.inputs.forEach((v, i) => {
      const data = inputs[v.name] ?? model.inputs[i];
      feeds[v.name] = new ort.Tensor(v.dtype === 'int64' ? 'int64' : 'float32', data, v.shape);
    });
    if (typeof source === 'string') Object.assign(feeds, fixedInputFeeds(source, o.inputValues ?? {}));
    const res = await session.run(feeds);
    return graph.outputs.map((v, k) => {
      const ref = res[session.outputNames[k]];
      const mine = outputs[v.name];
      const c = compareTensors(mine, ref.data as TensorData, o.atol, o.rtol);
      const shapeOk = ref.dims.join() === v.shape.join();
      return { output: v.name, shape: v.shape, ...c, ok: shapeOk && c.mismatched === 0 };
    });
  } finally {
    await session.release();
  }
}
