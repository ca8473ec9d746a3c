/**
 * topsched's multi-agent environment: asynchronous multi-model inference as a PettingZoo-style
 * Parallel env (core.ts), simulated (sim/) or run on the native executor.
 *
 *   import { make, checkParallelEnv } from 'topsched/env';
 *   const env = make('topsched/AsyncInference-v0', { workload: 'workload.yaml' });
 */
export * from './arrivals.js';
export * from './async-inference-env.js';
export * from './bench.js';
export * from './checker.js';
export * from './core.js';
export * from './executor.js';
export * from './metrics.js';
export * from './models.js';
export * from './native-executor.js';
export * from './native-models.js';
export * from './native-wall-executor.js';
export * from './options.js';
export * from './policies.js';
export * from './queue.js';
export * from './registry.js';
export * from './reward.js';
export * from './sim/contention.js';
export * from './sim/heap.js';
export * from './sim/modes.js';
export * from './sim/plan.js';
export * from './sim/simulator.js';
export * from './spaces.js';
export * from './validate.js';
export * from './workload.js';
export * from './wrappers.js';
