/**
 * Vector envs (env/vector.ts): sync and async (worker_threads) step identically; next-step and
 * same-step autoreset follow Gymnasium 1.x; seeds fan out as seed + i; errors name the sub-env or
 * worker; close() shuts the workers down.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { AsyncInferenceEnv } from '../env/async-inference-env.js';
import { make } from '../env/index.js';
import { parallelApiTest } from '../env/pettingzoo-tests.js';
import { greedyReleasePolicy } from '../env/policies.js';
import { applyResidual, keepAction, ResidualEnv } from '../env/residual.js';
import { makeVec, subSeeds, type VectorEnv } from '../env/vector.js';

const ID = 'topsched/AsyncInference-v0';
const opts = { maxSteps: 20 };
const open: { close(): void }[] = [];
afterAll(() => {
  for (const v of open) v.close();
});

function fixedActions(v: VectorEnv<Float32Array, Int32Array>, k = 0): Record<string, Int32Array[]> {
  const out: Record<string, Int32Array[]> = {};
  for (const a of v.possibleAgents) {
    const nvec = (v.singleActionSpace(a) as unknown as { nvec: Int32Array }).nvec;
    out[a] = Array.from({ length: v.numEnvs }, (_, i) => Int32Array.from(nvec, (n, j) => (i + j + k) % n));
  }
  return out;
}

function trace(v: VectorEnv<Float32Array, Int32Array>, steps: number): string {
  const r0 = v.reset({ seed: 7 });
  const parts: number[] = [...r0.observations.launcher.flatMap((o) => Array.from(o))];
  for (let s = 0; s < steps; s++) {
    const r = v.step(fixedActions(v, s));
    parts.push(...r.rewards.launcher, ...r.truncations.launcher, ...r.observations.scheduler.flatMap((o) => Array.from(o)));
  }
  return parts.join(',');
}

describe('makeVec', () => {
  it('sync and async (worker threads) produce bit-identical rollouts, across autoresets', async () => {
    const sync = await makeVec<Float32Array, Int32Array>(ID, 3, { options: opts });
    const async_ = await makeVec<Float32Array, Int32Array>(ID, 3, { options: opts, mode: 'async', workers: 2 });
    open.push(sync, async_);
    expect(sync.metadata).toMatchObject({ autoresetMode: 'next-step', mode: 'sync', name: ID });
    expect(async_.metadata).toMatchObject({ autoresetMode: 'next-step', mode: 'async' });
    expect(trace(async_, 45)).toBe(trace(sync, 45));
    async_.close();
    expect(() => async_.step(fixedActions(async_))).toThrow(/closed vector env/);
  });

  it('next-step autoreset: the ending step returns the final observation; the next ignores the action and resets with reward 0', async () => {
    const v = await makeVec<Float32Array, Int32Array>(ID, 2, { options: opts });
    open.push(v);
    v.reset({ seed: 1 });
    let r = v.step(fixedActions(v));
    for (let s = 1; s < 20; s++) r = v.step(fixedActions(v));
    expect(Array.from(r.truncations.launcher)).toEqual([1, 1]);
    const final = r.observations.launcher[0];
    const next = v.step(fixedActions(v));
    expect(Array.from(next.rewards.launcher)).toEqual([0, 0]);
    expect(Array.from(next.truncations.launcher)).toEqual([0, 0]);
    expect(Array.from(next.terminations.launcher)).toEqual([0, 0]);
    expect(Array.from(next.observations.launcher[0])).not.toEqual(Array.from(final));
    // The reset observation equals a fresh env's second-episode reset (its own seeded sequence).
    const solo = make(ID, opts);
    solo.reset({ seed: 1 });
    expect(Array.from(next.observations.launcher[0])).toEqual(Array.from(solo.reset().observations.launcher as Float32Array));
  });

  it('same-step autoreset: the reset happens in the ending step; final_obs, final_info and final_state ride in the infos', async () => {
    const v = await makeVec<Float32Array, Int32Array>(ID, 2, { options: opts, autoreset: 'same-step' });
    open.push(v);
    v.reset({ seed: 1 });
    let r = v.step(fixedActions(v));
    for (let s = 1; s < 20; s++) r = v.step(fixedActions(v));
    expect(Array.from(r.truncations.launcher)).toEqual([1, 1]);
    const info = r.infos[0].launcher as Record<string, unknown>;
    expect(info.final_obs).toBeInstanceOf(Float32Array);
    expect((info.final_info as { dt: number }).dt).toBeGreaterThan(0);
    expect(info.final_state).toBeInstanceOf(Float32Array);
    // The observation returned is the new episode's first one: the queue-length entries start near empty.
    expect(Array.from(r.observations.launcher[0])).not.toEqual(Array.from(info.final_obs as Float32Array));
  });

  it('seeds fan out as seed + i (Gymnasium), or one per sub-env; sub-env i matches a single env seeded the same', async () => {
    expect(subSeeds(5, 3)).toEqual([5, 6, 7]);
    expect(subSeeds([9, 1], 2)).toEqual([9, 1]);
    expect(() => subSeeds([1], 2)).toThrow(/1 seeds for 2 sub-envs/);
    expect(() => subSeeds(1.5, 2)).toThrow(/seed must be an integer, got 1.5/);
    const v = await makeVec<Float32Array, Int32Array>(ID, 3, { options: opts });
    open.push(v);
    const r = v.reset({ seed: 40 });
    const solo = make(ID, opts);
    expect(Array.from(r.observations.scheduler[2])).toEqual(Array.from(solo.reset({ seed: 42 }).observations.scheduler as Float32Array));
  });

  it('bad input names the place: action arrays of the wrong length, an unknown env id in a worker, a bad count', async () => {
    const v = await makeVec<Float32Array, Int32Array>(ID, 2, { options: opts });
    open.push(v);
    v.reset({ seed: 0 });
    const acts = fixedActions(v);
    acts.launcher = acts.launcher.slice(0, 1);
    expect(() => v.step(acts)).toThrow(/agent 'launcher': needs an array of 2 actions, got 1/);
    await expect(makeVec('topsched/Nope-v0', 2)).rejects.toThrow(/no env registered as "topsched\/Nope-v0"/);
    await expect(makeVec(ID, 0)).rejects.toThrow(/numEnvs must be an integer in 1\.\.4096, got 0/);
    await expect(makeVec(ID, 2, { mode: 'threads' as never })).rejects.toThrow(/mode must be 'sync' or 'async'/);
    // A sub-env that fails inside a worker is an error naming the worker, and the caller survives.
    const bad = await makeVec<Float32Array, Int32Array>(ID, 2, { options: opts, mode: 'async', workers: 1 });
    open.push(bad);
    bad.reset({ seed: 0 });
    const wrong = fixedActions(bad);
    wrong.launcher[1] = Int32Array.from([99, 0]);
    expect(() => bad.step(wrong)).toThrow(/vector env worker 0: .*launcher/);
    bad.close();
  });

  it('factory modules build sub-envs in the workers (how the harness ships its mixtures)', async () => {
    const v = await makeVec<Float32Array, Int32Array>({ module: new URL('../dist/env/registry.js', import.meta.url).pathname, export: 'make', args: ID }, 2, {
      mode: 'async',
      workers: 2,
    });
    open.push(v);
    expect(v.reset({ seed: 3 }).observations.launcher.length).toBe(2);
    v.close();
  });
});

describe('ResidualEnv', () => {
  it('all-KEEP actions reproduce the base policy exactly; the PettingZoo API test passes on it', () => {
    const mk = () => make(ID, { maxSteps: 50 }) as AsyncInferenceEnv;
    const inner = mk();
    const res = new ResidualEnv(mk(), (e) => greedyReleasePolicy(e as AsyncInferenceEnv));
    let o = inner.reset({ seed: 4 }).observations;
    res.reset({ seed: 4 });
    const base = greedyReleasePolicy(inner);
    const keep = Object.fromEntries(res.possibleAgents.map((a) => [a, new Int32Array(res.actionSpace(a).nvec.length).fill(1)]));
    for (let s = 0; s < 50; s++) {
      const a = inner.step(base.act(o) as Record<string, Int32Array>);
      const b = res.step(keep);
      expect(b.rewards).toEqual(a.rewards);
      o = a.observations;
    }
    expect(parallelApiTest(new ResidualEnv(mk(), (e) => greedyReleasePolicy(e as AsyncInferenceEnv)), 200)).toEqual([]);
  });

  it('range r gives 2r+1 choices per component; choice c moves the base index by c − r, clamped', () => {
    const env = make(ID, { maxSteps: 50 }) as AsyncInferenceEnv;
    const base = { name: 'fixed', act: () => ({ launcher: Int32Array.from([1, 1]), scheduler: Int32Array.from([0, 3, 0, 3]) }) };
    const res = new ResidualEnv(env, () => base, 2);
    expect(Array.from(res.actionSpace('launcher').nvec)).toEqual([5, 5]);
    expect(Array.from(keepAction(res, 'scheduler'))).toEqual([2, 2, 2, 2]);
    res.reset({ seed: 0 });
    expect(
      applyResidual(env, { launcher: Int32Array.from([1, 1]), scheduler: Int32Array.from([0, 3, 0, 3]) }, { launcher: [4, 0], scheduler: [4, 4, 0, 2] }, 2),
    ).toEqual({
      launcher: Int32Array.from([3, 0]),
      scheduler: Int32Array.from([2, 3, 0, 3]),
    });
    expect(() => new ResidualEnv(env, () => base, 0)).toThrow(/residual range: must be an integer in 1\.\.16, got 0/);
    expect(() => res.step({ launcher: Int32Array.from([5, 0]), scheduler: keepAction(res, 'scheduler') })).toThrow(
      /agent 'launcher': residual action \[5,0\] is not in/,
    );
  });
});
