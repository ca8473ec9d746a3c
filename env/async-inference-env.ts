/**
 * AsyncInference: asynchronous multi-model DNN inference as a two-agent semi-MDP (PettingZoo
 * Parallel API, core.ts).
 *
 * Requests arrive per model (workload.ts, arrivals.ts) into FIFO queues. Every decision epoch
 * (`epochMs` of env time) both agents act at once:
 *  - `launcher`  MultiDiscrete, one level per model: model m releases `levels[a[m]]` queued
 *                requests this epoch (fewer if fewer wait) — the dequeue frequency.
 *  - `scheduler` MultiDiscrete, per model [schedule, batch(, micro)]: which candidate schedule the
 *                released requests run with, how many requests share one launch (batch), and —
 *                when `microBatches` has several entries — how many micro-batches split stages use.
 * The released launches go to the executor (simulated or real); the env then runs to the next
 * epoch, moves arrivals into the queues, and collects completions. `info.dt` is the env time the
 * step took, in seconds (fixed `epochMs` in the simulator unless `skipIdle` jumps over idle time;
 * measured with the native executor).
 *
 * Observation (both agents, Box of 7·M + slots + 2 floats; agent-specific only in the last
 * per-model entry), per model m: queue length; head-of-queue age / SLO; launches in flight;
 * completions/s in the last step / mean arrival rate; latency EWMA / SLO; requests dropped last
 * step; the agent's own last choice for m (level or schedule index, scaled to [0, 1]). Then the
 * busy fraction of every stream slot during the last step, memory in use / capacity, last dt /
 * epoch. `state()` is the shared part plus both agents' last choices (level, schedule, batch,
 * micro per model, scaled to [0, 1]). With `loadFeatures`, observations and state end with three
 * entries per model: arrival-rate EWMAs over ~100 ms and ~2 s and an on-time-completion EWMA over
 * ~1 s, each ÷ the model's mean rate (appended last, so the layout baselines read is unchanged).
 *
 * Rewards: shared, reward.ts. Metrics in every info: metrics.ts (`info.metrics`).
 */

import { randomInt } from 'node:crypto';
import type { ArrivalProcess } from './arrivals.js';
import {
  type AgentID,
  checkActions,
  EnvError,
  type EnvMetadata,
  type ParallelEnv,
  perAgent,
  type ResetOptions,
  type ResetResult,
  type StepInfo,
  type StepResult,
} from './core.js';
import { type ClockStats, type EnvExecutor, type Launch, SimExecutor } from './executor.js';
import { type EnvMetrics, EpisodeCounters } from './metrics.js';
import { type EnvModel, prepareModels } from './models.js';
import { NativeExecutorAdapter } from './native-executor.js';
import { WallClockNativeExecutor } from './native-wall-executor.js';
import {
  type AsyncInferenceOptions,
  checkOptionNames,
  intList,
  nonNegativeInt,
  positiveNumber,
  resolveContention,
  resolveCost,
  resolveDevice,
  resolveWorkload,
} from './options.js';
import { RequestQueue } from './queue.js';
import { type ResolvedRewardWeights, resolveReward, stepReward } from './reward.js';
import { Box, MultiDiscrete, makeRng } from './spaces.js';
import { makeArrivals, type Workload } from './workload.js';

export const LAUNCHER = 'launcher';
export const SCHEDULER = 'scheduler';
const SHARED_PER_MODEL = 6;
/** Extra per-model features with `loadFeatures`: arrival rate at two time scales, recent goodput. */
const LOAD_FEATURES = 3;
/** Time constants (ms) of the load features' EWMAs: fast and slow arrival rate, goodput. */
const LOAD_TAUS_MS = [100, 2000, 1000] as const;
/** Smoothing of the per-model latency EWMA (weight of the newest completion batch). */
const EWMA = 0.2;

export type AsyncInferenceActions = Record<AgentID, Int32Array | number[]>;

