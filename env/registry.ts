/**
 * The environment registry, after Gymnasium's `register` / `make`: ids look like
 * `namespace/Name-vN`; `make(id, options)` builds a fresh env with the registered default options
 * overlaid by the caller's. The package registers its own envs on import.
 *
 *   topsched/AsyncInference-v0          streams mode, the default two-CNN workload
 *   topsched/AsyncInferenceMPS-v0       the same workload under MPS (per-model SM caps)
 *   topsched/AsyncInferenceContexts-v0  the same workload, time-sliced contexts
 *   topsched/AsyncInferencePipeline-v0  pre-process → H2D (pinned) → infer → D2H pipeline
 */
import { AsyncInferenceEnv } from './async-inference-env.js';
import { EnvError, type EnvMetadata, type ParallelEnv } from './core.js';
import type { AsyncInferenceOptions } from './options.js';

// biome-ignore lint/suspicious/noExplicitAny: envs differ in observation and action types.
export type AnyParallelEnv = ParallelEnv<any, any>;
export type EnvFactory<O = Record<string, unknown>> = (options: O) => AnyParallelEnv;

export interface EnvSpec {
  id: string;
  description: string;
  factory: EnvFactory;
  defaults: Record<string, unknown>;
}

const ID = /^[A-Za-z][\w.-]*\/[A-Za-z][\w]*-v\d+$/;
const specs = new Map<string, EnvSpec>();

export function register(id: string, factory: EnvFactory, opts: { description?: string; defaults?: Record<string, unknown>; override?: boolean } = {}): void {
  if (!ID.test(id)) throw new EnvError(`env id must look like 'namespace/Name-v0', got ${JSON.stringify(id)}`, 'register');
  if (typeof factory !== 'function') throw new EnvError(`factory for '${id}' must be a function`, 'register');
  if (specs.has(id) && !opts.override) throw new EnvError(`'${id}' is already registered (pass override: true to replace it)`, 'register');
  specs.set(id, { id, description: opts.description ?? '', factory, defaults: { ...(opts.defaults ?? {}) } });
}

/** Ids of every registered env, in registration order. */
export function registeredEnvs(): string[] {
  return [...specs.keys()];
}

export function envSpec(id: string): EnvSpec {
  const s = specs.get(id);
  if (!s) throw new EnvError(`no env registered as ${JSON.stringify(id)} (registered: ${registeredEnvs().join(', ')})`, 'make');
  return s;
}

export function make(id: string, options: Record<string, unknown> = {}): AnyParallelEnv {
  const s = envSpec(id);
  const env = s.factory({ ...s.defaults, ...options });
  // Each registered variant carries its own name (PettingZoo's metadata['name']).
  if (env.metadata?.name !== id) (env as { metadata: EnvMetadata }).metadata = { ...env.metadata, name: id };
  return env;
}

const asyncInference: EnvFactory = (o) => new AsyncInferenceEnv(o as AsyncInferenceOptions);

register('topsched/AsyncInference-v0', asyncInference, { description: 'async multi-model inference, one context, S shared streams' });
register('topsched/AsyncInferenceMPS-v0', asyncInference, {
  description: 'the same under MPS: each model a client with its own streams and an SM cap',
  defaults: { mode: 'mps' },
});
register('topsched/AsyncInferenceContexts-v0', asyncInference, {
  description: 'the same with time-sliced contexts (one model on the device at a time)',
  defaults: { mode: 'contexts' },
});
register('topsched/AsyncInferencePipeline-v0', asyncInference, {
  description: 'the same with a pre-process → H2D → infer → D2H pipeline over pinned buffers',
  defaults: { pipeline: true, transfers: 'pinned' },
});
