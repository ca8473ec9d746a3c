/**
 * Options of the AsyncInference env, their defaults, and their checks. Every bad option is an
 * EnvError naming it (`option 'levels[2]': ...`) and quoting the value.
 */
import { costModelFromSpec } from '../graphs/cost/index.js';
import type { CostModel } from '../graphs/cost/model.js';
import { isProfileDocument, type ProfileDocument } from '../graphs/cost/profiled.js';
import { type DeviceSpec, devicePreset, RooflineCostModel } from '../graphs/cost/roofline.js';
import type { Graph } from '../graphs/ir.js';
import type { PartitionMethod, PartitionOptions } from '../graphs/partition/index.js';
import type { Schedule } from '../graphs/schedule.js';
import { EnvError } from './core.js';
import type { EnvExecutor } from './executor.js';
import type { LaunchIO } from './native-wall-executor.js';
import type { RewardWeights } from './reward.js';
import { type ContentionParams, type ContentionProfile, contentionFromProfiles, fitContention, ROOFLINE_SHARE } from './sim/contention.js';
import type { ModeOptions } from './sim/modes.js';
import { loadWorkloadFile, parseWorkload, type Workload } from './workload.js';

export interface AsyncInferenceOptions extends ModeOptions {
  /** A Workload, a parsed workload document, or a path to a YAML/JSON workload file. */
  workload?: Workload | string | Record<string, unknown>;
  /** Graphs by model name, used instead of resolving zoo names / files. */
  graphs?: Record<string, Graph>;
  /** 'sim' (default), 'native', or an executor built by the caller. */
  executor?: 'sim' | 'native' | EnvExecutor;
  /**
   * Clock of the 'native' executor: 'wall' (default; real time, launches submitted at once and
   * running across decisions, the policy's decision time counted) or 'measured' (one native run
   * per epoch, env time = measured makespan; launches never straddle epochs).
   */
  clock?: 'wall' | 'measured';
  /**
   * Requests come from outside (`env.inject`), not from the workload's arrival processes, whose
   * mean rates still normalise observations; the episode then never terminates (a server). Default false.
   */
  externalArrivals?: boolean;
  /** Inputs and outputs of real launches (the wall-clock native executor only; a server's requests). */
  launchIO?: LaunchIO;
  /** A CostModel or a spec (`roofline:<preset>`, `synthetic[:seed]`). Default `roofline:v100`. */
  cost?: CostModel | string;
  /** The simulated device (a preset name or a spec). Default: the roofline model's device, else v100. */
  device?: DeviceSpec | string;
  /** Partition methods giving each model's candidate schedules. Default sequential, greedy, ios-dp. */
  candidates?: PartitionMethod[];
  partitionOptions?: PartitionOptions;
  /** More candidate schedules per model name (e.g. GPG's), after the partitioners'. */
  extraSchedules?: Record<string, Schedule[]>;
  /** Requests dequeued per epoch for each launcher level. Default [0, 1, 2, 4, 8]. */
  levels?: number[];
  /** Batch sizes the scheduler chooses from. Default [1, 2, 4, 8]. */
  batchSizes?: number[];
  /** Micro-batch counts (per-layer batch splitting); more than one adds a scheduler action component. Default [1]. */
  microBatches?: number[];
  /** Decision epoch, ms of env time. Default 10. */
  epochMs?: number;
  /** Steps before truncation (0: never). Default 1000. */
  maxSteps?: number;
  /** When nothing is queued or running, jump to the epoch of the next arrival (variable dt). Default false. */
  skipIdle?: boolean;
  reward?: RewardWeights;
  /**
   * Observe load changes: per model, arrival-rate EWMAs over ~100 ms and ~2 s and an on-time
   * completion (goodput) EWMA over ~1 s, each ÷ the model's mean arrival rate. Default false.
   */
  loadFeatures?: boolean;
  memoryBytes?: number;
  pageFaultPenalty?: number;
  /**
   * Fitted parameters, a co-run profile to fit them from, or the native profiler's documents
   * (`topsched.profile/1`, their co-run pairs). Default: roofline share.
   */
  contention?: ContentionParams | ContentionProfile | ProfileDocument[];
  splitMinBytes?: number;
  /** A task's activation bytes: the memory planner's arena (default) or the live-bytes estimate. */
  activationModel?: 'planner' | 'live-bytes';
  /** Simulated streams: in-order queues like CUDA and the native executor (default) or an ideal pool. */
  streamPolicy?: 'in-order' | 'pool';
  /** Simulator: the real executor's per-launch cost beyond its ops, ms, for all models or by model name (a fidelity calibration measures it). Default 0. */
  launchOverheadMs?: number | Record<string, number>;
  /** Simulator: σ of the log of a launch's service time, for all models or by model name (a fidelity calibration measures it). Default 0. */
  launchJitter?: number | Record<string, number>;
}

/** A small two-model workload: what `make('topsched/AsyncInference-v0')` runs without options. */
export const DEFAULT_WORKLOAD = {
  name: 'default-two-cnns',
  models: [
    { name: 'squeezenet1_1', sloMs: 20, arrival: { kind: 'poisson', rate: 400 } },
    { name: 'mobilenet_v2', sloMs: 30, arrival: { kind: 'mmpp', rates: [100, 600], switching: [1, 2] } },
  ],
};