/** What baseline policies read about the env (read-only views). */
export interface EnvView {
  models: readonly EnvModel[];
  levels: readonly number[];
  batchSizes: readonly number[];
  microBatches: readonly number[];
  queueLength(model: number): number;
  inFlight(model: number): number;
  /** Env time now, ms. */
  now(): number;
  /** Arrival time (ms) of the oldest queued request of a model; NaN when its queue is empty. */
  headArrivalMs(model: number): number;
  /** Requests of a model that arrived since reset (dropped ones included): rate estimators difference it. */
  arrivedTotal(model: number): number;
  /** Latency of one launch alone on an idle device, ms (the profiled cost a deadline-aware policy plans with). */
  aloneMs(model: number, schedule: number, batch: number): number;
}

export class AsyncInferenceEnv implements ParallelEnv<Float32Array, Int32Array> {
  /** `make(id)` names each registered variant after its id. */
  metadata: EnvMetadata = { name: 'topsched/AsyncInference-v0', semiMdp: true };
  readonly possibleAgents: readonly AgentID[] = [LAUNCHER, SCHEDULER];
  agents: AgentID[] = [];
  readonly stateSpace: Box;
  readonly workload: Workload;
  readonly models: EnvModel[];
  readonly executor: EnvExecutor;
  readonly levels: number[];
  readonly batchSizes: number[];
  readonly microBatches: number[];
  readonly epochMs: number;
  readonly maxSteps: number;
  readonly skipIdle: boolean;
  readonly reward: ResolvedRewardWeights;

  private readonly obsSpaces: Record<AgentID, Box>;
  private readonly actSpaces: Record<AgentID, MultiDiscrete>;
  private readonly perModelWidth: number;
  private readonly M: number;
  private readonly arrivals: ArrivalProcess[];
  private readonly queues: RequestQueue[];
  private readonly nextArrival: Float64Array;
  private readonly nextCount: Int32Array;
  private readonly exhausted: Uint8Array;
  private readonly meanRate: Float64Array;
  private readonly arrivedTotal: Float64Array;
  private readonly launches = new Map<number, { model: number; arrivals: Float64Array; submitMs: number }>();
  private nextLaunchId = 0;
  /** Requests in launches not yet finished (kept as a count: the backlog is read every step). */
  private launchedRequests = 0;
  private seedBase = 0;
  private seeded = false;
  private episode = 0;
  private steps = 0;
  private closed = false;
  private lastDtMs = 0;
  /** Wall clock: when the current step began (the last step's end: decision time is inside the step). */
  private stepStartMs = 0;
  /** Wall clock: the epoch boundary the last step ran to; whether this step skipped the next one. */
  private lastBoundaryMs = 0;
  private overran = false;
  private overruns = 0;
  /** Load-feature entries at the end of observations and state (3·M with loadFeatures, else 0). */
  private readonly extra: number;
  private readonly loadFeatures: boolean;
  private readonly externalArrivals: boolean;
  /** Per model: fast rate, slow rate, goodput EWMAs (requests/s); arrivals counted at the last step. */
  private readonly loadEwma: Float64Array;
  private readonly arrivedPrev: Float64Array;

  /** Per-model episode and step counters. */
  private readonly c: EpisodeCounters;
  private readonly lastLevel: Int32Array;
  private readonly lastSchedule: Int32Array;
  private readonly lastBatch: Int32Array;
  private readonly lastMicro: Int32Array;
  private readonly busyNow: Float64Array;
  private readonly busyPrev: Float64Array;
  private readonly stepBusy: Float64Array;

