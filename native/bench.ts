/**
 * Benchmark pieces of the native executor (the lead wires them into `npm run bench`). Each returns
 * plain numbers; nothing here prints. All of them build their own executors and close them.
 *
 *  (a) dispatchOverhead: per-op cost on a chain of tiny ops (target ≤ 0.5 µs/op, issue 13)
 *  (b) twoBranchSpeedup: a two-branch graph, its branches on 2 streams vs 1 (target ≥ 1.7×)
 *  (c) inceptionComparison: Inception-v3 sequential (ops 1- and 2-threaded) vs IOS-DP vs onnxruntime
 *  (d) memoryRatios: arena / LOAD and arena / naive per zoo model under a memory planner
 *  (e) rssDrift: resident memory over many runs
 */
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../graphs/builder.js';
import { assignThreads, devicePreset, RooflineCostModel, ThreadChoiceCostModel } from '../graphs/cost/index.js';
import type { CostModel } from '../graphs/cost/model.js';
import type { Graph } from '../graphs/ir.js';
import { exportOnnx } from '../graphs/onnx/export.js';
import { partition } from '../graphs/partition/index.js';
import { type Schedule, sequentialSchedule } from '../graphs/schedule.js';
import { buildModel } from '../graphs/zoo/index.js';
import type { MemoryPlan } from './doc.js';
import { type MemoryMode, NativeExecutor, type NativeExecutorOptions, type RunReport, runWhileMeasuringThreads } from './index.js';
import { MeasuredCostModel } from './measured-cost.js';

export interface Timing {
  medianMs: number;
  meanMs: number;
  minMs: number;
  runs: number;
}

function timing(samples: number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return {
    medianMs: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2,
    meanMs: s.reduce((a, b) => a + b, 0) / s.length,
    minMs: s[0],
    runs: s.length,
  };
}

/** Task latency (first command to last) of `runs` runs after `warmup`. */
export async function timeNative(
  opts: NativeExecutorOptions,
  graph: Graph,
  schedules: Schedule[],
  {
    runs = 10,
    warmup = 2,
    streams,
    memory = 'caching' as MemoryMode,
    plan,
  }: { runs?: number; warmup?: number; streams?: number; memory?: MemoryMode; plan?: MemoryPlan } = {},
): Promise<Timing[]> {
  const ex = new NativeExecutor(opts);
  try {
    const model = await ex.loadModel(graph);
    const out: Timing[] = [];
    for (const schedule of schedules) {
      const run = () => ex.run([{ model, schedule, plan }], { streams, memory });
      let last: RunReport | undefined;
      for (let i = 0; i < warmup; i++) last = await run();
      await runWhileMeasuringThreads(run, last);
      const samples: number[] = [];
      for (let i = 0; i < runs; i++) samples.push((await run()).tasks[0].latencyMs);
      out.push(timing(samples));
    }
    return out;
  } finally {
    ex.close();
  }
}

/** A chain of `ops` Relu ops on a tiny tensor. */
export function tinyChain(ops: number, elems = 16): Graph {
  const b = new GraphBuilder('tiny_chain');
  let x = b.input('x', [1, elems]);
  for (let i = 0; i < ops; i++) x = b.relu(x);
  b.output(x);
  return b.build();
}

/**
 * (a) Per-op dispatch cost: task latency / ops on a chain of tiny Relus, 1 stream. `gapUsPerOp` is
 * the time between one op's end and the next one's start (executor overhead only); `kernelUsPerOp`
 * the mean op duration (mostly oneDNN's own dispatch for so small a tensor).
 */
