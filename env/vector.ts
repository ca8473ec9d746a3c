/**
 * Vectorised multi-agent environments, in the shape of Gymnasium 1.x's vector API
 * (`gymnasium.vector.SyncVectorEnv` / `AsyncVectorEnv`) applied to PettingZoo Parallel envs.
 *
 *   const vec = makeVec('topsched/AsyncInference-v0', 8, { mode: 'async' });
 *   let { observations } = vec.reset({ seed: 0 });          // observations[agent][i]: sub-env i
 *   const r = vec.step({ launcher: acts0, scheduler: acts1 }); // acts[agent][i]: sub-env i's action
 *   vec.close();
 *
 * The contract:
 *  - `numEnvs` sub-envs with identical agents and spaces (`singleObservationSpace(agent)`,
 *    `singleActionSpace(agent)`). Every result is batched per agent: `observations[agent][i]`,
 *    `rewards[agent][i]`, `terminations[agent][i]`, `truncations[agent][i]`; `infos[i]` is sub-env
 *    i's info record (keyed by agent); `states[i]` its `state()`.
 *  - `reset({ seed })`: a number seeds sub-env i with seed + i (Gymnasium's rule), an array gives
 *    one seed per sub-env; without a seed each sub-env draws its own (core.ts).
 *  - A sub-env's episode is over when it has no live agents. Autoreset, declared in
 *    `metadata.autoresetMode`:
 *      'next-step' (default, Gymnasium 1.x): the step that ends an episode returns its final
 *        observation; on the *next* step that sub-env ignores its action and resets, returning the
 *        reset observation with reward 0 and both flags false. Learners drop those transitions.
 *      'same-step': the sub-env resets inside the step that ended it; the returned observation is
 *        the reset one and every agent's info carries `final_obs`, `final_info` and `final_state`.
 *  - Agents that die before their sub-env's episode ends get no action and report reward 0 and
 *    the flag that ended them until the episode ends.
 *  - `mode: 'sync'` steps sub-envs one after another in this thread. `mode: 'async'` places them
 *    in worker_threads (`workers` threads, sub-envs spread round-robin) that step in parallel;
 *    the call still returns synchronously (the caller blocks on Atomics.wait while the workers
 *    run), so both modes are drop-in replacements for one another. A worker that does not answer
 *    within `timeoutMs` is an error naming it; `close()` terminates the threads.
 *
 * Sub-envs come from the registry (`makeVec(id, …)`, options structured-cloned to the workers) or
 * from a factory module (`makeVec({ module, export, args }, …)`): a JS module path exporting
 * `(args, index) => ParallelEnv`, which each worker imports itself (the harness builds its
 * workload mixtures this way).
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { AgentID, EnvMetadata, StepInfo } from './core.js';
import { EnvError } from './core.js';
import { type AnyParallelEnv, make } from './registry.js';
import type { Box, Space } from './spaces.js';
import { type SubEnvResult, VecCore } from './vector-core.js';

export type AutoresetMode = 'next-step' | 'same-step';

/** Where sub-envs come from: a registered id or a factory module each worker imports. */
export type EnvSource = string | { module: string; export: string; args?: unknown };

export interface VecOptions {
  mode?: 'sync' | 'async';
  autoreset?: AutoresetMode;
  /** Options for `make(id, options)` (registry sources only). */
  options?: Record<string, unknown>;
  /** Async: worker threads (default min(numEnvs, cores)). */
  workers?: number;
  /** Async: how long to wait for a worker's answer before failing (default 120 s). */
  timeoutMs?: number;
}

export interface VecResetResult<O> {
  observations: Record<AgentID, O[]>;
  infos: Record<AgentID, StepInfo>[];
  states: Float32Array[];
}

export interface VecStepResult<O> extends VecResetResult<O> {
  rewards: Record<AgentID, Float64Array>;
  terminations: Record<AgentID, Uint8Array>;
  truncations: Record<AgentID, Uint8Array>;
}

