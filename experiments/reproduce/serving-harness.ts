/**
 * The training and evaluation harness the serving experiments share (multi-model-serving.ts,
 * ablations.ts): the two-model simulated workload at a chosen arrival rate, an env that draws the
 * rate per episode (so one MADDPG run covers light load to overload), an env with one agent
 * frozen to a fixed policy (the ablations' launcher-only / scheduler-only variants, driven from
 * here so agents/maddpg.ts stays unchanged), MADDPG training with a short curve, and the one
 * evaluation loop every policy goes through on the same seeds.
 */

import { type MaddpgConfig, MaddpgTrainer } from '../../agents/maddpg.js';
import type { Policy } from '../../agents/policy.js';
import { deriveSeed } from '../../agents/rng.js';
import type { AsyncInferenceEnv } from '../../env/async-inference-env.js';
import type { AgentID, ParallelEnv } from '../../env/core.js';
import type { AsyncInferenceOptions } from '../../env/options.js';
import { fixedFrequencyPolicy, levelIndex } from '../../env/policies.js';
import { renamed } from '../../env/policy.js';
import { mean } from '../../env/stats.js';
import { runEpisode } from '../harness/episode.js';
import { TWO_MODEL_ENV } from './maddpg-vs-fixed.js';

/**
 * TWO_MODEL_ENV (squeezenet1_1 + inception_v3, roofline V100, 10 ms epochs, throughput reward)
 * with Poisson arrivals of `totalRate` requests/s split equally between the two models.
 */
export function servingEnvOptions(totalRate: number, overrides: Partial<AsyncInferenceOptions> = {}): AsyncInferenceOptions {
  if (!(totalRate > 0) || !Number.isFinite(totalRate)) throw new Error(`serving env: total arrival rate must be a positive number, got ${totalRate}`);
  const base = TWO_MODEL_ENV.workload as { name: string; models: { name: string; sloMs: number }[] };
  return {
    ...TWO_MODEL_ENV,
    workload: {
      name: `two-models-${totalRate}`,
      models: base.models.map((m) => ({ name: m.name, sloMs: m.sloMs, arrival: { kind: 'poisson', rate: totalRate / base.models.length } })),
    },
    ...overrides,
  };
}

/** A joint policy: `learnedAgent`'s action from `learned`, every other agent's from `fixed`. */
export function splicePolicy(name: string, learned: Policy, learnedAgent: AgentID, fixed: Policy): Policy {
  return {
    name,
    reset: () => {
      learned.reset?.();
      fixed.reset?.();
    },
    act: (observations) => ({ ...fixed.act(observations), [learnedAgent]: learned.act(observations)[learnedAgent] }),
  };
}

export interface ServingRow {
  policy: string;
  /** Total offered arrival rate, requests/s. */
  rate: number;
  /** Completed requests per second of env time. */
  throughput: number;
  p50Ms: number;
  p99Ms: number;
  /** Requests that arrived / completed during the episode (sums over episodes). */
  arrived: number;
  completed: number;
  /** Requests waiting or in flight, averaged over steps. */
  meanInSystem: number;
  /** Requests in the system at the end of the episode. */
  endBacklog: number;
  slo: number;
  /** Episode return under the env's reward. */
  reward: number;
}

/**
 * Episodes of `policy` with seeds `seeds` on `env`: throughput, p50/p99, backlog and reward
 * averaged over episodes (p50/p99 are per-episode quantiles, averaged); arrived/completed summed.
 */
export async function evaluateServing(env: AsyncInferenceEnv, policy: Policy, seeds: number[], rate: number): Promise<ServingRow> {
  if (!seeds.length) throw new Error('evaluateServing: needs at least one seed');
  const acc = { throughput: 0, p50Ms: 0, p99Ms: 0, arrived: 0, completed: 0, meanInSystem: 0, endBacklog: 0, slo: 0, reward: 0 };
  for (const seed of seeds) {
    // The harness's one episode loop, over the whole episode (no warm-up: as these results always were).
    const r = await runEpisode(env, policy, { seed, seriesEveryMs: 0 });
    acc.reward += r.return;
    acc.throughput += r.throughput;
    acc.p50Ms += r.p50Ms;
    acc.p99Ms += r.p99Ms;
    acc.arrived += r.arrived;
    acc.completed += r.completed;
    acc.meanInSystem += r.meanBacklog;
    acc.endBacklog += r.backlog;
    acc.slo += r.sloAttainment;
  }
  const k = 1 / seeds.length;
  return {
    policy: policy.name,
    rate,
    throughput: acc.throughput * k,
    p50Ms: acc.p50Ms * k,
    p99Ms: acc.p99Ms * k,
    arrived: acc.arrived,
    completed: acc.completed,
    meanInSystem: acc.meanInSystem * k,
    endBacklog: acc.endBacklog * k,
    slo: acc.slo * k,
    reward: acc.reward * k,
  };
}