export async function dispatchOverhead({
  ops = 2000,
  runs = 20,
}: {
  ops?: number;
  runs?: number;
} = {}): Promise<{ ops: number; usPerOp: number; gapUsPerOp: number; kernelUsPerOp: number }> {
  const g = tinyChain(ops);
  const ex = new NativeExecutor({ streams: 1 });
  try {
    const model = await ex.loadModel(g);
    const schedule = sequentialSchedule(g);
    let best = { usPerOp: Infinity, gapUsPerOp: 0, kernelUsPerOp: 0 };
    for (let i = 0; i < runs + 2; i++) {
      const r = await ex.run([{ model, schedule }]);
      if (i < 2) continue;
      const ordered = [...r.ops].sort((a, b) => a.startUs - b.startUs);
      let gaps = 0;
      let kern = 0;
      ordered.forEach((o, k) => {
        kern += o.endUs - o.startUs;
        if (k > 0) gaps += o.startUs - ordered[k - 1].endUs;
      });
      const usPerOp = (r.tasks[0].latencyMs * 1000) / ops;
      if (usPerOp < best.usPerOp) best = { usPerOp, gapUsPerOp: gaps / (ops - 1), kernelUsPerOp: kern / ops };
    }
    return { ops, ...best };
  } finally {
    ex.close();
  }
}

export interface RunOverhead {
  runs: number;
  /** Median of `await ex.run(...)`, wall clock, for a one-Relu model (µs). */
  endToEndUs: number;
  /** Median task latency the executor reports for the same runs (µs). */
  reportedUs: number;
  /** Median of `await session.run(...)` in onnxruntime-node on the same one-op model (µs). */
  ortUs: number;
}

/**
 * (f) Per-run overhead: what a caller waits from `run()` to its resolved Promise for a one-operator
 * model, beside the latency the executor reports and onnxruntime-node's own end-to-end time.
 */
export async function runOverhead({ runs = 500, warmup = 50 }: { runs?: number; warmup?: number } = {}): Promise<RunOverhead> {
  const g = tinyChain(1);
  const ex = new NativeExecutor({ streams: 1 });
  const wall: number[] = [];
  const reported: number[] = [];
  try {
    const model = await ex.loadModel(g);
    const schedule = sequentialSchedule(g);
    for (let i = 0; i < warmup + runs; i++) {
      const t0 = performance.now();
      const r = await ex.run([{ model, schedule }]);
      const t1 = performance.now();
      if (i >= warmup) {
        wall.push((t1 - t0) * 1000);
        reported.push(r.tasks[0].latencyMs * 1000);
      }
    }
  } finally {
    ex.close();
  }
  const session = await ort.InferenceSession.create(exportOnnx(g), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const ortWall: number[] = [];
  try {
    const feeds = { x: new ort.Tensor('float32', new Float32Array(16).fill(0.5), [1, 16]) };
    for (let i = 0; i < warmup + runs; i++) {
      const t0 = performance.now();
      await session.run(feeds);
      if (i >= warmup) ortWall.push((performance.now() - t0) * 1000);
    }
  } finally {
    await session.release();
  }
  return { runs, endToEndUs: timing(wall).medianMs, reportedUs: timing(reported).medianMs, ortUs: timing(ortWall).medianMs };
}

/** Two independent conv chains joined by an Add. */
export function twoBranchGraph(size = 56, depth = 6, channels = 32): Graph {
  const b = new GraphBuilder('two_branch');
  const x = b.input('x', [1, channels, size, size]);
  let l = x;
  let r = x;
  for (let i = 0; i < depth; i++) {
    l = b.relu(b.conv(l, { out: channels, kernel: 3, pad: 1, name: `l${i}` }));
    r = b.relu(b.conv(r, { out: channels, kernel: 3, pad: 1, name: `r${i}` }));
  }
  b.output(b.add(l, r));
  return b.build();
}

/** Stage 0: the two branches as two groups; stage 1: the join. */
export function twoBranchSchedule(g: Graph): Schedule {
  const chain = (start: string) => {
    const ids: string[] = [];
    let cur = g.nodes.find((n) => n.id === start);
    while (cur && cur.op !== 'Add') {
      ids.push(cur.id);
      const out = cur.outputs[0];
      cur = g.nodes.find((n) => n.inputs.includes(out));
    }
    return ids;
  };
  return {
    model: g.name,
    batch: g.batch,
    stages: [
      { kind: 'parallel', groups: [chain('l0'), chain('r0')] },
      { kind: 'parallel', groups: [[g.nodes[g.nodes.length - 1].id]] },
    ],
  };
}

/** (b) The same two-group schedule with 1 stream (groups serialize) and with 2. */
export async function twoBranchSpeedup({ runs = 10 }: { runs?: number } = {}): Promise<{ oneStreamMs: number; twoStreamsMs: number; speedup: number }> {
  const g = twoBranchGraph();
  const s = twoBranchSchedule(g);
  const ex = new NativeExecutor({ streams: 2 });
  try {
    const model = await ex.loadModel(g);
    const one: number[] = [];
    const two: number[] = [];
    for (let i = 0; i < runs + 2; i++) {
      // Interleaved so both see the same background load.
      const a = await ex.run([{ model, schedule: s }], { streams: 1 });
      const b = await ex.run([{ model, schedule: s }], { streams: 2 });
      if (i < 2) continue;
      one.push(a.tasks[0].latencyMs);
      two.push(b.tasks[0].latencyMs);
    }
    const oneStreamMs = timing(one).medianMs;
    const twoStreamsMs = timing(two).medianMs;
    return { oneStreamMs, twoStreamsMs, speedup: oneStreamMs / twoStreamsMs };
  } finally {
    ex.close();
  }
}

/** Feeds for onnxruntime: every float input 0.5, every int64 input 0. */
function ortFeeds(graph: Graph): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const v of graph.inputs) {
    const n = v.shape.reduce((a, b) => a * b, 1);
    feeds[v.name] =
      v.dtype === 'int64' ? new ort.Tensor('int64', new BigInt64Array(n), v.shape) : new ort.Tensor('float32', new Float32Array(n).fill(0.5), v.shape);
  }
  return feeds;
}

