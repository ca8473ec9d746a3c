/**
 * The shared (cooperative) reward of the launcher and the scheduler — defined here and nowhere
 * else. Per step:
 *
 *     r = w_tp · completed − w_backlog · Δbacklog − w_slo · violations
 *
 *  - completed:  requests that finished during the step (a count, not a rate: over a semi-MDP
 *                episode the rewards then sum to the episode's totals whatever the step lengths).
 *  - Δbacklog:   change during the step of the requests in the system (waiting in queues plus in
 *                flight); it telescopes, so an episode's sum is the backlog left at its end.
 *  - violations: requests that finished later than their model's SLO, plus requests dropped
 *                because their queue was full.
 *
 * Defaults w_tp = 1, w_backlog = 0.1, w_slo = 1: a late request earns nothing net (1 − 1), an on-
 * time one earns 1, and growing queues cost a little before they turn into violations.
 * `scale` multiplies the whole reward (e.g. 1 / expected requests per step, to keep |r| ≈ 1).
 *
 * `kind: 'goodput'` is the SLO-aware alternative: r = scale · (w_tp · onTime − w_backlog · Δbacklog),
 * onTime = requests that finished within their SLO during the step (w_slo unused): the episode sum is
 * then the goodput × time (minus the final backlog term), the metric the results rank policies by.
 */
import { EnvError } from './core.js';

export interface RewardWeights {
  wThroughput?: number;
  wBacklog?: number;
  wSlo?: number;
  scale?: number;
  /** 'throughput' (the formula above, default) or 'goodput' (on-time completions only). */
  kind?: 'throughput' | 'goodput';
}

export type ResolvedRewardWeights = Required<RewardWeights>;

export const DEFAULT_REWARD: ResolvedRewardWeights = { wThroughput: 1, wBacklog: 0.1, wSlo: 1, scale: 1, kind: 'throughput' };

export function resolveReward(w: RewardWeights = {}): ResolvedRewardWeights {
  const out = { ...DEFAULT_REWARD, ...w };
  if (out.kind !== 'throughput' && out.kind !== 'goodput')
    throw new EnvError(`must be 'throughput' or 'goodput', got ${JSON.stringify(out.kind)}`, `option 'reward.kind'`);
  for (const [k, v] of Object.entries(out)) {
    if (k === 'kind') continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new EnvError(`must be a finite number, got ${JSON.stringify(v)}`, `option 'reward.${k}'`);
  }
  return out;
}

export function stepReward(w: ResolvedRewardWeights, completed: number, backlogDelta: number, violations: number, onTime = completed): number {
  if (w.kind === 'goodput') return w.scale * (w.wThroughput * onTime - w.wBacklog * backlogDelta);
  return w.scale * (w.wThroughput * completed - w.wBacklog * backlogDelta - w.wSlo * violations);
}