  constructor(opts: AsyncInferenceOptions = {}) {
    checkOptionNames(opts);
    this.workload = resolveWorkload(opts.workload);
    const cost = resolveCost(opts.cost);
    const device = resolveDevice(opts.device, cost);
    this.levels = intList('levels', opts.levels, [0, 1, 2, 4, 8], 0);
    this.batchSizes = intList('batchSizes', opts.batchSizes, [1, 2, 4, 8], 1);
    this.microBatches = intList('microBatches', opts.microBatches, [1], 1);
    this.epochMs = positiveNumber('epochMs', opts.epochMs, 10);
    this.maxSteps = nonNegativeInt('maxSteps', opts.maxSteps, 1000);
    this.skipIdle = opts.skipIdle ?? false;
    this.reward = resolveReward(opts.reward);
    this.loadFeatures = opts.loadFeatures ?? false;
    if (typeof this.loadFeatures !== 'boolean') throw new EnvError(`must be true or false, got ${JSON.stringify(opts.loadFeatures)}`, `option 'loadFeatures'`);
    this.models = prepareModels(this.workload, {
      graphs: opts.graphs,
      cost,
      candidates: opts.candidates,
      partitionOptions: opts.partitionOptions,
      extraSchedules: opts.extraSchedules,
    });
    const M = (this.M = this.models.length);
    const simModels = this.models.map((m) => ({ name: m.name, graph: m.graph, schedules: m.schedules, weightBytes: m.weightBytes }));
    const ex = opts.executor ?? 'sim';
    if (ex === 'sim') {
      this.executor = new SimExecutor(simModels, {
        ...opts,
        cost,
        device,
        contention: resolveContention(opts.contention, new Map(this.models.map((m) => [m.name, m.graph])), device),
      });
    } else if (ex === 'native') {
      const clock = opts.clock ?? 'wall';
      const nativeOpts = { streams: opts.streams ?? 4, cost, device, memoryBytes: opts.memoryBytes };
      if (clock === 'wall') this.executor = new WallClockNativeExecutor(simModels, nativeOpts, opts.launchIO);
      else if (clock === 'measured') this.executor = new NativeExecutorAdapter(simModels, nativeOpts);
      else throw new EnvError(`must be 'wall' or 'measured', got ${JSON.stringify(clock)}`, `option 'clock'`);
    } else if (ex && typeof ex === 'object' && typeof (ex as EnvExecutor).submit === 'function') this.executor = ex;
    else throw new EnvError(`must be 'sim', 'native' or an executor, got ${JSON.stringify(ex)}`, `option 'executor'`);
    if (opts.launchIO !== undefined && this.executor.clock !== 'wall')
      throw new EnvError(`launch inputs and outputs need executor 'native' with clock 'wall'`, `option 'launchIO'`);
    this.externalArrivals = opts.externalArrivals ?? false;
    if (typeof this.externalArrivals !== 'boolean')
      throw new EnvError(`must be true or false, got ${JSON.stringify(opts.externalArrivals)}`, `option 'externalArrivals'`);

    this.arrivals = makeArrivals(this.workload);
    this.queues = this.models.map((m) => new RequestQueue(m.maxQueue));
    this.nextArrival = new Float64Array(M);
    this.nextCount = new Int32Array(M);
    this.exhausted = new Uint8Array(M);
    this.meanRate = Float64Array.from(this.arrivals, (a) => a.meanRate() || 1);
    this.arrivedTotal = new Float64Array(M);
    this.loadEwma = new Float64Array(LOAD_FEATURES * M);
    this.extra = this.loadFeatures ? LOAD_FEATURES * M : 0;
    this.arrivedPrev = new Float64Array(M);
    this.c = new EpisodeCounters(M, EWMA);
    this.lastLevel = new Int32Array(M);
    this.lastSchedule = new Int32Array(M);
    this.lastBatch = new Int32Array(M);
    this.lastMicro = new Int32Array(M);
    const slots = this.executor.streamSlots;
    this.busyNow = new Float64Array(slots);
    this.busyPrev = new Float64Array(slots);
    this.stepBusy = new Float64Array(slots);

    // Spaces: built once, returned by reference forever.
    const names = this.models.map((m) => m.name);
    const L = this.levels.length;
    this.perModelWidth = this.microBatches.length > 1 ? 3 : 2;
    const nvec: number[] = [];
    const labels: string[] = [];
    this.models.forEach((m) => {
      nvec.push(m.schedules.length, this.batchSizes.length);
      labels.push(`${m.name}.schedule`, `${m.name}.batch`);
      if (this.perModelWidth === 3) {
        nvec.push(this.microBatches.length);
        labels.push(`${m.name}.micro`);
      }
    });
    this.actSpaces = {
      [LAUNCHER]: new MultiDiscrete(
        new Array(M).fill(L),
        names.map((n) => `${n}.level`),
      ),
      [SCHEDULER]: new MultiDiscrete(nvec, labels),
    };
    const { low, high } = this.obsBounds(slots);
    this.obsSpaces = { [LAUNCHER]: new Box(low, high), [SCHEDULER]: new Box(low, high) };
    const shared = low.length - M - this.extra;
    const sLow = new Float32Array(shared + 4 * M + this.extra);
    const sHigh = new Float32Array(shared + 4 * M + this.extra).fill(1);
    for (let i = 0; i < shared; i++) {
      sLow[i] = low[i];
      sHigh[i] = high[i];
    }
    sHigh.fill(Number.POSITIVE_INFINITY, shared + 4 * M);
    this.stateSpace = new Box(sLow, sHigh);
  }