/** onnxruntime-node on the exported graph (same seed), `threads` intra-op threads; ms per run. */
export async function timeOrt(graph: Graph, { runs = 10, warmup = 2, threads = 2, seed = 0 } = {}): Promise<Timing> {
  const session = await ort.InferenceSession.create(exportOnnx(graph, { seed }), { intraOpNumThreads: threads, interOpNumThreads: 1 });
  try {
    const feeds = ortFeeds(graph);
    const samples: number[] = [];
    for (let i = 0; i < warmup + runs; i++) {
      const t0 = performance.now();
      await session.run(feeds);
      if (i >= warmup) samples.push(performance.now() - t0);
    }
    return timing(samples);
  } finally {
    await session.release();
  }
}

export interface InceptionComparison {
  seq1Thread: Timing;
  seq2Threads: Timing;
  iosDp2Streams: Timing;
  ort2Threads: Timing;
  iosStages: number;
}

/** (c) Inception-v3, batch 1: sequential on 1 stream with 1- and 2-threaded ops, IOS-DP on 2 streams, onnxruntime (2 threads). */
export async function inceptionComparison({
  runs = 10,
  cost = new RooflineCostModel(devicePreset('cpu-2core')) as CostModel,
  timeBudgetMs = 20000,
} = {}): Promise<InceptionComparison> {
  const g = buildModel('inception_v3', { batch: 1 });
  const seq = sequentialSchedule(g);
  const ios = partition(g, 'ios-dp', cost, { timeBudgetMs }).schedule;
  const [seq1Thread] = await timeNative({ streams: 1, opThreads: 1 }, g, [seq], { runs });
  const [seq2Threads] = await timeNative({ streams: 1, opThreads: 2 }, g, [seq], { runs });
  const [iosDp2Streams] = await timeNative({ streams: 2, opThreads: 1 }, g, [ios], { runs });
  const ort2Threads = await timeOrt(g, { runs });
  return { seq1Thread, seq2Threads, iosDp2Streams, ort2Threads, iosStages: ios.stages.length };
}

export interface MemoryRatio {
  model: string;
  arenaBytes: number;
  loadBytes: number;
  naiveBytes: number;
  arenaOverLoad: number;
  arenaOverNaive: number;
  /** The caching allocator's peak reserved bytes on the same schedule, for comparison. */
  cachingReservedBytes: number;
}

/**
 * (d) For each model: the planner's arena for the sequential schedule, the measured LOAD (peak of
 * live bytes) and the naive sum, from one planned run; plus the caching allocator's footprint.
 */
