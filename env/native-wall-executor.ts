/**
 * Real execution in wall-clock time (`executor: 'native', clock: 'wall'`): the simulator's launch
 * semantics on the real executor.
 *
 *  - Env time is the executor's own clock (µs since its start, the clock of every report
 *    timestamp), re-based to 0 at reset, so arrivals, decisions and completions share one clock.
 *  - `submit` hands a launch to the native executor at once, as its own run, without waiting for
 *    earlier ones: launches run concurrently on the shared stream pool and straddle decisions.
 *  - Completions come back with the executor's begin/end timestamps and are drained at the next
 *    decision, as the simulator's are.
 *  - `advanceAsync(t)` sleeps until env time t (timers, no spinning: a spinning event loop would
 *    take a core from the streams). The env puts epoch boundaries on a fixed grid (k · epochMs), so
 *    timer lateness does not accumulate (`clockStats` reports it); the policy's decision time passes
 *    on the same clock, and the env reports a decision that runs past its boundary as an overrun.
 *
 * A caller that serves real requests gives each launch its inputs and takes its outputs through
 * `LaunchIO` (experiments/serve uses it); without one, launches run on the models' seeded inputs.
 */
import type { Graph } from '../graphs/ir.js';
import type { TensorData } from '../graphs/weights.js';
import type { RunReport } from '../native/index.js';
import { EnvError } from './core.js';
import type { ClockStats, EnvExecutor, Launch } from './executor.js';
import { type NativeAdapterOptions, NativeModels } from './native-models.js';
import type { SimModel } from './sim/simulator.js';

/** A launch's outcome, times in env ms. */
export interface LaunchResult {
  submitMs: number;
  /** When its first command started on a stream. */
  startMs: number;
  endMs: number;
  outputs?: Record<string, TensorData>;
  error?: string;
}

export interface LaunchIO {
  /** A launch's inputs by graph input order (graph: the model at the launch's batch); undefined: seeded inputs. */
  inputs?(launch: Launch, graph: Graph): TensorData[] | undefined;
  /** Copy outputs back and hand them to `done`. Default false. */
  outputs?: boolean;
  /** Called once per launch when it ends or fails (a failure is then not thrown at the next step). */
  done?(launch: Launch, result: LaunchResult): void;
}

export class WallClockNativeExecutor implements EnvExecutor {
  readonly kind = 'native';
  readonly synchronous = false;
  readonly clock = 'wall';
  readonly streamSlots: number;
  readonly memoryCapacityBytes: number;
  private readonly native: NativeModels;
  private originUs = 0;
  /** Bumped at reset: completions of an earlier episode's launches are not counted in this one. */
  private generation = 0;
  private readonly running = new Set<Promise<void>>();
  private done: { id: number; at: number }[] = [];
  private readonly inflight: Int32Array;
  private readonly busy: Float64Array;
  private activationBytes = 0;
  private failure: Error | null = null;
  private unavailable: Error | null = null;
  private stats: ClockStats = { epochs: 0, lateMsTotal: 0, lateMsMax: 0 };

  constructor(
    readonly models: SimModel[],
    readonly opts: NativeAdapterOptions,
    private readonly io: LaunchIO = {},
  ) {
    this.native = new NativeModels(models, opts);
    this.streamSlots = opts.streams;
    this.memoryCapacityBytes = opts.memoryBytes ?? opts.device.memoryBytes;
    this.inflight = new Int32Array(models.length);
    this.busy = new Float64Array(opts.streams);
  }

  /** µs on the executor's clock; 0 when the addon cannot load (the error comes at the first launch or step). */
  private clockUs(): number {
    if (this.unavailable) return 0;
    try {
      return this.native.executor().nowUs();
    } catch (e) {
      this.unavailable = e as Error;
      return 0;
    }
  }

  now(): number {
    return (this.clockUs() - this.originUs) / 1000;
  }

  reset(): void {
    this.generation++;
    this.done = [];
    this.inflight.fill(0);
    this.busy.fill(0);
    this.activationBytes = 0;
    this.failure = null;
    this.stats = { epochs: 0, lateMsTotal: 0, lateMsMax: 0 };
    this.originUs = this.clockUs();
  }

