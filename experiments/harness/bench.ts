/**
 * What the harness's episode loop costs over bare env stepping: the same env, policy and seeds,
 * stepped by a bare `while (env.agents.length) env.step(p.act())` and by `runEpisode` (decision
 * timing, metrics every step, the time series, the warm-up switch), alternated and best of `rounds`.
 */
import { AsyncInferenceEnv } from '../../env/async-inference-env.js';
import { greedyReleasePolicy } from '../../env/policies.js';
import { loadWorkloadFile } from '../../env/workload.js';
import { runEpisode } from './episode.js';
import { atTotalRate } from './load.js';

export interface HarnessBench {
  steps: number;
  bareMs: number;
  harnessMs: number;
  overhead: number;
}

export async function benchHarness(workloadFile: string, o: { rate?: number; steps?: number; rounds?: number } = {}): Promise<HarnessBench> {
  const env = new AsyncInferenceEnv({
    workload: atTotalRate(loadWorkloadFile(workloadFile), o.rate ?? 1200),
    maxSteps: o.steps ?? 3000,
    streams: 4,
    levels: [0, 1, 2, 4, 8, 16, 32],
  });
  const p = greedyReleasePolicy(env);
  let bare = Number.POSITIVE_INFINITY;
  let harness = Number.POSITIVE_INFINITY;
  let steps = 0;
  try {
    for (let r = 0; r < (o.rounds ?? 5); r++) {
      let t = performance.now();
      env.reset({ seed: r });
      p.reset(r);
      steps = 0;
      while (env.agents.length) {
        env.step(p.act());
        steps++;
      }
      bare = Math.min(bare, performance.now() - t);
      t = performance.now();
      await runEpisode(env, p, { seed: r, warmupS: 1 });
      harness = Math.min(harness, performance.now() - t);
    }
  } finally {
    env.close();
  }
  return { steps, bareMs: bare, harnessMs: harness, overhead: harness / bare - 1 };
}
