/**
 * Training throughput.
 *  - `benchMaddpg`: MADDPG per tfjs backend: env steps per second while acting (host forward
 *    passes, no tfjs) and update rounds per second (one critic + actor gradient step per agent,
 *    soft target updates), at openai/maddpg's network and batch sizes unless told otherwise.
 *  - `benchTraining`: env and training steps per second of MADDPG and MAPPO side by side on one
 *    env, with single, sync-vector and async-vector (worker_threads) stepping.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParallelEnv } from '../env/core.js';
import { make } from '../env/registry.js';
import { makeVec, type VectorEnv } from '../env/vector.js';
import { type BackendChoice, initBackend } from './backend.js';
import { type MaddpgConfig, MaddpgTrainer } from './maddpg.js';
import { type MappoConfig, MappoTrainer, resolveMappoConfig } from './mappo.js';
import { makeRng } from './rng.js';
import { CueGame } from './toy-envs.js';

export interface MaddpgBenchOptions {
  backends?: Exclude<BackendChoice, 'auto'>[];
  /** Env steps timed while only acting and storing. */
  actSteps?: number;
  /** Update rounds timed. */
  updates?: number;
  config?: Partial<MaddpgConfig>;
  env?: () => ParallelEnv<unknown, unknown>;
}

export interface MaddpgBenchRow {
  /** The tfjs backend that actually ran (a requested one that cannot start falls through; see `requested`). */
  backend: string;
  requested: string;
  envStepsPerSec: number;
  updatesPerSec: number;
  msPerUpdate: number;
  /** Training steps/s with the configured trainFreq: env steps plus their share of updates. */
  trainStepsPerSec: number;
  batchSize: number;
  hidden: number[];
  agents: number;
}

export async function benchMaddpg(o: MaddpgBenchOptions = {}): Promise<MaddpgBenchRow[]> {
  const backends = o.backends ?? ['cpu', 'wasm'];
  const actSteps = o.actSteps ?? 2000;
  const updates = o.updates ?? 20;
  const makeEnv = o.env ?? (() => new CueGame({ k: 3, steps: 25 }));
  const rows: MaddpgBenchRow[] = [];
  for (const requested of backends) {
    const info = await initBackend(requested, { log: () => {} });
    const cfg: Partial<MaddpgConfig> = {
      seed: 0,
      bufferSize: Math.max(actSteps, 4096),
      maxEpisodeSteps: 25,
      ...o.config,
      learningStarts: Number.MAX_SAFE_INTEGER,
    };
    const trainer = new MaddpgTrainer(makeEnv(), cfg);
    let t = performance.now();
    trainer.train(actSteps);
    const actSec = (performance.now() - t) / 1000;
    trainer.update(); // warm-up: kernel setup and first allocations
    t = performance.now();
    for (let i = 0; i < updates; i++) trainer.update();
    const updSec = (performance.now() - t) / 1000;
    const stepSec = actSec / actSteps;
    const updateSec = updSec / updates;
    const freq = trainer.cfg.trainFreq;
    rows.push({
      backend: info.name,
      requested,
      envStepsPerSec: 1 / stepSec,
      updatesPerSec: 1 / updateSec,
      msPerUpdate: updateSec * 1000,
      trainStepsPerSec: 1 / (stepSec + updateSec / freq),
      batchSize: trainer.cfg.batchSize,
      hidden: trainer.cfg.hidden,
      agents: trainer.agents.length,
    });
    trainer.dispose();
    if (tf.memory().numTensors > 0) tf.disposeVariables();
  }
  return rows;
}

export interface TrainingBenchOptions {
  /** A registered env id and options (structured-cloneable: async sub-envs are built in workers). */
  envId: string;
  envOptions?: Record<string, unknown>;
  /** Sub-envs of the vector envs. Default 8. */
  numEnvs?: number;
  /** MADDPG config (its learningStarts is filled before timing). */
  maddpg?: Partial<MaddpgConfig>;
  mappo?: Partial<MappoConfig>;
  /** Env steps timed per MADDPG measurement (after the buffer holds learningStarts). Default 2000. */
  maddpgSteps?: number;
  /** Rollouts timed per MAPPO measurement. Default 3. */
  mappoRollouts?: number;
}