  /**
   * Bounds of an agent's observation: 6 shared entries per model, slots + 2 globals, M own choices,
   * then the load features (at the end, so baselines that read the fixed layout are unaffected).
   */
  private obsBounds(slots: number): { low: Float32Array; high: Float32Array } {
    const M = this.M;
    const P = SHARED_PER_MODEL;
    const shared = P * M + slots + 2;
    const n = shared + M + this.extra;
    const low = new Float32Array(n);
    const high = new Float32Array(n).fill(Number.POSITIVE_INFINITY);
    for (let m = 0; m < M; m++) high[m * P] = this.models[m].maxQueue;
    for (let i = P * M; i < P * M + slots; i++) high[i] = 1;
    for (let i = shared; i < shared + M; i++) high[i] = 1;
    return { low, high };
  }

  observationSpace(agent: AgentID): Box {
    const s = this.obsSpaces[agent];
    if (!s) throw new EnvError(`unknown agent ${JSON.stringify(agent)} (agents: ${this.possibleAgents.join(', ')})`);
    return s;
  }

  actionSpace(agent: AgentID): MultiDiscrete {
    const s = this.actSpaces[agent];
    if (!s) throw new EnvError(`unknown agent ${JSON.stringify(agent)} (agents: ${this.possibleAgents.join(', ')})`);
    return s;
  }

  /** Read-only state for baseline policies. */
  view(): EnvView {
    return {
      models: this.models,
      levels: this.levels,
      batchSizes: this.batchSizes,
      microBatches: this.microBatches,
      queueLength: (m) => this.queues[m].length,
      inFlight: (m) => this.executor.inFlight(m),
      now: () => this.executor.now(),
      headArrivalMs: (m) => this.queues[m].peek(),
      arrivedTotal: (m) => this.arrivedTotal[m],
      aloneMs: (m, sched, batch) => this.executor.aloneMs(m, sched, batch, 1),
    };
  }

  // ------------------------------------------------------------------ episode

