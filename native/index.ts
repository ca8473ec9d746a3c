/**
 * NativeExecutor: the real executor (C++ core, oneDNN CPU backend; CUDA when built) behind a typed,
 * Promise-based API. Models are loaded once (weights materialized once per model and seed, shared by
 * every task of the model); each run is a batch of (model, schedule) tasks executed concurrently on
 * the executor's pool of streams. Nothing here blocks the event loop.
 *
 *   const ex = new NativeExecutor({ streams: 2 });
 *   const m = await ex.loadModel(graph, { seed: 0 });
 *   const report = await ex.run([{ model: m, schedule }], { memory: 'caching', outputs: true });
 */
import { dtypeBytes, type Graph, numel } from '../graphs/ir.js';
import { checkAllocation } from '../graphs/limits.js';
import { type AllocEvent, type ConcatSlices, planFromTrace, planMemory } from '../graphs/memory/planner.js';
import type { Schedule, Stage } from '../graphs/schedule.js';
import type { TensorData } from '../graphs/weights.js';
import { type MemoryPlan, modelDocument, scheduleDocument } from './doc.js';
import { loadNative, type NativeExecutorBinding } from './loader.js';
import { attachTimeline } from './timeline.js';

export type { ConcatSlices } from '../graphs/memory/planner.js';
export { type MemoryPlan, modelDocument, scheduleDocument, writeRunnerBundle } from './doc.js';
export { addonCandidates, loadNative, NativeUnavailableError, nativeAvailable } from './loader.js';

export type MemoryMode = 'planned' | 'trace' | 'caching';

export interface NativeExecutorOptions {
  /** 'cpu' (oneDNN) or 'cuda' (only when the addon was built with CUDA). Default 'cpu'. */
  backend?: 'cpu' | 'cuda';
  /** Size of the stream pool (worker threads on the CPU). Default 1. */
  streams?: number;
  /** Threads one op may use (oneDNN + own kernels). Default 1: each op runs on its stream's thread. */
  opThreads?: number;
  /** Pin stream i to core i mod cores. Default false. */
  pin?: boolean;
  /**
   * How an op with more than one thread to spend (its group's schedule count, else opThreads) picks
   * its intra-op threads: 'measure' (default) times its first runs with one thread and with that
   * count, in turns, and keeps the faster; 'rule' keeps a schedule's count and gives ops without one
   * a single thread under TOPSCHED_SMALL_OP_FLOPS (4 MFLOP), opThreads above. Default: the TOPSCHED_OP_THREADS environment variable, else 'measure'.
   */
  opThreadChoice?: 'measure' | 'rule';
  /**
   * Memory plan for a (graph, schedule) when a 'planned' run item brings none. Default: planSchedule.
   * `slices` are the model's in-place Concats (NativeExecutor.concatSlices): a plan that puts each
   * input at its slice of the output (offset + slice offset) lets the executor skip that Concat.
   */
  planner?: (graph: Graph, schedule: Schedule, slices: readonly ConcatSlices[]) => MemoryPlan;
  /**
   * 'trace' memory: after `traceRuns` traced runs of a (model, schedule), their alloc/free traces
   * are planned by this function (default: planTraces) and later runs use that arena. The plan is checked like any other:
   * one that is only safe for the interleavings it saw is refused (see traceState).
   */
  tracePlanner?: (graph: Graph, traces: TraceEvent[][]) => MemoryPlan;
  /** Traced runs before planning (the k of 'trace' mode). Default 3. */
  traceRuns?: number;
}

/** The arena planner's plan (graphs/memory, greedy by size over schedule lifetimes) in executor
 *  form; with `slices`, in-place Concats' inputs sit in their outputs. */
export function planSchedule(graph: Graph, schedule: Schedule, slices: readonly ConcatSlices[] = []): MemoryPlan {
  const p = planMemory(graph, schedule, { slices });
  return { arenaBytes: p.arenaBytes, offsets: Object.fromEntries(p.offsets) };
}

/** The arena planner over the alloc/free order of traced runs (one after another). */
export function planTraces(_graph: Graph, traces: TraceEvent[][]): MemoryPlan {
  const events: AllocEvent[] = [];
  for (const run of traces) {
    const seq: { at: number; e: AllocEvent }[] = [];
    for (const t of run) {
      seq.push({ at: t.allocSeq, e: { kind: 'alloc', tensor: t.tensor, bytes: t.bytes } });
      seq.push({ at: t.freeSeq, e: { kind: 'free', tensor: t.tensor } });
    }
    seq.sort((a, b) => a.at - b.at);
    for (const x of seq) events.push(x.e);
  }
  const p = planFromTrace(events);
  return { arenaBytes: p.arenaBytes, offsets: Object.fromEntries(p.offsets) };
}

