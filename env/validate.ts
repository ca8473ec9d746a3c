/**
 * How far the simulator is from the real backend: the same launches run on the native executor
 * and in the simulator, and their completion times are compared (design §5: the contention
 * model's error is measured, not assumed).
 *
 * Procedure: each model is profiled on the native executor (op latencies, and co-run pairs of its
 * concurrent stages); the simulator then prices ops with a ProfiledCostModel over those tables and
 * slows co-running ops with the contention model fitted to those pairs. Both run the same set of
 * launches, all released at t = 0 on S streams; the native run is repeated and each task's median
 * end time kept. Reported: makespan of each, and the mean absolute relative error of per-task
 * completion times.
 *
 * `calibrateOnNative` (the profiling and fitting step) is exported on its own, and the result
 * carries the calibration, so other comparisons (experiments/reproduce/sim-fidelity.ts runs the
 * env on both executors) use the same simulator without profiling again.
 */

import { type ProfileDocument, ProfiledCostModel } from '../graphs/cost/profiled.js';
import { type DeviceSpec, devicePreset, RooflineCostModel } from '../graphs/cost/roofline.js';
import type { Graph } from '../graphs/ir.js';
import { type PartitionMethod, partition } from '../graphs/partition/index.js';
import type { Schedule } from '../graphs/schedule.js';
import { type ModelHandle, NativeExecutor } from '../native/index.js';
import { profileModel } from '../native/profile.js';
import { type ContentionParams, contentionFromProfiles, fitContention } from './sim/contention.js';
import { Simulator } from './sim/simulator.js';
import { median, std } from './stats.js';

export interface SimVsNativeOptions {
  graphs: Graph[];
  /** Launches per model, all released at t = 0. Default 2. */
  launchesPerModel?: number;
  streams?: number;
  method?: PartitionMethod;
  /** Native repetitions (median per task). Default 5. */
  repeats?: number;
  /** Device spec for op shares. Default the `cpu-2core` preset. */
  device?: DeviceSpec;
}

export interface SimVsNativeResult {
  device: string;
  /** The calibration the simulator ran with (reusable for other simulator runs). */
  calibration: NativeCalibration;
  contention: ContentionParams;
  tasks: { model: string; nativeMs: number; simMs: number }[];
  nativeMakespanMs: number;
  simMakespanMs: number;
  /** Mean over tasks of |sim − native| / native. */
  meanAbsRelError: number;
}

/** What the simulator is calibrated with: the native profiles and what they price and fit. */
export interface NativeCalibration {
  /** Device spec used for op shares (contention demand). */
  device: DeviceSpec;
  /** The profiled device's name (backend, CPU, op threads). */
  deviceName: string;
  /** One schedule per graph: profiled, and the one both sides run. */
  schedules: Schedule[];
  profiles: ProfileDocument[];
  cost: ProfiledCostModel;
  /** Fitted from the profiles' co-run pairs; undefined when none were measured (roofline share). */
  contention?: ContentionParams;
  /**
   * What a launch costs on the executor beyond its profiled ops, ms, by model name (the
   * simulator's `launchOverheadMs`): a lone launch's median on-stream time (task begin to end) −
   * its priced alone latency, at least 0. The alone-op profile times ops inside repeated runs; a launch also pays
   * for submission, task begin and end, and caches gone cold between launches.
   */
  launchOverheadMs: Record<string, number>;
  /** By model name: σ of the log of the lone launches' on-stream times (the simulator's `launchJitter`). */
  launchJitter: Record<string, number>;
  /** Per model: the lone launch's median on-stream time, its priced alone latency (ms), and σ of its log. */
  launches: { model: string; measuredMs: number; pricedMs: number; logSd: number }[];
}

export interface CalibrateOptions {
  method?: PartitionMethod;
  device?: DeviceSpec;
}

/**
 * Profiles every graph (partitioned by `method` under the roofline model of `device`) on the native
 * executor `ex` — op latencies alone and co-run pairs of its concurrent stages — and returns the
 * ProfiledCostModel over those tables and the contention fitted from the pairs.
 */
