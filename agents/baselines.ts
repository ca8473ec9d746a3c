/**
 * Baseline policies for the AsyncInference env, on the agents' Policy interface
 * (`act(observations) → actions`), so experiments evaluate them exactly like trained MADDPG.
 *
 * They read the env's observation layout (env/async-inference-env.ts): per model m, at offset
 * 6·m, [queue length, head-of-queue age / SLO, launches in flight, completions/s / arrival rate,
 * latency EWMA / SLO, dropped last step]; and they need a few static facts the observation does not
 * carry (levels, batch sizes, candidate schedule names, SLOs) — taken once from `env.view()`.
 *
 * Actions: `launcher` picks a level index per model (release levels[l] queued requests this epoch);
 * `scheduler` picks [schedule index, batch index(, micro index)] per model.
 *
 *  - random:            uniform over both action spaces (seeded).
 *  - fixed-frequency:   the same level every epoch (a fixed dequeue rate), fixed schedule and batch.
 *  - schedule-choice:   one candidate (sequential / greedy / ios-dp / gpg) for every model;
 *                       releases what is queued at the largest batch — isolates the schedule's effect.
 *  - pos:               a POS-like operator-parallelism heuristic (our reading of "parallelism
 *                       per load"): models release in order of urgency (head age / SLO) while the
 *                       device has free concurrency; a model's schedule follows the load — the most
 *                       parallel candidate when few launches run, sequential when the device is
 *                       already full (inter-model concurrency then replaces intra-model parallelism).
 *  - triton:            Triton-like: one stream per model instance (at most `instances` launches in
 *                       flight per model, each running the sequential schedule), dynamic batching —
 *                       a free instance launches when its queue reaches the preferred batch or the
 *                       oldest request has waited `maxQueueDelayMs`.
 */
import type { AsyncInferenceEnv, EnvView } from '../env/async-inference-env.js';
import { LAUNCHER, SCHEDULER } from '../env/async-inference-env.js';
import type { Policy } from './policy.js';
import { makeRng, type Rng } from './rng.js';

/** Per-model observation entries (see the header). */
const PER_MODEL = 6;
const OBS = { queue: 0, age: 1, inFlight: 2, throughput: 3, latency: 4, dropped: 5 } as const;

export interface Layout {
  view: EnvView;
  M: number;
  /** Scheduler action entries per model (2, or 3 with micro-batches). */
  W: number;
}

export function layout(env: Pick<AsyncInferenceEnv, 'view'>): Layout {
  const view = env.view();
  return { view, M: view.models.length, W: view.microBatches.length > 1 ? 3 : 2 };
}

function obsOf(observations: Record<string, unknown>, name: string): Float32Array {
  const o = observations[LAUNCHER] ?? observations[SCHEDULER];
  if (!(o instanceof Float32Array)) throw new Error(`${name} policy: no Float32Array observation for '${LAUNCHER}' or '${SCHEDULER}'`);
  return o;
}

/** Index of the smallest level releasing ≥ n requests (the largest level when none does). */
export function levelCovering(view: EnvView, n: number): number {
  let best = -1;
  view.levels.forEach((c, i) => {
    if (c >= n && (best < 0 || c < view.levels[best])) best = i;
  });
  if (best >= 0) return best;
  return view.levels.indexOf(Math.max(...view.levels));
}

/** Index of the largest level releasing ≤ n requests (0 requests when none does). */
export function levelAtMost(view: EnvView, n: number): number {
  let best = -1;
  view.levels.forEach((c, i) => {
    if (c <= n && (best < 0 || c > view.levels[best])) best = i;
  });
  return best >= 0 ? best : view.levels.indexOf(Math.min(...view.levels));
}

/** The level that releases n requests, or the nearest below (else the smallest above, so n > 0 never releases 0). */
export function releaseLevel(view: EnvView, n: number): number {
  const below = levelAtMost(view, n);
  return view.levels[below] > 0 || n <= 0 ? below : levelCovering(view, n);
}

/** Index of the largest batch size ≤ n (the smallest when none is). */
export function batchAtMost(view: EnvView, n: number): number {
  let best = -1;
  view.batchSizes.forEach((b, i) => {
    if (b <= n && (best < 0 || b > view.batchSizes[best])) best = i;
  });
  return best >= 0 ? best : view.batchSizes.indexOf(Math.min(...view.batchSizes));
}

