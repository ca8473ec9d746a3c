/** Runs a Policy on an env for whole episodes with fixed seeds: the one evaluation loop for agents and baselines. */
import type { ParallelEnv } from '../env/core.js';
import type { Policy } from './policy.js';

export interface EvalOptions {
  episodes?: number;
  /** Episode e is reset with seed `seed + e`. */
  seed?: number;
  /** Stop an episode after this many steps even if the env has not ended it. */
  maxSteps?: number;
}

export interface EvalResult {
  /** Mean undiscounted episode return per agent. */
  meanReturn: Record<string, number>;
  /** Mean over agents of meanReturn. */
  meanTeamReturn: number;
  returns: Record<string, number>[];
  lengths: number[];
}

export function evaluatePolicy(env: ParallelEnv<unknown, unknown>, policy: Policy, opts: EvalOptions = {}): EvalResult {
  const episodes = opts.episodes ?? 10;
  const seed = opts.seed ?? 0;
  const maxSteps = opts.maxSteps ?? Number.POSITIVE_INFINITY;
  const returns: Record<string, number>[] = [];
  const lengths: number[] = [];
  for (let e = 0; e < episodes; e++) {
    let { observations } = env.reset({ seed: seed + e });
    policy.reset?.();
    const ret: Record<string, number> = Object.fromEntries(env.possibleAgents.map((a) => [a, 0]));
    let steps = 0;
    while (env.agents.length && steps < maxSteps) {
      const res = env.step(policy.act(observations));
      for (const [a, r] of Object.entries(res.rewards)) ret[a] += r;
      observations = res.observations;
      steps += 1;
    }
    returns.push(ret);
    lengths.push(steps);
  }
  const meanReturn: Record<string, number> = {};
  for (const a of env.possibleAgents) meanReturn[a] = returns.reduce((s, r) => s + r[a], 0) / episodes;
  const vals = Object.values(meanReturn);
  return { meanReturn, meanTeamReturn: vals.reduce((s, v) => s + v, 0) / vals.length, returns, lengths };
}