export async function memoryRatios(planner: (g: Graph, s: Schedule) => MemoryPlan, models: string[]): Promise<MemoryRatio[]> {
  const out: MemoryRatio[] = [];
  for (const name of models) {
    const g = buildModel(name, { batch: 1 });
    const schedule = sequentialSchedule(g);
    const ex = new NativeExecutor({ streams: 1 });
    try {
      const model = await ex.loadModel(g);
      const plan = planner(g, schedule);
      const r = await ex.run([{ model, schedule, plan }], { memory: 'planned' });
      const t = r.tasks[0];
      ex.memoryStats(true);
      const c = await ex.run([{ model, schedule }], { memory: 'caching' });
      out.push({
        model: name,
        arenaBytes: plan.arenaBytes,
        loadBytes: t.loadBytes ?? 0,
        naiveBytes: t.naiveBytes,
        arenaOverLoad: plan.arenaBytes / (t.loadBytes ?? 1),
        arenaOverNaive: plan.arenaBytes / t.naiveBytes,
        cachingReservedBytes: c.memory.cachingPeakReservedBytes,
      });
    } finally {
      ex.close();
    }
  }
  return out;
}

/** (e) RSS after `warmup` runs and after `runs` more (MiB), and the drift per 1000 runs (KiB). */
export async function rssDrift({
  runs = 10000,
  warmup = 500,
  model = 'squeezenet1_1',
  memory = 'caching' as MemoryMode,
  plan,
}: {
  runs?: number;
  warmup?: number;
  model?: string;
  memory?: MemoryMode;
  plan?: MemoryPlan;
} = {}): Promise<{ runs: number; rssStartMiB: number; rssEndMiB: number; driftKiBPer1000Runs: number }> {
  const g = buildModel(model, { batch: 1 });
  const ex = new NativeExecutor({ streams: 2 });
  try {
    const m = await ex.loadModel(g);
    const schedule = sequentialSchedule(g);
    for (let i = 0; i < warmup; i++) await ex.run([{ model: m, schedule, plan }], { memory });
    (globalThis as { gc?: () => void }).gc?.();
    const start = process.memoryUsage.rss();
    for (let i = 0; i < runs; i++) await ex.run([{ model: m, schedule, plan }], { memory });
    (globalThis as { gc?: () => void }).gc?.();
    const end = process.memoryUsage.rss();
    return { runs, rssStartMiB: start / 2 ** 20, rssEndMiB: end / 2 ** 20, driftKiBPer1000Runs: (end - start) / 1024 / (runs / 1000) };
  } finally {
    ex.close();
  }
}

export interface ModelRow {
  model: string;
  batch: number;
  threads: number;
  /** topsched's variants at this thread count (median ms), and the best of them. */
  variants: Record<string, number>;
  best: string;
  bestMs: number;
  ortMs: number;
  /** best ÷ onnxruntime (≤ 1: topsched as fast or faster). */
  ratio: number;
}

/**
 * (g) The five-model table: Inception-v3, ResNet-50, MobileNetV2, SqueezeNet 1.1 and a BERT layer at
 * batch 1 and 8, topsched's best variant against onnxruntime-node with the same thread count (1 and
 * 2). Variants, all on the optimised graph (graphs/passes): sequential with T-threaded ops on one
 * stream; with T = 2 also IOS-DP on 2 streams with 1-thread ops, and hybrid IOS-DP (each stage's
 * per-group thread counts searched too) on 2 streams. Both sides are timed end to end
 * (`await run()`), in five rounds of blocks of runs in turn (timeContenders), so a load spike on a
 * shared machine hits all of them alike; each figure is the median of at least `runs` runs.
 */