export interface TrainResult {
  trainer: MaddpgTrainer;
  sec: number;
  /** "step N: mean return of the last 5 episodes R" lines, ten per run. */
  curve: string[];
}

/** Trains MADDPG on `env` for `steps` env steps; the caller disposes `trainer`. */
export function trainMaddpg(env: ParallelEnv<unknown, unknown>, cfg: Partial<MaddpgConfig>, steps: number, log: (line: string) => void): TrainResult {
  const trainer = new MaddpgTrainer(env, cfg);
  const t0 = performance.now();
  const returns: number[] = [];
  const curve: string[] = [];
  const key = `episode/return/${trainer.agents[0]}`;
  const chunk = Math.max(1, Math.floor(steps / 10));
  for (let done = 0; done < steps; done += chunk) {
    trainer.train(Math.min(chunk, steps - done), (_, m) => {
      if (m[key] !== undefined) returns.push(m[key]);
    });
    const recent = returns.slice(-5);
    const mean = recent.reduce((a, b) => a + b, 0) / Math.max(1, recent.length);
    const line = `step ${trainer.counters.step}: mean training return of the last ${recent.length} episodes ${mean.toFixed(1)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`;
    curve.push(line);
    log(`    ${line}`);
  }
  return { trainer, sec: (performance.now() - t0) / 1000, curve };
}

/** Training-episode seeds never collide with evaluation seeds: evaluation uses 0..K−1, training derived seeds. */
export function evalSeeds(k: number): number[] {
  return Array.from({ length: k }, (_, i) => i);
}

/** Seeds for tuning baselines (choosing the best static configuration), disjoint from evaluation's 0..K−1. */
export function tuningSeeds(k: number): number[] {
  return Array.from({ length: k }, (_, i) => deriveSeed('tuning', i));
}

/** A static configuration: every model releases `perEpoch` requests per epoch, runs `schedule`, at `batch`. */
export interface StaticChoice {
  perEpoch: number;
  schedule: string;
  batch: number;
}

export function staticLabel(c: StaticChoice): string {
  return `fixed ${c.perEpoch}/epoch, ${c.schedule}, batch ${c.batch}`;
}

/** The fixed-frequency baseline (env/policies.ts) for a static choice on `env`. */
export function staticPolicy(env: AsyncInferenceEnv, c: StaticChoice, name = staticLabel(c)): Policy {
  return renamed(fixedFrequencyPolicy(env, { level: levelIndex(env.view(), c.perEpoch), schedule: c.schedule, batch: c.batch }), name);
}

/**
 * The best static choice by mean episode reward (the objective MADDPG is trained on) over `envs`
 * and `seeds`: every positive level, every schedule candidate, every batch size up to the level
 * (a larger batch launches the same requests). Seeds should be tuning seeds, not evaluation seeds.
 */
export async function bestStatic(envs: AsyncInferenceEnv[], seeds: number[]): Promise<{ choice: StaticChoice; reward: number; tried: number }> {
  const view = envs[0].view();
  const schedules = view.models[0].scheduleNames.filter((s) => view.models.every((m) => m.scheduleNames.includes(s)));
  let best: { choice: StaticChoice; reward: number } | null = null;
  let tried = 0;
  for (const perEpoch of view.levels.filter((l) => l > 0))
    for (const schedule of schedules)
      for (const batch of view.batchSizes.filter((b) => b <= perEpoch)) {
        const choice = { perEpoch, schedule, batch };
        const rewards: number[] = [];
        for (const env of envs) rewards.push((await evaluateServing(env, staticPolicy(env, choice), seeds, 0)).reward);
        const reward = mean(rewards);
        tried += 1;
        if (!best || reward > best.reward) best = { choice, reward };
      }
  if (!best) throw new Error(`bestStatic: the env has no positive launcher level (levels: [${view.levels}])`);
  return { ...best, tried };
}