  /** Loads and prepares every (model, batch, schedule) so that no launch pays for it. */
  warm(batches: readonly number[]): Promise<void> {
    if (this.unavailable) return Promise.reject(this.unavailable);
    return this.native.warm(batches);
  }

  /** Waits until every launch submitted so far has finished (an earlier episode's included). */
  async settle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  submit(l: Launch): void {
    if (this.unavailable) throw this.unavailable;
    if (l.micro !== 1) throw new EnvError(`micro-batching (micro = ${l.micro}) is simulated only; the native executor runs whole batches`, `launch ${l.id}`);
    this.inflight[l.model]++;
    const bytes = this.native.arenaBytes(l);
    this.activationBytes += bytes;
    const gen = this.generation;
    const submitMs = this.now();
    const p = this.launch(l, gen, submitMs, bytes).finally(() => this.running.delete(p));
    this.running.add(p);
  }

  private async launch(l: Launch, gen: number, submitMs: number, bytes: number): Promise<void> {
    let report: RunReport | null = null;
    let error: string | undefined;
    try {
      const h = await this.native.handle(l.model, l.batch);
      const inputs = this.io.inputs?.(l, h.graph);
      report = await this.native.executor().run([{ model: h, schedule: this.native.schedule(l), inputs }], {
        streams: this.opts.streams,
        memory: this.opts.memory ?? 'caching',
        outputs: this.io.outputs ?? false,
      });
      error = report.tasks[0]?.error;
    } catch (e) {
      error = (e as Error).message;
    }
    if (gen !== this.generation) return;
    this.inflight[l.model]--;
    this.activationBytes -= bytes;
    const task = report?.tasks[0];
    const endMs = task ? (task.endUs - this.originUs) / 1000 : this.now();
    if (report) for (const op of report.ops) if (op.stream >= 0 && op.stream < this.busy.length) this.busy[op.stream] += (op.endUs - op.startUs) / 1000;
    if (error !== undefined && !this.io.done) {
      this.failure ??= new EnvError(`native task failed: ${error}`, `launch ${l.id} (model '${this.models[l.model].name}')`);
      return;
    }
    this.io.done?.(l, { submitMs, startMs: task ? (task.beginUs - this.originUs) / 1000 : submitMs, endMs, outputs: task?.outputs, error });
    this.done.push({ id: l.id, at: Math.max(endMs, submitMs) });
  }

  advance(_until: number): void {
    throw new EnvError('the native executor is asynchronous: use advanceAsync / stepAsync');
  }

  async advanceAsync(until: number): Promise<number> {
    if (this.unavailable) throw this.unavailable;
    this.stats.epochs++;
    // Timers only (each fires at or after its delay); the loop covers their whole-ms rounding.
    for (let rem = until - this.now(); rem > 0; rem = until - this.now()) await new Promise((r) => setTimeout(r, rem));
    const late = this.now() - until;
    this.stats.lateMsTotal += late;
    if (late > this.stats.lateMsMax) this.stats.lateMsMax = late;
    if (this.failure) throw this.failure;
    return this.now();
  }

  drain(done: (id: number, finishMs: number) => void): void {
    const d = this.done;
    this.done = [];
    for (const x of d) done(x.id, x.at);
  }

  inFlight(model: number): number {
    return this.inflight[model];
  }

  /** Weights plus the planned activation arenas of the launches in flight. */
  memoryUsedBytes(): number {
    return this.native.weightBytes + this.activationBytes;
  }

  streamBusyMs(out: Float64Array): void {
    out.set(this.busy);
  }

  aloneMs(model: number, schedule: number, batch: number): number {
    return this.native.aloneMs(model, schedule, batch);
  }

  idle(): boolean {
    for (let m = 0; m < this.inflight.length; m++) if (this.inflight[m] > 0) return false;
    return true;
  }

  clockStats(): ClockStats {
    return { ...this.stats };
  }

  /** Closes the executor once every launch has finished (the addon refuses to close under a run). */
  close(): void {
    if (!this.running.size) this.native.close();
    else void this.settle().then(() => this.native.close());
  }
}