/** Where 'trace' memory stands for one (model, schedule). */
export interface TraceState {
  traces: TraceEvent[][];
  plan?: MemoryPlan;
  /** Why the plan from the traces was refused (runs then stay traced, on the caching allocator). */
  error?: string;
}

/** One stage's time per run, over `repeat` repetitions of `number` back-to-back runs. */
export interface StageTiming {
  medianMs: number;
  meanMs: number;
  minMs: number;
  stdMs: number;
}

export interface StageMeter {
  measure(stage: Stage, opts?: { warmup?: number; number?: number; repeat?: number }): StageTiming;
  release(): void;
}

export interface OpTiming {
  node: string;
  stream: number;
  task: number;
  startUs: number;
  endUs: number;
  /** Intra-op threads the op ran with: the schedule's count, else the executor's measured choice
   *  between one and the stream's opThreads (TOPSCHED_OP_THREADS, native/src/plan.hpp ThreadTrial). */
  threads: number;
}

export interface TraceEvent {
  tensor: string;
  bytes: number;
  allocSeq: number;
  freeSeq: number;
  allocUs: number;
  freeUs: number;
}

export interface TaskReport {
  task: number;
  model: string;
  memory: MemoryMode;
  beginUs: number;
  endUs: number;
  /** Task start (first command on its home stream) to end. */
  latencyMs: number;
  /** Submission to task start (waiting behind other work on its stream). */
  queueMs: number;
  /** Planned arena size (planned mode), else null. */
  arenaBytes: number | null;
  /** Peak of live activation bytes over the measured timeline. */
  loadBytes?: number;
  /** Sum of all activation bytes (no reuse). */
  naiveBytes: number;
  /** Some op of this task took a measuring turn (opThreadChoice 'measure'): its thread count, and
   *  so this run's latency, is not yet the settled one. Warm up until it is false. */
  measuringThreads: boolean;
  stages?: { startUs: number; endUs: number }[];
  groups?: { stage: number; group: number; stream: number; first: string; last: string }[];
  error?: string;
  trace?: TraceEvent[];
  outputs?: Record<string, TensorData>;
}

export interface RunReport {
  /** Timestamps are µs since the executor started. */
  submitUs: number;
  endUs: number;
  wallMs: number;
  tasks: TaskReport[];
  ops: OpTiming[];
  memory: { arenaPoolBytes: number; cachingReservedBytes: number; cachingPeakReservedBytes: number; cachingPeakInUseBytes: number };
}

/**
 * Runs `run` until no task of its report is measuring its ops' thread counts (opThreadChoice
 * 'measure': each op's first runs take both counts in turns), at most 16 times, so timed runs that
 * follow see settled counts. `last` is the caller's latest report, if any (none: run once to see).
 * Returns the runs made.
 */
export async function runWhileMeasuringThreads(run: () => Promise<RunReport>, last?: RunReport): Promise<number> {
  let n = 0;
  for (let r = last; n < 16 && (!r || r.tasks.some((t) => t.measuringThreads)); n++) r = await run();
  return n;
}

export interface KernelInfo {
  node: string;
  op: string;
  /** Implementation, e.g. 'conv:gemm:jit', 'eltwise:jit:avx2', 'own:concat'. */
  impl: string;
}

/** A model loaded into one executor. */
export class ModelHandle {
  /** @internal */
  readonly prepared = new Map<Schedule, Map<MemoryPlan | null, Promise<number>>>();
  /** @internal */
  readonly traced = new Map<Schedule, TraceState>();
  /** @internal ids of the preparations above that have finished */
  readonly preparedIds = new WeakMap<Promise<number>, number>();
  /** @internal planner results by schedule */
  readonly plans = new Map<Schedule, MemoryPlan>();
  /** @internal node ids in the executor's order (NativeExecutor.nodeIds) */
  nodeIds?: readonly string[];
  /** @internal in-place Concats (NativeExecutor.concatSlices) */
  slices?: readonly ConcatSlices[];
  constructor(
    /** @internal */ readonly id: number,
    /** The graph with materialized weights. */
    readonly graph: Graph,
    readonly seed: number,
    /** Default inputs (seeded), by graph input order. */
    readonly inputs: TensorData[],
  ) {}
  get name(): string {
    return this.graph.name;
  }
}