export async function modelTable({
  models = ['inception_v3', 'resnet50', 'mobilenet_v2', 'squeezenet1_1', 'bert_layer'],
  batches = [1, 8],
  runs = 9,
  warmup = 2,
  cost = new RooflineCostModel(devicePreset('cpu-2core')) as CostModel,
  optimize,
}: {
  models?: string[];
  batches?: number[];
  runs?: number;
  warmup?: number;
  cost?: CostModel;
  /** The optimisation passes (graphs/passes optimizeGraph), given by the caller: native/ does not import them. */
  optimize: (g: Graph) => Graph;
}): Promise<{ rows: ModelRow[]; geomean: Record<number, number> }> {
  const rows: ModelRow[] = [];
  for (const model of models)
    for (const batch of batches) {
      const g = buildModel(model, { batch });
      const opt = optimize(g);
      const seq = sequentialSchedule(opt);
      const ios = partition(opt, 'ios-dp', cost, { timeBudgetMs: 10_000 }).schedule;
      const threadCost = new ThreadChoiceCostModel(cost, 2);
      const hybrid = assignThreads(opt, partition(opt, 'ios-dp', threadCost, { timeBudgetMs: 10_000 }).schedule, threadCost);
      for (const threads of [1, 2]) {
        const contenders: Contender[] = [nativeContender(`sequential, ${threads}-thread ops`, { streams: 1, opThreads: threads }, opt, seq)];
        if (threads === 2) {
          contenders.push(nativeContender('ios-dp, 2 streams, 1-thread ops', { streams: 2, opThreads: 1 }, opt, ios));
          contenders.push(nativeContender('hybrid ios-dp, 2 streams', { streams: 2, opThreads: 1 }, opt, hybrid));
        }
        contenders.push(ortContender(g, threads));
        const medians = await timeContenders(contenders, runs, warmup);
        const ortMs = medians[medians.length - 1];
        const variants = Object.fromEntries(contenders.slice(0, -1).map((c, i) => [c.name, medians[i]]));
        const best = Object.entries(variants).sort((a, b) => a[1] - b[1])[0];
        rows.push({ model, batch, threads, variants, best: best[0], bestMs: best[1], ortMs, ratio: best[1] / ortMs });
      }
    }
  const geomean: Record<number, number> = {};
  for (const t of [1, 2]) {
    const r = rows.filter((x) => x.threads === t);
    geomean[t] = Math.exp(r.reduce((s, x) => s + Math.log(x.ratio), 0) / r.length);
  }
  return { rows, geomean };
}

/** A variant to time: `open` loads it (not timed), its session runs it and `close` ends its threads. */
interface Contender {
  name: string;
  open: () => Promise<{ run: () => Promise<unknown>; close: () => Promise<void> | void }>;
}

/**
 * Median end-to-end time of each contender (ms) over `rounds` rounds of blocks, one block per
 * contender in turn, so a load spike on a shared machine hits every contender alike. A block is
 * `warmup` discarded runs, then at least runs / rounds timed runs and at least `blockMs` of them (at
 * most 200 runs): a burst of load from the machine's other tenants spoils a few short blocks of every
 * contender instead of the only block of one (batch-1 rows had taken 9 runs in 3 blocks). Each block
 * opens its contender and closes it after: every contender runs alone in the process, as a user's
 * would, with no other contender's idle threads (onnxruntime's pool, OpenMP teams) spinning or
 * counting against libgomp's spin budget (native/loader.ts).
 */
async function timeContenders(contenders: Contender[], runs: number, warmup: number, rounds = 5, blockMs = 150): Promise<number[]> {
  const samples = contenders.map(() => [] as number[]);
  const perBlock = Math.ceil(runs / rounds);
  for (let round = 0; round < rounds; round++)
    for (let c = 0; c < contenders.length; c++) {
      const session = await contenders[c].open();
      try {
        for (let i = 0; i < warmup; i++) await session.run();
        const start = performance.now();
        for (let i = 0; i < 200 && (i < perBlock || performance.now() - start < blockMs); i++) {
          const t0 = performance.now();
          await session.run();
          samples[c].push(performance.now() - t0);
        }
      } finally {
        await session.close();
      }
    }
  return samples.map((x) => timing(x).medianMs);
}

export interface HybridRow {
  model: string;
  /** Median ms per variant. */
  variants: Record<string, number>;
  /** Stages of the hybrid schedules with a thread count searched in, of all stages. */
  hybridStages: Record<string, [number, number]>;
  bestSequentialMs: number;
  bestHybrid: string;
  bestHybridMs: number;
  /** best hybrid ÷ best sequential (≤ 1: the target). */
  ratio: number;
}

