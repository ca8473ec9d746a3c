/**
 * `interference`: an Optimum-style co-location interference predictor, trained and judged on
 * slowdowns measured on the native CPU executor.
 *
 * Measurement: every model instance (zoo model at a batch size) gets its own NativeExecutor (one
 * stream, 2 op threads — each model alone would use the whole 2-core machine); a combination runs
 * its members' executors at once, each looping its model back to back until every member has
 * finished `minRuns` + 1 runs. Only runs that ended before the first member stopped count, so
 * every counted run overlapped the others throughout. The profiler's co-run pairs
 * (native/profile.ts) time single ops on two streams of one executor; model-level co-location
 * needs whole models looping side by side, hence this loop. Slowdown = fastest overlapped co-run
 * latency ÷ fastest solo latency timed just before (see coRun).
 *
 * Evaluation: k-fold cross-validation by combination (a combination's samples share a fold, so
 * held-out combinations are never seen in training); MLP vs ridge regression vs the training
 * mean. Placement: for seeded subsets of instances, pair them up with the least predicted total
 * slowdown and compare with the exhaustive search on measured slowdowns (regret).
 */

import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import seedrandom from 'seedrandom';
import { initBackend } from '../../agents/backend.js';
import {
  bestPairing,
  comboFolds,
  comboKey,
  InterferencePredictor,
  type InterferenceSample,
  LinearInterference,
  type ModelFeatures,
  mape,
  modelFeatures,
  sampleCombo,
} from '../../agents/interference.js';
import { median } from '../../env/stats.js';
import type { Graph } from '../../graphs/ir.js';
import { type Schedule, sequentialSchedule } from '../../graphs/schedule.js';
import { buildModel } from '../../graphs/zoo/index.js';
import { type ModelHandle, NativeExecutor } from '../../native/index.js';
import { table } from '../format.js';
import { machineLine, writeFileAtomic } from '../machine.js';
import { type PlotSpec, plotMarkdown, writePlot } from '../plot.js';

export interface InterferenceOptions {
  /** Results file (docs/results/interference.md); plots go next to it. */
  out?: string;
  log?: (line: string) => void;
  /** Instances `model@batch`. Default: 11 instances of 8 zoo models at batch 1–4. */
  instances?: string[];
  /** Seeded random triples measured besides all pairs. Default 12. */
  triples?: number;
  /** Runs every member completes in a co-run (plus one); also the pre-co-run solo runs (plus one). Default 1. */
  minRuns?: number;
  /** Solo runs per instance at the start (fastest). Default 5. */
  soloRuns?: number;
  /** Cross-validation folds over combinations. Default 4. */
  folds?: number;
  epochs?: number;
  /** Placement subsets (6 instances each). Default 12. */
  placementSets?: number;
  placementSize?: number;
  seed?: number;
}

export const DEFAULT_INSTANCES = [
  'squeezenet1_1@1',
  'squeezenet1_1@4',
  'mobilenet_v2@1',
  'mobilenet_v2@4',
  'resnet50@1',
  'inception_v3@1',
  'randwire@1',
  'nasnet_mobile@1',
  'bert_layer@1',
  'bert_layer@4',
  'din@4',
];

export interface ComboMeasurement {
  members: string[];
  /** Fastest fully overlapped co-run latency per member, ms. */
  corunMs: number[];
  /** Fastest solo latency per member, timed just before the co-run, ms. */
  soloMs: number[];
  slowdown: number[];
}

export interface InterferenceResult {
  solo: Record<string, number>;
  combos: ComboMeasurement[];
  /** Out-of-fold MAPE (%) on held-out combinations and mean in-fold (train) MAPE. */
  mape: { model: string; train: number; heldOut: number }[];
  placement: { set: string[]; optimal: number; mlp: number; linear: number; meanRandom: number }[];
  /** Per sample: measured, out-of-fold MLP prediction, prediction of the MLP fitted on all. */
  points: { combo: string; member: string; measured: number; heldOut: number; fitted: number }[];
  timings: { measureS: number; fitS: number };
  /** 1-minute load average of the machine before and after measuring (other processes' load skews co-run timings). */
  load: { before: number; after: number; cores: number };
}

function parseInstance(spec: string): { model: string; batch: number } {
  const m = /^([A-Za-z0-9_]+)@(\d+)$/.exec(spec);
  if (!m || Number(m[2]) < 1) throw new Error(`interference: instance '${spec}' is not 'model@batch'`);
  return { model: m[1], batch: Number(m[2]) };
}

