/**
 * The learned rows of an evaluation spec: each learner (spec.ts `learners`) is trained once per
 * training seed on the randomised mixture of the training workloads × loads, then run on every
 * evaluation cell. A learner declares its algorithm (MADDPG or MAPPO), its options, and which of
 * the "better starts and signals" it uses: a residual base heuristic, a behaviour-cloning warm
 * start, load-change observations, a goodput reward, the average-reward criterion. `describe`
 * turns that declaration into the row's setup text, so the results say what each row used.
 */

import { type TritonOptions, tritonPolicy } from '../../agents/baselines.js';
import { cloneBehaviour } from '../../agents/bc.js';
import { type MaddpgConfig, MaddpgTrainer } from '../../agents/maddpg.js';
import { type MappoConfig, MappoTrainer } from '../../agents/mappo.js';
import { AsyncInferenceEnv } from '../../env/async-inference-env.js';
import type { ParallelEnv } from '../../env/core.js';
import type { AsyncInferenceOptions } from '../../env/options.js';
import { greedyReleasePolicy } from '../../env/policies.js';
import type { Policy } from '../../env/policy.js';
import { keepAction, ResidualEnv, residualPolicy } from '../../env/residual.js';
import { VectorEnv } from '../../env/vector.js';
import type { Workload } from '../../env/workload.js';
import { MixtureEnv } from '../../env/wrappers.js';
import { atTotalRate } from './load.js';
import type { LearnerSpec } from './spec.js';

type Env = ParallelEnv<Float32Array, Int32Array>;

/** The Triton-like base of residual learners: two instances, dynamic batching up to 8, no queue delay. */
export const TRITON_BASE: TritonOptions = { instances: 2, maxBatch: 8, maxQueueDelayMs: 0 };

/** Residual bases by name: heuristics that need no tuning on the evaluation cell. */
const BASES: Record<LearnerSpec['residual'] & string, (env: AsyncInferenceEnv) => Policy> = {
  'greedy-release': (env) => greedyReleasePolicy(env),
  triton: (env) => tritonPolicy(env, TRITON_BASE),
};

export interface TrainedLearner {
  name: string;
  seed: number;
  /** The trained policy on a cell's env built by `envFor` (residual learners wrap their base). */
  policyOn(env: AsyncInferenceEnv): Policy;
  /** Env options this learner's policy needs on top of the cell's (its observation layout). */
  envOverrides: Partial<AsyncInferenceOptions>;
  trainWallS: number;
  dispose(): void;
}

export function describeLearner(name: string, l: LearnerSpec, trainWorkloads: number): string {
  const parts = [
    l.algorithm === 'maddpg'
      ? l.agent?.otherActions && l.agent.otherActions !== 'buffer'
        ? `MADDPG (others: ${l.agent.otherActions})`
        : 'TOP-faithful MADDPG'
      : 'MAPPO',
  ];
  if (l.residual) parts.push(`residual over ${l.residual}`);
  if (l.warmStart) parts.push(`BC warm start (${l.warmStart.steps} teacher steps)`);
  if (l.env?.loadFeatures) parts.push('load-change observations');
  if (l.env?.reward?.kind === 'goodput') parts.push('goodput reward');
  if ((l.agent as Partial<MappoConfig> | undefined)?.averageReward) parts.push('average reward');
  parts.push(`${l.steps} steps per seed, mixture of ${trainWorkloads} synthetic workloads`);
  void name;
  return parts.join(', ');
}

/** Trains learner `l` with `seed` on the training mixture; the returned object evaluates it on any cell. */
export function trainLearner(
  name: string,
  l: LearnerSpec,
  seed: number,
  base: AsyncInferenceOptions,
  train: { workload: Workload; capacity: number }[],
  trainLoads: number[],
): TrainedLearner {
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
          return l.residual ? (new ResidualEnv(e, (inner) => BASES[l.residual!](inner as AsyncInferenceEnv)) as Env) : (e as Env);
        }),
      ),
      'topsched/AsyncInference-workload-mixture',
    );
  const wrap = (env: AsyncInferenceEnv, p: Policy): Policy => (l.residual ? residualPolicy(env, BASES[l.residual](env), p, name) : { ...p, name });

  if (l.algorithm === 'maddpg') {
    const trainer = new MaddpgTrainer(mixture(), { ...(l.agent as Partial<MaddpgConfig>), seed });
    trainer.train(l.steps);
    return {
      name,
      seed,
      envOverrides,
      trainWallS: (performance.now() - t0) / 1000,
      policyOn: (env) => wrap(env, trainer.policy()),
      dispose: () => {
        trainer.dispose();
        trainer.env.close();
      },
    };
  }
  const vec = VectorEnv.of<Float32Array, Int32Array>(
    Array.from({ length: l.envs }, () => mixture()),
    'same-step',
  );
  const trainer = new MappoTrainer(vec, { ...(l.agent as Partial<MappoConfig>), seed });
  if (l.warmStart) {
    // Residual learners clone "keep the base's choice"; others clone the greedy-release heuristic.
    const envs = [mixture()];
    cloneBehaviour(
      trainer,
      envs,
      (env) =>
        l.residual
          ? { name: 'keep', act: () => Object.fromEntries(env.possibleAgents.map((a) => [a, keepAction(env as ResidualEnv, a)])) }
          : greedyReleasePolicy((env as MixtureEnv).current as AsyncInferenceEnv),
      { steps: l.warmStart.steps, targetAccuracy: l.warmStart.targetAccuracy, seed },
    );
    for (const e of envs) e.close();
  }
  trainer.train(l.steps);
  return {
    name,
    seed,
    envOverrides,
    trainWallS: (performance.now() - t0) / 1000,
    policyOn: (env) => wrap(env, trainer.policy()),
    dispose: () => {
      trainer.dispose();
      vec.close();
    },
  };
}
