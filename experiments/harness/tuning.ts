/**
 * Tuning the non-learned baselines on a workload, on tuning seeds disjoint from the evaluation
 * seeds, with the budget counted in env steps (it is reported beside the learners' training steps).
 * The score is mean goodput over the tuning episodes.
 *
 *  - best static: coordinate descent over each model's (release level, batch), then its schedule,
 *    from "release 8 at batch 8 on the most parallel schedule"; passes repeat while the budget lasts
 *    and a pass improved.
 *  - Triton-like: a grid over instances × preferred batch × max queue delay.
 *  - deadline-aware: its admission cap.
 *  - rate-adaptive: a best-static search per load level, on Poisson arrivals of the workload's mix.
 */

import { type TritonOptions, tritonPolicy } from '../../agents/baselines.js';
import { type DeadlineAwareOptions, deadlineAwarePolicy, type RateTableEntry, type StaticConfig, staticPolicy } from '../../agents/heuristics.js';
import { AsyncInferenceEnv } from '../../env/async-inference-env.js';
import type { AsyncInferenceOptions } from '../../env/options.js';
import type { Policy } from '../../env/policy.js';
import type { Workload } from '../../env/workload.js';
import { runEpisode } from './episode.js';
import { poissonMix } from './load.js';

export interface TuneContext {
  env: AsyncInferenceEnv;
  seeds: readonly number[];
  warmupS: number;
  /** Env steps spent so far (updated). */
  steps: number;
  evals: number;
}

export async function score(ctx: TuneContext, p: Policy): Promise<number> {
  let g = 0;
  for (const seed of ctx.seeds) {
    const r = await runEpisode(ctx.env, p, { seed, warmupS: ctx.warmupS, seriesEveryMs: 0 });
    g += r.goodput;
    ctx.steps += ctx.env.maxSteps || r.steps;
  }
  ctx.evals += 1;
  return g / ctx.seeds.length;
}

export interface Tuned<T> {
  config: T;
  goodput: number;
  steps: number;
  evals: number;
}

export async function tuneStatic(ctx: TuneContext, budgetSteps: number): Promise<Tuned<StaticConfig>> {
  const v = ctx.env.view();
  const M = v.models.length;
  const top = (n: number) => n - 1;
  let best: StaticConfig = {
    level: new Array(M).fill(top(v.levels.length)),
    schedule: v.models.map((m) => m.schedules.length - 1),
    batch: new Array(M).fill(top(v.batchSizes.length)),
  };
  const startSteps = ctx.steps;
  const perEval = ctx.seeds.length * ctx.env.maxSteps;
  let bestScore = await score(ctx, staticPolicy(ctx.env, best));
  const tryConfig = async (c: StaticConfig) => {
    if (ctx.steps - startSteps + perEval > budgetSteps) return false;
    const s = await score(ctx, staticPolicy(ctx.env, c));
    if (s > bestScore) {
      best = c;
      bestScore = s;
    }
    return true;
  };
  for (let pass = 0; pass < 4; pass++) {
    const before = bestScore;
    for (let m = 0; m < M; m++) {
      const base = best;
      for (let l = 1; l < v.levels.length; l++)
        for (let b = 0; b < v.batchSizes.length; b++) {
          if (l === base.level[m] && b === base.batch[m]) continue;
          if (v.batchSizes[b] > Math.max(1, v.levels[l])) continue; // a batch larger than the release never fills
          const c = { level: [...base.level], schedule: [...base.schedule], batch: [...base.batch] };
          c.level[m] = l;
          c.batch[m] = b;
          if (!(await tryConfig(c))) return { config: best, goodput: bestScore, steps: ctx.steps, evals: ctx.evals };
        }
      const base2 = best;
      for (let s = 0; s < v.models[m].schedules.length; s++) {
        if (s === base2.schedule[m]) continue;
        const c = { level: [...base2.level], schedule: [...base2.schedule], batch: [...base2.batch] };
        c.schedule[m] = s;
        if (!(await tryConfig(c))) return { config: best, goodput: bestScore, steps: ctx.steps, evals: ctx.evals };
      }
    }
    if (bestScore <= before) break;
  }
  return { config: best, goodput: bestScore, steps: ctx.steps, evals: ctx.evals };
}

