/**
 * Parallel modes (MPInfer's question): when 2–4 models run concurrently on one device, how do
 * latency and frames per second compare under shared streams, one context per model
 * (time-sliced) and MPS-like spatial sharing, with pinned or pageable host buffers?
 *
 * Contexts, MPS and pinned memory are GPU concepts, and this task has no GPU: those rows come
 * from the discrete-event simulator (env/sim/modes.ts) on the roofline V100 preset. The measured
 * anchor is the native CPU executor: the same kind of concurrent-model loop on 1 stream vs 2.
 *
 * Both run a closed loop: every model keeps `inFlight` requests outstanding and resubmits one as
 * soon as one completes (sim), or every round submits one request per model and waits for all
 * (native: `NativeExecutor.run` settles a batch of tasks together).
 */
import { cpus, loadavg } from 'node:os';
import { PARALLEL_MODES, type ParallelMode, type TransferMode } from '../../env/sim/modes.js';
import { Simulator } from '../../env/sim/simulator.js';
import { costModelFromSpec, RooflineCostModel } from '../../graphs/cost/index.js';
import { devicePreset } from '../../graphs/cost/roofline.js';
import type { Graph } from '../../graphs/ir.js';
import { partition } from '../../graphs/partition/index.js';
import { sequentialSchedule } from '../../graphs/schedule.js';
import { buildModel } from '../../graphs/zoo/index.js';
import { NativeExecutor } from '../../native/index.js';
import { table } from '../format.js';
import { machineLine, writeFileAtomic } from '../machine.js';
import { barChart, plotMarkdown, writePlot } from '../plot.js';

export interface ParallelModesOptions {
  /** Markdown path; plots go next to it. */
  out?: string;
  log?: (line: string) => void;
  /** Model pool, first k used for k concurrent models. Default squeezenet1_1, mobilenet_v2, resnet50, inception_v3. */
  models?: string[];
  /** Concurrent model counts (simulator). Default [2, 3, 4]. */
  counts?: number[];
  /** Batch sizes of every request (simulator). Default [1, 8]. */
  batches?: number[];
  /** Simulated cost model (a roofline GPU preset). Default 'roofline:v100'. */
  cost?: string;
  /** Streams of the device (streams mode) or of each context / MPS client. Default 2. */
  streams?: number;
  /** Requests each model keeps outstanding. Default 2. */
  inFlight?: number;
  /** Simulated time per configuration, ms (the first 10 % is warm-up). Default 2000. */
  simMs?: number;
  /** Native anchor: model pool and counts (first k models). Default the first 3 of `models`, counts [2, 3]. */
  nativeModels?: string[];
  nativeCounts?: number[];
  /** Native rounds per stream setting (after 2 warm-up rounds). Default 16. */
  nativeRounds?: number;
}

export interface SimRow {
  models: number;
  batch: number;
  mode: ParallelMode;
  transfers: TransferMode;
  /** Images per second, all models together. */
  fps: number;
  /** Mean request latency over all models, ms. */
  meanMs: number;
  p95Ms: number;
  /** Per-model mean latency, ms. */
  perModelMs: number[];
}

export interface NativeRow {
  models: number;
  streams: number;
  fps: number;
  /** Mean task latency (first op to last), ms. */
  meanMs: number;
  /** Median wall time of one round (every model once), ms. */
  roundMs: number;
}

export interface ParallelModesResult {
  device: string;
  models: string[];
  sim: SimRow[];
  nativeModels: string[];
  native: NativeRow[];
  /** 1-minute load average just before the native runs: other jobs on the cores (the runs' own 2 streams would add ~2). */
  loadAvg: number;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : 0;
};
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/** One closed-loop simulation: each model keeps `inFlight` requests outstanding for `simMs`. */
export function simClosedLoop(
  graphs: Graph[],
  o: { mode: ParallelMode; transfers: TransferMode; batch: number; streams: number; inFlight: number; simMs: number; cost: string },
): Omit<SimRow, 'models' | 'batch' | 'mode' | 'transfers'> {
  const cost = costModelFromSpec(o.cost);
  if (!(cost instanceof RooflineCostModel)) throw new Error(`option 'cost': parallel modes need a roofline device preset, got '${o.cost}'`);
  const sims = graphs.map((g) => ({ name: g.name, graph: g, schedules: [partition(g, 'greedy', cost).schedule], weightBytes: 0 }));
  // Same stream count in every mode: `streams` shares k·S streams, the others give each model S.
  const streams = o.mode === 'streams' ? o.streams * graphs.length : o.streams;
  const sim = new Simulator(sims, { cost, device: cost.device, streams, mode: o.mode, transfers: o.transfers });
  const plans = sims.map((_, m) => sim.plan(m, 0, o.batch));
  const warm = 0.1 * o.simMs;
  const submitAt: number[] = [];
  const modelOf: number[] = [];
  const lat: number[][] = graphs.map(() => []);
  const submit = (m: number) => {
    const id = submitAt.length;
    submitAt.push(sim.now);
    modelOf.push(m);
    sim.submit(id, m, plans[m]);
  };
  for (let k = 0; k < o.inFlight; k++) for (let m = 0; m < graphs.length; m++) submit(m);
  let done = 0;
  while (sim.now < o.simMs) {
    const t = Math.min(sim.nextEventTime(), o.simMs);
    sim.advance(t);
    const n = sim.completedCount;
    sim.completedCount = 0;
    for (let i = 0; i < n; i++) {
      const id = sim.completedIds[i];
      const at = sim.completedAt[i];
      const m = modelOf[id];
      if (at >= warm) {
        lat[m].push(at - submitAt[id]);
        done++;
      }
      submit(m);
    }
  }
  const all = lat.flat();
  return { fps: (done * o.batch) / ((o.simMs - warm) / 1000), meanMs: mean(all), p95Ms: quantile(all, 0.95), perModelMs: lat.map(mean) };
}

