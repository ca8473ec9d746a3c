/**
 * The one episode loop of every experiment. `playEpisode` is the loop itself, for any ParallelEnv
 * (the toy cooperative games of the agents' tests too): reset with a seed, let the policy act until
 * the env ends the episode or a stop time passes, sum each agent's rewards. `runEpisode` runs it on
 * the AsyncInference env and reads the metrics as Triton users read them. A warm-up of
 * `warmupS` seconds of env time is run first and excluded (env.startMeasurement); the episode then
 * runs to the env's own end, so every policy is judged on the same window of the same arrivals.
 * The policy's decision time is measured around each `act`. Works on the simulator (`step`) and on
 * the native executor (`stepAsync`).
 */
import type { AsyncInferenceEnv } from '../../env/async-inference-env.js';
import { LAUNCHER } from '../../env/async-inference-env.js';
import type { ParallelEnv, StepResult } from '../../env/core.js';
import type { EnvMetrics } from '../../env/metrics.js';
import type { Policy } from '../../env/policy.js';

/** What is measured of requests, per model and overall (see env/metrics.ts for the definitions). */
export interface RequestMetrics {
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

export interface ModelEpisode extends RequestMetrics {
  name: string;
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

export interface EpisodeResult extends RequestMetrics {
  seed: number;
  /** Steps after the warm-up. */
  steps: number;
  warmupS: number;
  /** Seconds of env time measured. */
  seconds: number;
  return: number;
  /** Requests in the system at the end, and averaged over the measured steps. */
  backlog: number;
  meanBacklog: number;
  /** Steps whose env time exceeded the decision epoch (real executors overrun; reported, never hidden). */
  overruns: number;
  /** The policy's decision time per step, µs (mean and max). */
  decisionUsMean: number;
  decisionUsMax: number;
  models: ModelEpisode[];
  series: SeriesPoint[];
}

export interface EpisodeOptions {
  seed: number;
  /** Stop once env time reaches this many ms (default: the env's own end). */
  untilMs?: number;
  /** Called after every step with the env time (ms) and steps so far (progress bars). */
  onStep?: (nowMs: number, steps: number) => void;
  /** Env seconds run before measuring (excluded). Default 0. */
  warmupS?: number;
  /** Time-series sampling interval, ms of env time (0: none). Default 1000. */
  seriesEveryMs?: number;
}

/** The request metrics of the env's overall or per-model figures (the same fields in both). */
const requestMetrics = (m: RequestMetrics): RequestMetrics => ({
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

/** What the loop reports of each step to its caller. */
export interface StepView {
  result: StepResult<unknown>;
  /** The policy's decision time, µs. */
  decisionUs: number;
}

export interface PlayResult {
  /** Rewards summed per agent over the counted steps. */
  returns: Record<string, number>;
  /** Counted steps. */
  steps: number;
}

/**
 * The loop: reset(seed), policy.reset(seed), act and step until the env has no agents (or `stop`
 * says so). `onStep` sees every step and says whether it counts (a warm-up step does not); async
 * executors step with `stepAsync`.
 */
export async function playEpisode(
  env: ParallelEnv<unknown, unknown>,
  policy: Policy,
  seed: number,
  hooks: { onStep?: (s: StepView) => boolean; stop?: () => boolean } = {},
): Promise<PlayResult> {
  await (env as Partial<Pick<AsyncInferenceEnv, 'prepareAsync'>>).prepareAsync?.();
  let { observations } = env.reset({ seed });
  policy.reset?.(seed);
  const asyncEnv = env as Partial<Pick<AsyncInferenceEnv, 'stepAsync' | 'executor'>>;
  const sync = !asyncEnv.executor || asyncEnv.executor.synchronous;
  const returns: Record<string, number> = Object.fromEntries(env.possibleAgents.map((a) => [a, 0]));
  let steps = 0;
  while (env.agents.length && !hooks.stop?.()) {
    const t0 = performance.now();
    const a = policy.act(observations);
    const decisionUs = (performance.now() - t0) * 1000;
    const r = sync ? env.step(a) : await (asyncEnv.stepAsync as AsyncInferenceEnv['stepAsync'])(a as never);
    observations = r.observations;
    if (hooks.onStep && !hooks.onStep({ result: r, decisionUs })) continue;
    steps += 1;
    for (const ag in r.rewards) returns[ag] = (returns[ag] ?? 0) + r.rewards[ag];
  }
  return { returns, steps };
}

/** Mean undiscounted return per agent over `episodes` episodes seeded seed, seed+1, ... (any env). */
export async function meanReturns(
  env: ParallelEnv<unknown, unknown>,
  policy: Policy,
  o: { episodes?: number; seed?: number } = {},
): Promise<{ perAgent: Record<string, number>; team: number; lengths: number[] }> {
  const n = o.episodes ?? 10;
  const perAgent: Record<string, number> = Object.fromEntries(env.possibleAgents.map((a) => [a, 0]));
  const lengths: number[] = [];
  for (let e = 0; e < n; e++) {
    const r = await playEpisode(env, policy, (o.seed ?? 0) + e);
    for (const a of env.possibleAgents) perAgent[a] += r.returns[a] / n;
    lengths.push(r.steps);
  }
  const vals = Object.values(perAgent);
  return { perAgent, team: vals.reduce((a, b) => a + b, 0) / vals.length, lengths };
}

/** Runs one episode of `policy` on the AsyncInference env with its metrics (see the file header). */
export async function runEpisode(env: AsyncInferenceEnv, policy: Policy, o: EpisodeOptions): Promise<EpisodeResult> {
  const warmupMs = (o.warmupS ?? 0) * 1000;
  const every = o.seriesEveryMs ?? 1000;
  const untilMs = o.untilMs ?? Number.POSITIVE_INFINITY;
  let measuring = warmupMs <= 0;
  let backlogSum = 0;
  let decisionSum = 0;
  let decisionMax = 0;
  let overruns = 0;
  let all = 0;
  const series: SeriesPoint[] = [];
  let next = every;
  let lastT = 0;
  let lastArrived = 0;
  let lastGood = 0;
  const epochS = (env.epochMs * (1 + 1e-9)) / 1000;
  const totals = (m: EnvMetrics) => ({ arrived: m.arrived, good: m.goodput * ((m.timeMs - m.windowStartMs) / 1000) });
  const onStep = ({ result: r, decisionUs: us }: StepView): boolean => {
    const now = env.executor.now();
    o.onStep?.(now, ++all);
    if (!measuring) {
      if (now < warmupMs) return false;
      env.startMeasurement();
      measuring = true;
      lastT = now;
      next = now + every;
      return false;
    }
    // A wall clock says whether the decision ran past its boundary; otherwise a step longer than its epoch overran.
    const info = r.infos[LAUNCHER] as { dt?: number; overran?: boolean } | undefined;
    if (info?.overran ?? (info?.dt !== undefined && info.dt > epochS)) overruns++;
    decisionSum += us;
    if (us > decisionMax) decisionMax = us;
    // The full metrics (latency quantiles) only at series samples: every step they would double the cost.
    backlogSum += env.inSystem();
    if (every > 0 && now >= next) {
      const m = env.metrics();
      const t = totals(m);
      const dt = (now - lastT) / 1000;
      series.push({ tS: now / 1000, arrivalRate: (t.arrived - lastArrived) / dt, goodput: (t.good - lastGood) / dt, backlog: m.inSystem });
      lastT = now;
      lastArrived = t.arrived;
      lastGood = t.good;
      next = now + every;
    }
    return true;
  };
  const played = await playEpisode(env, policy, o.seed, { onStep, stop: Number.isFinite(untilMs) ? () => env.executor.now() >= untilMs : undefined });
  const steps = played.steps;
  const ret = played.returns[LAUNCHER] ?? 0;
  const m = env.metrics();
  return {
    seed: o.seed,
    steps,
    warmupS: warmupMs / 1000,
    seconds: (m.timeMs - m.windowStartMs) / 1000,
    return: ret,
    ...requestMetrics(m),
    backlog: m.inSystem,
    meanBacklog: backlogSum / Math.max(1, steps),
    overruns,
    decisionUsMean: decisionSum / Math.max(1, steps),
    decisionUsMax: decisionMax,
    models: m.models.map((x) => ({ name: x.name, ...requestMetrics(x) })),
    series,
  };
}