export interface RunItem {
  model: ModelHandle;
  schedule: Schedule;
  /** By graph input order or by input name; missing inputs use the model's seeded defaults. */
  inputs?: TensorData[] | Record<string, TensorData>;
  /** Memory plan for 'planned' runs (else options.planner, by default the arena planner). */
  plan?: MemoryPlan;
}

export interface RunOptions {
  /** Use only the first `streams` streams of the pool. Default: all. */
  streams?: number;
  memory?: MemoryMode;
  /** Copy graph outputs back into report.tasks[i].outputs. */
  outputs?: boolean;
}

export interface ProfileOptions {
  warmup?: number;
  number?: number;
  repeat?: number;
  ops?: boolean;
  stages?: boolean;
  /** Node pairs to co-run on two streams. */
  pairs?: [string, string][];
  corunMs?: number;
}

export interface NativeProfile {
  settings: { warmup: number; number: number; repeat: number; corunMs: number; streams: number; opThreads: number };
  ops?: Record<string, { meanMs: number; medianMs: number; minMs: number; stdMs: number }>;
  stages?: { index: number; groups: number; meanMs: number; medianMs: number; minMs: number; stdMs: number }[];
  pairs: { a: string; b: string; aloneMs: [number, number]; corunMs: [number, number]; slowdown: [number, number] }[];
}

/** Bounds of the stream pool and per-op threads (the native side refuses more too). */
export const MAX_STREAMS = 256;
export const MAX_OP_THREADS = 256;

function countOption(v: number | undefined, name: string, max: number): number {
  if (v === undefined) return 1;
  if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`NativeExecutor: ${name} must be an integer in 1..${max}, got ${v}`);
  return v;
}

/** A private copy of a tensor's bytes, taken synchronously. */
function copyView(v: ArrayBufferView): ArrayBufferView {
  const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
  return v instanceof BigInt64Array ? new BigInt64Array(bytes.buffer) : v instanceof Float32Array ? new Float32Array(bytes.buffer) : bytes;
}

export class NativeExecutor {
  private readonly native: NativeExecutorBinding;
  private readonly models = new Set<ModelHandle>();
  readonly streams: number;
  readonly opThreads: number;
  readonly backend: 'cpu' | 'cuda';

  constructor(private readonly options: NativeExecutorOptions = {}) {
    this.streams = countOption(options.streams, 'streams', MAX_STREAMS);
    this.opThreads = countOption(options.opThreads, 'opThreads', MAX_OP_THREADS);
    this.backend = options.backend ?? 'cpu';
    if (this.backend !== 'cpu' && this.backend !== 'cuda')
      throw new Error(`NativeExecutor: backend must be 'cpu' or 'cuda', got ${JSON.stringify(this.backend)}`);
    const b = loadNative();
    this.native = new b.Executor({
      backend: this.backend,
      streams: this.streams,
      opThreads: this.opThreads,
      pin: options.pin ?? false,
      ...(options.opThreadChoice !== undefined ? { opThreadChoice: options.opThreadChoice } : {}),
    });
  }

  /** Backend facts: device, oneDNN version and threading, kernels cached. */
  info(): Record<string, unknown> {
    return JSON.parse(this.native.info());
  }

  async loadModel(graph: Graph, { seed = 0 }: { seed?: number } = {}): Promise<ModelHandle> {
    // Weights and the seeded default inputs are materialized here: check them before they are.
    let bytes = 0;
    for (const v of [...graph.initializers, ...graph.inputs]) bytes += numel(v.shape) * dtypeBytes(v.dtype);
    checkAllocation(bytes, `model '${graph.name}': weights and inputs`);
    const doc = modelDocument(graph, { seed });
    const id = await this.native.loadModel(doc.json, doc.buffer);
    const h = new ModelHandle(id, doc.graph, seed, doc.inputs);
    this.models.add(h);
    return h;
  }

  /** The model's node ids in the executor's order (what run timelines index), fetched once. */
  private nodeIds(model: ModelHandle): readonly string[] {
    model.nodeIds ??= this.kernels(model).map((k) => k.node);
    return model.nodeIds;
  }

  kernels(model: ModelHandle): KernelInfo[] {
    return JSON.parse(this.native.modelInfo(model.id)).kernels;
  }

  /** Activations the backend keeps in its preferred layout between ops, not plain (0 when it has
   *  none, or with TOPSCHED_LAYOUT=plain): each saves a reorder at its producer and consumers. */
  deviceLayoutTensors(model: ModelHandle): number {
    return JSON.parse(this.native.modelInfo(model.id)).deviceLayoutTensors;
  }

