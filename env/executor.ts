/**
 * The env's view of whatever runs the tasks: one interface, two implementations.
 *
 *  - SimExecutor: the discrete-event simulator (sim/simulator.ts). Synchronous and deterministic;
 *    `advance(t)` runs the timeline exactly to env time t.
 *  - WallClockNativeExecutor (native-wall-executor.ts, clock 'wall'): real execution through the
 *    native addon in wall-clock time, launches running concurrently across decisions.
 *  - NativeExecutorAdapter (native-executor.ts, clock 'measured'): real execution, one native run
 *    per epoch; env time is measured makespan. Both are asynchronous (`advanceAsync`).
 *
 * Times are env-time milliseconds since reset. Launch ids are the env's; completions come back
 * through `drain` with the time each launch finished.
 */
import type { SimModel, SimulatorOptions } from './sim/simulator.js';
import { Simulator } from './sim/simulator.js';

export interface Launch {
  /** The env's id for this launch (unique within an episode). */
  id: number;
  model: number;
  /** Candidate schedule index. */
  schedule: number;
  /** Requests batched in this launch. */
  batch: number;
  /** Micro-batches per split stage (1: none). */
  micro: number;
}

/** How a wall-clock executor kept its decision epochs. */
export interface ClockStats {
  /** Steps run (advanceAsync calls). */
  epochs: number;
  /** Timer lateness past the boundaries, ms. */
  lateMsTotal: number;
  lateMsMax: number;
}

export interface EnvExecutor {
  readonly kind: 'sim' | 'native';
  /** 'virtual' (simulated), 'measured' (native, one run per epoch) or 'wall' (native, real time). */
  readonly clock?: 'virtual' | 'measured' | 'wall';
  /** Whether `advance` may be called (else only `advanceAsync`). */
  readonly synchronous: boolean;
  /** Stream slots whose busy time `streamBusyMs` reports. */
  readonly streamSlots: number;
  readonly memoryCapacityBytes: number;
  /** Env time now, ms. */
  now(): number;
  reset(): void;
  /** Starts a launch at the current time. */
  submit(launch: Launch): void;
  /** Runs to env time `until` (ms). Synchronous executors only. */
  advance(until: number): void;
  /** Runs to at least `until`; resolves with the time reached. */
  advanceAsync(until: number): Promise<number>;
  /** Calls `done(id, finishMs)` for every launch finished since the last drain. */
  drain(done: (id: number, finishMs: number) => void): void;
  /** Launches of `model` submitted and not finished. */
  inFlight(model: number): number;
  memoryUsedBytes(): number;
  /** Cumulative busy ms per stream slot since reset (written into `out`). */
  streamBusyMs(out: Float64Array): void;
  /** Latency of a launch alone on an idle device, ms (for normalising observations). */
  aloneMs(model: number, schedule: number, batch: number, micro: number): number;
  /** Whether nothing is running or pending. */
  idle(): boolean;
  /** Loads and prepares every model at these batch sizes ahead of an episode (real executors). */
  warm?(batches: readonly number[]): Promise<void>;
  /** Resolves once every submitted launch has finished (real executors; before a reset). */
  settle?(): Promise<void>;
  /** Epoch keeping of a wall-clock executor. */
  clockStats?(): ClockStats;
  close(): void;
}

export class SimExecutor implements EnvExecutor {
  readonly kind = 'sim';
  readonly clock = 'virtual';
  readonly synchronous = true;
  readonly sim: Simulator;

  constructor(models: SimModel[], opts: SimulatorOptions) {
    this.sim = new Simulator(models, opts);
  }

  get streamSlots(): number {
    return this.sim.nStreams;
  }

  get memoryCapacityBytes(): number {
    return this.sim.capacityBytes;
  }

  now(): number {
    return this.sim.now;
  }

  reset(): void {
    this.sim.reset();
  }

  submit(l: Launch): void {
    this.sim.submit(l.id, l.model, this.sim.plan(l.model, l.schedule, l.batch, l.micro));
  }

  advance(until: number): void {
    this.sim.advance(until);
  }

  async advanceAsync(until: number): Promise<number> {
    this.sim.advance(until);
    return this.sim.now;
  }

  drain(done: (id: number, finishMs: number) => void): void {
    const s = this.sim;
    for (let i = 0; i < s.completedCount; i++) done(s.completedIds[i], s.completedAt[i]);
    s.completedCount = 0;
  }

  inFlight(model: number): number {
    return this.sim.inFlight[model];
  }

  memoryUsedBytes(): number {
    return this.sim.memoryUsed;
  }

  streamBusyMs(out: Float64Array): void {
    out.set(this.sim.streamBusyMs);
  }

  aloneMs(model: number, schedule: number, batch: number, micro: number): number {
    return this.sim.planInfo(this.sim.plan(model, schedule, batch, micro)).aloneMs;
  }

  idle(): boolean {
    return this.sim.idle();
  }

  close(): void {}
}
