/**
 * The serving engine: real requests through the same env and policy loop as the real-time env.
 *
 * One AsyncInferenceEnv runs on the wall-clock native executor with external arrivals: a request
 * is injected into its model's queue when it arrives (a full queue refuses it: the server answers
 * 503 rather than growing memory), the policy acts every epoch exactly as in `clock: 'wall'`
 * experiments, and each launch the env releases takes the inputs of the requests it dequeued —
 * in FIFO order, as the env's queues are FIFO — concatenated along the batch dimension. A finished
 * launch's outputs are split back per request. One engine, two front ends: the env's own episode
 * loop (experiments) and this server loop.
 */

import { AsyncInferenceEnv } from '../../env/async-inference-env.js';
import type { Launch } from '../../env/executor.js';
import type { LaunchResult } from '../../env/native-wall-executor.js';
import type { AsyncInferenceOptions } from '../../env/options.js';
import type { Policy } from '../../env/policy.js';
import { withBatch } from '../../graphs/infer.js';
import type { Graph, ValueInfo } from '../../graphs/ir.js';
import type { TensorData } from '../../graphs/weights.js';

/** What a request gets back. Times in µs, on the executor's clock. */
export interface InferResult {
  outputs: Record<string, TensorData>;
  /** Arrival to launch start (waiting in the queue and behind other work). */
  queueUs: number;
  /** Launch start to end (the batched execution this request was part of). */
  computeUs: number;
  /** Requests in the launch. */
  batch: number;
}

/** A request the engine refused: the model's queue is full. */
export class OverloadedError extends Error {}

interface Pending {
  inputs: TensorData[];
  arrivalMs: number;
  resolve: (r: InferResult) => void;
  reject: (e: Error) => void;
}

export interface EngineOptions {
  /** Env options (workload, graphs, streams, epochMs, levels, batchSizes, …); the engine sets the executor and arrivals. */
  env: AsyncInferenceOptions;
  /** The policy acting on the engine's env. */
  policy: (env: AsyncInferenceEnv) => Policy | Promise<Policy>;
  seed?: number;
  /** Called after each launch with its requests (metrics). */
  onLaunch?: (model: number, result: LaunchResult, batch: number) => void;
}

/** Elements of a tensor. */
const elements = (v: ValueInfo): number => v.shape.reduce((a, b) => a * b, 1);

export class ServingEngine {
  readonly env: AsyncInferenceEnv;
  /** The served models' graphs (batch as declared), by env model index. */
  readonly graphs: Graph[];
  private readonly queues: Pending[][];
  private readonly launched = new Map<number, Pending[]>();
  private policy: Policy | null = null;
  private loopDone: Promise<void> | null = null;
  private stopping = false;
  private ready = false;
  private pendingCount = 0;
  private readonly pendingByModel: Int32Array;
  private loopError: Error | null = null;
  /** Called after each launch with its model, outcome and request count (the server counts executions). */
  onLaunch?: (model: number, result: LaunchResult, batch: number) => void;

  constructor(private readonly o: EngineOptions) {
    this.onLaunch = o.onLaunch;
    this.env = new AsyncInferenceEnv({
      ...o.env,
      executor: 'native',
      clock: 'wall',
      externalArrivals: true,
      maxSteps: 0,
      launchIO: { inputs: (l, g) => this.launchInputs(l, g), outputs: true, done: (l, r) => this.launchDone(l, r) },
    });
    this.graphs = this.env.models.map((m) => m.graph);
    this.queues = this.graphs.map(() => []);
    this.pendingByModel = new Int32Array(this.graphs.length);
    for (const [m, g] of this.graphs.entries()) this.checkBatching(g, this.env.models[m].name);
  }

  /** Launches of batch b need every input and output to have the request count as leading dimension. */
  private checkBatching(g: Graph, name: string): void {
    for (const b of this.env.batchSizes) {
      if (b === 1) continue;
      if (g.batch !== 1)
        throw new Error(`model '${name}': batching requests needs a batch-1 model (it is declared at batch ${g.batch}); serve it with batch sizes [1]`);
      const gb = withBatch(g, b);
      for (const [i, v] of g.outputs.entries()) {
        const s = gb.outputs[i].shape;
        if (s[0] !== b * v.shape[0] || elements(gb.outputs[i]) !== b * elements(v))
          throw new Error(
            `model '${name}': output '${v.name}' [${v.shape}] has no leading batch dimension (at batch ${b}: [${s}]); serve it with batch sizes [1]`,
          );
      }
    }
  }