export function resolveWorkload(w: AsyncInferenceOptions['workload']): Workload {
  if (w === undefined) return parseWorkload(DEFAULT_WORKLOAD, 'default workload');
  if (typeof w === 'string') return loadWorkloadFile(w);
  if (w && typeof w === 'object' && 'baseDir' in w && typeof (w as Workload).baseDir === 'string') return w as Workload;
  return parseWorkload(w, `option 'workload'`);
}

export function resolveCost(c: AsyncInferenceOptions['cost']): CostModel {
  if (c === undefined) return costModelFromSpec('roofline:v100');
  if (typeof c === 'string') {
    try {
      return costModelFromSpec(c);
    } catch (e) {
      throw new EnvError((e as Error).message, `option 'cost'`);
    }
  }
  if (!c || typeof c.opLatency !== 'function' || typeof c.stageLatency !== 'function')
    throw new EnvError(`expected a CostModel or a spec string, got ${JSON.stringify(c)}`, `option 'cost'`);
  return c;
}

export function resolveDevice(d: AsyncInferenceOptions['device'], cost: CostModel): DeviceSpec {
  if (d === undefined) return cost instanceof RooflineCostModel ? cost.device : devicePreset('v100');
  if (typeof d === 'string') {
    try {
      return devicePreset(d);
    } catch (e) {
      throw new EnvError((e as Error).message, `option 'device'`);
    }
  }
  for (const k of ['units', 'elemsPerUnit', 'unitsPerOp', 'memoryBytes', 'memBandwidth'] as const) {
    if (!(d[k] > 0)) throw new EnvError(`${k} must be positive, got ${JSON.stringify(d[k])}`, `option 'device'`);
  }
  return d;
}

export function resolveContention(c: AsyncInferenceOptions['contention'], graphs: ReadonlyMap<string, Graph>, device: DeviceSpec): ContentionParams {
  if (c === undefined) return ROOFLINE_SHARE;
  if (Array.isArray(c)) {
    c.forEach((d, i) => {
      if (!isProfileDocument(d))
        throw new EnvError(`expected a 'topsched.profile/1' document, got ${JSON.stringify(d)?.slice(0, 80)}`, `option 'contention[${i}]'`);
    });
    return fitContention(contentionFromProfiles(c, graphs, device), `option 'contention'`);
  }
  if ((c as ContentionProfile).format !== undefined) return fitContention(c as ContentionProfile, `option 'contention'`);
  const p = c as ContentionParams;
  if (!(p.alpha >= 0) || !(p.beta >= 0)) throw new EnvError(`alpha and beta must be non-negative, got ${JSON.stringify(c)}`, `option 'contention'`);
  return p;
}

/** A non-empty list of integers ≥ min. */
export function intList(name: string, v: unknown, dflt: number[], min: number): number[] {
  const list = v === undefined ? dflt : v;
  if (!Array.isArray(list) || !list.length) throw new EnvError(`must be a non-empty array of integers, got ${JSON.stringify(list)}`, `option '${name}'`);
  list.forEach((x, i) => {
    if (!Number.isInteger(x) || x < min) throw new EnvError(`must be an integer ≥ ${min}, got ${JSON.stringify(x)}`, `option '${name}[${i}]'`);
  });
  return list as number[];
}

export function positiveNumber(name: string, v: unknown, dflt: number): number {
  const x = v === undefined ? dflt : v;
  if (typeof x !== 'number' || !(x > 0) || !Number.isFinite(x)) throw new EnvError(`must be a positive number, got ${JSON.stringify(x)}`, `option '${name}'`);
  return x;
}

export function nonNegativeInt(name: string, v: unknown, dflt: number): number {
  const x = v === undefined ? dflt : v;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0)
    throw new EnvError(`must be a non-negative integer, got ${JSON.stringify(x)}`, `option '${name}'`);
  return x;
}

const KNOWN = new Set([
  'workload',
  'graphs',
  'executor',
  'clock',
  'externalArrivals',
  'launchIO',
  'cost',
  'device',
  'candidates',
  'partitionOptions',
  'extraSchedules',
  'levels',
  'batchSizes',
  'microBatches',
  'epochMs',
  'maxSteps',
  'skipIdle',
  'reward',
  'loadFeatures',
  'memoryBytes',
  'pageFaultPenalty',
  'contention',
  'splitMinBytes',
  'activationModel',
  'streamPolicy',
  'launchOverheadMs',
  'launchJitter',
  'mode',
  'streams',
  'contextSwitchMs',
  'timeSliceMs',
  'mpsShare',
  'transfers',
  'pinnedGBps',
  'pageableGBps',
  'pipeline',
  'preprocMsPerSample',
  'preprocWorkers',
]);

/** Unknown option names are errors (a typo would otherwise silently keep a default). */
export function checkOptionNames(o: object): void {
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw new EnvError(`unknown option (known: ${[...KNOWN].join(', ')})`, `option '${k}'`);
}
