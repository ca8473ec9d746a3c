/**
 * The "better signals" options of the AsyncInference env: load-change observations (appended after
 * the fixed layout, so baselines are unaffected) and the goodput reward.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tritonPolicy } from '../agents/baselines.js';
import { AsyncInferenceEnv, LAUNCHER } from '../env/async-inference-env.js';
import { greedyReleasePolicy } from '../env/policies.js';
import { loadWorkloadFile } from '../env/workload.js';

const root = join(import.meta.dirname, '..');
const flash = loadWorkloadFile(join(root, 'experiments', 'workloads', 'adaptation', 'flash-crowd.yaml'));
const base = {
  cost: 'roofline:v100',
  epochMs: 10,
  maxSteps: 3200,
  streams: 4,
  levels: [0, 1, 2, 4, 8, 16, 32],
  batchSizes: [1, 2, 4, 8],
  workload: flash,
} as const;

describe('loadFeatures', () => {
  it('appends 3 entries per model to observations and state; a baseline behaves identically with or without them', () => {
    const plain = new AsyncInferenceEnv({ ...base, maxSteps: 300 });
    const rich = new AsyncInferenceEnv({ ...base, maxSteps: 300, loadFeatures: true });
    expect(rich.observationSpace(LAUNCHER).size).toBe(plain.observationSpace(LAUNCHER).size + 9);
    expect(rich.stateSpace.size).toBe(plain.stateSpace.size + 9);
    const run = (env: AsyncInferenceEnv) => {
      let o = env.reset({ seed: 3 }).observations;
      const p = tritonPolicy(env, { instances: 2, maxBatch: 8, maxQueueDelayMs: 0 });
      const rewards: number[] = [];
      while (env.agents.length) {
        const r = env.step(p.act(o) as Record<string, Int32Array>);
        rewards.push(r.rewards[LAUNCHER]);
        o = r.observations;
      }
      return rewards;
    };
    expect(run(rich)).toEqual(run(plain));
  });

  it('the fast arrival-rate estimate sees the flash crowd double the rate, the slow one lags it', () => {
    const env = new AsyncInferenceEnv({ ...base, loadFeatures: true });
    let o = env.reset({ seed: 1 }).observations;
    const p = greedyReleasePolicy(env);
    const n = env.observationSpace(LAUNCHER).size;
    const at: Record<number, { fast: number; slow: number }> = {};
    for (let step = 1; env.agents.length; step++) {
      o = env.step(p.act(o) as Record<string, Int32Array>).observations;
      // squeezenet1_1 (model 0): features at n − 9 (fast), n − 8 (slow), n − 7 (goodput).
      const x = o[LAUNCHER];
      if ([1100, 1250, 1750].includes(step)) at[step] = { fast: x[n - 9], slow: x[n - 8] };
    }
    // Mean rate over the episode is 500·26/32 + 1000·6/32 ≈ 594 req/s: ratios 500/594 and 1000/594.
    expect(at[1100].fast).toBeCloseTo(500 / 593.75, 0);
    expect(at[1250].fast).toBeGreaterThan(1.4);
    expect(at[1250].slow).toBeLessThan(at[1250].fast);
    expect(at[1750].fast).toBeGreaterThan(1.4);
    expect(at[1750].slow).toBeGreaterThan(1.3);
  });
});

describe("reward kind 'goodput'", () => {
  it('rewards on-time completions only: the episode sum is the on-time count (minus the backlog term)', () => {
    const env = new AsyncInferenceEnv({ ...base, maxSteps: 400, reward: { kind: 'goodput', wBacklog: 0, scale: 1 } });
    let o = env.reset({ seed: 2 }).observations;
    const p = greedyReleasePolicy(env);
    let sum = 0;
    let last = env.metrics();
    while (env.agents.length) {
      const r = env.step(p.act(o) as Record<string, Int32Array>);
      sum += r.rewards[LAUNCHER];
      o = r.observations;
      last = r.infos[LAUNCHER].metrics as typeof last;
    }
    // goodput × window seconds = on-time completions (the window is the whole episode here).
    const onTime = (last.goodput * (last.timeMs - last.windowStartMs)) / 1000;
    expect(sum).toBeCloseTo(onTime, 6);
    expect(sum).toBeGreaterThan(0);
    expect(() => new AsyncInferenceEnv({ ...base, reward: { kind: 'latency' as never } })).toThrow(
      /option 'reward.kind': must be 'throughput' or 'goodput', got "latency"/,
    );
    expect(() => new AsyncInferenceEnv({ ...base, loadFeatures: 'yes' as never })).toThrow(/option 'loadFeatures': must be true or false, got "yes"/);
  });
});