  /** Concats of the model whose producers write straight into their output in 'caching' memory
   *  (batch 1 along channels; native/src/inplace.cpp): the Concat copies nothing there. */
  inPlaceConcats(model: ModelHandle): number {
    return this.concatSlices(model).length;
  }

  /** Those Concats' outputs and their inputs' byte offsets in them (what planSchedule places). */
  concatSlices(model: ModelHandle): readonly ConcatSlices[] {
    model.slices ??= JSON.parse(this.native.modelInfo(model.id)).concatSlices as ConcatSlices[];
    return model.slices;
  }

  unloadModel(model: ModelHandle): void {
    for (const plans of model.prepared.values())
      for (const p of plans.values())
        p.then(
          (id) => this.native.release(id),
          () => {},
        );
    model.prepared.clear();
    this.native.unloadModel(model.id);
    this.models.delete(model);
  }

  /** Checks and prepares (model, schedule, plan) once; later runs reuse it. */
  prepare(model: ModelHandle, schedule: Schedule, plan?: MemoryPlan): Promise<number> {
    let byPlan = model.prepared.get(schedule);
    if (!byPlan) model.prepared.set(schedule, (byPlan = new Map()));
    const key = plan ?? null;
    let p = byPlan.get(key);
    if (!p) {
      p = this.native.prepare(model.id, scheduleDocument(schedule, plan));
      // A failed preparation is not cached: the caller sees the error, a retry tries again.
      p.then(
        (id) => {
          if (byPlan.get(key) === p) model.preparedIds.set(p as Promise<number>, id);
        },
        () => byPlan.delete(key),
      );
      byPlan.set(key, p);
    }
    return p;
  }

  /** The id of a preparation that has finished, else undefined (run's synchronous path). */
  private preparedId(model: ModelHandle, schedule: Schedule, plan?: MemoryPlan): number | undefined {
    const p = model.prepared.get(schedule)?.get(plan ?? null);
    return p && model.preparedIds.get(p);
  }

  /** A planned item's plan: its own, else the planner's (computed once per model and schedule). */
  private planFor(item: RunItem): MemoryPlan {
    if (item.plan) return item.plan;
    let plan = item.model.plans.get(item.schedule);
    if (!plan) {
      plan = (this.options.planner ?? planSchedule)(item.model.graph, item.schedule, this.concatSlices(item.model));
      item.model.plans.set(item.schedule, plan);
    }
    return plan;
  }

  private inputList(item: RunItem): (ArrayBufferView | null)[] {
    const g = item.model.graph;
    if (!item.inputs) return [];
    if (Array.isArray(item.inputs)) return g.inputs.map((_, i) => (item.inputs as TensorData[])[i] ?? null);
    const rec = item.inputs as Record<string, TensorData>;
    for (const name of Object.keys(rec)) if (!g.inputs.some((v) => v.name === name)) throw new Error(`'${item.model.name}' has no input '${name}'`);
    return g.inputs.map((v) => rec[v.name] ?? null);
  }

  /** 'trace' memory state of (model, schedule), if it has run in that mode. */
  traceState(model: ModelHandle, schedule: Schedule): TraceState | undefined {
    return model.traced.get(schedule);
  }

  /** Per item: the memory mode it really runs in and its plan ('trace' turns 'planned' once planned). */
  private itemMemory(it: RunItem, memory: MemoryMode): { mode: MemoryMode; plan?: MemoryPlan } {
    if (memory === 'planned') return { mode: 'planned', plan: this.planFor(it) };
    if (memory === 'trace') {
      const st = it.model.traced.get(it.schedule);
      if (st?.plan && !st.error) return { mode: 'planned', plan: st.plan };
    }
    return { mode: memory };
  }

  /** Records traces of 'trace' items; plans (and checks the plan) once enough are in. */
  private async recordTraces(items: RunItem[], modes: MemoryMode[], report: RunReport): Promise<void> {
    const k = this.options.traceRuns ?? 3;
    for (let i = 0; i < items.length; i++) {
      const trace = report.tasks[i].trace;
      if (modes[i] !== 'trace' || !trace) continue;
      const it = items[i];
      let st = it.model.traced.get(it.schedule);
      if (!st) it.model.traced.set(it.schedule, (st = { traces: [] }));
      if (st.plan || st.error) continue;
      st.traces.push(trace);
      if (st.traces.length < k) continue;
      const plan = (this.options.tracePlanner ?? planTraces)(it.model.graph, st.traces);
      try {
        await this.prepare(it.model, it.schedule, plan);
        st.plan = plan;
      } catch (e) {
        st.error = (e as Error).message;
      }
    }
  }

