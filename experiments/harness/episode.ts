/**
 * The one episode loop of every experiment: reset with a seed, let the policy act until the env
 * ends the episode (its maxSteps), and read the metrics as Triton users read them. A warm-up of
 * `warmupS` seconds of env time is run first and excluded (env.startMeasurement); the episode then
 * runs to the env's own end, so every policy is judged on the same window of the same arrivals.
 * The policy's decision time is measured around each `act`. Works on the simulator (`step`) and on
 * the native executor (`stepAsync`).
 */
import type { AsyncInferenceEnv } from '../../env/async-inference-env.js';
import { LAUNCHER } from '../../env/async-inference-env.js';
import type { EnvMetrics } from '../../env/metrics.js';
import type { Policy } from '../../env/policy.js';

export interface ModelEpisode {
  name: string;
  goodput: number;
  attainment: number;
  sloAttainment: number;
  throughput: number;
  p50Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
  meanQueueMs: number;
  meanComputeMs: number;
  arrived: number;
  completed: number;
  dropped: number;
}

/** One sample of the time series, every `seriesEveryMs` of env time. */
export interface SeriesPoint {
  tS: number;
  /** Requests that arrived per second over the interval. */
  arrivalRate: number;
  /** Requests completed within their SLO per second over the interval. */
  goodput: number;
  /** Requests in the system (queued + in flight) at the sample. */
  backlog: number;
}

export interface EpisodeResult {
  seed: number;
  /** Steps after the warm-up. */
  steps: number;
  warmupS: number;
  /** Seconds of env time measured. */
  seconds: number;
  return: number;
  goodput: number;
  attainment: number;
  sloAttainment: number;
  throughput: number;
  p50Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
  meanQueueMs: number;
  meanComputeMs: number;
  arrived: number;
  completed: number;
  dropped: number;
  /** Requests in the system at the end, and averaged over the measured steps. */
  backlog: number;
  meanBacklog: number;
  /** The policy's decision time per step, µs (mean and max). */
  decisionUsMean: number;
  decisionUsMax: number;
  models: ModelEpisode[];
  series: SeriesPoint[];
}

export interface EpisodeOptions {
  seed: number;
  /** Env seconds run before measuring (excluded). Default 0. */
  warmupS?: number;
  /** Time-series sampling interval, ms of env time (0: none). Default 1000. */
  seriesEveryMs?: number;
}

const pick = (m: EnvMetrics['models'][number]): ModelEpisode => ({
  name: m.name,
  goodput: m.goodput,
  attainment: m.attainment,
  sloAttainment: m.sloAttainment,
  throughput: m.throughput,
  p50Ms: m.p50Ms,
  p90Ms: m.p90Ms,
  p95Ms: m.p95Ms,
  p99Ms: m.p99Ms,
  meanQueueMs: m.meanQueueMs,
  meanComputeMs: m.meanComputeMs,
  arrived: m.arrived,
  completed: m.completed,
  dropped: m.dropped,
});

/** Runs one episode of `policy` on `env` (see the file header). */
export async function runEpisode(env: AsyncInferenceEnv, policy: Policy, o: EpisodeOptions): Promise<EpisodeResult> {
  const warmupMs = (o.warmupS ?? 0) * 1000;
  const every = o.seriesEveryMs ?? 1000;
  let { observations } = env.reset({ seed: o.seed });
  policy.reset?.(o.seed);
  const sync = env.executor.synchronous;
  let measuring = warmupMs <= 0;
  let ret = 0;
  let steps = 0;
  let backlogSum = 0;
  let decisionSum = 0;
  let decisionMax = 0;
  const series: SeriesPoint[] = [];
  let next = every;
  let lastT = 0;
  let lastArrived = 0;
  let lastGood = 0;
  const totals = (m: EnvMetrics) => ({ arrived: m.arrived, good: m.goodput * ((m.timeMs - m.windowStartMs) / 1000) });
  while (env.agents.length) {
    const t0 = performance.now();
    const a = policy.act(observations);
    const us = (performance.now() - t0) * 1000;
    const r = sync ? env.step(a as never) : await env.stepAsync(a as never);
    observations = r.observations;
    const now = env.executor.now();
    if (!measuring) {
      if (now < warmupMs) continue;
      env.startMeasurement();
      measuring = true;
      lastT = now;
      next = now + every;
      continue;
    }
    steps += 1;
    ret += r.rewards[LAUNCHER] ?? 0;
    decisionSum += us;
    if (us > decisionMax) decisionMax = us;
    const m = env.metrics();
    backlogSum += m.inSystem;
    if (every > 0 && now >= next) {
      const t = totals(m);
      const dt = (now - lastT) / 1000;
      series.push({ tS: now / 1000, arrivalRate: (t.arrived - lastArrived) / dt, goodput: (t.good - lastGood) / dt, backlog: m.inSystem });
      lastT = now;
      lastArrived = t.arrived;
      lastGood = t.good;
      next = now + every;
    }
  }
  const m = env.metrics();
  return {
    seed: o.seed,
    steps,
    warmupS: warmupMs / 1000,
    seconds: (m.timeMs - m.windowStartMs) / 1000,
    return: ret,
    goodput: m.goodput,
    attainment: m.attainment,
    sloAttainment: m.sloAttainment,
    throughput: m.throughput,
    p50Ms: m.p50Ms,
    p90Ms: m.p90Ms,
    p95Ms: m.p95Ms,
    p99Ms: m.p99Ms,
    meanQueueMs: m.meanQueueMs,
    meanComputeMs: m.meanComputeMs,
    arrived: m.arrived,
    completed: m.completed,
    dropped: m.dropped,
    backlog: m.inSystem,
    meanBacklog: backlogSum / Math.max(1, steps),
    decisionUsMean: decisionSum / Math.max(1, steps),
    decisionUsMax: decisionMax,
    models: m.models.map(pick),
    series,
  };
}