/** The Triton-like grid: instances × preferred batch × max queue delay. */
function tritonGrid(batchSizes: readonly number[]): TritonOptions[] {
  return [1, 2].flatMap((instances) =>
    batchSizes.filter((b) => b > 1).flatMap((maxBatch) => [0, 2, 5, 10].map((maxQueueDelayMs) => ({ instances, maxBatch, maxQueueDelayMs }))),
  );
}

export async function tuneTriton(ctx: TuneContext): Promise<Tuned<TritonOptions>> {
  let best: TritonOptions = {};
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const o of tritonGrid(ctx.env.view().batchSizes)) {
    const s = await score(ctx, tritonPolicy(ctx.env, o));
    if (s > bestScore) {
      best = o;
      bestScore = s;
    }
  }
  return { config: best, goodput: bestScore, steps: ctx.steps, evals: ctx.evals };
}

export async function tuneDeadline(ctx: TuneContext): Promise<Tuned<DeadlineAwareOptions>> {
  let best: DeadlineAwareOptions = {};
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const maxInFlight of [2, 4, 8, 16]) {
    const s = await score(ctx, deadlineAwarePolicy(ctx.env, { maxInFlight }));
    if (s > bestScore) {
      best = { maxInFlight };
      bestScore = s;
    }
  }
  return { config: best, goodput: bestScore, steps: ctx.steps, evals: ctx.evals };
}

/**
 * The rate-adaptive policy's table: a best-static search at each load level (fractions of
 * `capacity`) on Poisson arrivals of the workload's model mix.
 */
export async function tuneRateTable(
  base: AsyncInferenceOptions,
  w: Workload,
  capacity: number,
  loads: readonly number[],
  seeds: readonly number[],
  warmupS: number,
  budgetPerLevel: number,
): Promise<{ table: RateTableEntry[]; steps: number }> {
  const table: RateTableEntry[] = [];
  let steps = 0;
  for (const load of loads) {
    const env = new AsyncInferenceEnv({ ...base, workload: poissonMix(w, load * capacity) });
    try {
      const ctx: TuneContext = { env, seeds, warmupS, steps: 0, evals: 0 };
      const t = await tuneStatic(ctx, budgetPerLevel);
      table.push({ rate: load * capacity, config: t.config });
      steps += ctx.steps;
    } finally {
      env.close();
    }
  }
  return { table, steps };
}

/**
 * The Triton-like grid of `tuneTriton`, scored on a set of envs (a learner's training mixture: every
 * training workload × load) instead of one cell: mean goodput over envs × seeds. What a residual
 * learner's base is tuned on, so nothing of the evaluation cells leaks into it.
 */
export async function tuneTritonOnMixture(envs: AsyncInferenceEnv[], seeds: readonly number[], warmupS: number): Promise<Tuned<TritonOptions>> {
  let best: TritonOptions = {};
  let bestScore = Number.NEGATIVE_INFINITY;
  const ctxs = envs.map((env): TuneContext => ({ env, seeds, warmupS, steps: 0, evals: 0 }));
  for (const o of tritonGrid(envs[0].view().batchSizes)) {
    let s = 0;
    for (const ctx of ctxs) s += await score(ctx, tritonPolicy(ctx.env, o));
    if (s > bestScore) {
      best = o;
      bestScore = s;
    }
  }
  const steps = ctxs.reduce((a, c) => a + c.steps, 0);
  const evals = ctxs.reduce((a, c) => a + c.evals, 0);
  return { config: best, goodput: bestScore / envs.length, steps, evals };
}
