/**
 * MAPPO (agents/mappo.ts): learns a small cooperative task from a vector env, resumes bit-exactly
 * from a checkpoint between iterations, refuses bad configs by name; behaviour cloning warm-starts
 * it towards a teacher.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../agents/backend.js';
import { cloneBehaviour } from '../agents/bc.js';
import { loadMappo, saveMappo } from '../agents/checkpoint.js';
import { MappoTrainer, resolveMappoConfig } from '../agents/mappo.js';
import { CueGame, OffsetGame } from '../agents/toy-envs.js';
import { VectorEnv } from '../env/vector.js';
import { meanReturns } from '../experiments/harness/episode.js';

beforeAll(async () => {
  await initBackend('cpu', { log: () => {} });
});

const cueVec = (n = 8) =>
  VectorEnv.of(
    Array.from({ length: n }, () => new CueGame({ k: 3, steps: 25, variableDt: true })),
    'same-step',
  );
const FAST = { rolloutSteps: 25, horizon: 50, epochs: 4, minibatches: 2, lr: 3e-3, hidden: [32] };

describe('MAPPO', () => {
  it('learns the cued coordination game (optimum 25 per episode; uniform random earns 25/18) on 3 of 3 seeds', async () => {
    for (const seed of [0, 1, 2]) {
      const t = new MappoTrainer(cueVec(), { seed, ...FAST });
      t.train(6000);
      const r = await meanReturns(new CueGame({ k: 3, steps: 25 }), t.policy(), { episodes: 3 });
      expect(r.team, `seed ${seed}`).toBeGreaterThanOrEqual(24);
      t.dispose();
    }
  }, 120_000);

  it('a shared actor uses the agent id: one network plays different actions per agent in the offset game (uniform random earns 25/9)', async () => {
    const vec = VectorEnv.of(
      Array.from({ length: 8 }, () => new OffsetGame({ n: 2, k: 3, steps: 25 })),
      'same-step',
    );
    const t = new MappoTrainer(vec, { seed: 0, ...FAST, shareActor: true });
    expect(t.nets.actors.length).toBe(1);
    t.train(20000);
    // Identical observations, different greedy actions: only the agent id can tell them apart.
    expect((await meanReturns(new OffsetGame({ n: 2, k: 3, steps: 25 }), t.policy(), { episodes: 3 })).team).toBeGreaterThanOrEqual(12);
    t.dispose();
  }, 120_000);

  it('a checkpoint between iterations resumes bit-exactly (parameters, Adam, value statistics, RNGs)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mappo-ckpt-'));
    const cfg = { seed: 3, ...FAST, averageReward: false };
    const straight = new MappoTrainer(cueVec(4), cfg);
    const lossesA: number[] = [];
    straight.train(800, (_s, m) => {
      if (m['loss/critic/cued'] !== undefined) lossesA.push(m['loss/critic/cued']);
    });
    const first = new MappoTrainer(cueVec(4), cfg);
    const lossesB: number[] = [];
    const hook = (_s: number, m: Record<string, number>) => {
      if (m['loss/critic/cued'] !== undefined) lossesB.push(m['loss/critic/cued']);
    };
    first.train(400, hook);
    expect(first.betweenEpisodes).toBe(true);
    saveMappo(first, join(dir, 'ck'));
    first.dispose();
    const resumed = loadMappo(join(dir, 'ck'), cueVec(4));
    resumed.train(400, hook);
    expect(resumed.counters).toEqual(straight.counters);
    expect(lossesB).toEqual(lossesA);
    for (const [name, net] of straight.nets.named())
      expect(Array.from(resumed.nets.named().find(([n]) => n === name)![1].host), name).toEqual(Array.from(net.host));
    // Mid-iteration saves are refused; a checkpoint for another number of sub-envs is refused.
    resumed.train(4);
    expect(() => saveMappo(resumed, join(dir, 'mid'))).toThrow(/mid-iteration/);
    expect(() => loadMappo(join(dir, 'ck'), cueVec(2))).toThrow(/trained on 4 sub-envs, the vector env has 2/);
  }, 120_000);

  it('the average-reward criterion and dt-discounting both train', async () => {
    const t = new MappoTrainer(cueVec(), { seed: 1, ...FAST, averageReward: true, gaeLambda: 0.9 });
    t.train(6000);
    expect(t.rho[0]).toBeGreaterThan(0.5);
    expect((await meanReturns(new CueGame({ k: 3, steps: 25 }), t.policy(), { episodes: 3 })).team).toBeGreaterThanOrEqual(24);
  }, 120_000);

  it('bad configs are errors naming the field and value; a next-step vector env is refused', () => {
    expect(() => resolveMappoConfig({ horizon: 100, rolloutSteps: 64 })).toThrow(/'horizon' must be a multiple of rolloutSteps \(64\), got 100/);
    expect(() => resolveMappoConfig({ clip: 0 })).toThrow(/'clip' must be > 0, got 0/);
    expect(() => resolveMappoConfig({ activation: 'gelu' as never })).toThrow(/'activation' must be 'tanh' or 'relu', got "gelu"/);
    expect(() => new MappoTrainer(VectorEnv.of([new CueGame({ k: 3, steps: 5 })]), {})).toThrow(/autoreset 'same-step', got 'next-step'/);
  });

  it('behaviour cloning fits the actors to a teacher until the target agreement', () => {
    const t = new MappoTrainer(cueVec(2), { seed: 0, ...FAST });
    // Teacher: always action 2 for 'cued', [1, 0] for 'blind'.
    const rep = cloneBehaviour(t, [new CueGame({ k: 3, steps: 25 })], () => ({ name: 'teacher', act: () => ({ cued: 2, blind: Int32Array.from([1, 0]) }) }), {
      steps: 200,
      targetAccuracy: 0.99,
      lr: 1e-2,
    });
    expect(rep.rows).toBe(200);
    expect(rep.accuracy.cued).toBeGreaterThanOrEqual(0.99);
    expect(rep.accuracy.blind).toBeGreaterThanOrEqual(0.99);
    const p = t.policy();
    const env = new CueGame({ k: 3, steps: 25 });
    const { observations } = env.reset({ seed: 5 });
    expect(p.act(observations)).toEqual({ cued: 2, blind: Int32Array.from([1, 0]) });
  }, 60_000);
});