export async function calibrateOnNative(ex: NativeExecutor, graphs: Graph[], handles: ModelHandle[], o: CalibrateOptions = {}): Promise<NativeCalibration> {
  const device = o.device ?? devicePreset('cpu-2core');
  const fallback = new RooflineCostModel(device);
  const schedules: Schedule[] = graphs.map((g) => partition(g, o.method ?? 'greedy', fallback).schedule);
  const profiles: ProfileDocument[] = [];
  for (let i = 0; i < graphs.length; i++) profiles.push(await profileModel(ex, handles[i], { schedule: schedules[i], warmup: 2, number: 3, repeat: 5 }));
  const cost = new ProfiledCostModel(profiles, fallback);
  const byName = new Map(graphs.map((g) => [g.name, g]));
  const withPairs = profiles.some((d) => d.pairs.length);
  const contention = withPairs ? fitContention(contentionFromProfiles(profiles, byName, device)) : undefined;
  const launches = await measureLaunches(ex, graphs, handles, schedules, cost);
  const launchOverheadMs = Object.fromEntries(launches.map((l) => [l.model, Math.max(0, l.measuredMs - l.pricedMs)]));
  const launchJitter = Object.fromEntries(launches.map((l) => [l.model, l.logSd]));
  return { device, deviceName: profiles[0].device.name, schedules, profiles, cost, contention, launchOverheadMs, launchJitter, launches };
}

/**
 * Lone launches (the executor otherwise idle), the models taking turns as they do under a mixed
 * load (so each launch finds caches holding the other models' data): per model over `rounds`,
 * the median on-stream time (begin to end on its stream) and the spread (σ of its log).
 */
async function measureLaunches(ex: NativeExecutor, graphs: Graph[], handles: ModelHandle[], schedules: Schedule[], cost: ProfiledCostModel, rounds = 21) {
  const t: number[][] = graphs.map(() => []);
  for (let r = -1; r < rounds; r++)
    for (let m = 0; m < graphs.length; m++) {
      const rep = await ex.run([{ model: handles[m], schedule: schedules[m] }]);
      // On-stream time only (task begin to end): the wait from submission to begin overlaps other work.
      if (r >= 0) t[m].push((rep.tasks[0].endUs - rep.tasks[0].beginUs) / 1000);
    }
  return graphs.map((g, m) => ({
    model: g.name,
    measuredMs: median(t[m]),
    pricedMs: schedules[m].stages.reduce((s, st) => s + cost.stageLatency(g, st), 0),
    logSd: std(t[m].map(Math.log)),
  }));
}

export async function simVsNative(o: SimVsNativeOptions): Promise<SimVsNativeResult> {
  const streams = o.streams ?? 2;
  const ex = new NativeExecutor({ streams });
  try {
    const handles = await Promise.all(o.graphs.map((g) => ex.loadModel(g)));
    const calibration = await calibrateOnNative(ex, o.graphs, handles, { method: o.method, device: o.device });
    const { schedules, cost, device, contention } = calibration;

    const per = o.launchesPerModel ?? 2;
    const order: number[] = [];
    for (let k = 0; k < per; k++) for (let m = 0; m < o.graphs.length; m++) order.push(m);

    // Native: repeated, median end per task (µs since submission → ms).
    const items = order.map((m) => ({ model: handles[m], schedule: schedules[m] }));
    await ex.run(items, { streams });
    const ends: number[][] = order.map(() => []);
    for (let r = 0; r < (o.repeats ?? 5); r++) {
      const rep = await ex.run(items, { streams });
      rep.tasks.forEach((t, i) => {
        ends[i].push((t.endUs - rep.submitUs) / 1000);
      });
    }
    const nativeMs = ends.map(median);

    const sim = new Simulator(
      o.graphs.map((g, m) => ({ name: g.name, graph: g, schedules: [schedules[m]], weightBytes: 0 })),
      { cost, device, streams, contention, launchOverheadMs: calibration.launchOverheadMs, launchJitter: calibration.launchJitter },
    );
    order.forEach((m, i) => {
      sim.submit(i, m, sim.plan(m, 0, o.graphs[m].batch));
    });
    while (!sim.idle()) sim.advance(sim.nextEventTime());
    const simMs = new Array<number>(order.length);
    for (let i = 0; i < sim.completedCount; i++) simMs[sim.completedIds[i]] = sim.completedAt[i];

    const tasks = order.map((m, i) => ({ model: o.graphs[m].name, nativeMs: nativeMs[i], simMs: simMs[i] }));
    const err = tasks.reduce((s, t) => s + Math.abs(t.simMs - t.nativeMs) / t.nativeMs, 0) / tasks.length;
    return {
      device: calibration.deviceName,
      calibration,
      contention: sim.contention,
      tasks,
      nativeMakespanMs: Math.max(...nativeMs),
      simMakespanMs: Math.max(...simMs),
      meanAbsRelError: err,
    };
  } finally {
    ex.close();
  }
}
