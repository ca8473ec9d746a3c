/**
 * Real execution behind the env's executor interface: launches run on the native addon
 * (native/index.ts) and env time is measured time.
 *
 * Semantics: the launches released at a decision epoch run together as one native `run` call on
 * S streams (the addon overlaps them across its streams); the epoch ends when the later of the
 * epoch boundary and the run's end is reached, so a step's dt is max(epochMs, measured makespan).
 * Each launch completes at the epoch start plus its measured end offset. Launches therefore never
 * straddle epochs — the simulator's tasks do; the difference is a limitation of running batches
 * through a synchronous-per-call addon, and shows up as longer dts, not as lost work.
 *
 * The addon is loaded on first use; when its compiled binary is missing, the first `advanceAsync`
 * rejects with an EnvError that says so (with the loader's list of paths tried) and points at the
 * simulator. A launch of batch b runs the model re-inferred at batch b (loaded once per batch).
 */
import type { CostModel } from '../graphs/cost/model.js';
import type { DeviceSpec } from '../graphs/cost/roofline.js';
import { withBatch } from '../graphs/infer.js';
import type { Graph } from '../graphs/ir.js';
import { planMemory } from '../graphs/memory/planner.js';
import type { Schedule } from '../graphs/schedule.js';
import { type MemoryMode, type ModelHandle, NativeExecutor } from '../native/index.js';
import { EnvError } from './core.js';
import type { EnvExecutor, Launch } from './executor.js';
import type { SimModel } from './sim/simulator.js';

export interface NativeAdapterOptions {
  streams: number;
  cost: CostModel;
  device: DeviceSpec;
  memoryBytes?: number;
  /** 'cpu' (oneDNN, default) or 'cuda' when the addon was built with CUDA. */
  backend?: 'cpu' | 'cuda';
  /** Activation memory of each task: 'caching' allocator (default) or a 'planned' arena (graphs/memory). */
  memory?: Extract<MemoryMode, 'caching' | 'planned'>;
  /** Seed of the models' generated weights and inputs. */
  seed?: number;
}

export class NativeExecutorAdapter implements EnvExecutor {
  readonly kind = 'native';
  readonly synchronous = false;
  readonly streamSlots: number;
  readonly memoryCapacityBytes: number;
  private native: NativeExecutor | null = null;
  /** Loaded models per (model, batch). */
  private readonly handles = new Map<string, Promise<ModelHandle>>();
  private readonly schedules = new Map<string, Schedule>();
  private clock = 0;
  private pending: Launch[] = [];
  private done: { id: number; at: number }[] = [];
  private readonly inflight: Int32Array;
  private readonly busy: Float64Array;
  private activationBytes = 0;
  private readonly weightBytes: number;
  private readonly graphs: Map<number, Graph>[];

  constructor(
    readonly models: SimModel[],
    readonly opts: NativeAdapterOptions,
  ) {
    this.streamSlots = opts.streams;
    this.memoryCapacityBytes = opts.memoryBytes ?? opts.device.memoryBytes;
    this.inflight = new Int32Array(models.length);
    this.busy = new Float64Array(opts.streams);
    this.graphs = models.map((m) => new Map([[m.graph.batch, m.graph]]));
    this.weightBytes = models.reduce((s, m) => s + m.weightBytes, 0);
  }

  private graphAt(model: number, batch: number): Graph {
    const c = this.graphs[model];
    let g = c.get(batch);
    if (!g) {
      g = withBatch(this.models[model].graph, batch);
      c.set(batch, g);
    }
    return g;
  }

  private executor(): NativeExecutor {
    if (!this.native) {
      try {
        this.native = new NativeExecutor({
          streams: this.opts.streams,
          backend: this.opts.backend ?? 'cpu',
          planner: (g, s) => {
            const p = planMemory(g, s);
            return { arenaBytes: p.arenaBytes, offsets: Object.fromEntries(p.offsets) };
          },
        });
      } catch (e) {
        throw new EnvError(`native executor unavailable: ${(e as Error).message}\nUse executor: 'sim' to simulate instead.`, `option 'executor'`);
      }
    }
    return this.native;
  }

  private handle(model: number, batch: number): Promise<ModelHandle> {
    const key = `${model}|${batch}`;
    let h = this.handles.get(key);
    if (!h) {
      h = this.executor().loadModel(this.graphAt(model, batch), { seed: this.opts.seed ?? 0 });
      this.handles.set(key, h);
    }
    return h;
  }

  /** The candidate schedule at a batch (same object per key, so the addon prepares it once). */
  private schedule(l: Launch): Schedule {
    const key = `${l.model}|${l.schedule}|${l.batch}`;
    let s = this.schedules.get(key);
    if (!s) {
      s = { ...this.models[l.model].schedules[l.schedule], batch: l.batch };
      this.schedules.set(key, s);
    }
    return s;
  }

  now(): number {
    return this.clock;
  }

  reset(): void {
    this.clock = 0;
    this.pending = [];
    this.done = [];
    this.inflight.fill(0);
    this.busy.fill(0);
    this.activationBytes = 0;
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
    const start = this.clock;
    if (!this.pending.length) {
      this.clock = Math.max(this.clock, until);
      return this.clock;
    }
    const launches = this.pending;
    this.pending = [];
    const handles = await Promise.all(launches.map((l) => this.handle(l.model, l.batch)));
    const items = launches.map((l, i) => ({ model: handles[i], schedule: this.schedule(l) }));
    const report = await this.executor().run(items, { streams: this.opts.streams, memory: this.opts.memory ?? 'caching' });
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
    this.clock = Math.max(until, start + end);
    return this.clock;
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
    return this.weightBytes + this.activationBytes;
  }

  streamBusyMs(out: Float64Array): void {
    out.set(this.busy);
  }

  aloneMs(model: number, schedule: number, batch: number): number {
    const g = this.graphAt(model, batch);
    let t = 0;
    for (const st of this.models[model].schedules[schedule].stages) t += this.opts.cost.stageLatency(g, st);
    return t;
  }

  idle(): boolean {
    return this.pending.length === 0;
  }

  close(): void {
    this.native?.close();
    this.native = null;
    this.handles.clear();
  }
}
