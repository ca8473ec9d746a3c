/**
 * `--cost measured` (native/measured-cost.ts): IOS's method, each stage a search asks about run on
 * the native executor. Stages are measured once and memoised, thread counts and merge stages are
 * honoured, the budget hands over to the scaled fallback, bad questions get clear errors, and the
 * CLI searches with it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devicePreset, RooflineCostModel } from '../graphs/cost/index.js';
import { partition } from '../graphs/partition/index.js';
import { optimizeGraph } from '../graphs/passes/index.js';
import { validateSchedule } from '../graphs/schedule.js';
import { buildModel } from '../graphs/zoo/index.js';
import { nativeAvailable } from '../native/index.js';
import { MeasuredCostModel } from '../native/measured-cost.js';
import { cli } from './cli-helpers.js';
import { siblings } from './native-helpers.js';

describe.skipIf(!nativeAvailable())('measured cost model', () => {
  const graph = optimizeGraph(buildModel('squeezenet1_1', { batch: 1 })).graph;
  let cost: MeasuredCostModel;
  beforeAll(async () => {
    cost = await MeasuredCostModel.create(graph, { streams: 2, budgetMs: 60_000 });
  });
  afterAll(() => cost?.close());

  it('runs a stage once, then answers from the memo; prices ops, parallel groups and thread counts', () => {
    const [a, b] = graph.nodes.filter((n) => n.op === 'Conv').slice(2, 4); // the two expand convs of a fire module
    const one = cost.stageLatency(graph, { kind: 'parallel', groups: [[a.id]] });
    expect(one).toBeGreaterThan(0);
    const before = { ...cost.stats };
    expect(cost.stageLatency(graph, { kind: 'parallel', groups: [[a.id]] })).toBe(one);
    expect(cost.opLatency(graph, a)).toBe(one); // an op is the one-op stage
    expect(cost.stats.memoHits).toBe(before.memoHits + 2);
    expect(cost.stats.measured).toBe(before.measured);
    const side = cost.stageLatency(graph, { kind: 'parallel', groups: [[a.id], [b.id]] });
    const twoThreads = cost.stageLatency(graph, { kind: 'parallel', groups: [[a.id]], threads: [2] });
    expect(side).toBeGreaterThan(0);
    expect(twoThreads).toBeGreaterThan(0);
    expect(cost.stats.measured).toBe(before.measured + 2); // a thread count is another stage
    expect(cost.name).toBe('measured:cpu (2 streams, 1-thread ops)');
  });

  it('refuses a stage naming an unknown node or a broken chain, and another graph, naming each', () => {
    expect(() => cost.stageLatency(graph, { kind: 'parallel', groups: [['no_such_op']] })).toThrow(/names 'no_such_op', not a node of 'squeezenet1_1'/);
    const [a, b] = graph.nodes.slice(0, 2);
    expect(() => cost.stageLatency(graph, { kind: 'parallel', groups: [[b.id, a.id]] })).toThrow(/comes before its input/);
    const other = buildModel('resnet50');
    expect(() => cost.stageLatency(other, { kind: 'parallel', groups: [[other.nodes[0].id]] })).toThrow(
      /built for 'squeezenet1_1' \(\d+ nodes\), asked about 'resnet50'/,
    );
  });

  it('measures merge stages, and past its budget prices stages by the roofline scaled to what it measured', async () => {
    const g = siblings();
    const tiny = await MeasuredCostModel.create(g, { streams: 2, budgetMs: 1e-6, fallback: new RooflineCostModel(devicePreset('cpu-2core')) });
    try {
      const merged = tiny.stageLatency(g, { kind: 'merge', groups: [['k1'], ['k3'], ['k5']] }); // measured: the budget is spent after it
      expect(merged).toBeGreaterThan(0);
      expect(tiny.stats).toMatchObject({ measured: 1, estimated: 0 });
      const roof = new RooflineCostModel(devicePreset('cpu-2core')).stageLatency(g, { kind: 'parallel', groups: [['k1']] });
      const est = tiny.stageLatency(g, { kind: 'parallel', groups: [['k1']] });
      expect(tiny.stats.estimated).toBe(1);
      expect(est).toBeCloseTo(roof * tiny.stats.fallbackScale, 9);
      // The schedule IOS-DP finds under it runs (and validates) like any other.
      const s = partition(g, 'ios-dp', tiny).schedule;
      validateSchedule(g, s);
    } finally {
      tiny.close();
    }
    await expect(MeasuredCostModel.create(g, { streams: 0 })).rejects.toThrow(/streams must be a positive integer, got 0/);
  });

  it('partition --cost measured searches on the executor and reports the measuring', async () => {
    const res = JSON.parse(await cli('partition', 'squeezenet1_1', '--cost', 'measured', '--measure-budget', '30', '--json'));
    expect(res.cost).toMatch(/^measured:cpu \(\d+ streams, 1-thread ops\)$/);
    expect(res.measuring.measured).toBeGreaterThan(10);
    expect(res.latencyMs).toBeGreaterThan(0);
    validateSchedule(optimizeGraph(buildModel('squeezenet1_1')).graph, res.schedule);
    const text = await cli('partition', 'squeezenet1_1', '--method', 'greedy', '--cost', 'measured', '--measure-streams', '1');
    expect(text).toMatch(/under measured:cpu \(1 streams, 1-thread ops\)/);
    expect(text).toMatch(/measured \d+ distinct stages on the native executor/);
    await expect(cli('partition', 'squeezenet1_1', '--measure-budget', '5')).rejects.toThrow(
      /--measure-budget and --measure-streams apply to --cost measured, not 'roofline:v100'/,
    );
  }, 120_000);
});