export interface TrainingBenchRow {
  /** What was measured: env stepping alone, or training with its updates. */
  what: string;
  algorithm: 'none' | 'maddpg' | 'mappo';
  vector: 'single' | 'sync' | 'async';
  numEnvs: number;
  /** Env steps per second (sub-env steps, updates included for training rows). */
  stepsPerSec: number;
  /** stepsPerSec ÷ MADDPG's training figure measured in the same run. */
  vsMaddpg: number;
}

/**
 * Env and training throughput side by side on one env: random-action stepping of a single env and
 * of sync / async vector envs; MADDPG training (one env, as today) and MAPPO training (sync and
 * async vector envs, batched host forward passes, one update per rollout). Every training row is
 * env steps per second with the updates included, on the tfjs backend active now.
 */
export async function benchTraining(o: TrainingBenchOptions): Promise<TrainingBenchRow[]> {
  const n = o.numEnvs ?? 8;
  const opts = o.envOptions ?? {};
  const rows: Omit<TrainingBenchRow, 'vsMaddpg'>[] = [];
  const randomSteps = (v: VectorEnv<unknown, unknown>, steps: number) => {
    const rng = makeRng('bench/random');
    v.reset({ seed: 0 });
    const spaces = v.possibleAgents.map((a) => v.singleActionSpace(a) as unknown as { nvec: Int32Array });
    const t = performance.now();
    for (let s = 0; s < steps; s++) {
      const acts: Record<string, unknown[]> = {};
      v.possibleAgents.forEach((a, k) => {
        acts[a] = Array.from({ length: v.numEnvs }, () => Int32Array.from(spaces[k].nvec, (m) => Math.floor(rng() * m)));
      });
      v.step(acts);
    }
    return (steps * v.numEnvs) / ((performance.now() - t) / 1000);
  };
  const one = await makeVec(o.envId, 1, { options: opts });
  rows.push({ what: 'env steps, random actions', algorithm: 'none', vector: 'single', numEnvs: 1, stepsPerSec: randomSteps(one, 2000) });
  one.close();
  for (const mode of ['sync', 'async'] as const) {
    const v = await makeVec(o.envId, n, { options: opts, mode });
    rows.push({ what: 'env steps, random actions', algorithm: 'none', vector: mode, numEnvs: n, stepsPerSec: randomSteps(v, Math.ceil(4000 / n)) });
    v.close();
  }
  // MADDPG as trained today: one env, host forward per step, an update every trainFreq steps.
  const env = make(o.envId, opts);
  const mad = new MaddpgTrainer(env, { seed: 0, ...o.maddpg });
  mad.train(Math.max(mad.cfg.learningStarts, mad.cfg.batchSize));
  const steps = o.maddpgSteps ?? 2000;
  let t = performance.now();
  mad.train(steps);
  rows.push({ what: 'training (updates included)', algorithm: 'maddpg', vector: 'single', numEnvs: 1, stepsPerSec: steps / ((performance.now() - t) / 1000) });
  mad.dispose();
  env.close();
  for (const mode of ['sync', 'async'] as const) {
    const v = await makeVec(o.envId, n, { options: opts, mode, autoreset: 'same-step' });
    const cfg = resolveMappoConfig({ seed: 0, ...o.mappo });
    const tr = new MappoTrainer(v, cfg);
    tr.train(cfg.rolloutSteps * n); // warm-up: first rollout, kernel setup
    const k = (o.mappoRollouts ?? 3) * cfg.rolloutSteps * n;
    t = performance.now();
    tr.train(k);
    rows.push({ what: 'training (updates included)', algorithm: 'mappo', vector: mode, numEnvs: n, stepsPerSec: k / ((performance.now() - t) / 1000) });
    tr.dispose();
    v.close();
  }
  const base = rows.find((r) => r.algorithm === 'maddpg')!.stepsPerSec;
  return rows.map((r) => ({ ...r, vsMaddpg: r.stepsPerSec / base }));
}
