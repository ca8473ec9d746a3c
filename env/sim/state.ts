/**
 * The simulator's state: every task, stream, queue and counter, in typed arrays indexed by small
 * integers, with allocation, reset and growth. The behaviour (events, dispatch, contention) lives
 * in simulator.ts, which extends this class; the split keeps the data layout in one place.
 */
import type { CostModel } from '../../graphs/cost/model.js';
import type { DeviceSpec } from '../../graphs/cost/roofline.js';
import { withBatch } from '../../graphs/infer.js';
import type { Graph } from '../../graphs/ir.js';
import { planMemory } from '../../graphs/memory/planner.js';
import type { Schedule } from '../../graphs/schedule.js';
import { EnvError } from '../core.js';
import { type ContentionParams, ROOFLINE_SHARE } from './contention.js';
import { EventHeap } from './heap.js';
import { defaultPageFaultPenalty, type ModeOptions, type ResolvedModes, resolveModes } from './modes.js';
import { type PlanInfo, PlanStore } from './plan.js';
import { PairQueue, ReadyQueue, SlotQueue } from './queues.js';

export interface SimModel {
  name: string;
  /** The model's graph at any batch; plans re-infer it at the batch they need. */
  graph: Graph;
  /** Candidate schedules (their node structure; their `batch` field is ignored). */
  schedules: Schedule[];
  /** Resident weight bytes, shared by all tasks of the model. */
  weightBytes: number;
}

export interface SimulatorOptions extends ModeOptions {
  cost: CostModel;
  device: DeviceSpec;
  /** Device memory capacity, bytes. Default `device.memoryBytes`. */
  memoryBytes?: number;
  /** κ of the page-fault slowdown 1 + κ·f (modes.ts). Default: device / host bandwidth − 1. */
  pageFaultPenalty?: number;
  contention?: ContentionParams;
  /** Micro-batching splits only stages with at least this many intermediate bytes. Default 0. */
  splitMinBytes?: number;
  /**
   * A task's activation bytes: the memory planner's arena for its schedule and batch
   * (graphs/memory, greedy by size — the default), or the live-bytes estimate of plan.ts.
   */
  activationModel?: 'planner' | 'live-bytes';
  /**
   * How ready work meets streams.
   *  - 'in-order' (default, what CUDA streams and the native executor do): at submission a task's
   *    whole plan is enqueued on in-order streams — each task gets a home stream (least pending
   *    work, ties rotating) and group i of every stage goes to stream (home + i) mod S; a stream
   *    runs its queue in order, so a group whose stage has not begun blocks the work behind it.
   *  - 'pool': an idealised work-conserving dispatcher — any free stream takes the oldest task's
   *    ready group (no head-of-line blocking).
   */
  streamPolicy?: 'in-order' | 'pool';
  /**
   * What the real executor spends per launch beyond its ops (submission, task begin and end,
   * completion callback), ms; it occupies the launch's home stream before its first op. Measured
   * by the fidelity calibration (env/validate.ts `calibrateOnNative`): one value for every model,
   * or one per model name (missing names: 0). Default 0.
   */
  launchOverheadMs?: number | Record<string, number>;
  /**
   * Launch-to-launch variation of the real executor's service time: σ of the log of a launch's time
   * (one value, or per model name). Each launch's ops take their priced time × exp(σ·z), z a
   * standard normal drawn from the launch id (bit-reproducible), so the median is unchanged. Measured
   * by the fidelity calibration. Default 0 (deterministic service times).
   */
  launchJitter?: number | Record<string, number>;
}

/**
 * A standard normal from a launch id, bit-reproducible (two FNV-style hashes → Box–Muller): the
 * simulator's launch jitter needs no RNG state that a reset would have to restore.
 */
export function normalFromId(id: number, salt: number): number {
  const h = (k: number) => {
    let x = (Math.imul(id ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(salt + k, 0xc2b2ae35)) >>> 0;
    x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
    x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
    return ((x ^ (x >>> 16)) >>> 0) / 2 ** 32;
  };
  const u1 = Math.max(h(1), 2 ** -32);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * h(2));
}

/** A per-model option's value for `model`: its one value, or its entry in a per-name record (0 when absent). */
export function perModelOption(o: number | Record<string, number> | undefined, model: string): number {
  if (o === undefined) return 0;
  if (typeof o === 'number') return o;
  return Object.hasOwn(o, model) ? o[model] : 0;
}

export const EV_OP = 1;
export const EV_PHASE = 2;
export const EV_COPY = 3;
export const EV_PREPROC = 4;
export const EV_SWITCH = 5;

/** Stream job kinds. */
export const JOB_OP = 0;
export const JOB_COPY = 1;
/** Pseudo group ids of pageable copies queued on streams. */
export const G_H2D = -1;
export const G_D2H = -2;

/** Where a task is in its pipeline. */
export const ST_PRE = 0;
export const ST_H2D = 1;
export const ST_COMPUTE = 2;
export const ST_D2H = 3;

export function grow32(a: Int32Array, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}
export function grow64(a: Float64Array, n: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}

