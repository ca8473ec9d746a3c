/**
 * The strongest non-learned policies a systems engineer would write, on the Policy interface
 * (env/policy.ts). They read the env through `env.view()` (queues, in-flight launches, arrival
 * counters, profiled latencies); experiments/harness/tuning.ts tunes their settings per workload.
 *
 *  - static:        one (release level, schedule, batch) per model, fixed for the episode: the
 *                   "best static" policy once its configuration is searched.
 *  - rate-adaptive: a table of static configurations, each tuned for a load level, switched at run
 *                   time by a sliding-window estimate of the total arrival rate (what one writes
 *                   first when load changes).
 *  - deadline-aware (Clockwork-style): models are served earliest deadline first (the head request's
 *                   arrival + SLO); each launch takes the largest batch whose profiled latency fits
 *                   the head's remaining slack (the largest batch outright once the head cannot
 *                   make its deadline any more); launches are admitted while fewer than `maxInFlight`
 *                   run, and the schedule follows concurrency (the most parallel candidate on an
 *                   idle device, sequential on a busy one).
 */
import { type AsyncInferenceEnv, LAUNCHER, SCHEDULER } from '../env/async-inference-env.js';
import type { Policy } from '../env/policy.js';
import { actions, batchAtMost, layout, releaseLevel } from './baselines.js';

/** A static configuration: per model, indices into the env's levels, candidate schedules and batch sizes. */
export interface StaticConfig {
  level: number[];
  schedule: number[];
  batch: number[];
}

export function describeStatic(env: Pick<AsyncInferenceEnv, 'view'>, c: StaticConfig): string {
  const v = env.view();
  return v.models.map((m, i) => `${m.name}: ${v.levels[c.level[i]]}/epoch ${m.scheduleNames[c.schedule[i]]} b${v.batchSizes[c.batch[i]]}`).join('; ');
}

export function checkStatic(env: Pick<AsyncInferenceEnv, 'view'>, c: StaticConfig): void {
  const v = env.view();
  const M = v.models.length;
  for (const [k, n] of [
    ['level', v.levels.length],
    ['schedule', Math.min(...v.models.map((m) => m.schedules.length))],
    ['batch', v.batchSizes.length],
  ] as const) {
    const xs = c[k];
    if (xs.length !== M || xs.some((x) => !Number.isInteger(x) || x < 0 || x >= n))
      throw new Error(`static config: '${k}' needs ${M} indices in 0..${n - 1}, got [${xs.join(', ')}]`);
  }
}

export function staticPolicy(env: Pick<AsyncInferenceEnv, 'view'>, c: StaticConfig, name = 'best-static'): Policy {
  checkStatic(env, c);
  const L = layout(env);
  const out = actions(L, c.level, c.schedule, c.batch);
  return { name, act: () => ({ [LAUNCHER]: out[LAUNCHER].slice(), [SCHEDULER]: out[SCHEDULER].slice() }) };
}

export interface RateTableEntry {
  /** Total arrival rate (req/s) the configuration was tuned for. */
  rate: number;
  config: StaticConfig;
}

export interface RateAdaptiveOptions {
  /** Sliding window of the rate estimate, ms of env time. Default 1000. */
  windowMs?: number;
}

export function rateAdaptivePolicy(env: Pick<AsyncInferenceEnv, 'view'>, table: readonly RateTableEntry[], o: RateAdaptiveOptions = {}): Policy {
  if (!table.length) throw new Error('rate-adaptive: the table is empty');
  for (const e of table) checkStatic(env, e.config);
  const L = layout(env);
  const v = L.view;
  const windowMs = o.windowMs ?? 1000;
  const sorted = [...table].sort((a, b) => a.rate - b.rate);
  const acts = sorted.map((e) => actions(L, e.config.level, e.config.schedule, e.config.batch));
  // Ring of (time, total arrivals) samples covering the window.
  let times: number[] = [];
  let counts: number[] = [];
  const total = () => {
    let n = 0;
    for (let m = 0; m < L.M; m++) n += v.arrivedTotal(m);
    return n;
  };
  return {
    name: 'rate-adaptive',
    reset: () => {
      times = [];
      counts = [];
    },
    act: () => {
      const now = v.now();
      const n = total();
      times.push(now);
      counts.push(n);
      while (times.length > 2 && times[1] <= now - windowMs) {
        times.shift();
        counts.shift();
      }
      const span = now - times[0];
      // Before a window has passed, the estimate covers what there is (the first step: the lowest entry).
      const rate = span > 0 ? ((n - counts[0]) * 1000) / span : sorted[0].rate;
      let k = 0;
      for (let i = 1; i < sorted.length; i++) if (Math.abs(sorted[i].rate - rate) < Math.abs(sorted[k].rate - rate)) k = i;
      return { [LAUNCHER]: acts[k][LAUNCHER].slice(), [SCHEDULER]: acts[k][SCHEDULER].slice() };
    },
  };
}

export interface DeadlineAwareOptions {
  /** Launches admitted in flight at once (over all models). Default: 4. */
  maxInFlight?: number;
}

export function deadlineAwarePolicy(env: Pick<AsyncInferenceEnv, 'view'>, o: DeadlineAwareOptions = {}): Policy {
  const L = layout(env);
  const v = L.view;
  const cap = o.maxInFlight ?? 4;
  if (!Number.isInteger(cap) || cap < 1) throw new Error(`deadline-aware: maxInFlight must be a positive integer, got ${cap}`);
  const parallel = v.models.map((m) => m.schedules.length - 1);
  const serial = v.models.map((m) => Math.max(0, m.scheduleNames.indexOf('sequential')));
  const none = releaseLevel(v, 0);
  return {
    name: 'deadline-aware',
    act: () => {
      const now = v.now();
      let running = 0;
      for (let m = 0; m < L.M; m++) running += v.inFlight(m);
      const level = new Array(L.M).fill(none);
      const sched = [...parallel];
      const batch = new Array(L.M).fill(batchAtMost(v, 1));
      // Earliest deadline first over the models with queued requests.
      const order = Array.from({ length: L.M }, (_, m) => m)
        .filter((m) => v.queueLength(m) > 0)
        .map((m) => ({ m, deadline: v.headArrivalMs(m) + v.models[m].sloMs }))
        .sort((a, b) => a.deadline - b.deadline || a.m - b.m);
      for (const { m, deadline } of order) {
        if (running >= cap) break;
        const s = running + 1 < cap / 2 ? parallel[m] : serial[m];
        const slack = deadline - now;
        const q = v.queueLength(m);
        // The largest batch (up to the queue) whose profiled latency fits the head's slack; 1 at least.
        // When not even a single request can meet it, the head is lost: serve the backlog at the
        // largest batch instead (EDF's domino effect under overload is what this avoids).
        let bi = batchAtMost(v, 1);
        const lost = v.aloneMs(m, s, v.batchSizes[bi]) > slack;
        for (let i = 0; i < v.batchSizes.length; i++) {
          const b = v.batchSizes[i];
          if (b <= Math.max(1, q) && b > v.batchSizes[bi] && (lost || v.aloneMs(m, s, b) <= slack)) bi = i;
        }
        const b = v.batchSizes[bi];
        // Release enough for as many launches as the admission cap leaves, at that batch.
        const launches = Math.min(cap - running, Math.ceil(q / b));
        level[m] = releaseLevel(v, Math.min(q, launches * b));
        batch[m] = bi;
        sched[m] = s;
        running += launches;
      }
      return actions(L, level, sched, batch);
    },
  };
}
