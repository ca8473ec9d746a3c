/**
 * Behaviour cloning as a warm start: roll a teacher policy (a tuned heuristic, or the residual
 * "keep the base's choice" action) on the learner's envs, then fit each actor's categorical heads
 * to the teacher's actions by cross-entropy. The learner then starts from the teacher's behaviour
 * instead of uniform noise; training goes on from there (MAPPO's entropy bonus keeps it exploring).
 *
 * `targetAccuracy` stops fitting once the greedy actor matches the teacher on that fraction of the
 * recorded (row, head) choices, so the clone is not driven to a deterministic policy that PPO
 * could no longer move.
 */
import * as tf from '@tensorflow/tfjs';
import type { AgentID, ParallelEnv } from '../env/core.js';
import type { Policy } from '../env/policy.js';
import { logSoftmaxHeads, sampleCategorical } from './categorical.js';
import { flatten } from './codec.js';
import type { MappoTrainer } from './mappo.js';
import { Adam, minimizeAndClip } from './nn.js';
import { deriveSeed, makeRng } from './rng.js';

export interface CloneOptions {
  /** Teacher env steps recorded (over the envs in turn, episode by episode). */
  steps: number;
  /** Passes over the recording at most. */
  epochs?: number;
  batchSize?: number;
  lr?: number;
  /** Stop when the greedy actor agrees with the teacher on this fraction of head choices. */
  targetAccuracy?: number;
  seed?: number;
}

export interface CloneReport {
  rows: number;
  epochs: number;
  /** Greedy agreement with the teacher per agent, after fitting. */
  accuracy: Record<AgentID, number>;
}

/** Fits `trainer`'s actors to `teacher(env)` on `envs`; returns how closely they match. */
export function cloneBehaviour(
  trainer: MappoTrainer,
  envs: ParallelEnv<unknown, unknown>[],
  teacher: (env: ParallelEnv<unknown, unknown>) => Policy,
  o: CloneOptions,
): CloneReport {
  if (!(Number.isInteger(o.steps) && o.steps >= 1)) throw new Error(`cloneBehaviour: steps must be a positive integer, got ${o.steps}`);
  const seed = o.seed ?? trainer.cfg.seed;
  const inputs: Float32Array[][] = trainer.agents.map(() => []);
  const targets: Int32Array[][] = trainer.agents.map(() => []);
  // (1) Record the teacher.
  let recorded = 0;
  for (let episode = 0; recorded < o.steps; episode++) {
    const env = envs[episode % envs.length];
    let { observations } = env.reset({ seed: deriveSeed(seed, `bc/${episode}`) });
    // Built after the reset: a teacher may read the env's current episode (e.g. a mixture's member).
    const t = teacher(env);
    t.reset?.(episode);
    while (env.agents.length && recorded < o.steps) {
      const acts = t.act(observations);
      trainer.agents.forEach((id, k) => {
        const obs = flatten(env.observationSpace(id), observations[id], `bc agent '${id}' observation`);
        inputs[k].push(trainer.nets.actorRow(k, obs));
        targets[k].push(trainer.layout[k].codec.encode(acts[id]));
      });
      observations = env.step(acts).observations;
      recorded++;
    }
  }
  // (2) Fit by cross-entropy, minibatch Adam with its own optimiser state (the trainer's is untouched).
  const epochs = o.epochs ?? 20;
  const batch = Math.min(o.batchSize ?? 256, recorded);
  const target = o.targetAccuracy ?? 0.95;
  const rng = makeRng(`${seed}/bc/shuffle`);
  const opts = trainer.nets.actors.map((m) => new Adam(m, { lr: o.lr ?? 1e-3 }));
  const slots = trainer.cfg.shareActor ? [0] : trainer.agents.map((_, k) => k);
  const accuracy = (k: number) => {
    const heads = trainer.layout[k].codec.heads;
    let hit = 0;
    inputs[k].forEach((x, r) => {
      const greedy = sampleCategorical(trainer.nets.actors[trainer.nets.actorOf(k)].forwardHost(x), heads);
      greedy.forEach((a, h) => {
        if (a === targets[k][r][h]) hit++;
      });
    });
    return hit / (inputs[k].length * heads.length);
  };
  let e = 0;
  for (; e < epochs; e++) {
    if (trainer.agents.every((_, k) => accuracy(k) >= target)) break;
    const order = Int32Array.from({ length: recorded }, (_, r) => r);
    for (let r = recorded - 1; r > 0; r--) {
      const j = Math.floor(rng() * (r + 1));
      [order[r], order[j]] = [order[j], order[r]];
    }
    for (let start = 0; start + batch <= recorded; start += batch) {
      const idx = order.subarray(start, start + batch);
      for (const slot of slots) {
        const agents = trainer.cfg.shareActor ? trainer.agents.map((_, k) => k) : [slot];
        minimizeAndClip(
          opts[slot],
          () =>
            tf.tidy(() => {
              const losses = agents.map((k) => {
                const { heads, width } = trainer.layout[k].codec;
                const w = inputs[k][0].length;
                const x = new Float32Array(idx.length * w);
                const y = new Float32Array(idx.length * width);
                idx.forEach((r, q) => {
                  x.set(inputs[k][r], q * w);
                  let off = q * width;
                  heads.forEach((n, h) => {
                    y[off + targets[k][r][h]] = 1;
                    off += n;
                  });
                });
                const logits = trainer.nets.actors[trainer.nets.actorOf(k)].apply(tf.tensor2d(x, [idx.length, w]));
                const lsm = logSoftmaxHeads(logits, heads);
                return tf.neg(tf.mean(tf.sum(tf.mul(lsm, tf.tensor2d(y, [idx.length, width])), 1)));
              });
              return tf.div(tf.addN(losses), agents.length) as tf.Scalar;
            }),
          10,
          'global',
        );
      }
    }
  }
  const acc: Record<AgentID, number> = {};
  trainer.agents.forEach((id, k) => {
    acc[id] = accuracy(k);
  });
  return { rows: recorded, epochs: e, accuracy: acc };
}
