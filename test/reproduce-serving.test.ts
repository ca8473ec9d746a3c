import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AsyncInferenceEnv, LAUNCHER, SCHEDULER } from '../env/async-inference-env.js';
import { std } from '../env/stats.js';
import { FrozenAgentEnv, MixtureEnv } from '../env/wrappers.js';
import { ablations } from '../experiments/reproduce/ablations.js';
import { multiModelServing } from '../experiments/reproduce/multi-model-serving.js';
import { servingEnvOptions, staticPolicy } from '../experiments/reproduce/serving-harness.js';

const tiny = { episodeSteps: 40, episodes: 2, config: { learningStarts: 100, batchSize: 32, trainFreq: 4 } };

function plotsWritten(paths: string[]): void {
  for (const p of paths) {
    expect(existsSync(p)).toBe(true);
    expect(statSync(p).size).toBeGreaterThan(1000);
  }
}

describe('serving harness', () => {
  it('rate mixture picks envs by seed, reproducibly, and the frozen-agent env exposes one agent', () => {
    const envs = [200, 1400].map((r) => new AsyncInferenceEnv(servingEnvOptions(r, { maxSteps: 5 })));
    const mix = new MixtureEnv(envs, 'topsched/AsyncInference-rate-mixture');
    const picked = new Set<string>();
    for (let s = 0; s < 20; s++) {
      mix.reset({ seed: s });
      picked.add((mix as unknown as { current: AsyncInferenceEnv }).current.workload.name);
    }
    expect(picked.size).toBe(2);
    const frozen = new FrozenAgentEnv(envs[1], SCHEDULER, staticPolicy(envs[1], { perEpoch: 8, schedule: 'greedy', batch: 8 }));
    expect(frozen.possibleAgents).toEqual([SCHEDULER]);
    const { observations } = frozen.reset({ seed: 0 });
    expect(Object.keys(observations)).toEqual([SCHEDULER]);
    const r = frozen.step({ [SCHEDULER]: frozen.actionSpace(SCHEDULER).sample(() => 0.5) as Int32Array });
    expect(Object.keys(r.rewards)).toEqual([SCHEDULER]);
    // The static launcher released 8 per model in the first epoch: something is in flight or done.
    expect(envs[1].metrics().inSystem + envs[1].metrics().completed).toBeGreaterThan(0);
    expect(() => new FrozenAgentEnv(envs[1], 'nobody', staticPolicy(envs[1], { perEpoch: 8, schedule: 'greedy', batch: 8 }))).toThrow(/nobody/);
    expect(std([1, 2, 3])).toBeCloseTo(1);
    expect(LAUNCHER).toBe('launcher');
    mix.close();
  });
});

describe('reproduce multi-model-serving and ablations (tiny scale)', () => {
  it('multi-model-serving: a row per policy and rate, consistent numbers, plots', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'mms-'));
    const rates = [200, 1400];
    const res = await multiModelServing({ ...tiny, outDir, rates, trainSteps: 300 });
    expect(res.policies).toEqual(['TOP (MADDPG)', 'Triton-like', 'POS-like', 'fixed-frequency', 'one-at-a-time']);
    for (const rate of rates)
      for (const p of res.policies) {
        const row = res.rows.find((r) => r.rate === rate && r.policy === p);
        expect(row, `${p} at ${rate}`).toBeDefined();
        if (!row) continue;
        expect(row.completed).toBeLessThanOrEqual(row.arrived);
        expect(row.arrived).toBeGreaterThan(0);
        expect(row.p99Ms).toBeGreaterThanOrEqual(row.p50Ms);
        expect(row.throughput).toBeGreaterThan(0);
      }
    // More offered load means more arrivals for every policy (same seeds).
    for (const p of res.policies)
      expect(res.rows.find((r) => r.rate === 1400 && r.policy === p)!.arrived).toBeGreaterThan(res.rows.find((r) => r.rate === 200 && r.policy === p)!.arrived);
    plotsWritten(res.plots);
    const md = readFileSync(join(outDir, 'multi-model-serving.md'), 'utf8');
    for (const s of [
      '# Multi-model serving',
      'Machine:',
      'Backend:',
      'Command: `npx topsched reproduce multi-model-serving`',
      '## Verdict',
      'multi-model-serving-p99.png',
    ])
      expect(md).toContain(s);
  }, 60_000);

  it('ablations: every variant has a run per seed, consistent numbers, plot', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'abl-'));
    const res = await ablations({ ...tiny, outDir, seeds: 2, trainSteps: 200, sloVariant: false });
    expect(res.variants.map((v) => v.name)).toEqual([
      'launcher only (scheduler static)',
      'scheduler only (fixed-frequency launcher)',
      'both (launcher + scheduler)',
    ]);
    for (const v of res.variants) {
      expect(v.runs).toHaveLength(2);
      for (const r of v.runs) {
        expect(r.completed).toBeLessThanOrEqual(r.arrived);
        expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
      }
    }
    expect(res.best.perEpoch).toBeGreaterThan(0);
    expect(res.best.batch).toBeLessThanOrEqual(res.best.perEpoch);
    plotsWritten(res.plots);
    const md = readFileSync(join(outDir, 'ablations.md'), 'utf8');
    for (const s of ['# Ablations', 'Machine:', 'Backend:', 'Command: `npx topsched reproduce ablations`', '## Verdict', '±', 'ablations.png'])
      expect(md).toContain(s);
  }, 60_000);
});
