/**
 * Fixed baseline policies for the AsyncInference env (the CLI and the tests use them; the agents
 * package has its own policy interface). Each returns one joint action per call of `act()`.
 *
 *  - fixed-frequency: every model releases the same level every epoch, with a chosen schedule
 *                     and batch per model.
 *  - one-at-a-time:   a model releases one request only when none of its launches is in flight.
 *  - greedy-release:  every model releases everything queued (the smallest level covering its
 *                     queue, else the largest), batched at the chosen batch size.
 *  - random:          uniform over the action spaces, from a seeded RNG.
 *
 * Schedules are named by index or by candidate name (`sequential`, `greedy`, `ios-dp`, `extra:0`).
 */
import type { AsyncInferenceActions, AsyncInferenceEnv, EnvView } from './async-inference-env.js';
import { LAUNCHER, SCHEDULER } from './async-inference-env.js';
import { EnvError } from './core.js';
import type { Policy } from './policy.js';
import { makeRng, type Rng } from './spaces.js';

/** A Policy (env/policy.ts) of the AsyncInference env that needs no observation. */
export interface EnvPolicy extends Policy {
  /** Restarts any internal randomness. */
  reset(seed?: number): void;
  act(observations?: Record<string, unknown>): AsyncInferenceActions;
}

export type ScheduleChoice = number | string;

export interface BaselineOptions {
  /** One choice for all models, or one per model. Default: the last candidate (IOS-DP by default). */
  schedule?: ScheduleChoice | ScheduleChoice[];
  /** Batch size (must be in the env's batchSizes), one for all or per model. Default 1 (greedy-release: the largest). */
  batch?: number | number[];
}

function perModel<T>(v: T | T[] | undefined, n: number, dflt: T, name: string): T[] {
  if (v === undefined) return new Array(n).fill(dflt);
  if (Array.isArray(v)) {
    if (v.length !== n) throw new EnvError(`needs one value per model (${n}), got ${JSON.stringify(v)}`, `policy option '${name}'`);
    return v;
  }
  return new Array(n).fill(v);
}

function scheduleIndices(view: EnvView, choice: BaselineOptions['schedule']): number[] {
  const n = view.models.length;
  const picks = perModel<ScheduleChoice | undefined>(choice, n, undefined, 'schedule');
  return picks.map((c, m) => {
    const model = view.models[m];
    if (c === undefined) return model.schedules.length - 1;
    const idx = typeof c === 'number' ? c : model.scheduleNames.indexOf(c);
    if (!Number.isInteger(idx) || idx < 0 || idx >= model.schedules.length) {
      throw new EnvError(
        `no candidate schedule ${JSON.stringify(c)} (candidates: ${model.scheduleNames.join(', ')})`,
        `policy option 'schedule' for model '${model.name}'`,
      );
    }
    return idx;
  });
}

function batchIndices(view: EnvView, batch: BaselineOptions['batch'], dflt: number): number[] {
  return perModel(batch, view.models.length, dflt, 'batch').map((b, m) => {
    const i = view.batchSizes.indexOf(b);
    if (i < 0)
      throw new EnvError(
        `batch ${b} is not one of the env's batchSizes [${view.batchSizes.join(', ')}]`,
        `policy option 'batch' for model '${view.models[m].name}'`,
      );
    return i;
  });
}

function schedulerAction(view: EnvView, sched: number[], batch: number[]): Int32Array {
  const W = view.microBatches.length > 1 ? 3 : 2;
  const out = new Int32Array(view.models.length * W);
  for (let m = 0; m < view.models.length; m++) {
    out[m * W] = sched[m];
    out[m * W + 1] = batch[m];
  }
  return out;
}

/** The level index that releases exactly `count` requests per epoch; an error lists the levels. */
export function levelIndex(view: EnvView, count: number): number {
  const i = view.levels.indexOf(count);
  if (i < 0) throw new EnvError(`no launcher level releases ${count} requests (levels: [${view.levels.join(', ')}])`, 'policy');
  return i;
}