/** One executor per co-run slot; models loaded lazily per slot. */
class Slots {
  readonly ex: NativeExecutor[] = [];
  private readonly handles: Map<string, ModelHandle>[] = [];
  constructor(
    n: number,
    private readonly graphs: Map<string, { graph: Graph; schedule: Schedule }>,
  ) {
    for (let i = 0; i < n; i++) {
      this.ex.push(new NativeExecutor({ streams: 1, opThreads: 2 }));
      this.handles.push(new Map());
    }
  }
  async runOnce(slot: number, key: string): Promise<number> {
    let h = this.handles[slot].get(key);
    const g = this.graphs.get(key) as { graph: Graph; schedule: Schedule };
    if (!h) {
      h = await this.ex[slot].loadModel(g.graph);
      this.handles[slot].set(key, h);
      await this.ex[slot].run([{ model: h, schedule: g.schedule }]); // warm-up: prepare + first-touch
    }
    return (await this.ex[slot].run([{ model: h, schedule: g.schedule }])).tasks[0].latencyMs;
  }
  close(): void {
    for (const e of this.ex) e.close();
  }
}

/**
 * Co-runs `members` (one slot each); returns each member's fastest overlapped latency and its
 * fastest solo latency measured just before, on the same slot. Background load from other
 * processes only ever adds time and drifts over seconds, so minima taken close together estimate
 * the interference between the members themselves; medians taken minutes apart did not (on a
 * loaded machine they gave "slowdowns" of 0.04×).
 */
async function coRun(slots: Slots, members: string[], minRuns: number): Promise<{ corun: number[]; solo: number[] }> {
  const runs: { end: number; ms: number }[][] = members.map(() => []);
  let stop = false;
  const exits: number[] = [];
  const solo: number[] = [];
  for (let i = 0; i < members.length; i++) {
    const xs: number[] = [];
    for (let r = 0; r <= minRuns; r++) xs.push(await slots.runOnce(i, members[i]));
    solo.push(Math.min(...xs));
  }
  await Promise.all(
    members.map(async (key, i) => {
      while (!stop) {
        const ms = await slots.runOnce(i, key);
        runs[i].push({ end: performance.now(), ms });
        if (runs.every((r) => r.length > minRuns)) stop = true;
      }
      exits.push(performance.now());
    }),
  );
  const firstExit = Math.min(...exits);
  const corun = runs.map((r, i) => {
    const counted = r.filter((x) => x.end <= firstExit).map((x) => x.ms);
    if (!counted.length) throw new Error(`interference: no overlapped run of '${members[i]}' in combo ${members.join('+')}`);
    return Math.min(...counted);
  });
  return { corun, solo };
}

