/**
 * The learned rows of an evaluation spec: each learner (spec.ts `learners`) is trained once per
 * training seed on the randomised mixture of the training workloads × loads, then run on every
 * evaluation cell. A learner declares its algorithm (MADDPG or MAPPO), its options, and which of
 * the "better starts and signals" it uses: a residual base heuristic, a behaviour-cloning warm
 * start, load-change observations, a goodput reward, the average-reward criterion. `describe`
 * turns that declaration into the row's setup text, so the results say what each row used.
 */

import { Worker } from 'node:worker_threads';
import { type ActorExport, exportActors, greedyActorPolicy } from '../../agents/actor-export.js';
import { type TritonOptions, tritonPolicy } from '../../agents/baselines.js';
import { cloneBehaviour } from '../../agents/bc.js';
import { type MaddpgConfig, MaddpgTrainer } from '../../agents/maddpg.js';
import { type MappoConfig, MappoTrainer } from '../../agents/mappo.js';
import { AsyncInferenceEnv, LAUNCHER, SCHEDULER } from '../../env/async-inference-env.js';
import type { AgentID, ParallelEnv } from '../../env/core.js';
import type { AsyncInferenceOptions } from '../../env/options.js';
import { greedyReleasePolicy } from '../../env/policies.js';
import type { Policy } from '../../env/policy.js';
import { keepAction, ResidualEnv, residualPolicy } from '../../env/residual.js';
import { compiledModule, VectorEnv } from '../../env/vector.js';
import type { Workload } from '../../env/workload.js';
import { FrozenAgentEnv, MixtureEnv } from '../../env/wrappers.js';
import { atTotalRate } from './load.js';
import type { LearnerSpec } from './spec.js';

type Env = ParallelEnv<Float32Array, Int32Array>;

/** Residual bases by name: heuristics that need no tuning on the evaluation cell. */
const BASES: Record<LearnerSpec['residual'] & string, (env: AsyncInferenceEnv, config?: TritonOptions) => Policy> = {
  'greedy-release': (env) => greedyReleasePolicy(env),
  triton: (env, config) => tritonPolicy(env, config ?? {}),
};

export interface TrainedLearner {
  name: string;
  seed: number;
  /** The trained actors (plain data: they cross worker threads). */
  actors: ActorExport;
  /** Env options this learner's policy needs on top of the cell's (its observation layout). */
  envOverrides: Partial<AsyncInferenceOptions>;
  trainWallS: number;
}

/** The greedy policy of a trained learner on a cell's env (residual learners wrap their base built on it). */
export function learnerPolicy(t: TrainedLearner, l: LearnerSpec, env: AsyncInferenceEnv): Policy {
  const learned = greedyActorPolicy(t.actors, t.name);
  if (!l.residual) return learned;
  // A frozen agent (an ablation) keeps the base's choice: KEEP in residual terms.
  const p: Policy = {
    name: t.name,
    act: (obs) => {
      const out = learned.act(obs) as Record<AgentID, Int32Array>;
      for (const a of env.possibleAgents) out[a] ??= new Int32Array(env.actionSpace(a).nvec.length).fill(l.residualRange);
      return out;
    },
  };
  return residualPolicy(env, BASES[l.residual](env, l.residualConfig), p, t.name, l.residualRange);
}

export function describeLearner(l: LearnerSpec, trainWorkloads: number): string {
  const parts = [
    l.algorithm === 'maddpg'
      ? l.agent?.otherActions && l.agent.otherActions !== 'buffer'
        ? `MADDPG (others: ${l.agent.otherActions})`
        : 'TOP-faithful MADDPG'
      : 'MAPPO',
  ];
  if (l.learn !== 'both') parts.push(`${l.learn} only (the other agent keeps the base's choice)`);
  if (l.residual)
    parts.push(
      `residual (±${l.residualRange}) over ${l.residual}${l.residualConfig ? ` ${JSON.stringify(l.residualConfig)} (tuned on the training mixture)` : ''}`,
    );
  if (l.warmStart) parts.push(`BC warm start (${l.warmStart.steps} teacher steps)`);
  if (l.env?.loadFeatures) parts.push('load-change observations');
  if (l.env?.reward?.kind === 'goodput') parts.push('goodput reward');
  if ((l.agent as Partial<MappoConfig> | undefined)?.averageReward) parts.push('average reward');
  parts.push(`${l.steps} steps per seed, mixture of ${trainWorkloads} synthetic workloads`);
  return parts.join(', ');
}

/** Trains learner `l` with `seed` on the training mixture; the returned object evaluates it on any cell. */
export function checkLearner(name: string, l: LearnerSpec): void {
  if (l.learn !== 'both' && !l.residual) throw new Error(`learner '${name}': learn: ${l.learn} freezes the other agent to a residual base; set residual`);
}

