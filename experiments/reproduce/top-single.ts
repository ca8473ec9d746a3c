/**
 * TOP's model scheduler for one model: MADDPG (launcher + scheduler, agents/maddpg.ts) trained in a
 * single-model simulated AsyncInference env whose candidate schedules are sequential, greedy,
 * IOS-DP and GPG's (extraSchedules). After training, the greedy (argmax) policy runs evaluation
 * episodes and we count which candidate the scheduler chose for each launch it made: that
 * candidate is "TOP's schedule" for the model, and its native latency is TOP's measured latency.
 */
import { initBackend } from '../../agents/backend.js';
import { type MaddpgConfig, MaddpgTrainer } from '../../agents/maddpg.js';
import { AsyncInferenceEnv, LAUNCHER, SCHEDULER } from '../../env/async-inference-env.js';
import type { Policy } from '../../env/policy.js';
import type { CostModel } from '../../graphs/cost/model.js';
import type { Graph } from '../../graphs/ir.js';
import type { Schedule } from '../../graphs/schedule.js';
import { playEpisode } from '../harness/episode.js';

/** Small networks and an early start: a few thousand steps on 2 shared cores. */
export const TOP_SINGLE_CONFIG: Partial<MaddpgConfig> = {
  seed: 0,
  lr: 1e-3,
  gamma: 0.95,
  tau: 0.01,
  batchSize: 64,
  bufferSize: 20_000,
  learningStarts: 400,
  trainFreq: 4,
  gradientSteps: 1,
  hidden: [32, 32],
  maxEpisodeSteps: 100,
};

export interface TopPick {
  /** The candidate chosen most often over all evaluation launches. */
  method: string;
  /** Launch-weighted choice counts per candidate name. */
  counts: Record<string, number>;
  steps: number;
  episodes: number;
  wallMs: number;
  /** Load offered (req/s) and the SLO the env used. */
  rate: number;
  sloMs: number;
  epochMs: number;
}

export interface TopSingleOptions {
  name: string;
  graph: Graph;
  /** The cost model of the candidates (the same one they were partitioned under). */
  cost: CostModel;
  /** GPG's schedule: the fourth candidate, after sequential, greedy and IOS-DP. */
  gpgSchedule: Schedule;
  /** Predicted alone latency of the best candidate (ms): sizes the load, SLO and epoch. */
  refMs: number;
  steps: number;
  evalEpisodes?: number;
  config?: Partial<MaddpgConfig>;
  log?: (line: string) => void;
}

const CANDIDATES = ['sequential', 'greedy', 'ios-dp'] as const;

export async function trainTopScheduler(o: TopSingleOptions): Promise<TopPick> {
  await initBackend('wasm', { log: () => {} });
  // Load at ~70 % of what one launch at a time can serve, SLO 3× the best alone latency: the
  // choice of schedule then decides whether queues stay short and requests meet their SLO.
  const rate = (0.7 * 1000) / o.refMs;
  const sloMs = 3 * o.refMs;
  const epochMs = Math.max(1, Math.ceil(o.refMs));
  const envOpts = {
    workload: { name: `top-single-${o.name}`, models: [{ name: o.name, sloMs, arrival: { kind: 'poisson', rate } }] },
    graphs: { [o.name]: o.graph },
    cost: o.cost,
    candidates: [...CANDIDATES],
    extraSchedules: { [o.name]: [o.gpgSchedule] },
    levels: [0, 1, 2, 4],
    batchSizes: [1],
    epochMs,
    maxSteps: 100,
    reward: { scale: 0.1 },
  };
  const names = [...CANDIDATES, 'gpg'];
  const cfg = { ...TOP_SINGLE_CONFIG, ...o.config, dtUnit: epochMs / 1000 };
  const trainer = new MaddpgTrainer(new AsyncInferenceEnv(envOpts), cfg);
  try {
    const t0 = performance.now();
    trainer.train(o.steps);
    const wallMs = performance.now() - t0;
    const env = new AsyncInferenceEnv(envOpts);
    const policy = trainer.policy();
    const counts: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
    const view = env.view();
    // The trained policy, counting its schedule picks as it acts (through the harness's episode loop).
    const counting: Policy = {
      name: 'top',
      act: (observations) => {
        const act = policy.act(observations) as Record<string, Int32Array>;
        // A launch happens when the launcher releases something and requests wait; weight the
        // scheduler's choice by how many it can release (an idle choice schedules nothing).
        const released = Math.min(view.levels[act[LAUNCHER][0]], view.queueLength(0));
        counts[names[act[SCHEDULER][0]]] += released;
        return act;
      },
    };
    for (let e = 0; e < (o.evalEpisodes ?? 3); e++) await playEpisode(env, counting, 1000 + e);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    // With no launch at all (a policy that never releases) the pick is undefined: say so.
    const method = total === 0 ? 'none' : names.reduce((a, b) => (counts[b] > counts[a] ? b : a));
    o.log?.(`  top(${o.name}): ${trainer.counters.episode} episodes in ${(wallMs / 1000).toFixed(1)} s; picks ${JSON.stringify(counts)} → ${method}`);
    return { method, counts, steps: o.steps, episodes: trainer.counters.episode, wallMs, rate, sloMs, epochMs };
  } finally {
    trainer.dispose();
  }
}