  reset(opts: ResetOptions = {}): ResetResult<Float32Array> {
    if (this.closed) throw new EnvError('reset() on a closed env');
    // `options` has no keys this env reads; unknown keys are accepted and ignored, as PettingZoo's
    // parallel_api_test requires (its first reset passes one).
    if (opts.options !== undefined && (opts.options === null || typeof opts.options !== 'object'))
      throw new EnvError(`options must be an object, got ${JSON.stringify(opts.options)}`, 'reset');
    if (opts.seed !== undefined) {
      if (!Number.isInteger(opts.seed)) throw new EnvError(`seed must be an integer, got ${JSON.stringify(opts.seed)}`, 'reset');
      this.seedBase = opts.seed;
      this.episode = 0;
      this.seeded = true;
    } else if (!this.seeded) {
      // As Gymnasium: the first reset without a seed draws one from the OS; later unseeded resets
      // continue its episode sequence. Seeded runs are unaffected (and stay bit-reproducible).
      this.seedBase = randomInt(0, 2 ** 31 - 1);
      this.episode = 0;
      this.seeded = true;
    } else this.episode++;
    const seed = `${this.seedBase}:${this.episode}`;
    this.executor.reset();
    this.launches.clear();
    this.launchedRequests = 0;
    this.nextLaunchId = 0;
    this.steps = 0;
    this.lastDtMs = 0;
    this.stepStartMs = 0;
    this.lastBoundaryMs = 0;
    this.overran = false;
    this.overruns = 0;
    this.c.reset();
    this.arrivedTotal.fill(0);
    this.arrivedPrev.fill(0);
    this.loadEwma.fill(0);
    for (const a of [this.lastLevel, this.lastSchedule, this.lastBatch, this.lastMicro]) a.fill(0);
    this.busyPrev.fill(0);
    this.stepBusy.fill(0);
    this.arrivals.forEach((p, m) => {
      this.queues[m].clear();
      p.reset(makeRng(`${seed}:arrivals:${m}`), seed);
      this.drawNext(m);
    });
    this.ingest(0);
    this.agents = [...this.possibleAgents];
    const metrics = this.metrics();
    const infos = perAgent(this.agents, () => this.info(0, metrics));
    return { observations: perAgent(this.agents, (a) => this.observe(a)), infos };
  }

  private drawNext(m: number): void {
    if (this.externalArrivals) {
      this.nextArrival[m] = Number.POSITIVE_INFINITY;
      this.exhausted[m] = 0;
      return;
    }
    const t = this.arrivals[m].next();
    this.nextArrival[m] = t * 1000;
    this.nextCount[m] = this.arrivals[m].count;
    this.exhausted[m] = t === Number.POSITIVE_INFINITY ? 1 : 0;
  }

  /** Moves every arrival at or before `tMs` into its queue (or drops it when the queue is full). */
  private ingest(tMs: number): void {
    for (let m = 0; m < this.M; m++) {
      const q = this.queues[m];
      while (this.nextArrival[m] <= tMs) {
        const at = this.nextArrival[m];
        for (let c = this.nextCount[m]; c > 0; c--) {
          this.c.arrival(m, q.push(at));
          this.arrivedTotal[m]++;
        }
        this.drawNext(m);
      }
    }
  }

  /**
   * One request for `model` arrives now (externalArrivals): it joins the model's queue, or is
   * dropped when the queue is full (counted as a drop, as the env counts its own). Returns whether
   * it was queued; the policy sees it at the next decision.
   */
  inject(model: number): boolean {
    if (!this.externalArrivals) throw new EnvError('inject() needs externalArrivals: true', 'inject');
    if (!Number.isInteger(model) || model < 0 || model >= this.M) throw new EnvError(`model index must be in 0..${this.M - 1}, got ${model}`, 'inject');
    const ok = this.queues[model].push(this.executor.now());
    this.c.arrival(model, ok);
    this.arrivedTotal[model]++;
    return ok;
  }

  private backlog(): number {
    let b = 0;
    for (let m = 0; m < this.M; m++) b += this.queues[m].length;
    return b + this.launchedRequests;
  }