export async function interferenceExperiment(opts: InterferenceOptions = {}): Promise<InterferenceResult> {
  const log = opts.log ?? (() => {});
  const instances = opts.instances ?? DEFAULT_INSTANCES;
  const minRuns = opts.minRuns ?? 1;
  const seed = opts.seed ?? 0;
  const nFolds = opts.folds ?? 4;
  const t0 = performance.now();
  const loadBefore = loadavg()[0];
  const graphs = new Map<string, { graph: Graph; schedule: Schedule }>();
  for (const spec of instances) {
    const { model, batch } = parseInstance(spec);
    const graph = buildModel(model, { batch });
    graphs.set(spec, { graph, schedule: sequentialSchedule(graph) });
  }
  const rng = seedrandom(`interference-${seed}`);
  const combos: string[][] = [];
  for (let i = 0; i < instances.length; i++) for (let j = i; j < instances.length; j++) combos.push([instances[i], instances[j]]);
  const seen = new Set<string>();
  for (let tries = 0; seen.size < (opts.triples ?? 12) && tries < 1000; tries++) {
    const t = [0, 1, 2].map(() => instances[Math.floor(rng() * instances.length)]);
    const k = comboKey(t);
    if (new Set(t).size < 3 || seen.has(k)) continue;
    seen.add(k);
    combos.push(t);
  }
  const slots = new Slots(3, graphs);
  const features = new Map<string, ModelFeatures>();
  const measured: ComboMeasurement[] = [];
  const soloRuns = new Map<string, number[]>();
  try {
    for (const key of instances) {
      const xs: number[] = [];
      await slots.runOnce(0, key);
      for (let r = 0; r < (opts.soloRuns ?? 5); r++) xs.push(await slots.runOnce(0, key));
      soloRuns.set(key, [Math.min(...xs)]);
      log(`interference: solo ${key} ${median(xs).toFixed(2)} ms`);
    }
    for (const c of combos) {
      const { corun, solo } = await coRun(slots, c, minRuns);
      const slowdown = corun.map((ms, i) => ms / solo[i]);
      c.forEach((k, i) => {
        soloRuns.get(k)?.push(solo[i]);
      });
      measured.push({ members: c, corunMs: corun, soloMs: solo, slowdown });
      log(`interference: ${c.join(' + ')} slowdown ${slowdown.map((s) => s.toFixed(2)).join(' / ')}`);
    }
  } finally {
    slots.close();
  }
  // The solo-latency feature: the median of the fastest solo timings (the first and every pre-co-run one).
  for (const key of instances) features.set(key, modelFeatures((graphs.get(key) as { graph: Graph }).graph, median(soloRuns.get(key) as number[]), key));
  const measureS = (performance.now() - t0) / 1000;
  const loadAfter = loadavg()[0];

  const samples: InterferenceSample[] = [];
  for (const m of measured)
    m.members.forEach((key, i) => {
      samples.push({
        self: features.get(key) as ModelFeatures,
        others: m.members.filter((_, j) => j !== i).map((k) => features.get(k) as ModelFeatures),
        slowdown: m.slowdown[i],
      });
    });
  await initBackend(undefined, { log });
  const t1 = performance.now();
  const fold = comboFolds(samples, nFolds, `folds-${seed}`);
  const oof = { mlp: new Array<number>(samples.length), linear: new Array<number>(samples.length), mean: new Array<number>(samples.length) };
  const train = { mlp: 0, linear: 0, mean: 0 };
  const fitOpts = { epochs: opts.epochs ?? 300, seed, hidden: [16, 16], l2: 1e-2 };
  for (let f = 0; f < nFolds; f++) {
    const tr = samples.filter((_, i) => fold[i] !== f);
    const teIdx = samples.map((_, i) => i).filter((i) => fold[i] === f);
    const mlp = await InterferencePredictor.fit(tr, fitOpts);
    const lin = LinearInterference.fit(tr);
    const mean = tr.reduce((s, x) => s + x.slowdown, 0) / tr.length;
    const trY = tr.map((s) => s.slowdown);
    train.mlp += mape(mlp.predictMany(tr), trY) / nFolds;
    train.linear +=
      mape(
        tr.map((s) => lin.predict(s.self, s.others)),
        trY,
      ) / nFolds;
    train.mean +=
      mape(
        tr.map(() => mean),
        trY,
      ) / nFolds;
    const te = teIdx.map((i) => samples[i]);
    const p = mlp.predictMany(te);
    teIdx.forEach((i, k) => {
      oof.mlp[i] = p[k];
      oof.linear[i] = lin.predict(samples[i].self, samples[i].others);
      oof.mean[i] = mean;
    });
    mlp.dispose();
  }
  const y = samples.map((s) => s.slowdown);
  const full = await InterferencePredictor.fit(samples, fitOpts);
  const fitted = full.predictMany(samples);
  if (opts.out) writeFileAtomic(join(dirname(opts.out), 'interference-model.json'), `${JSON.stringify(full.toJSON())}\n`);
  full.dispose();
  const fitS = (performance.now() - t1) / 1000;

  // Placement over pairs: cost of a pair = both members' slowdowns (measured or out-of-fold predicted).
  const pairCost = (src: 'measured' | 'mlp' | 'linear') => {
    const m = new Map<string, number>();
    samples.forEach((s, i) => {
      if (s.others.length !== 1) return;
      const v = src === 'measured' ? s.slowdown : oof[src][i];
      const k = sampleCombo(s);
      m.set(k, (m.get(k) ?? 0) + v);
    });
    return (a: string, b: string) => m.get(comboKey([a, b])) as number;
  };
  const measuredCost = pairCost('measured');
  const size = opts.placementSize ?? 6;
  const placement: InterferenceResult['placement'] = [];
  const prng = seedrandom(`placement-${seed}`);
  for (let s = 0; s < (opts.placementSets ?? 12); s++) {
    const pool = [...instances];
    const set: string[] = [];
    const want = Math.min(size, instances.length - (instances.length % 2));
    while (set.length < want) set.push(pool.splice(Math.floor(prng() * pool.length), 1)[0]);
    const total = (pairs: [string, string][]) => pairs.reduce((t, [a, b]) => t + measuredCost(a, b), 0);
    const opt = bestPairing(set, measuredCost);
    // The mean over all matchings (what a random pairing costs on average).
    const all: number[] = [];
    const enumerate = (free: string[], acc: number): void => {
      if (!free.length) {
        all.push(acc);
        return;
      }
      const [a, ...rest] = free;
      for (let i = 0; i < rest.length; i++) enumerate([...rest.slice(0, i), ...rest.slice(i + 1)], acc + measuredCost(a, rest[i]));
    };
    enumerate(set, 0);
    placement.push({
      set,
      optimal: opt.total,
      mlp: total(bestPairing(set, pairCost('mlp')).pairs),
      linear: total(bestPairing(set, pairCost('linear')).pairs),
      meanRandom: all.reduce((a, b) => a + b, 0) / all.length,
    });
  }
  const result: InterferenceResult = {
    solo: Object.fromEntries([...features].map(([k, f]) => [k, f.soloMs])),
    combos: measured,
    mape: [
      { model: 'MLP (tfjs)', train: train.mlp, heldOut: mape(oof.mlp, y) },
      { model: 'ridge regression', train: train.linear, heldOut: mape(oof.linear, y) },
      { model: 'training mean', train: train.mean, heldOut: mape(oof.mean, y) },
    ],
    placement,
    points: samples.map((s, i) => ({ combo: sampleCombo(s), member: s.self.key, measured: s.slowdown, heldOut: oof.mlp[i], fitted: fitted[i] })),
    timings: { measureS, fitS },
    load: { before: loadBefore, after: loadAfter, cores: cpus().length },
  };
  if (opts.out) await writeReport(result, opts, samples.length);
  return result;
}