export function trainLearner(
  name: string,
  l: LearnerSpec,
  seed: number,
  base: AsyncInferenceOptions,
  train: { workload: Workload; capacity: number }[],
  trainLoads: number[],
): TrainedLearner {
  checkLearner(name, l);
  const t0 = performance.now();
  const envOverrides: Partial<AsyncInferenceOptions> = {
    ...(l.env?.loadFeatures ? { loadFeatures: true } : {}),
  };
  const trainOptions: AsyncInferenceOptions = {
    ...base,
    ...envOverrides,
    ...(l.env?.reward ? { reward: { ...(base.reward ?? {}), ...l.env.reward } } : {}),
    executor: 'sim',
  };
  // One env per (workload, load) of the mixture; residual learners see them through their base.
  const mixture = (): MixtureEnv =>
    new MixtureEnv(
      train.flatMap(({ workload, capacity }) =>
        trainLoads.map((load) => {
          const e = new AsyncInferenceEnv({ ...trainOptions, workload: atTotalRate(workload, load * capacity) });
          if (!l.residual) return e as Env;
          const res = new ResidualEnv(e, (inner) => BASES[l.residual!](inner as AsyncInferenceEnv, l.residualConfig), l.residualRange);
          if (l.learn === 'both') return res as Env;
          // Ablation: only `learn` acts; the other agent keeps the base's choice.
          const keep: Policy = { name: 'keep', act: () => Object.fromEntries(res.possibleAgents.map((a) => [a, keepAction(res, a)])) };
          return new FrozenAgentEnv(res, l.learn === 'launcher' ? LAUNCHER : SCHEDULER, keep) as Env;
        }),
      ),
      'topsched/AsyncInference-workload-mixture',
    );
  const done = (trainer: MaddpgTrainer | MappoTrainer, algorithm: ActorExport['algorithm']): TrainedLearner => ({
    name,
    seed,
    envOverrides,
    actors: exportActors(trainer, algorithm),
    trainWallS: (performance.now() - t0) / 1000,
  });

  if (l.algorithm === 'maddpg') {
    const env = mixture();
    const trainer = new MaddpgTrainer(env, { ...(l.agent as Partial<MaddpgConfig>), seed });
    try {
      trainer.train(l.steps);
      return done(trainer, 'maddpg');
    } finally {
      trainer.dispose();
      env.close();
    }
  }
  const vec = VectorEnv.of<Float32Array, Int32Array>(
    Array.from({ length: l.envs }, () => mixture()),
    'same-step',
  );
  const trainer = new MappoTrainer(vec, { ...(l.agent as Partial<MappoConfig>), seed });
  try {
    if (l.warmStart) {
      // Residual learners clone "keep the base's choice"; others clone the greedy-release heuristic.
      const teacherEnv = mixture();
      cloneBehaviour(
        trainer,
        [teacherEnv],
        (env) =>
          l.residual
            ? { name: 'keep', act: () => Object.fromEntries(env.possibleAgents.map((a) => [a, keepAction(env as ResidualEnv, a)])) }
            : greedyReleasePolicy((env as MixtureEnv).current as AsyncInferenceEnv),
        { steps: l.warmStart.steps, targetAccuracy: l.warmStart.targetAccuracy, seed },
      );
      teacherEnv.close();
    }
    trainer.train(l.steps);
    return done(trainer, 'mappo');
  } finally {
    trainer.dispose();
    vec.close();
  }
}

export interface TrainJob {
  name: string;
  learner: LearnerSpec;
  seed: number;
  base: AsyncInferenceOptions;
  train: { workload: Workload; capacity: number }[];
  trainLoads: number[];
}

/**
 * Trains every job, `threads` at a time, each in its own worker thread (train-worker.ts) on the
 * tfjs backend named; a job's result is the same as `trainLearner` in this thread (seeded, one
 * backend). Results come back in job order.
 */
export async function trainLearners(jobs: TrainJob[], threads: number, backend: string, log: (line: string) => void = () => {}): Promise<TrainedLearner[]> {
  const out: TrainedLearner[] = new Array(jobs.length);
  const script = compiledModule(import.meta.url).replace(/learners\.js$/, 'train-worker.js');
  let next = 0;
  const runOne = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      const job = jobs[i];
      out[i] = await new Promise<TrainedLearner>((resolve, reject) => {
        const w = new Worker(script, { workerData: { job, backend } });
        w.once('message', (m: { ok: boolean; result?: TrainedLearner; error?: string }) => {
          if (m.ok && m.result) resolve(m.result);
          else reject(new Error(`training ${job.name} seed ${job.seed}: ${m.error}`));
        });
        w.once('error', (e) => reject(new Error(`training ${job.name} seed ${job.seed}: ${e.message}`)));
        w.once('exit', (code) => {
          if (code !== 0) reject(new Error(`training ${job.name} seed ${job.seed}: worker exited with code ${code}`));
        });
      });
      log(`trained ${job.name} seed ${job.seed}: ${job.learner.steps} steps in ${out[i].trainWallS.toFixed(1)} s`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(threads, jobs.length)) }, runOne));
  return out;
}