export interface VectorParallelEnv<O = Float32Array, A = unknown> {
  readonly numEnvs: number;
  readonly metadata: EnvMetadata & { autoresetMode: AutoresetMode; mode: 'sync' | 'async' };
  readonly possibleAgents: readonly AgentID[];
  readonly stateSpace: Box;
  singleObservationSpace(agent: AgentID): Space<O>;
  singleActionSpace(agent: AgentID): Space<A>;
  reset(opts?: { seed?: number | number[]; options?: Record<string, unknown> }): VecResetResult<O>;
  step(actions: Record<AgentID, A[]>): VecStepResult<O>;
  close(): void;
}

/** Builds one sub-env from a source (used in this thread and in the workers). */
export async function buildSubEnv(source: EnvSource, options: Record<string, unknown>, index: number): Promise<AnyParallelEnv> {
  if (typeof source === 'string') return make(source, options);
  const mod = (await import(source.module.startsWith('file:') ? source.module : pathToFileURL(source.module).href)) as Record<string, unknown>;
  const f = mod[source.export];
  if (typeof f !== 'function') throw new EnvError(`module '${source.module}' has no function export '${source.export}'`, 'makeVec');
  return (f as (args: unknown, index: number) => AnyParallelEnv)(source.args, index);
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 4096) throw new EnvError(`numEnvs must be an integer in 1..4096, got ${JSON.stringify(n)}`, 'makeVec');
}

/** Seeds per sub-env from a reset seed (number: seed + i; array: one each; none: undefined each). */
export function subSeeds(seed: number | number[] | undefined, n: number): (number | undefined)[] {
  if (seed === undefined) return new Array(n).fill(undefined);
  if (Array.isArray(seed)) {
    if (seed.length !== n) throw new EnvError(`got ${seed.length} seeds for ${n} sub-envs`, 'reset');
    return seed;
  }
  if (!Number.isInteger(seed)) throw new EnvError(`seed must be an integer, got ${JSON.stringify(seed)}`, 'reset');
  return Array.from({ length: n }, (_, i) => seed + i);
}

/**
 * A vector env over sub-envs built in this thread (sync) or in worker threads (async). Sync
 * sources may also be given as ready env instances (`VectorEnv.of(envs)`).
 */
export class VectorEnv<O = Float32Array, A = unknown> implements VectorParallelEnv<O, A> {
  readonly metadata: VectorParallelEnv['metadata'];
  readonly possibleAgents: readonly AgentID[];
  readonly stateSpace: Box;
  private closed = false;

  private constructor(
    readonly numEnvs: number,
    private readonly probe: AnyParallelEnv,
    private readonly backend: VecBackend,
    autoreset: AutoresetMode,
    mode: 'sync' | 'async',
  ) {
    this.metadata = { ...probe.metadata, autoresetMode: autoreset, mode };
    this.possibleAgents = probe.possibleAgents;
    this.stateSpace = probe.stateSpace;
  }

  /** A sync vector env over envs you built (same agents and spaces). */
  static of<O, A>(envs: AnyParallelEnv[], autoreset: AutoresetMode = 'next-step'): VectorEnv<O, A> {
    checkCount(envs.length);
    const core = new VecCore(envs, autoreset);
    return new VectorEnv<O, A>(envs.length, envs[0], new LocalBackend(core), autoreset, 'sync');
  }

  /** See `makeVec`. */
  static async create<O, A>(source: EnvSource, n: number, o: VecOptions = {}): Promise<VectorEnv<O, A>> {
    checkCount(n);
    const autoreset = o.autoreset ?? 'next-step';
    if (autoreset !== 'next-step' && autoreset !== 'same-step')
      throw new EnvError(`autoreset must be 'next-step' or 'same-step', got ${JSON.stringify(autoreset)}`, 'makeVec');
    const mode = o.mode ?? 'sync';
    if (mode !== 'sync' && mode !== 'async') throw new EnvError(`mode must be 'sync' or 'async', got ${JSON.stringify(mode)}`, 'makeVec');
    const options = o.options ?? {};
    if (mode === 'sync') {
      const envs: AnyParallelEnv[] = [];
      for (let i = 0; i < n; i++) envs.push(await buildSubEnv(source, options, i));
      const v = VectorEnv.of<O, A>(envs, autoreset);
      return v;
    }
    // The probe (this thread) answers space and agent queries; the workers own the sub-envs.
    const probe = await buildSubEnv(source, options, 0);
    const workers = Math.max(1, Math.min(n, o.workers ?? availableParallelism()));
    const backend = new WorkerBackend(source, options, n, workers, autoreset, o.timeoutMs ?? 120_000);
    return new VectorEnv<O, A>(n, probe, backend, autoreset, 'async');
  }