/** The native anchor: k models, one request each per round, on 1 stream vs 2 (interleaved rounds). */
export async function nativeConcurrent(names: string[], rounds: number): Promise<NativeRow[]> {
  const ex = new NativeExecutor({ streams: 2 });
  try {
    const graphs = names.map((n) => buildModel(n, { batch: 1 }));
    const handles = await Promise.all(graphs.map((g) => ex.loadModel(g)));
    const items = handles.map((model, i) => ({ model, schedule: sequentialSchedule(graphs[i]) }));
    const wall: Record<number, number[]> = { 1: [], 2: [] };
    const lat: Record<number, number[]> = { 1: [], 2: [] };
    for (let r = 0; r < rounds + 2; r++) {
      for (const streams of [1, 2]) {
        const t0 = performance.now();
        const rep = await ex.run(items, { streams, memory: 'planned' });
        const w = performance.now() - t0;
        if (r < 2) continue;
        wall[streams].push(w);
        lat[streams].push(...rep.tasks.map((t) => t.latencyMs));
      }
    }
    return [1, 2].map((streams) => {
      const total = wall[streams].reduce((a, b) => a + b, 0);
      return {
        models: names.length,
        streams,
        fps: (names.length * rounds) / (total / 1000),
        meanMs: mean(lat[streams]),
        roundMs: quantile(wall[streams], 0.5),
      };
    });
  } finally {
    ex.close();
  }
}

export async function parallelModes(o: ParallelModesOptions = {}): Promise<{ result: ParallelModesResult; md: string }> {
  const log = o.log ?? (() => {});
  const pool = o.models ?? ['squeezenet1_1', 'mobilenet_v2', 'resnet50', 'inception_v3'];
  const counts = o.counts ?? [2, 3, 4];
  const batches = o.batches ?? [1, 8];
  const costSpec = o.cost ?? 'roofline:v100';
  const streams = o.streams ?? 2;
  const inFlight = o.inFlight ?? 2;
  const simMs = o.simMs ?? 2000;
  for (const k of counts) if (k < 1 || k > pool.length) throw new Error(`option 'counts': ${k} models asked, the pool has ${pool.length}`);
  const graphs = pool.slice(0, Math.max(...counts)).map((n) => buildModel(n, { batch: 1 }));
  const transfersList: TransferMode[] = ['pinned', 'pageable'];
  const sim: SimRow[] = [];
  for (const k of counts)
    for (const batch of batches)
      for (const mode of PARALLEL_MODES)
        for (const transfers of transfersList) {
          const r = simClosedLoop(graphs.slice(0, k), { mode, transfers, batch, streams, inFlight, simMs, cost: costSpec });
          sim.push({ models: k, batch, mode, transfers, ...r });
          log(`parallel-modes: sim ${k} models b${batch} ${mode}/${transfers}: ${r.fps.toFixed(0)} img/s, mean ${r.meanMs.toFixed(2)} ms`);
        }
  const nativePool = o.nativeModels ?? pool.slice(0, 3);
  const nativeCounts = o.nativeCounts ?? [2, 3];
  const native: NativeRow[] = [];
  const loadBefore = loadavg()[0];
  for (const k of nativeCounts) {
    if (k > nativePool.length) throw new Error(`option 'nativeCounts': ${k} models asked, the native pool has ${nativePool.length}`);
    const rows = await nativeConcurrent(nativePool.slice(0, k), o.nativeRounds ?? 16);
    native.push(...rows);
    for (const r of rows) log(`parallel-modes: native ${k} models, ${r.streams} stream(s): ${r.fps.toFixed(1)} img/s, mean ${r.meanMs.toFixed(1)} ms`);
  }
  const device = devicePreset(costSpec.replace(/^roofline:/, '')).name;
  const result: ParallelModesResult = { device, models: pool.slice(0, Math.max(...counts)), sim, nativeModels: nativePool, native, loadAvg: loadBefore };
  const md = o.out ? await writeMarkdown(result, o, { streams, inFlight, simMs, counts, batches, nativeCounts }) : '';
  return { result, md };
}