  async run(items: RunItem[], opts: RunOptions = {}): Promise<RunReport> {
    const memory = opts.memory ?? 'caching';
    const mem = items.map((it) => {
      if (!this.models.has(it.model)) throw new Error(`model '${it.model.name}' is not loaded in this executor`);
      return this.itemMemory(it, memory);
    });
    // Activations of every task at once (the planned arena is each task's least), checked before
    // the executor allocates; inputs are copied now, so the caller may reuse its arrays at once.
    checkAllocation(
      items.reduce((sum, it) => sum + this.planFor(it).arenaBytes, 0),
      `run of ${items.length} task(s) (${[...new Set(items.map((it) => it.model.name))].join(', ')}): activation memory`,
    );
    // Prepared already (every run after the first): the run starts now, without a turn of the
    // event loop, and the addon copies the inputs before this returns. Else they are copied here,
    // since the caller may change them while the preparation is awaited.
    const known = items.map((it, i) => this.preparedId(it.model, it.schedule, mem[i].plan));
    const ready = known.every((id) => id !== undefined);
    const inputs = items.map((it) => this.inputList(it).map((v) => (v && !ready ? copyView(v) : v)));
    const ids = ready ? (known as number[]) : await Promise.all(items.map((it, i) => this.prepare(it.model, it.schedule, mem[i].plan)));
    const doc = JSON.stringify({
      streams: opts.streams ?? 0,
      items: ids.map((id, i) => ({ prepared: id, memory: mem[i].mode, outputs: opts.outputs ?? false })),
    });
    let res: { report: string; timeline: Float64Array; outputs: ArrayBuffer[][] };
    try {
      res = await this.native.run(doc, inputs);
    } catch (e) {
      const err = e as Error & { report?: string | RunReport };
      if (typeof err.report === 'string') err.report = JSON.parse(err.report) as RunReport;
      throw err;
    }
    const report = JSON.parse(res.report) as RunReport;
    attachTimeline(report, res.timeline, (task) => this.nodeIds(items[task].model));
    if (memory === 'trace')
      await this.recordTraces(
        items,
        mem.map((m) => m.mode),
        report,
      );
    if (opts.outputs) {
      report.tasks.forEach((t, i) => {
        const g = items[i].model.graph;
        t.outputs = {};
        g.outputs.forEach((v, k) => {
          const buf = res.outputs[i][k];
          (t.outputs as Record<string, TensorData>)[v.name] = v.dtype === 'int64' ? new BigInt64Array(buf) : new Float32Array(buf);
        });
      });
    }
    return report;
  }

  /** Times ops, stages and co-run pairs of one (model, schedule); run it while nothing else runs. */
  async profile(model: ModelHandle, schedule: Schedule, opts: ProfileOptions = {}): Promise<NativeProfile> {
    const id = await this.prepare(model, schedule);
    return JSON.parse(await this.native.profile(id, JSON.stringify(opts))) as NativeProfile;
  }

  /**
   * A stage meter for `model` (IOS's measured cost; native/measured-cost.ts): `measure(stage)` runs
   * one candidate stage (`{kind, groups, threads?}`, its groups on the executor's streams) after
   * warm-up and returns its time per run. Synchronous on purpose — a schedule search asks inside its
   * loop — so it blocks the event loop while it measures; the executor must be otherwise idle.
   */
  stageMeter(model: ModelHandle): StageMeter {
    const id = this.native.createMeter(model.id);
    return {
      measure: (stage, opts = {}) => JSON.parse(this.native.meterStage(id, JSON.stringify(stage), JSON.stringify(opts))) as StageTiming,
      release: () => this.native.releaseMeter(id),
    };
  }

  /** Arena pool and caching-allocator figures; resetPeaks starts a new peak window. */
  memoryStats(resetPeaks = false): {
    arenaPoolBytes: number;
    cachingReservedBytes: number;
    cachingInUseBytes: number;
    cachingPeakReservedBytes: number;
    cachingPeakInUseBytes: number;
  } {
    return JSON.parse(this.native.memoryStats(resetPeaks));
  }

  /** µs since the executor started, on the same clock as every report's timestamps. */
  nowUs(): number {
    return this.native.nowUs();
  }

  /** Returns idle arenas and cached blocks to the system. */
  trimMemory(): void {
    this.native.trimMemory();
  }

  /**
   * Stops the streams; every run must have settled. Loads and profiles still in flight finish first
   * (the native side waits for them) and their promises then reject; later calls reject at once.
   */
  close(): void {
    this.native.close();
  }
}
