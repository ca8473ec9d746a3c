/**
 * The documents that cross into the native executor (and the standalone runner): a model as one
 * JSON document (graph structure, offsets table) plus one packed binary buffer (weights, then the
 * default inputs, each 64-byte aligned); a prepared schedule as {schedule, plan?}.
 *
 * Weights are generated once per (model, seed) by `materializeWeights` and default inputs by
 * `randomInputs`, the same functions the ONNX exporter uses, so native runs and onnxruntime runs
 * of the same graph and seed see identical values.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../graphs/atomic-write.js';
import type { Graph } from '../graphs/ir.js';
import type { Schedule } from '../graphs/schedule.js';
import { materializeWeights, randomInputs, type TensorData } from '../graphs/weights.js';

/** Byte offsets of every activation (graph inputs included) in one arena. */
export interface MemoryPlan {
  arenaBytes: number;
  offsets: Record<string, number>;
}

export interface ModelDocument {
  /** JSON text, format 'topsched.native.model/1'. */
  json: string;
  buffer: Uint8Array;
  /** The graph with its weights materialized (what the document was made from). */
  graph: Graph;
  /** Default inputs, by graph input order. */
  inputs: TensorData[];
}

const ALIGN = 64;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** JSON has no infinities; Clip bounds may be ±Infinity, which the kernels read as ±FLT_MAX. */
function finiteAttrs(attrs: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'number' && !Number.isFinite(v)) out[k] = v > 0 ? 3.4028234663852886e38 : -3.4028234663852886e38;
    else out[k] = v;
  }
  return out;
}

export function modelDocument(graph: Graph, { seed = 0 }: { seed?: number } = {}): ModelDocument {
  const g = materializeWeights(graph, { seed });
  const inputMap = randomInputs(g, seed);
  const inputs = g.inputs.map((v) => inputMap.get(v.name) as TensorData);
  let size = 0;
  const weights: Record<string, number> = {};
  const inputOffsets: Record<string, number> = {};
  const blobs: { offset: number; data: TensorData }[] = [];
  for (const init of g.initializers) {
    const data = init.data as TensorData;
    weights[init.name] = size;
    blobs.push({ offset: size, data });
    size = align(size + data.byteLength);
  }
  g.inputs.forEach((v, i) => {
    inputOffsets[v.name] = size;
    blobs.push({ offset: size, data: inputs[i] });
    size = align(size + inputs[i].byteLength);
  });
  const buffer = new Uint8Array(size);
  for (const b of blobs) buffer.set(new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength), b.offset);
  const doc = {
    format: 'topsched.native.model/1',
    graph: {
      name: g.name,
      batch: g.batch,
      inputs: g.inputs,
      outputs: g.outputs,
      nodes: g.nodes.map((n) => ({
        id: n.id,
        op: n.op,
        inputs: n.inputs,
        outputs: n.outputs,
        attrs: finiteAttrs(n.attrs),
        outShapes: n.outShapes,
        outDtypes: n.outDtypes,
        flops: n.flops,
        bytes: n.bytes,
      })),
      initializers: g.initializers.map(({ name, shape, dtype }) => ({ name, shape, dtype })),
    },
    weights,
    inputs: inputOffsets,
  };
  return { json: JSON.stringify(doc), buffer, graph: g, inputs };
}

export function scheduleDocument(schedule: Schedule, plan?: MemoryPlan): string {
  return JSON.stringify(plan ? { schedule, plan } : { schedule });
}

/** What the standalone runner reads: `<dir>/bundle.json` and `<dir>/weights.bin`. */
export interface RunnerBundleOptions {
  seed?: number;
  /** Named schedules (each optionally with a memory plan) to time. */
  schedules: { name: string; schedule: Schedule; plan?: MemoryPlan }[];
}

/** Writes a bundle for `native/build/runner` (the GPU machine has no Node). Returns the file paths. */
export function writeRunnerBundle(dir: string, graph: Graph, opts: RunnerBundleOptions): { bundle: string; weights: string } {
  const doc = modelDocument(graph, { seed: opts.seed ?? 0 });
  const bundle = join(dir, 'bundle.json');
  const weights = join(dir, 'weights.bin');
  writeFileAtomic(weights, doc.buffer);
  const model = JSON.parse(doc.json);
  writeFileAtomic(
    bundle,
    JSON.stringify({
      format: 'topsched.native.bundle/1',
      model,
      schedules: opts.schedules.map((s) => ({ name: s.name, schedule: s.schedule, plan: s.plan ?? null })),
    }),
  );
  return { bundle, weights };
}
