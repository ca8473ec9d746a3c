import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graphs/builder.js';
import { costModelFromSpec, DEVICE_PRESETS, RooflineCostModel, SyntheticCostModel, scheduleLatency } from '../graphs/cost/index.js';
import { withBatch } from '../graphs/infer.js';
import { sequentialSchedule } from '../graphs/schedule.js';

function branches(width: number, batch = 1) {
  const b = new GraphBuilder('branches');
  const x = b.input('x', [batch, 64, 14, 14]);
  const outs = Array.from({ length: width }, (_, i) => b.conv(x, { out: 32, kernel: 3, pad: 1, name: `b${i}` }));
  b.output(b.concat(outs, 1, 'cat'));
  return b.build();
}

describe('roofline cost model', () => {
  it('lets small concurrent ops share a GPU and charges a saturated one in full', () => {
    const g = branches(4);
    const cost = new RooflineCostModel(DEVICE_PRESETS.v100);
    const ids = ['b0', 'b1', 'b2', 'b3'];
    const seq = ids.reduce((s, id) => s + cost.stageLatency(g, { kind: 'parallel', groups: [[id]] }), 0);
    const par = cost.stageLatency(g, { kind: 'parallel', groups: ids.map((id) => [id]) });
    expect(par).toBeLessThan(seq / 2);
    // At a large batch each conv fills the device: concurrency buys (almost) nothing.
    const big = withBatch(g, 128);
    const seqBig = ids.reduce((s, id) => s + cost.stageLatency(big, { kind: 'parallel', groups: [[id]] }), 0);
    const parBig = cost.stageLatency(big, { kind: 'parallel', groups: ids.map((id) => [id]) });
    expect(parBig).toBeGreaterThan(0.95 * (seqBig - 4 * DEVICE_PRESETS.v100.launchMs));
  });

  it('caps a CPU op at one core so two streams at most halve a stage', () => {
    const g = branches(2, 8);
    const cost = new RooflineCostModel(DEVICE_PRESETS['cpu-2core']);
    const one = cost.stageLatency(g, { kind: 'parallel', groups: [['b0']] });
    const two = cost.stageLatency(g, { kind: 'parallel', groups: [['b0'], ['b1']] });
    expect(two).toBeGreaterThan(one);
    expect(two).toBeLessThan(1.1 * one);
    const chain = cost.stageLatency(g, { kind: 'parallel', groups: [['b0', 'b1']] });
    expect(chain).toBeCloseTo(2 * one, 6);
  });

  it('prices a merge stage as one wider conv', () => {
    const g = branches(3);
    const cost = costModelFromSpec('roofline:v100');
    const merged = cost.stageLatency(g, { kind: 'merge', groups: [['b0'], ['b1'], ['b2']] });
    const seq = ['b0', 'b1', 'b2'].reduce((s, id) => s + cost.stageLatency(g, { kind: 'parallel', groups: [[id]] }), 0);
    expect(merged).toBeLessThan(seq);
    expect(cost.name).toBe('roofline:v100');
  });

  it('sums stages for a schedule', () => {
    const g = branches(2);
    const cost = costModelFromSpec('roofline:a100');
    const s = sequentialSchedule(g);
    const total = scheduleLatency(cost, g, s);
    expect(total).toBeCloseTo(
      g.nodes.reduce((acc, n) => acc + cost.opLatency(g, n), 0),
      9,
    );
  });

  it('rejects unknown presets and specs by name', () => {
    expect(() => costModelFromSpec('roofline:tpu')).toThrow(/unknown device preset 'tpu'/);
    expect(() => costModelFromSpec('magic')).toThrow(/unknown cost model 'magic'/);
  });
});

describe('synthetic cost model', () => {
  it('is reproducible per seed and order independent', () => {
    const g = branches(4);
    const a = new SyntheticCostModel({ seed: 7 });
    const b = new SyntheticCostModel({ seed: 7 });
    const c = new SyntheticCostModel({ seed: 8 });
    const rev = [...g.nodes]
      .reverse()
      .map((n) => b.opLatency(g, n))
      .reverse();
    expect(g.nodes.map((n) => a.opLatency(g, n))).toEqual(rev);
    expect(g.nodes.map((n) => a.opLatency(g, n))).not.toEqual(g.nodes.map((n) => c.opLatency(g, n)));
    const par = a.stageLatency(g, { kind: 'parallel', groups: [['b0'], ['b1']] });
    const l0 = a.opLatency(g, g.nodes[0]);
    const l1 = a.opLatency(g, g.nodes[1]);
    expect(par).toBeCloseTo(0.05 + Math.max(l0, l1) + 0.35 * Math.min(l0, l1), 12);
  });
});