export interface SimStats {
  /** Operator-level events: op (and stream copy) starts plus finishes. */
  opEvents: number;
  /** Heap events popped, stale ones included. */
  heapPops: number;
  stalePops: number;
  tasksSubmitted: number;
  tasksCompleted: number;
}

export class SimState {
  readonly modes: ResolvedModes;
  readonly contention: ContentionParams;
  readonly capacityBytes: number;
  readonly pageFaultPenalty: number;
  readonly plans = new PlanStore();
  readonly nModels: number;
  /** Total stream slots: S in `streams` mode; S per model (one context or MPS client each) otherwise. */
  readonly nStreams: number;
  /** Streams per stream set (S). */
  protected readonly S: number;
  protected readonly inOrder: boolean;

  /** Env time, ms. */
  now = 0;
  protected lastT = 0;
  protected readonly heap = new EventHeap(1024);
  protected readonly weightBytes: number;
  memoryUsed = 0;

  // Tasks (indexed by slot).
  protected tId = new Int32Array(64);
  protected tModel = new Int32Array(64);
  protected tPlan = new Int32Array(64);
  protected tPhase = new Int32Array(64);
  protected tLeft = new Int32Array(64);
  protected tAct = new Float64Array(64);
  /** Service-time factor of the task's ops (launch jitter; 1 without). */
  protected tSpeed = new Float64Array(64);
  /** σ of launch jitter per model. */
  protected readonly jitter: Float64Array;
  /** Launch number of the task (its readiness priority). */
  protected tSeq = new Float64Array(64);
  protected tStage = new Int32Array(64);
  /** In-order policy: the task's home stream (global index) and its stream set's first stream. */
  protected tHome = new Int32Array(64);
  protected tBase = new Int32Array(64);
  protected freeSlots = new Int32Array(64);
  protected nFree = 0;

  // Streams.
  protected readonly sTask: Int32Array;
  protected readonly sGroup: Int32Array;
  protected readonly sOp: Int32Array;
  protected readonly sKind: Int32Array;
  protected readonly sRem: Float64Array;
  protected readonly sRate: Float64Array;
  protected readonly sShare: Float64Array;
  protected readonly sVer: Int32Array;
  /** Cumulative busy time per stream, ms. */
  readonly streamBusyMs: Float64Array;
  protected busyStreams = 0;
  /** Busy streams, densely (the hot loops visit only these), and each stream's place in the list. */
  protected readonly busyList: Int32Array;
  protected readonly busyAt: Int32Array;
  /** In-order policy: each stream's queue, and its estimated pending work (ms). */
  protected readonly sQueue: PairQueue[];
  protected readonly sPending: Float64Array;
  protected homeRR = 0;
  /** In-order policy: streams whose head may have become startable since the last dispatch. */
  protected readonly kickStack: Int32Array;
  protected readonly kicked: Uint8Array;
  protected nKick = 0;

  // Per model.
  readonly inFlight: Int32Array;
  protected readonly running: Int32Array;
  protected readonly ready: ReadyQueue[];
  /** Jobs whose stage has begun but that have not started, per model. */
  protected readonly readyCount: Int32Array;
  protected readonly clientDemand: Float64Array;
  protected readonly clientFactor: Float64Array;
  protected launchSeq = 0;

  // Copy engines (0: H2D, 1: D2H) and CPU pre-processing workers.
  protected readonly engBusy = new Int32Array(2);
  protected readonly engQueue = [new SlotQueue(), new SlotQueue()];
  protected cpuBusy = 0;
  protected readonly cpuQueue = new SlotQueue();

  /** Jobs started outside the event loop (submit) still await their rates and finish events. */
  protected dirty = false;

  // Contexts mode.
  protected ctxActive = -1;
  protected ctxSliceStart = 0;
  protected ctxSwitching = false;

  // Completions since the last drain.
  completedIds = new Int32Array(64);
  completedAt = new Float64Array(64);
  completedCount = 0;

  readonly stats: SimStats = { opEvents: 0, heapPops: 0, stalePops: 0, tasksSubmitted: 0, tasksCompleted: 0 };

  protected readonly planCache = new Map<string, number>();
  protected readonly graphs: Map<number, Graph>[];

