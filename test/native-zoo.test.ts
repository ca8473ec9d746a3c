/**
 * Native executor on every zoo model at batch 1: outputs equal onnxruntime's (same seed, same
 * inputs) under the sequential schedule (caching allocator) and under the IOS-DP schedule (roofline
 * cpu-2core costs, merge stages allowed) in an arena laid out by graphs/memory's planner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devicePreset, RooflineCostModel } from '../graphs/cost/index.js';
import { partition } from '../graphs/partition/index.js';
import { sequentialSchedule } from '../graphs/schedule.js';
import { buildModel, zooNames } from '../graphs/zoo/index.js';
import { NativeExecutor, nativeAvailable } from '../native/index.js';
import { ortOutputs, relDiff } from './native-helpers.js';

const available = nativeAvailable();
const cpu = new RooflineCostModel(devicePreset('cpu-2core'));

describe.skipIf(!available)('native executor on the zoo (batch 1)', () => {
  let ex: NativeExecutor;
  beforeAll(() => {
    ex = new NativeExecutor({ streams: 2 });
  });
  afterAll(() => ex?.close());

  for (const name of zooNames()) {
    it(`${name}: sequential and ios-dp schedules match onnxruntime`, async () => {
      const t0 = Date.now();
      const graph = buildModel(name, { batch: 1 });
      const model = await ex.loadModel(graph, { seed: 7 });
      const t1 = Date.now();
      const ref = await ortOutputs(model.graph, 7, model.inputs); // weights already materialized: not drawn twice
      const t2 = Date.now();
      const ios = partition(graph, 'ios-dp', cpu, { timeBudgetMs: 2000 });
      const t3 = Date.now();
      const times: number[] = [];
      const runs = [
        { schedule: sequentialSchedule(graph), memory: 'caching' as const },
        { schedule: ios.schedule, memory: 'planned' as const }, // arena from graphs/memory's planner
      ];
      for (const { schedule, memory } of runs) {
        const s0 = Date.now();
        const r = await ex.run([{ model, schedule }], { outputs: true, memory });
        if (memory === 'planned') expect(r.tasks[0].arenaBytes).toBeLessThanOrEqual(r.tasks[0].naiveBytes);
        times.push(Date.now() - s0);
        for (const v of graph.outputs) {
          const d = relDiff(r.tasks[0].outputs?.[v.name] as Float32Array, ref.get(v.name) as Float32Array);
          expect(d, `${name} '${v.name}' (${schedule.stages.length} stages)`).toBeLessThanOrEqual(1e-3);
        }
      }
      console.log(
        `${name}: load ${t1 - t0} ms, ort ${t2 - t1} ms, ios-dp search ${t3 - t2} ms (${ios.schedule.stages.length} stages, ${ios.schedule.stages.filter((s) => s.kind === 'merge').length} merges), native seq ${times[0]} ms, ios ${times[1]} ms`,
      );
    });
  }
});