/** Schedule index per model for a candidate name (e.g. 'ios-dp'), or a number; errors list the candidates. */
export function scheduleIndex(view: EnvView, m: number, choice: string | number): number {
  const model = view.models[m];
  const idx = typeof choice === 'number' ? choice : model.scheduleNames.indexOf(choice);
  if (!Number.isInteger(idx) || idx < 0 || idx >= model.schedules.length)
    throw new Error(`model '${model.name}': no candidate schedule ${JSON.stringify(choice)} (candidates: ${model.scheduleNames.join(', ')})`);
  return idx;
}

export function actions(L: Layout, level: number[], sched: number[], batch: number[]): Record<string, Int32Array> {
  const s = new Int32Array(L.M * L.W);
  for (let m = 0; m < L.M; m++) {
    s[m * L.W] = sched[m];
    s[m * L.W + 1] = batch[m];
  }
  return { [LAUNCHER]: Int32Array.from(level), [SCHEDULER]: s };
}

export function randomPolicy(env: Pick<AsyncInferenceEnv, 'actionSpace'>, seed = 0): Policy {
  let rng: Rng = makeRng(`baseline-random/${seed}`);
  return {
    name: 'random',
    reset: () => {
      rng = makeRng(`baseline-random/${seed}`);
    },
    act: () => ({ [LAUNCHER]: env.actionSpace(LAUNCHER).sample(rng), [SCHEDULER]: env.actionSpace(SCHEDULER).sample(rng) }),
  };
}

export interface FixedFrequencyOptions {
  /** Requests released per epoch per model (must be one of the env's levels). */
  perEpoch: number;
  schedule?: string | number;
  batch?: number;
}

export function fixedFrequencyPolicy(env: Pick<AsyncInferenceEnv, 'view'>, o: FixedFrequencyOptions): Policy {
  const L = layout(env);
  const lvl = L.view.levels.indexOf(o.perEpoch);
  if (lvl < 0) throw new Error(`fixed-frequency: ${o.perEpoch} requests per epoch is not a level (levels: [${L.view.levels}])`);
  const bi = L.view.batchSizes.indexOf(o.batch ?? 1);
  if (bi < 0) throw new Error(`fixed-frequency: batch ${o.batch} is not one of [${L.view.batchSizes}]`);
  const sched = Array.from({ length: L.M }, (_, m) => scheduleIndex(L.view, m, o.schedule ?? 'greedy'));
  const fixed = actions(
    L,
    sched.map(() => lvl),
    sched,
    sched.map(() => bi),
  );
  return { name: `fixed-frequency(${o.perEpoch})`, act: () => ({ [LAUNCHER]: fixed[LAUNCHER].slice(), [SCHEDULER]: fixed[SCHEDULER].slice() }) };
}

/** One candidate schedule for every model; releases everything queued, batched at `batch` (default: the largest). */
export function scheduleChoicePolicy(env: Pick<AsyncInferenceEnv, 'view'>, schedule: string | number, o: { batch?: number } = {}): Policy {
  const L = layout(env);
  const sched = Array.from({ length: L.M }, (_, m) => scheduleIndex(L.view, m, schedule));
  const bi = L.view.batchSizes.indexOf(o.batch ?? Math.max(...L.view.batchSizes));
  if (bi < 0) throw new Error(`schedule-choice: batch ${o.batch} is not one of [${L.view.batchSizes}]`);
  return {
    name: `schedule(${schedule})`,
    act: (observations) => {
      const obs = obsOf(observations, 'schedule-choice');
      const level = sched.map((_, m) => levelCovering(L.view, obs[m * PER_MODEL + OBS.queue]));
      return actions(
        L,
        level,
        sched,
        sched.map(() => bi),
      );
    },
  };
}

export interface PosOptions {
  /** Launches the device runs well at once (default: 4). */
  concurrency?: number;
  /** Candidate used when the device is lightly loaded (default: the last candidate, IOS-DP by default). */
  parallelSchedule?: string | number;
  /** Candidate used under load (default 'sequential'). */
  serialSchedule?: string | number;
}

