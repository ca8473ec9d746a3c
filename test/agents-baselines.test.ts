import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../agents/backend.js';
import { BASELINE_NAMES, fixedFrequencyPolicy, makeBaseline, posPolicy, randomPolicy, scheduleChoicePolicy, tritonPolicy } from '../agents/baselines.js';
import { MaddpgTrainer } from '../agents/maddpg.js';
import { AsyncInferenceEnv, LAUNCHER, SCHEDULER } from '../env/async-inference-env.js';
import { meanReturns } from '../experiments/harness/episode.js';

let env: AsyncInferenceEnv;
beforeAll(async () => {
  await initBackend('wasm', { log: () => {} });
  env = new AsyncInferenceEnv({ maxSteps: 60 });
});

/** An observation with the given per-model entries (queue, age/SLO, in flight); the rest zero. */
function obs(perModel: [number, number, number][]): Record<string, Float32Array> {
  const o = new Float32Array(env.observationSpace(LAUNCHER).size);
  perModel.forEach(([q, age, fl], m) => {
    o[m * 6] = q;
    o[m * 6 + 1] = age;
    o[m * 6 + 2] = fl;
  });
  return { [LAUNCHER]: o, [SCHEDULER]: o };
}

const released = (a: Record<string, unknown>, m: number) => env.view().levels[(a[LAUNCHER] as Int32Array)[m]];
const schedOf = (a: Record<string, unknown>, m: number) => env.view().models[m].scheduleNames[(a[SCHEDULER] as Int32Array)[m * 2]];
const batchOf = (a: Record<string, unknown>, m: number) => env.view().batchSizes[(a[SCHEDULER] as Int32Array)[m * 2 + 1]];

describe('baselines', () => {
  it('every baseline runs whole episodes with actions inside the action spaces', async () => {
    for (const name of BASELINE_NAMES) {
      const p = makeBaseline(name, env);
      let { observations } = env.reset({ seed: 1 });
      for (let t = 0; t < 20 && env.agents.length; t++) {
        const a = p.act(observations);
        expect(env.actionSpace(LAUNCHER).why(a[LAUNCHER]), name).toBeNull();
        expect(env.actionSpace(SCHEDULER).why(a[SCHEDULER]), name).toBeNull();
        observations = env.step(a as Record<string, Int32Array>).observations;
      }
      const r = await meanReturns(env, p, { episodes: 1, seed: 3 });
      expect(Number.isFinite(r.team)).toBe(true);
    }
    expect(() => makeBaseline('nope', env)).toThrow(/unknown baseline "nope"/);
  });

  it('random is reproducible; fixed-frequency is constant; schedule choice names its candidate', () => {
    const a = randomPolicy(env, 4);
    const b = randomPolicy(env, 4);
    for (let i = 0; i < 5; i++) expect(Array.from(a.act({})[SCHEDULER] as Int32Array)).toEqual(Array.from(b.act({})[SCHEDULER] as Int32Array));
    const f = fixedFrequencyPolicy(env, { perEpoch: 2, schedule: 'ios-dp', batch: 2 });
    const fa = f.act(obs([[9, 0, 0]]));
    expect([released(fa, 0), released(fa, 1), schedOf(fa, 1), batchOf(fa, 0)]).toEqual([2, 2, 'ios-dp', 2]);
    expect(() => fixedFrequencyPolicy(env, { perEpoch: 3 })).toThrow(/not a level/);
    const s = scheduleChoicePolicy(env, 'greedy');
    const sa = s.act(
      obs([
        [3, 0, 0],
        [0, 0, 0],
      ]),
    );
    expect([schedOf(sa, 0), released(sa, 0), released(sa, 1)]).toEqual(['greedy', 4, 0]);
    expect(() => scheduleChoicePolicy(env, 'gpg')).toThrow(/no candidate schedule "gpg" \(candidates: sequential, greedy, ios-dp\)/);
  });

  it('triton waits for a full batch or the queue delay, and never exceeds its instances', () => {
    const t = tritonPolicy(env, { instances: 1, maxBatch: 4, maxQueueDelayMs: 5 });
    const slo = env.view().models[0].sloMs;
    const young = t.act(obs([[2, 1 / slo, 0]]));
    expect(released(young, 0)).toBe(0);
    const old = t.act(obs([[2, 6 / slo, 0]]));
    expect([released(old, 0), batchOf(old, 0), schedOf(old, 0)]).toEqual([2, 2, 'sequential']);
    const full = t.act(obs([[9, 0, 0]]));
    expect([released(full, 0), batchOf(full, 0)]).toEqual([4, 4]);
    const busy = t.act(obs([[9, 10, 1]]));
    expect(released(busy, 0)).toBe(0);
  });

  it('pos serves the most urgent model first and drops intra-model parallelism under load', async () => {
    const p = posPolicy(env, { concurrency: 4 });
    const idle = p.act(
      obs([
        [1, 0.1, 0],
        [1, 0.9, 0],
      ]),
    );
    // Model 1 (older head) goes first on an idle device with the parallel candidate; model 0 next.
    expect([schedOf(idle, 1), released(idle, 1), released(idle, 0)]).toEqual(['ios-dp', 1, 1]);
    const loaded = p.act(
      obs([
        [2, 0.5, 2],
        [0, 0, 1],
      ]),
    );
    expect([schedOf(loaded, 0), released(loaded, 0), batchOf(loaded, 0)]).toEqual(['sequential', 2, 2]);
    const full = p.act(
      obs([
        [5, 0.5, 4],
        [0, 0, 0],
      ]),
    );
    expect(released(full, 0)).toBe(0);
  });

  it("MADDPG trains on the AsyncInference env and its policy shares the baselines' interface", async () => {
    const trainer = new MaddpgTrainer(env, {
      seed: 0,
      batchSize: 32,
      learningStarts: 40,
      trainFreq: 10,
      hidden: [16, 16],
      maxEpisodeSteps: 0,
      bufferSize: 500,
    });
    expect(trainer.stateDim).toBe(env.stateSpace.size);
    trainer.train(120);
    expect(trainer.counters.updates).toBeGreaterThan(5);
    expect(Number.isFinite(trainer.lastLosses.criticLoss[0])).toBe(true);
    const r = await meanReturns(env, trainer.policy(), { episodes: 1, seed: 9 });
    expect(Number.isFinite(r.team)).toBe(true);
    trainer.dispose();
  });
});