export function fixedFrequencyPolicy(env: AsyncInferenceEnv, opts: BaselineOptions & { level: number | number[] }): EnvPolicy {
  const view = env.view();
  const M = view.models.length;
  const levels = perModel(opts.level, M, 0, 'level');
  levels.forEach((l, m) => {
    if (!Number.isInteger(l) || l < 0 || l >= view.levels.length)
      throw new EnvError(`level index ${l} is out of range 0..${view.levels.length - 1}`, `policy option 'level' for model '${view.models[m].name}'`);
  });
  const launcher = Int32Array.from(levels);
  const scheduler = schedulerAction(view, scheduleIndices(view, opts.schedule), batchIndices(view, opts.batch, 1));
  return { name: 'fixed-frequency', reset() {}, act: () => ({ [LAUNCHER]: launcher.slice(), [SCHEDULER]: scheduler.slice() }) };
}

export function oneAtATimePolicy(env: AsyncInferenceEnv, opts: Omit<BaselineOptions, 'batch'> = {}): EnvPolicy {
  const view = env.view();
  const one = levelIndex(view, 1);
  const zero = levelIndex(view, 0);
  const scheduler = schedulerAction(view, scheduleIndices(view, opts.schedule), batchIndices(view, 1, 1));
  return {
    name: 'one-at-a-time',
    reset() {},
    act() {
      const launcher = new Int32Array(view.models.length);
      for (let m = 0; m < launcher.length; m++) launcher[m] = view.inFlight(m) === 0 && view.queueLength(m) > 0 ? one : zero;
      return { [LAUNCHER]: launcher, [SCHEDULER]: scheduler.slice() };
    },
  };
}

export function greedyReleasePolicy(env: AsyncInferenceEnv, opts: BaselineOptions = {}): EnvPolicy {
  const view = env.view();
  const maxBatch = Math.max(...view.batchSizes);
  const scheduler = schedulerAction(view, scheduleIndices(view, opts.schedule), batchIndices(view, opts.batch, maxBatch));
  // Level indices by released count, to find the smallest one covering a queue.
  const order = view.levels.map((c, i) => ({ c, i })).sort((a, b) => a.c - b.c || a.i - b.i);
  return {
    name: 'greedy-release',
    reset() {},
    act() {
      const launcher = new Int32Array(view.models.length);
      for (let m = 0; m < launcher.length; m++) {
        const q = view.queueLength(m);
        const cover = order.find((o) => o.c >= q) ?? order[order.length - 1];
        launcher[m] = cover.i;
      }
      return { [LAUNCHER]: launcher, [SCHEDULER]: scheduler.slice() };
    },
  };
}

export function randomPolicy(env: AsyncInferenceEnv, seed = 0): EnvPolicy {
  let rng: Rng = makeRng(`random-policy:${seed}`);
  return {
    name: 'random',
    reset(s?: number) {
      rng = makeRng(`random-policy:${s ?? seed}`);
    },
    act: () => ({ [LAUNCHER]: env.actionSpace(LAUNCHER).sample(rng), [SCHEDULER]: env.actionSpace(SCHEDULER).sample(rng) }),
  };
}

export const BASELINES = ['fixed-frequency', 'one-at-a-time', 'greedy-release', 'random'] as const;
export type BaselineName = (typeof BASELINES)[number];

/** Builds a baseline by name (the CLI's entry point). */
export function makePolicy(name: string, env: AsyncInferenceEnv, opts: BaselineOptions & { level?: number | number[]; seed?: number } = {}): EnvPolicy {
  switch (name as BaselineName) {
    case 'fixed-frequency':
      return fixedFrequencyPolicy(env, { ...opts, level: opts.level ?? levelIndex(env.view(), 1) });
    case 'one-at-a-time':
      return oneAtATimePolicy(env, opts);
    case 'greedy-release':
      return greedyReleasePolicy(env, opts);
    case 'random':
      return randomPolicy(env, opts.seed ?? 0);
  }
  throw new EnvError(`unknown baseline ${JSON.stringify(name)} (baselines: ${BASELINES.join(', ')})`, 'policy');
}
