/**
 * Real execution, epoch-synchronous (`clock: 'measured'`): the launches released at a decision
 * epoch run together as one native `run` call on S streams (the addon overlaps them across its
 * streams); the epoch ends when the later of the epoch boundary and the run's end is reached, so a
 * step's dt is max(epochMs, measured makespan). Each launch completes at the epoch start plus its
 * measured end offset. Launches never straddle epochs and env time is virtual (the policy's own
 * decision time is not in it). The real-time adapter (native-wall-executor.ts, `clock: 'wall'`)
 * has the simulator's semantics instead; this one stays for measuring makespans of whole epochs.
 */
import { EnvError } from './core.js';
import type { EnvExecutor, Launch } from './executor.js';
import { type NativeAdapterOptions, NativeModels } from './native-models.js';
import type { SimModel } from './sim/simulator.js';

export type { NativeAdapterOptions } from './native-models.js';

export class NativeExecutorAdapter implements EnvExecutor {
  readonly kind = 'native';
  readonly synchronous = false;
  readonly clock = 'measured';
  readonly streamSlots: number;
  readonly memoryCapacityBytes: number;
  private readonly native: NativeModels;
  private clockMs = 0;
  private pending: Launch[] = [];
  private done: { id: number; at: number }[] = [];
  private readonly inflight: Int32Array;
  private readonly busy: Float64Array;
  private activationBytes = 0;

  constructor(
    readonly models: SimModel[],
    readonly opts: NativeAdapterOptions,
  ) {
    this.native = new NativeModels(models, opts);
    this.streamSlots = opts.streams;
    this.memoryCapacityBytes = opts.memoryBytes ?? opts.device.memoryBytes;
    this.inflight = new Int32Array(models.length);
    this.busy = new Float64Array(opts.streams);
  }

  now(): number {
    return this.clockMs;
  }

  reset(): void {
    this.clockMs = 0;
    this.pending = [];
    this.done = [];
    this.inflight.fill(0);
    this.busy.fill(0);
    this.activationBytes = 0;
  }

  warm(batches: readonly number[]): Promise<void> {
    return this.native.warm(batches);
  }

  submit(l: Launch): void {
    if (l.micro !== 1) throw new EnvError(`micro-batching (micro = ${l.micro}) is simulated only; the native executor runs whole batches`, `launch ${l.id}`);
    this.pending.push(l);
    this.inflight[l.model]++;
  }

  advance(_until: number): void {
    throw new EnvError('the native executor is asynchronous: use advanceAsync / stepAsync');
  }

  async advanceAsync(until: number): Promise<number> {
    const start = this.clockMs;
    if (!this.pending.length) {
      this.clockMs = Math.max(this.clockMs, until);
      return this.clockMs;
    }
    const launches = this.pending;
    this.pending = [];
    const handles = await Promise.all(launches.map((l) => this.native.handle(l.model, l.batch)));
    const items = launches.map((l, i) => ({ model: handles[i], schedule: this.native.schedule(l) }));
    const report = await this.native.executor().run(items, { streams: this.opts.streams, memory: this.opts.memory ?? 'caching' });
    if (report.tasks.length !== launches.length) throw new EnvError(`native run reported ${report.tasks.length} tasks for ${launches.length} launches`);
    let end = 0;
    let act = 0;
    launches.forEach((l, i) => {
      const t = report.tasks[i];
      if (t.error) throw new EnvError(`native task failed: ${t.error}`, `launch ${l.id} (model '${this.models[l.model].name}')`);
      const off = (t.endUs - report.submitUs) / 1000;
      end = Math.max(end, off);
      act += t.arenaBytes ?? t.loadBytes ?? 0;
      this.done.push({ id: l.id, at: start + off });
      this.inflight[l.model]--;
    });
    for (const op of report.ops) if (op.stream >= 0 && op.stream < this.busy.length) this.busy[op.stream] += (op.endUs - op.startUs) / 1000;
    this.activationBytes = act;
    this.clockMs = Math.max(until, start + end);
    return this.clockMs;
  }

  drain(done: (id: number, finishMs: number) => void): void {
    for (const d of this.done) done(d.id, d.at);
    this.done = [];
  }

  inFlight(model: number): number {
    return this.inflight[model];
  }

  /** Weights plus the activations of the last epoch's run. */
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
    return this.pending.length === 0;
  }

  close(): void {
    this.native.close();
  }
}
