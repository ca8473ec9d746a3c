/**
 * Simulator speed: operator-level events (op starts and finishes) per second of wall time, on one
 * core, for a multi-model workload (default four zoo CNNs on 4 streams under Poisson load).
 *
 * Only the event loop is timed: models, candidate schedules and compiled plans are prepared first,
 * and the launch stream (seeded Poisson arrivals per model at a rate that keeps the device about
 * `load` busy) is drawn before the clock starts. The env layer (queues, observations, metrics) is
 * measured separately as env steps per second.
 */
import { costModelFromSpec } from '../graphs/cost/index.js';
import { type DeviceSpec, devicePreset, RooflineCostModel } from '../graphs/cost/roofline.js';
import type { Graph } from '../graphs/ir.js';
import { resolveModel } from '../graphs/models.js';
import { type PartitionMethod, partition } from '../graphs/partition/index.js';
import { AsyncInferenceEnv } from './async-inference-env.js';
import { greedyReleasePolicy } from './policies.js';
import type { ParallelMode } from './sim/modes.js';
import { Simulator } from './sim/simulator.js';
import { makeRng } from './spaces.js';

export interface SimBenchOptions {
  /** Zoo names (or model files). Default resnet50, inception_v3, squeezenet1_1, mobilenet_v2. */
  models?: string[];
  /** Graphs to use instead of resolving `models`. */
  graphs?: Graph[];
  /** Partition method of every task's schedule. Default greedy. */
  method?: PartitionMethod;
  streams?: number;
  mode?: ParallelMode;
  /** Launches per model, batch 1. Default 1000. */
  tasksPerModel?: number;
  /** Offered load as a fraction of the device's alone-latency capacity. Default 0.9. */
  load?: number;
  seed?: number;
  cost?: string;
}

export interface SimBenchResult {
  models: string[];
  streams: number;
  tasks: number;
  opEvents: number;
  heapPops: number;
  stalePops: number;
  simMs: number;
  wallMs: number;
  eventsPerSec: number;
}

export const BENCH_MODELS = ['resnet50', 'inception_v3', 'squeezenet1_1', 'mobilenet_v2'];

export function benchSimulator(o: SimBenchOptions = {}): SimBenchResult {
  const cost = costModelFromSpec(o.cost ?? 'roofline:v100');
  const device: DeviceSpec = cost instanceof RooflineCostModel ? cost.device : devicePreset('v100');
  const graphs = o.graphs ?? (o.models ?? BENCH_MODELS).map((m) => resolveModel(m, { batch: 1 }));
  const method = o.method ?? 'greedy';
  const models = graphs.map((g) => ({ name: g.name, graph: g, schedules: [partition(g, method, cost).schedule], weightBytes: 0 }));
  const sim = new Simulator(models, { cost, device, streams: o.streams ?? 4, mode: o.mode ?? 'streams' });
  const plans = models.map((_, m) => sim.plan(m, 0, 1, 1));
  const alone = plans.map((p) => sim.planInfo(p).aloneMs);
  // Each model gets an equal share of the load: rate_m = load / (M · alone_m) launches per ms.
  const load = o.load ?? 0.9;
  const perModel = o.tasksPerModel ?? 1000;
  const M = models.length;
  const rng = makeRng(`bench:${o.seed ?? 0}`);
  const times: number[] = [];
  const who: number[] = [];
  models.forEach((_, m) => {
    const rate = load / (M * alone[m]);
    let t = 0;
    for (let k = 0; k < perModel; k++) {
      t += -Math.log(1 - rng()) / rate;
      times.push(t);
      who.push(m);
    }
  });
  const order = times.map((_, i) => i).sort((a, b) => times[a] - times[b] || a - b);
  const start = performance.now();
  let id = 0;
  for (const i of order) {
    sim.advance(times[i]);
    sim.submit(id++, who[i], plans[who[i]]);
  }
  while (!sim.idle()) sim.advance(sim.nextEventTime());
  const wallMs = performance.now() - start;
  return {
    models: models.map((m) => m.name),
    streams: sim.nStreams,
    tasks: id,
    opEvents: sim.stats.opEvents,
    heapPops: sim.stats.heapPops,
    stalePops: sim.stats.stalePops,
    simMs: sim.now,
    wallMs,
    eventsPerSec: sim.stats.opEvents / (wallMs / 1000),
  };
}

export interface EnvBenchResult {
  steps: number;
  wallMs: number;
  stepsPerSec: number;
}

/** Env steps per second with the greedy-release baseline on the default workload (or `workload`). */
export function benchEnv(steps = 2000, workload?: Record<string, unknown>): EnvBenchResult {
  const env = new AsyncInferenceEnv({ workload, maxSteps: 0, candidates: ['sequential', 'greedy'] });
  const policy = greedyReleasePolicy(env);
  env.reset({ seed: 0 });
  const start = performance.now();
  for (let i = 0; i < steps; i++) env.step(policy.act());
  const wallMs = performance.now() - start;
  env.close();
  return { steps, wallMs, stepsPerSec: steps / (wallMs / 1000) };
}
