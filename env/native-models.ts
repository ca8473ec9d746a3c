/**
 * What both native env adapters share: one NativeExecutor, the models loaded into it once per
 * (model, batch), the candidate schedules at each batch, and the cost model's alone latency.
 *
 * The addon is created on first use; when its compiled binary is missing the error is an EnvError
 * that says so (with the loader's list of paths tried) and points at the simulator. A launch of
 * batch b runs the model re-inferred at batch b (loaded once per batch).
 */
import type { CostModel } from '../graphs/cost/model.js';
import type { DeviceSpec } from '../graphs/cost/roofline.js';
import { withBatch } from '../graphs/infer.js';
import type { Graph } from '../graphs/ir.js';
import { planMemory } from '../graphs/memory/planner.js';
import type { Schedule } from '../graphs/schedule.js';
import { type MemoryMode, type ModelHandle, NativeExecutor } from '../native/index.js';
import { EnvError } from './core.js';
import type { Launch } from './executor.js';
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

export class NativeModels {
  private native: NativeExecutor | null = null;
  private readonly handles = new Map<string, Promise<ModelHandle>>();
  private readonly schedules = new Map<string, Schedule>();
  private readonly graphs: Map<number, Graph>[];
  private readonly arenas = new Map<string, number>();
  readonly weightBytes: number;

  constructor(
    readonly models: SimModel[],
    readonly opts: NativeAdapterOptions,
  ) {
    this.graphs = models.map((m) => new Map([[m.graph.batch, m.graph]]));
    this.weightBytes = models.reduce((s, m) => s + m.weightBytes, 0);
  }

  graphAt(model: number, batch: number): Graph {
    const c = this.graphs[model];
    let g = c.get(batch);
    if (!g) {
      g = withBatch(this.models[model].graph, batch);
      c.set(batch, g);
    }
    return g;
  }

  executor(): NativeExecutor {
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

  handle(model: number, batch: number): Promise<ModelHandle> {
    const key = `${model}|${batch}`;
    let h = this.handles.get(key);
    if (!h) {
      h = this.executor().loadModel(this.graphAt(model, batch), { seed: this.opts.seed ?? 0 });
      this.handles.set(key, h);
    }
    return h;
  }

  /** The candidate schedule at a batch (same object per key, so the addon prepares it once). */
  schedule(l: Pick<Launch, 'model' | 'schedule' | 'batch'>): Schedule {
    const key = `${l.model}|${l.schedule}|${l.batch}`;
    let s = this.schedules.get(key);
    if (!s) {
      s = { ...this.models[l.model].schedules[l.schedule], batch: l.batch };
      this.schedules.set(key, s);
    }
    return s;
  }

  /** Planned activation arena of a launch (the memory a task holds while it runs), bytes. */
  arenaBytes(l: Pick<Launch, 'model' | 'schedule' | 'batch'>): number {
    const key = `${l.model}|${l.schedule}|${l.batch}`;
    let b = this.arenas.get(key);
    if (b === undefined) {
      b = planMemory(this.graphAt(l.model, l.batch), this.schedule(l)).arenaBytes;
      this.arenas.set(key, b);
    }
    return b;
  }

  /** Loads every model at every batch and prepares every candidate schedule (so no launch pays for it). */
  async warm(batches: readonly number[]): Promise<void> {
    for (let m = 0; m < this.models.length; m++)
      for (const batch of batches) {
        const h = await this.handle(m, batch);
        for (let s = 0; s < this.models[m].schedules.length; s++) await this.executor().prepare(h, this.schedule({ model: m, schedule: s, batch }));
      }
  }

  aloneMs(model: number, schedule: number, batch: number): number {
    const g = this.graphAt(model, batch);
    let t = 0;
    for (const st of this.models[model].schedules[schedule].stages) t += this.opts.cost.stageLatency(g, st);
    return t;
  }

  close(): void {
    this.native?.close();
    this.native = null;
    this.handles.clear();
  }
}
