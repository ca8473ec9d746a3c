/**
 * The env's view of whatever runs the tasks: one interface, two implementations.
 *
 *  - SimExecutor: the discrete-event simulator (sim/simulator.ts). Synchronous and deterministic;
 *    `advance(t)` runs the timeline exactly to env time t.
 *  - NativeExecutorAdapter (native-executor.ts): real execution through the native addon. Env
 *    time is measured time; it is asynchronous (`advanceAsync`), and a step may overrun its epoch.
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

export interface EnvExecutor {
  readonly kind: 'sim' | 'native';
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
  close(): void;
}

export class SimExecutor implements EnvExecutor {
  readonly kind = 'sim';
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