  singleObservationSpace(agent: AgentID): Space<O> {
    return this.probe.observationSpace(agent);
  }

  singleActionSpace(agent: AgentID): Space<A> {
    return this.probe.actionSpace(agent);
  }

  reset(opts: { seed?: number | number[]; options?: Record<string, unknown> } = {}): VecResetResult<O> {
    if (this.closed) throw new EnvError('reset() on a closed vector env');
    const seeds = subSeeds(opts.seed, this.numEnvs);
    return this.gather(this.backend.reset(seeds, opts.options), false) as VecResetResult<O>;
  }

  step(actions: Record<AgentID, A[]>): VecStepResult<O> {
    if (this.closed) throw new EnvError('step() on a closed vector env');
    if (!actions || typeof actions !== 'object') throw new EnvError(`step() needs actions keyed by agent, got ${JSON.stringify(actions)}`);
    const perEnv: Record<AgentID, A>[] = Array.from({ length: this.numEnvs }, () => ({}));
    for (const agent of this.possibleAgents) {
      const a = actions[agent];
      if (!Array.isArray(a) || a.length !== this.numEnvs)
        throw new EnvError(`needs an array of ${this.numEnvs} actions, got ${Array.isArray(a) ? `${a.length}` : JSON.stringify(a)}`, `agent '${agent}'`);
      for (let i = 0; i < this.numEnvs; i++) perEnv[i][agent] = a[i];
    }
    return this.gather(this.backend.step(perEnv), true) as VecStepResult<O>;
  }

  private gather(results: SubEnvResult[], withRewards: boolean): VecStepResult<unknown> {
    const n = this.numEnvs;
    const out: VecStepResult<unknown> = { observations: {}, infos: [], states: [], rewards: {}, terminations: {}, truncations: {} };
    for (const agent of this.possibleAgents) {
      out.observations[agent] = new Array(n);
      if (withRewards) {
        out.rewards[agent] = new Float64Array(n);
        out.terminations[agent] = new Uint8Array(n);
        out.truncations[agent] = new Uint8Array(n);
      }
    }
    results.forEach((r, i) => {
      out.infos.push(r.infos);
      out.states.push(r.state);
      for (const agent of this.possibleAgents) {
        out.observations[agent][i] = r.observations[agent];
        if (withRewards) {
          out.rewards[agent][i] = r.rewards?.[agent] ?? 0;
          out.terminations[agent][i] = r.terminations?.[agent] ? 1 : 0;
          out.truncations[agent][i] = r.truncations?.[agent] ? 1 : 0;
        }
      }
    });
    if (!withRewards) return { observations: out.observations, infos: out.infos, states: out.states } as VecStepResult<unknown>;
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.backend.close();
    this.probe.close();
  }
}

/** `VectorEnv.create`: n copies of a registered env (or a factory module's env), stepped in sync or in worker threads. */
export function makeVec<O = Float32Array, A = unknown>(source: EnvSource, n: number, o: VecOptions = {}): Promise<VectorEnv<O, A>> {
  return VectorEnv.create<O, A>(source, n, o);
}

/**
 * The JS file of a module given by its own `import.meta.url`: itself when compiled, its dist/
 * counterpart when run from TypeScript source (tests), since worker threads load plain JS.
 */
export function compiledModule(metaUrl: string): string {
  const file = fileURLToPath(metaUrl);
  if (!file.endsWith('.ts')) return file;
  const root = fileURLToPath(new URL('..', import.meta.url));
  return `${root}dist/${file.slice(root.length, -3)}.js`;
}

