/**
 * MADDPG training throughput per tfjs backend: env steps per second while acting (host forward
 * passes, no tfjs) and update rounds per second (one critic + actor gradient step per agent, soft
 * target updates), at openai/maddpg's network and batch sizes unless told otherwise.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParallelEnv } from '../env/core.js';
import { type BackendChoice, initBackend } from './backend.js';
import { type MaddpgConfig, MaddpgTrainer } from './maddpg.js';
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