  /** Applies both agents' actions at the current time: dequeues, batches and submits launches. */
  private commit(actions: AsyncInferenceActions): void {
    const lv = actions[LAUNCHER];
    const sc = actions[SCHEDULER];
    const W = this.perModelWidth;
    for (let m = 0; m < this.M; m++) {
      const sched = sc[m * W];
      const batch = this.batchSizes[sc[m * W + 1]];
      const micro = W === 3 ? this.microBatches[sc[m * W + 2]] : 1;
      this.lastLevel[m] = lv[m];
      this.lastSchedule[m] = sched;
      this.lastBatch[m] = sc[m * W + 1];
      this.lastMicro[m] = W === 3 ? sc[m * W + 2] : 0;
      const q = this.queues[m];
      let n = Math.min(this.levels[lv[m]], q.length);
      while (n > 0) {
        const size = Math.min(batch, n);
        const arrivals = new Float64Array(size);
        for (let j = 0; j < size; j++) arrivals[j] = q.shift();
        const launch: Launch = { id: this.nextLaunchId++, model: m, schedule: sched, batch: size, micro };
        this.launches.set(launch.id, { model: m, arrivals, submitMs: this.executor.now() });
        this.launchedRequests += size;
        this.executor.submit(launch);
        n -= size;
      }
    }
  }

  private readonly onDone = (id: number, finishMs: number): void => {
    const l = this.launches.get(id);
    if (!l) throw new EnvError(`executor reported unknown launch ${id}`);
    this.launches.delete(id);
    this.launchedRequests -= l.arrivals.length;
    this.c.launchDone(l.model, l.arrivals, l.submitMs, finishMs, this.models[l.model].sloMs);
  };

  /**
   * The end of this step's epoch: the next boundary, or (skipIdle) the boundary after the next
   * arrival. On a wall clock boundaries lie on a fixed grid (k · epochMs), so timer lateness does
   * not drift them.
   */
  private epochEnd(t0: number): number {
    let t1 = this.wallClock ? (Math.floor(t0 / this.epochMs) + 1) * this.epochMs : t0 + this.epochMs;
    if (this.skipIdle && this.executor.idle()) {
      let queued = 0;
      for (const q of this.queues) queued += q.length;
      if (queued === 0) {
        let next = Number.POSITIVE_INFINITY;
        for (let m = 0; m < this.M; m++) next = Math.min(next, this.nextArrival[m]);
        if (Number.isFinite(next) && next > t1) t1 = t0 + this.epochMs * Math.ceil((next - t0) / this.epochMs);
      }
    }
    return t1;
  }

  private begin(actions: AsyncInferenceActions): { t0: number; t1: number; backlog0: number } {
    if (this.closed) throw new EnvError('step() on a closed env');
    checkActions(this, actions as Record<AgentID, Int32Array>);
    this.c.beginStep();
    const now = this.executor.now();
    const backlog0 = this.backlog();
    this.commit(actions);
    if (!this.wallClock) return { t0: now, t1: this.epochEnd(now), backlog0 };
    const t1 = this.epochEnd(now);
    // Overran: the decision ended past the boundary after the last one (a skipIdle jump is not one).
    const next = (Math.floor(now / this.epochMs) + 1) * this.epochMs;
    this.overran = next > this.lastBoundaryMs + this.epochMs * (1 + 1e-9);
    if (this.overran) this.overruns++;
    this.lastBoundaryMs = t1;
    return { t0: this.stepStartMs, t1, backlog0 };
  }