function scatter(r: InterferenceResult): PlotSpec {
  const pts = [
    ...r.points.map((p) => ({ measured: p.measured, predicted: p.heldOut, set: 'held-out combos (out-of-fold)' })),
    ...r.points.map((p) => ({ measured: p.measured, predicted: p.fitted, set: 'training (fit on all)' })),
  ];
  const lo = Math.min(...pts.map((p) => Math.min(p.measured, p.predicted)));
  const hi = Math.max(...pts.map((p) => Math.max(p.measured, p.predicted)));
  return {
    title: 'Co-run slowdown: MLP prediction vs measurement (native CPU)',
    width: 420,
    height: 360,
    layer: [
      {
        data: {
          values: [
            { measured: lo, predicted: lo },
            { measured: hi, predicted: hi },
          ],
        },
        mark: { type: 'line', color: 'gray', strokeDash: [4, 4] },
        encoding: { x: { field: 'measured', type: 'quantitative' }, y: { field: 'predicted', type: 'quantitative' } },
      },
      {
        data: { values: pts },
        mark: { type: 'point', filled: true, opacity: 0.75 },
        encoding: {
          x: { field: 'measured', type: 'quantitative', title: 'measured slowdown (×, log)', scale: { type: 'log' } },
          y: { field: 'predicted', type: 'quantitative', title: 'predicted slowdown (×, log)', scale: { type: 'log' } },
          color: { field: 'set', type: 'nominal', title: 'points', legend: { labelLimit: 260 } },
          shape: { field: 'set', type: 'nominal', title: 'points' },
        },
      },
    ],
  } as PlotSpec;
}