  constructor(
    readonly models: readonly SimModel[],
    readonly opts: SimulatorOptions,
  ) {
    if (!models.length) throw new EnvError('the simulator needs at least one model');
    this.nModels = models.length;
    this.jitter = Float64Array.from(models, (m) => {
      const j = perModelOption(opts.launchJitter, m.name);
      if (!(j >= 0) || !Number.isFinite(j)) throw new EnvError(`must be a finite number ≥ 0, got ${j}`, `option 'launchJitter' (model '${m.name}')`);
      return j;
    });
    this.modes = resolveModes(opts, models.length);
    this.contention = opts.contention ?? ROOFLINE_SHARE;
    this.capacityBytes = opts.memoryBytes ?? opts.device.memoryBytes;
    if (!(this.capacityBytes > 0)) throw new EnvError(`must be positive, got ${this.capacityBytes}`, `option 'memoryBytes'`);
    this.pageFaultPenalty = opts.pageFaultPenalty ?? defaultPageFaultPenalty(opts.device, this.modes);
    if (!(this.pageFaultPenalty >= 0)) throw new EnvError(`must be non-negative, got ${this.pageFaultPenalty}`, `option 'pageFaultPenalty'`);
    this.S = this.modes.streams;
    this.nStreams = this.modes.mode === 'streams' ? this.S : this.S * models.length;
    const policy = opts.streamPolicy ?? 'in-order';
    if (policy !== 'in-order' && policy !== 'pool') throw new EnvError(`must be 'in-order' or 'pool', got ${JSON.stringify(policy)}`, `option 'streamPolicy'`);
    this.inOrder = policy === 'in-order';
    const S = this.nStreams;
    this.sQueue = Array.from({ length: S }, () => new PairQueue());
    this.sPending = new Float64Array(S);
    this.busyList = new Int32Array(S);
    this.busyAt = new Int32Array(S);
    this.kickStack = new Int32Array(S);
    this.kicked = new Uint8Array(S);
    this.sTask = new Int32Array(S).fill(-1);
    this.sGroup = new Int32Array(S);
    this.sOp = new Int32Array(S);
    this.sKind = new Int32Array(S);
    this.sRem = new Float64Array(S);
    this.sRate = new Float64Array(S);
    this.sShare = new Float64Array(S);
    this.sVer = new Int32Array(S);
    this.streamBusyMs = new Float64Array(S);
    const M = models.length;
    this.inFlight = new Int32Array(M);
    this.running = new Int32Array(M);
    this.clientDemand = new Float64Array(M);
    this.clientFactor = new Float64Array(M);
    this.ready = Array.from({ length: M }, () => new ReadyQueue());
    this.readyCount = new Int32Array(M);
    this.graphs = models.map((m) => new Map([[m.graph.batch, m.graph]]));
    this.weightBytes = models.reduce((s, m) => s + m.weightBytes, 0);
    models.forEach((m, i) => {
      if (!m.schedules.length) throw new EnvError('has no candidate schedules', `model '${m.name}' (models[${i}])`);
    });
    this.reset();
  }

  /** Empties the device and rewinds time to 0. Compiled plans are kept. */
  reset(): void {
    this.now = 0;
    this.lastT = 0;
    this.heap.clear();
    this.memoryUsed = this.weightBytes;
    this.sTask.fill(-1);
    this.sVer.fill(0);
    this.sRate.fill(0);
    this.streamBusyMs.fill(0);
    this.busyStreams = 0;
    this.inFlight.fill(0);
    this.running.fill(0);
    for (const q of this.ready) q.clear();
    this.readyCount.fill(0);
    for (const q of this.sQueue) q.clear();
    this.sPending.fill(0);
    this.homeRR = 0;
    this.kicked.fill(0);
    this.nKick = 0;
    this.launchSeq = 0;
    this.engBusy.fill(0);
    for (const q of this.engQueue) q.clear();
    this.cpuBusy = 0;
    this.cpuQueue.clear();
    this.ctxActive = -1;
    this.ctxSliceStart = 0;
    this.ctxSwitching = false;
    this.completedCount = 0;
    this.dirty = false;
    this.nFree = 0;
    for (let s = this.tId.length - 1; s >= 0; s--) this.freeSlots[this.nFree++] = s;
    this.stats.opEvents = 0;
    this.stats.heapPops = 0;
    this.stats.stalePops = 0;
    this.stats.tasksSubmitted = 0;
    this.stats.tasksCompleted = 0;
  }

  protected graphAt(model: number, batch: number): Graph {
    const cache = this.graphs[model];
    let g = cache.get(batch);
    if (!g) {
      const base = cache.values().next().value as Graph;
      g = withBatch(base, batch);
      cache.set(batch, g);
    }
    return g;
  }

  /** The compiled plan for (model, candidate schedule, batch, micro-batches); compiled once. */
  plan(model: number, schedule: number, batch: number, micro = 1): number {
    const key = `${model}|${schedule}|${batch}|${micro}`;
    let id = this.planCache.get(key);
    if (id === undefined) {
      const m = this.models[model];
      if (!m) throw new EnvError(`no model index ${model} (0..${this.nModels - 1})`);
      const sched = m.schedules[schedule];
      if (!sched) throw new EnvError(`schedule index ${schedule} is out of range 0..${m.schedules.length - 1}`, `model '${m.name}'`);
      id = this.plans.add({
        graphAt: (b) => this.graphAt(model, b),
        schedule: sched,
        batch,
        micro,
        splitMinBytes: this.opts.splitMinBytes ?? 0,
        cost: this.opts.cost,
        device: this.opts.device,
        plannedBytes: (this.opts.activationModel ?? 'planner') === 'planner' ? planMemory(this.graphAt(model, batch), sched).arenaBytes : undefined,
        launchOverheadMs: perModelOption(this.opts.launchOverheadMs, m.name),
      }).id;
      this.planCache.set(key, id);
    }
    return id;
  }

  planInfo(id: number): PlanInfo {
    return this.plans.info[id];
  }
}