  private finish(t0: number, backlog0: number): StepResult<Float32Array> {
    const t = this.executor.now();
    this.ingest(t);
    this.executor.drain(this.onDone);
    this.steps++;
    this.lastDtMs = t - t0;
    this.stepStartMs = t;
    if (this.loadFeatures) this.updateLoadFeatures();
    this.executor.streamBusyMs(this.busyNow);
    for (let s = 0; s < this.busyNow.length; s++) {
      const f = this.lastDtMs > 0 ? (this.busyNow[s] - this.busyPrev[s]) / this.lastDtMs : 0;
      this.stepBusy[s] = f < 0 ? 0 : Math.min(f, 1);
      this.busyPrev[s] = this.busyNow[s];
    }
    const { completed, violations } = this.c.stepTotals();
    let dropped = 0;
    for (let m = 0; m < this.M; m++) dropped += this.c.stepDropped[m];
    // On time = completed − late, late = violations − drops.
    const r = stepReward(this.reward, completed, this.backlog() - backlog0, violations, completed - (violations - dropped));
    let terminated = true;
    for (let m = 0; m < this.M; m++) if (!this.exhausted[m] || this.queues[m].length) terminated = false;
    terminated = terminated && this.executor.idle();
    const truncated = !terminated && this.maxSteps > 0 && this.steps >= this.maxSteps;
    const agents = this.agents;
    const metrics = this.metrics();
    const out: StepResult<Float32Array> = {
      observations: perAgent(agents, (a) => this.observe(a)),
      rewards: perAgent(agents, () => r),
      terminations: perAgent(agents, () => terminated),
      truncations: perAgent(agents, () => truncated),
      infos: perAgent(agents, () => this.info(this.lastDtMs, metrics)),
    };
    if (terminated || truncated) this.agents = [];
    return out;
  }

  step(actions: AsyncInferenceActions): StepResult<Float32Array> {
    if (!this.executor.synchronous) throw new EnvError(`executor '${this.executor.kind}' measures real time and runs asynchronously: call stepAsync()`, 'step');
    const { t0, t1, backlog0 } = this.begin(actions);
    this.executor.advance(t1);
    return this.finish(t0, backlog0);
  }

  /** `step` for any executor (the native one included). */
  async stepAsync(actions: AsyncInferenceActions): Promise<StepResult<Float32Array>> {
    const { t0, t1, backlog0 } = this.begin(actions);
    await this.executor.advanceAsync(t1);
    return this.finish(t0, backlog0);
  }

  // ------------------------------------------------------------------ observations

  /** Shared features: 6 per model, then stream busy fractions, memory, dt. */
  private writeShared(out: Float32Array): number {
    const now = this.executor.now();
    const dtS = this.lastDtMs / 1000;
    let k = 0;
    for (let m = 0; m < this.M; m++) {
      const q = this.queues[m];
      const slo = this.models[m].sloMs;
      out[k++] = q.length;
      out[k++] = q.length ? Math.max(0, now - q.peek()) / slo : 0;
      out[k++] = this.executor.inFlight(m);
      out[k++] = dtS > 0 ? this.c.stepCompleted[m] / dtS / this.meanRate[m] : 0;
      out[k++] = this.c.latEwma[m] / slo;
      out[k++] = this.c.stepDropped[m];
    }
    for (let s = 0; s < this.stepBusy.length; s++) out[k++] = this.stepBusy[s];
    out[k++] = this.executor.memoryUsedBytes() / this.executor.memoryCapacityBytes;
    out[k++] = this.lastDtMs / this.epochMs;
    return k;
  }

  /** The load features (per model: fast rate, slow rate, goodput, each ÷ mean rate) at `k`. */
  private writeLoad(out: Float32Array, k: number): void {
    if (!this.loadFeatures) return;
    for (let m = 0; m < this.M; m++) for (let f = 0; f < LOAD_FEATURES; f++) out[k++] = this.loadEwma[m * LOAD_FEATURES + f] / this.meanRate[m];
  }

  /** EWMAs over the step just ended (exponential in env time, so variable dt is weighted right). */
  private updateLoadFeatures(): void {
    const dt = this.lastDtMs;
    if (!(dt > 0)) return;
    for (let m = 0; m < this.M; m++) {
      const arrivals = this.arrivedTotal[m] - this.arrivedPrev[m];
      this.arrivedPrev[m] = this.arrivedTotal[m];
      const late = this.c.stepViolations[m] - this.c.stepDropped[m];
      const onTime = Math.max(0, this.c.stepCompleted[m] - late);
      const rates = [arrivals, arrivals, onTime].map((x) => (x * 1000) / dt);
      for (let f = 0; f < LOAD_FEATURES; f++) {
        const a = 1 - Math.exp(-dt / LOAD_TAUS_MS[f]);
        const j = m * LOAD_FEATURES + f;
        this.loadEwma[j] += a * (rates[f] - this.loadEwma[j]);
      }
    }
  }