/**
 * (h) Hybrid inter/intra-op parallelism on 2 cores: Inception-v3, NASNet-A Mobile and RandWire at
 * batch 1 (optimised graphs). Sequential with 1- and with 2-thread ops against IOS-DP whose search
 * also picks each stage's per-group thread counts (graphs/cost/threads.ts), priced by the
 * roofline:cpu-2core model and by measured costs (native/measured-cost.ts, `measureBudgetMs` of
 * measuring, the rest by the scaled roofline); the hybrid schedules run on 2 streams.
 */
export async function hybridTable({
  models = ['inception_v3', 'nasnet_mobile', 'randwire'],
  runs = 9,
  warmup = 2,
  measureBudgetMs = 20_000,
  optimize,
}: {
  models?: string[];
  runs?: number;
  warmup?: number;
  measureBudgetMs?: number;
  optimize: (g: Graph) => Graph;
}): Promise<HybridRow[]> {
  const rows: HybridRow[] = [];
  for (const model of models) {
    const g = optimize(buildModel(model, { batch: 1 }));
    const seq = sequentialSchedule(g);
    const hybrid = (base: CostModel) => {
      const cost = new ThreadChoiceCostModel(base, 2);
      return assignThreads(g, partition(g, 'ios-dp', cost, { timeBudgetMs: measureBudgetMs }).schedule, cost);
    };
    const roofline = hybrid(new RooflineCostModel(devicePreset('cpu-2core')));
    const meter = await MeasuredCostModel.create(g, { streams: 2, opThreads: 1, budgetMs: measureBudgetMs });
    let measured: Schedule;
    try {
      measured = hybrid(meter);
    } finally {
      meter.close();
    }
    const hybrids: [string, Schedule][] = [
      ['hybrid ios-dp (roofline), 2 streams', roofline],
      ['hybrid ios-dp (measured), 2 streams', measured],
    ];
    const contenders: Contender[] = [
      nativeContender('sequential, 1-thread ops', { streams: 1, opThreads: 1 }, g, seq),
      nativeContender('sequential, 2-thread ops', { streams: 1, opThreads: 2 }, g, seq),
      ...hybrids.map(([name, s]) => nativeContender(name, { streams: 2, opThreads: 1 }, g, s)),
    ];
    const medians = await timeContenders(contenders, runs, warmup);
    const variants = Object.fromEntries(contenders.map((c, i) => [c.name, medians[i]]));
    const bestSequentialMs = Math.min(medians[0], medians[1]);
    const [bestHybrid, bestHybridMs] = hybrids.map(([n]) => [n, variants[n]] as const).sort((a, b) => a[1] - b[1])[0];
    rows.push({
      model,
      variants,
      hybridStages: Object.fromEntries(hybrids.map(([n, s]) => [n, [s.stages.filter((st) => st.threads).length, s.stages.length]])),
      bestSequentialMs,
      bestHybrid,
      bestHybridMs,
      ratio: bestHybridMs / bestSequentialMs,
    });
  }
  return rows;
}

/** One topsched variant: an executor of its own with the model loaded and run until its ops' thread counts are settled. */
function nativeContender(name: string, opts: NativeExecutorOptions, graph: Graph, schedule: Schedule): Contender {
  return {
    name,
    open: async () => {
      const ex = new NativeExecutor(opts);
      try {
        const model = await ex.loadModel(graph);
        await runWhileMeasuringThreads(() => ex.run([{ model, schedule }])); // untimed
        return {
          run: async () => {
            const r = await ex.run([{ model, schedule }]);
            if (r.tasks[0].error) throw new Error(`${graph.name} (${name}): ${r.tasks[0].error}`);
          },
          close: () => ex.close(),
        };
      } catch (e) {
        ex.close();
        throw e;
      }
    },
  };
}

/** onnxruntime-node on the exported (unoptimised) graph, `threads` intra-op threads, all its graph optimisations. */
function ortContender(graph: Graph, threads: number): Contender {
  const model = exportOnnx(graph, { seed: 0 });
  const feeds = ortFeeds(graph);
  return {
    name: 'onnxruntime',
    open: async () => {
      const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1 });
      return { run: () => session.run(feeds), close: () => session.release() };
    },
  };
}