// ─── Backends ───────────────────────────────────────────────────────────────────────────────────

interface VecBackend {
  reset(seeds: (number | undefined)[], options?: Record<string, unknown>): SubEnvResult[];
  step(actions: Record<AgentID, unknown>[]): SubEnvResult[];
  close(): void;
}

class LocalBackend implements VecBackend {
  constructor(private readonly core: VecCore) {}
  reset(seeds: (number | undefined)[], options?: Record<string, unknown>): SubEnvResult[] {
    return this.core.reset(seeds, options);
  }
  step(actions: Record<AgentID, unknown>[]): SubEnvResult[] {
    return this.core.step(actions);
  }
  close(): void {
    this.core.close();
  }
}

interface WorkerHandle {
  worker: Worker;
  port: MessagePort;
  /** Sub-env indices this worker owns, in order. */
  owns: number[];
  exited: string | null;
}

/** Sub-envs in worker threads; each call posts to every worker, then blocks until all answered. */
class WorkerBackend implements VecBackend {
  private readonly handles: WorkerHandle[] = [];
  private readonly signal: Int32Array;

  constructor(
    source: EnvSource,
    options: Record<string, unknown>,
    private readonly n: number,
    workers: number,
    autoreset: AutoresetMode,
    private readonly timeoutMs: number,
  ) {
    this.signal = new Int32Array(new SharedArrayBuffer(4 * workers));
    const script = compiledModule(import.meta.url).replace(/vector\.js$/, 'vector-worker.js');
    for (let w = 0; w < workers; w++) {
      const owns = Array.from({ length: n }, (_, i) => i).filter((i) => i % workers === w);
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(script, {
        workerData: { source, options, owns, autoreset, port: port2, signal: this.signal, slot: w },
        transferList: [port2],
      });
      const h: WorkerHandle = { worker, port: port1, owns, exited: null };
      worker.on('exit', (code) => {
        h.exited = `exited with code ${code}`;
      });
      worker.on('error', (e) => {
        h.exited = `failed: ${e.message}`;
      });
      worker.unref();
      this.handles.push(h);
    }
    // Construction happens in the workers: wait for each to report ready (or its error).
    this.call(() => ({ cmd: 'ready' }));
  }

  private call(msg: (h: WorkerHandle) => unknown): SubEnvResult[] {
    for (let w = 0; w < this.handles.length; w++) Atomics.store(this.signal, w, 0);
    this.handles.forEach((h) => {
      h.port.postMessage(msg(h));
    });
    const out: SubEnvResult[] = new Array(this.n);
    this.handles.forEach((h, w) => {
      const deadline = Date.now() + this.timeoutMs;
      while (Atomics.load(this.signal, w) === 0) {
        const left = deadline - Date.now();
        if (left <= 0)
          throw new EnvError(
            `worker ${w} (sub-envs ${h.owns.join(', ')}) did not answer within ${this.timeoutMs} ms${h.exited ? `: ${h.exited}` : ''}`,
            'vector env',
          );
        Atomics.wait(this.signal, w, 0, Math.min(left, 1000));
      }
      const reply = receiveMessageOnPort(h.port)?.message as { error?: string; results?: SubEnvResult[] } | undefined;
      if (!reply) throw new EnvError(`worker ${w} signalled without a reply`, 'vector env');
      if (reply.error) throw new EnvError(reply.error, `vector env worker ${w}`);
      reply.results?.forEach((r, j) => {
        out[h.owns[j]] = r;
      });
    });
    return out;
  }

  reset(seeds: (number | undefined)[], options?: Record<string, unknown>): SubEnvResult[] {
    return this.call((h) => ({ cmd: 'reset', seeds: h.owns.map((i) => seeds[i]), options }));
  }

  step(actions: Record<AgentID, unknown>[]): SubEnvResult[] {
    return this.call((h) => ({ cmd: 'step', actions: h.owns.map((i) => actions[i]) }));
  }

  close(): void {
    for (const h of this.handles) {
      h.port.close();
      void h.worker.terminate();
    }
  }
}