  private observe(agent: AgentID): Float32Array {
    const out = new Float32Array(this.obsSpaces[agent].size);
    let k = this.writeShared(out);
    const L = Math.max(1, this.levels.length - 1);
    for (let m = 0; m < this.M; m++) {
      const C = Math.max(1, this.models[m].schedules.length - 1);
      out[k++] = agent === LAUNCHER ? this.lastLevel[m] / L : this.lastSchedule[m] / C;
    }
    this.writeLoad(out, k);
    return out;
  }

  state(): Float32Array {
    const out = new Float32Array(this.stateSpace.size);
    let k = this.writeShared(out);
    const L = Math.max(1, this.levels.length - 1);
    const B = Math.max(1, this.batchSizes.length - 1);
    const U = Math.max(1, this.microBatches.length - 1);
    for (let m = 0; m < this.M; m++) {
      const C = Math.max(1, this.models[m].schedules.length - 1);
      out[k++] = this.lastLevel[m] / L;
      out[k++] = this.lastSchedule[m] / C;
      out[k++] = this.lastBatch[m] / B;
      out[k++] = this.lastMicro[m] / U;
    }
    this.writeLoad(out, k);
    return out;
  }

  /** Requests in the system now (queued + in flight): what metrics().inSystem reports, without the quantiles. */
  inSystem(): number {
    return this.backlog();
  }

  /**
   * Starts the measurement window now: metrics() counts requests and latencies from here on (a
   * warm-up before it is excluded); the episode itself goes on unchanged.
   */
  startMeasurement(): void {
    this.c.clearWindow(this.executor.now());
  }

  /** Episode metrics now (what every info's `metrics` holds). */
  metrics(): EnvMetrics {
    this.executor.streamBusyMs(this.busyNow);
    return this.c.metrics({
      nowMs: this.executor.now(),
      lastDtMs: this.lastDtMs,
      names: this.models.map((m) => m.name),
      queueLength: (m) => this.queues[m].length,
      inFlight: (m) => this.executor.inFlight(m),
      inSystem: this.backlog(),
      streamBusyMs: this.busyNow,
      memoryFraction: this.executor.memoryUsedBytes() / this.executor.memoryCapacityBytes,
    });
  }

  /** One info per agent (wrappers add keys to them); the metrics object is shared, read-only. */
  private info(dtMs: number, metrics: EnvMetrics): StepInfo {
    const info: StepInfo = { dt: dtMs / 1000, timeMs: this.executor.now(), metrics };
    if (this.wallClock) info.overran = this.overran;
    return info;
  }

  /**
   * Epoch keeping on a wall clock since reset: steps, steps whose decision ran past their boundary
   * (overruns), and timer lateness past the boundaries (ms). Undefined on other clocks.
   */
  clockStats(): (ClockStats & { overruns: number }) | undefined {
    const s = this.executor.clockStats?.();
    return s && { ...s, overruns: this.overruns };
  }

  /** Whether env time is real time (the native executor's 'wall' clock). */
  get wallClock(): boolean {
    return this.executor.clock === 'wall';
  }

  /**
   * Before an episode on a real executor: waits for launches of an earlier episode to finish and
   * loads and prepares every model at every batch size, so that no launch pays for loading.
   */
  async prepareAsync(): Promise<void> {
    await this.executor.settle?.();
    await this.executor.warm?.(this.batchSizes);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.agents = [];
    this.executor.close();
  }
}