async function writeMarkdown(
  r: ParallelModesResult,
  o: ParallelModesOptions,
  s: { streams: number; inFlight: number; simMs: number; counts: number[]; batches: number[]; nativeCounts: number[] },
): Promise<string> {
  const out = o.out as string;
  const dir = out.replace(/[^/]*$/, '');
  const label = (x: SimRow) => `${x.mode}, ${x.transfers}`;
  const cat = (x: SimRow) => `${x.models} models, batch ${x.batch}`;
  const fpsBase = `${dir}parallel-modes-fps`;
  const latBase = `${dir}parallel-modes-latency`;
  const natBase = `${dir}parallel-modes-native`;
  const data = r.sim.map((x) => ({ config: cat(x), mode: label(x), fps: x.fps, latency: x.meanMs }));
  await writePlot(
    barChart({
      title: `Simulated ${r.device}: throughput per parallel mode`,
      data,
      category: { field: 'config', title: 'models, batch' },
      value: { field: 'fps', title: 'images / s', log: true },
      group: { field: 'mode', title: 'mode, host buffers' },
    }),
    fpsBase,
  );
  await writePlot(
    barChart({
      title: `Simulated ${r.device}: mean latency per parallel mode`,
      data,
      category: { field: 'config', title: 'models, batch' },
      value: { field: 'latency', title: 'mean latency (ms)', log: true },
      group: { field: 'mode', title: 'mode, host buffers' },
    }),
    latBase,
  );
  await writePlot(
    barChart({
      title: 'Native CPU executor: concurrent models, 1 vs 2 streams',
      data: r.native.map((x) => ({ config: `${x.models} models`, streams: `${x.streams} stream${x.streams > 1 ? 's' : ''}`, fps: x.fps })),
      category: { field: 'config', title: 'concurrent models' },
      value: { field: 'fps', title: 'images / s' },
      group: { field: 'streams', title: 'streams' },
    }),
    natBase,
  );
  const find = (k: number, b: number, m: ParallelMode, t: TransferMode) =>
    r.sim.find((x) => x.models === k && x.batch === b && x.mode === m && x.transfers === t) as SimRow;
  // Verdicts computed from the rows: which mode wins FPS per configuration, and what pinned buys.
  const configs = s.counts.flatMap((k) => s.batches.map((b) => [k, b] as const));
  const winners = configs.map(([k, b]) => {
    const best = PARALLEL_MODES.map((m) => find(k, b, m, 'pinned')).sort((a, c) => c.fps - a.fps)[0];
    return `${k} models/batch ${b}: ${best.mode}`;
  });
  const pinGain = r.sim.filter((x) => x.transfers === 'pinned').map((x) => x.fps / find(x.models, x.batch, x.mode, 'pageable').fps - 1);
  const ctxLoss = configs.map(([k, b]) => 1 - find(k, b, 'contexts', 'pinned').fps / find(k, b, 'streams', 'pinned').fps);
  const nat = s.nativeCounts.map((k) => {
    const one = r.native.find((x) => x.models === k && x.streams === 1) as NativeRow;
    const two = r.native.find((x) => x.models === k && x.streams === 2) as NativeRow;
    return { k, speedup: two.fps / one.fps, one, two };
  });
  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  const md = [
    '# Parallel modes: streams vs contexts vs MPS, pinned vs pageable (MPInfer)',
    '',
    `Several models run concurrently on one device in a closed loop (each model keeps ${s.inFlight} requests outstanding and`,
    'resubmits as soon as one completes); we measure the total images per second and the request latency. Contexts, MPS',
    `and pinned host memory are GPU mechanisms and this machine has no GPU, so those rows come from the discrete-event`,
    `simulator (env/sim/modes.ts — the modes behind \`topsched/AsyncInference{,Contexts,MPS}-v0\`) on the roofline`,
    `${r.device} preset: \`streams\` = one context, k × ${s.streams} streams shared by all k models; \`contexts\` = one context per`,
    `model with ${s.streams} streams each, time-sliced (2 ms slices, 0.1 ms switch); \`mps\` = one MPS client per model with`,
    `${s.streams} streams each and an equal SM cap (1/k); host buffers pinned (DMA on copy engines at 12 GB/s, overlapping`,
    'compute) or pageable (5 GB/s, holding a stream). Every model runs its greedy partition. The measured anchor is the',
    'native CPU executor: k models, one request each per round (a round waits for all), on 1 stream vs 2.',
    '',
    `Machine: ${machineLine()}`,
    '',
    `Backend: simulator on roofline preset ${r.device} (modes, transfers); native CPU executor (oneDNN, 1 thread per op) for the stream anchor`,
    '',
    'Command: `npx topsched reproduce parallel-modes`',
    '',
    `Settings (scaled down): models ${r.models.join(', ')} (first k of them for k = ${s.counts.join(', ')}), batch ${s.batches.join(' and ')},`,
    `${s.simMs} ms simulated per configuration (first 10 % warm-up dropped); native: ${r.nativeModels.join(', ')} (first k for k = ${s.nativeCounts.join(', ')}),`,
    `batch 1, sequential schedules, planned memory, ${o.nativeRounds ?? 16} rounds per stream setting after 2 warm-up rounds, interleaved.`,
    '',
    '## Simulated (roofline GPU preset)',
    '',
    plotMarkdown('Throughput per mode', fpsBase),
    '',
    plotMarkdown('Latency per mode', latBase),
    '',
    '```',
    table(
      ['models', 'batch', 'mode', 'host buffers', 'images/s', 'mean ms', 'p95 ms', 'per-model mean ms'],
      r.sim.map((x) => [
        x.models,
        x.batch,
        x.mode,
        x.transfers,
        x.fps.toFixed(0),
        x.meanMs.toFixed(2),
        x.p95Ms.toFixed(2),
        x.perModelMs.map((v) => v.toFixed(2)).join(' / '),
      ]),
    ),
    '```',
    '',
    '## Measured: native CPU executor, 1 vs 2 streams',
    '',
    plotMarkdown('Native streams', natBase),
    '',
    '```',
    table(
      ['models', 'streams', 'images/s', 'mean task ms', 'median round ms'],
      r.native.map((x) => [x.models, x.streams, x.fps.toFixed(1), x.meanMs.toFixed(2), x.roundMs.toFixed(2)]),
    ),
    '```',
    '',
    '## Verdict',
    '',
    `- Highest throughput with pinned buffers: ${winners.join('; ')}.`,
    `- Time-sliced contexts vs shared streams (pinned): ${configs.map(([k, b], i) => `${pct(-ctxLoss[i])} (${k}/b${b})`).join(', ')} images/s${
      ctxLoss.every((x) => x > 0)
        ? " — always lower: only one model's kernels are on the device at a time, so a small model cannot fill it"
        : ctxLoss.some((x) => x > 0)
          ? " — lower where one model's kernels cannot fill the device during its slice; higher where, on shared in-order streams, a small model's work waits behind a large model's (head of line) for longer than the switches leave the device idle"
          : " — higher everywhere: on shared in-order streams work waits behind other models' work (head of line) longer than the switches leave the device idle"
    }.`,
    `- MPS vs shared streams (pinned): ${configs.map(([k, b]) => `${pct(find(k, b, 'mps', 'pinned').fps / find(k, b, 'streams', 'pinned').fps - 1)} (${k}/b${b})`).join(', ')} images/s; mean latency ${configs.map(([k, b]) => `${find(k, b, 'mps', 'pinned').meanMs.toFixed(2)} vs ${find(k, b, 'streams', 'pinned').meanMs.toFixed(2)} ms`).join(', ')}.`,
    `- Pinned over pageable buffers changes images/s by ${pct(Math.min(...pinGain))} to ${pct(Math.max(...pinGain))} (mean ${pct(pinGain.reduce((a, b) => a + b, 0) / pinGain.length)}); pinned slower in ${
      r.sim
        .filter((x) => x.transfers === 'pinned' && x.fps < find(x.models, x.batch, x.mode, 'pageable').fps)
        .map((x) => `${x.mode} ${x.models}/b${x.batch}`)
        .join(', ') || 'no configuration'
    }; by batch: ${s.batches.map((b) => `batch ${b} mean ${pct(mean(r.sim.filter((x) => x.transfers === 'pinned' && x.batch === b).map((x) => x.fps / find(x.models, x.batch, x.mode, 'pageable').fps - 1)))}`).join(', ')} — a pageable copy holds one of the model's streams, a pinned one runs on a copy engine.`,
    `- Native CPU, 2 streams vs 1: ${nat.map((n) => `${n.k} models ${n.speedup.toFixed(2)}× (${n.one.fps.toFixed(1)} → ${n.two.fps.toFixed(1)} img/s)`).join('; ')}. Each stream is one core here, so the gain needs an otherwise idle machine; the 1-minute load average before the native runs was ${r.loadAvg.toFixed(1)} on ${cpus().length} cores${r.loadAvg > 0.5 * cpus().length ? ' — other jobs held the cores, so these native figures are those of a contended machine' : ''}.`,
    '',
  ].join('\n');
  writeFileAtomic(out, md);
  return md;
}