async function writeReport(r: InterferenceResult, opts: InterferenceOptions, nSamples: number): Promise<void> {
  const out = opts.out as string;
  const base = join(dirname(out), 'interference');
  await writePlot(scatter(r), base);
  const f1 = (x: number) => x.toFixed(1);
  const f2 = (x: number) => x.toFixed(2);
  const pairs = r.combos.filter((c) => c.members.length === 2);
  const triples = r.combos.filter((c) => c.members.length === 3);
  const sd = r.combos.flatMap((c) => c.slowdown);
  const regret = (k: 'mlp' | 'linear' | 'meanRandom') => r.placement.map((p) => (100 * (p[k] - p.optimal)) / p.optimal);
  const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const hits = (k: 'mlp' | 'linear') => r.placement.filter((p) => p[k] <= p.optimal + 1e-9).length;
  const [mlp, lin, mean] = r.mape;
  // Only the load before measuring tells of other processes: the co-runs' own threads (up to 3
  // executors × 2 op threads) raise the load average during and after the measurement.
  const loaded = r.load.before > 1.5 * r.load.cores;
  const verdict =
    mlp.heldOut < lin.heldOut && mlp.heldOut < mean.heldOut
      ? `the MLP predicts held-out combinations best (${f1(mlp.heldOut)} % MAPE vs ${f1(lin.heldOut)} % ridge, ${f1(mean.heldOut)} % mean)`
      : `the MLP does not beat every baseline on held-out combinations (${f1(mlp.heldOut)} % MAPE vs ${f1(lin.heldOut)} % ridge, ${f1(mean.heldOut)} % mean)`;
  const md = [
    '# Interference prediction for co-located models (Optimum-style)',
    '',
    'Measured on the native CPU executor: each model instance (zoo model at a batch size) runs on its own executor (1 stream, 2 op threads),',
    "alone and then looping side by side with every other instance (all pairs, plus seeded triples); a member's slowdown is its fastest",
    'latency over runs that fully overlapped the others ÷ its fastest solo latency timed on the same executor just before the co-run. Each member of a combination is a sample whose features',
    "are its solo latency, FLOPs, bytes, parameters, activation bytes, arithmetic intensity, op count and batch, plus its co-runners' summed",
    'load. A tfjs MLP (hidden 16-16, L2 0.01, log-slowdown target, seeded) is scored by k-fold cross-validation split **by combination** (held-out',
    'combinations never appear in training), against ridge regression on the same features and the training mean. Placement: seeded',
    `subsets of ${opts.placementSize ?? 6} instances are paired up with the least predicted total slowdown (out-of-fold predictions) and compared`,
    'with exhaustive search on measured slowdowns.',
    '',
    `Machine: ${machineLine()}`,
    '',
    `Backend: cpu native (oneDNN), every executor 1 stream × 2 op threads. 1-minute load average before measuring ${r.load.before.toFixed(1)}, after ${r.load.after.toFixed(1)} (the after value includes the co-runs' own threads) on ${r.load.cores} cores` +
      (loaded
        ? ' — the machine was busy with other processes, whose threads share the cores fairly with ours, so these slowdowns mostly measure that background load, not the co-runners.'
        : ' (quiet).'),
    '',
    'Command: `npx topsched reproduce interference`',
    '',
    `Settings: ${Object.keys(r.solo).length} instances, ${pairs.length} pairs (self-pairs included) + ${triples.length} triples = ${nSamples} samples; ` +
      `co-run until every member finished ${(opts.minRuns ?? 1) + 1} runs; ${opts.folds ?? 4}-fold CV by combination; ${opts.epochs ?? 300} full-batch Adam epochs; ` +
      `${r.placement.length} placement subsets. Measuring took ${r.timings.measureS.toFixed(0)} s, fitting ${r.timings.fitS.toFixed(0)} s.`,
    '',
    '## Solo latency',
    '',
    '```',
    table(
      ['instance', 'solo ms'],
      Object.entries(r.solo).map(([k, v]) => [k, f2(v)]),
    ),
    '```',
    '',
    `Measured slowdowns range ${f2(Math.min(...sd))}×–${f2(Math.max(...sd))}× (mean ${f2(meanOf(sd))}×).`,
    '',
    '## Prediction error (MAPE, %)',
    '',
    '```',
    table(
      ['predictor', 'train MAPE', 'held-out combos MAPE'],
      r.mape.map((m) => [m.model, f1(m.train), f1(m.heldOut)]),
    ),
    '```',
    '',
    plotMarkdown('predicted vs measured slowdown', base),
    '',
    '## Placement: pair up a set of models (total slowdown, lower is better)',
    '',
    '```',
    table(
      ['set', 'optimal', 'MLP choice', 'ridge choice', 'random (mean)'],
      r.placement.map((p) => [p.set.join(' '), f2(p.optimal), f2(p.mlp), f2(p.linear), f2(p.meanRandom)]),
    ),
    '```',
    '',
    `Mean regret vs exhaustive search on measured slowdowns: MLP ${f1(meanOf(regret('mlp')))} % (optimal in ${hits('mlp')}/${r.placement.length}), ` +
      `ridge ${f1(meanOf(regret('linear')))} % (optimal in ${hits('linear')}/${r.placement.length}), a random pairing ${f1(meanOf(regret('meanRandom')))} %.`,
    '',
    '## Co-run measurements',
    '',
    '```',
    table(
      ['combination', 'slowdowns'],
      r.combos.map((c) => [c.members.join(' + '), c.slowdown.map(f2).join(' / ')]),
    ),
    '```',
    '',
    `Verdict: ${loaded ? '(measured on a loaded machine; rerun on a quiet one) ' : ''}${verdict}; placing by MLP predictions costs ${f1(meanOf(regret('mlp')))} % more total slowdown than the measured optimum, ` +
      `against ${f1(meanOf(regret('meanRandom')))} % for a random pairing.`,
    '',
  ].join('\n');
  writeFileAtomic(out, md);
}