export function posPolicy(env: Pick<AsyncInferenceEnv, 'view'>, o: PosOptions = {}): Policy {
  const L = layout(env);
  const cap = o.concurrency ?? 4;
  const par = Array.from({ length: L.M }, (_, m) => scheduleIndex(L.view, m, o.parallelSchedule ?? L.view.models[m].schedules.length - 1));
  const ser = Array.from({ length: L.M }, (_, m) => scheduleIndex(L.view, m, o.serialSchedule ?? 'sequential'));
  const maxBatch = Math.max(...L.view.batchSizes);
  return {
    name: 'pos',
    act: (observations) => {
      const obs = obsOf(observations, 'pos');
      let running = 0;
      for (let m = 0; m < L.M; m++) running += obs[m * PER_MODEL + OBS.inFlight];
      // Most urgent first: the oldest head-of-queue request relative to its SLO.
      const order = Array.from({ length: L.M }, (_, m) => m)
        .filter((m) => obs[m * PER_MODEL + OBS.queue] > 0)
        .sort((a, b) => obs[b * PER_MODEL + OBS.age] - obs[a * PER_MODEL + OBS.age] || a - b);
      const level = new Array(L.M).fill(levelAtMost(L.view, 0));
      const sched = [...par];
      const batch = new Array(L.M).fill(batchAtMost(L.view, 1));
      let free = cap - running;
      for (const m of order) {
        if (free <= 0 && running > 0) break;
        const q = obs[m * PER_MODEL + OBS.queue];
        // One launch per model per epoch, batched to the queue; parallel schedule only with room to spare.
        const b = Math.min(q, maxBatch);
        level[m] = releaseLevel(L.view, b);
        batch[m] = batchAtMost(L.view, b);
        sched[m] = running + 1 < cap / 2 ? par[m] : ser[m];
        running += 1;
        free -= 1;
      }
      return actions(L, level, sched, batch);
    },
  };
}

export interface TritonOptions {
  /** Model instances (streams) per model: launches allowed in flight. Default 1. */
  instances?: number;
  /** Preferred (max) batch; default the env's largest batch size. */
  maxBatch?: number;
  /** Longest a request waits for a fuller batch, ms. Default 5. */
  maxQueueDelayMs?: number;
  /** Schedule each instance runs (default 'sequential': one stream per instance). */
  schedule?: string | number;
}

export function tritonPolicy(env: Pick<AsyncInferenceEnv, 'view'>, o: TritonOptions = {}): Policy {
  const L = layout(env);
  const instances = o.instances ?? 1;
  const maxBatch = o.maxBatch ?? Math.max(...L.view.batchSizes);
  const delay = o.maxQueueDelayMs ?? 5;
  if (!(instances >= 1) || !(maxBatch >= 1) || !(delay >= 0))
    throw new Error(`triton: instances ≥ 1, maxBatch ≥ 1, maxQueueDelayMs ≥ 0 (got ${instances}, ${maxBatch}, ${delay})`);
  const sched = Array.from({ length: L.M }, (_, m) => scheduleIndex(L.view, m, o.schedule ?? 'sequential'));
  const none = levelAtMost(L.view, 0);
  return {
    name: 'triton',
    act: (observations) => {
      const obs = obsOf(observations, 'triton');
      const level = new Array(L.M).fill(none);
      const batch = new Array(L.M).fill(batchAtMost(L.view, 1));
      for (let m = 0; m < L.M; m++) {
        const q = obs[m * PER_MODEL + OBS.queue];
        const free = instances - obs[m * PER_MODEL + OBS.inFlight];
        const ageMs = obs[m * PER_MODEL + OBS.age] * L.view.models[m].sloMs;
        if (free <= 0 || q <= 0 || (q < maxBatch && ageMs < delay)) continue;
        const b = Math.min(q, maxBatch) * Math.min(free, Math.ceil(q / maxBatch));
        level[m] = releaseLevel(L.view, b);
        batch[m] = batchAtMost(L.view, Math.min(q, maxBatch));
      }
      return actions(L, level, sched, batch);
    },
  };
}

export const BASELINE_NAMES = ['random', 'fixed-frequency', 'sequential', 'greedy', 'ios-dp', 'pos', 'triton'] as const;

/** Builds a baseline by name (schedule-choice baselines are named after their candidate). */
export function makeBaseline(name: string, env: AsyncInferenceEnv, opts: { seed?: number; perEpoch?: number } = {}): Policy {
  switch (name) {
    case 'random':
      return randomPolicy(env, opts.seed ?? 0);
    case 'fixed-frequency':
      return fixedFrequencyPolicy(env, { perEpoch: opts.perEpoch ?? 1 });
    case 'pos':
      return posPolicy(env);
    case 'triton':
      return tritonPolicy(env);
    default:
      if (env.view().models.every((m) => m.scheduleNames.includes(name))) return scheduleChoicePolicy(env, name);
      throw new Error(`unknown baseline ${JSON.stringify(name)} (baselines: ${BASELINE_NAMES.join(', ')}, or any candidate schedule name)`);
  }
}