  /** Starts the policy loop (loads and prepares every model first); resolves when ready. */
  async start(): Promise<void> {
    this.policy = await this.o.policy(this.env);
    await this.env.prepareAsync();
    let { observations } = this.env.reset({ seed: this.o.seed ?? 0 });
    this.policy.reset?.(this.o.seed ?? 0);
    this.ready = true;
    const policy = this.policy;
    this.loopDone = (async () => {
      while (!this.stopping || this.pendingCount > 0) {
        const r = await this.env.stepAsync(policy.act(observations) as never);
        observations = r.observations;
      }
    })().catch((e: Error) => {
      // A failed loop fails every waiting request and makes the engine unready; the server stays up to say so.
      this.loopError = e;
      this.ready = false;
      for (const q of this.queues) for (const p of q.splice(0)) p.reject(e);
      for (const ps of this.launched.values()) for (const p of ps) p.reject(e);
      this.launched.clear();
      this.pendingCount = 0;
      this.pendingByModel.fill(0);
    });
  }

  isReady(): boolean {
    return this.ready && !this.stopping;
  }

  get error(): Error | null {
    return this.loopError;
  }

  /** Requests accepted and not yet answered (of one model, or all). */
  pending(model?: number): number {
    return model === undefined ? this.pendingCount : this.pendingByModel[model];
  }

  /** One request; `inputs` by graph input order, each of the model's declared input shape. */
  infer(model: number, inputs: TensorData[]): Promise<InferResult> {
    if (!this.isReady()) return Promise.reject(new Error(this.loopError ? `engine failed: ${this.loopError.message}` : 'engine is not ready'));
    if (!this.env.inject(model))
      return Promise.reject(new OverloadedError(`model '${this.env.models[model].name}': queue is full (${this.env.models[model].maxQueue} requests)`));
    this.pendingCount++;
    this.pendingByModel[model]++;
    return new Promise((resolve, reject) => this.queues[model].push({ inputs, arrivalMs: this.env.executor.now(), resolve, reject }));
  }

  private launchInputs(l: Launch, g: Graph): TensorData[] {
    const reqs = this.queues[l.model].splice(0, l.batch);
    if (reqs.length !== l.batch)
      throw new Error(`engine: launch of ${l.batch} for model ${l.model} with ${reqs.length} requests queued (env and engine queues disagree)`);
    this.launched.set(l.id, reqs);
    if (l.batch === 1) return reqs[0].inputs;
    return g.inputs.map((v, i) => {
      const first = reqs[0].inputs[i];
      const out = first instanceof BigInt64Array ? new BigInt64Array(elements(v)) : new Float32Array(elements(v));
      const n = first.length;
      for (const [j, r] of reqs.entries()) (out as Float32Array).set(r.inputs[i] as Float32Array, j * n);
      return out;
    });
  }

  private launchDone(l: Launch, r: LaunchResult): void {
    const reqs = this.launched.get(l.id);
    if (!reqs) return;
    this.launched.delete(l.id);
    this.pendingCount -= reqs.length;
    this.pendingByModel[l.model] -= reqs.length;
    this.onLaunch?.(l.model, r, reqs.length);
    if (r.error !== undefined || !r.outputs) {
      const e = new Error(`inference failed: ${r.error ?? 'no outputs'}`);
      for (const p of reqs) p.reject(e);
      return;
    }
    const outs = r.outputs;
    reqs.forEach((p, j) => {
      const mine: Record<string, TensorData> = {};
      for (const [name, t] of Object.entries(outs)) {
        const n = t.length / reqs.length;
        mine[name] = t.slice(j * n, (j + 1) * n) as TensorData;
      }
      p.resolve({ outputs: mine, queueUs: Math.max(0, r.startMs - p.arrivalMs) * 1000, computeUs: (r.endMs - r.startMs) * 1000, batch: reqs.length });
    });
  }

  /** Stops accepting (isReady false), answers everything accepted, then stops the loop and the executor. */
  async drain(): Promise<void> {
    this.stopping = true;
    await this.loopDone;
    await this.env.executor.settle?.();
    this.env.close();
  }
}
