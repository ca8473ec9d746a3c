/** ProfiledCostModel on hand-written profiles: table look-ups, pair slowdowns, sync calibration, fallbacks. */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graphs/builder.js';
import { devicePreset, RooflineCostModel } from '../graphs/cost/index.js';
import { type ProfileDocument, ProfiledCostModel } from '../graphs/cost/profiled.js';
import type { Stage } from '../graphs/schedule.js';

function graph() {
  const b = new GraphBuilder('g');
  const x = b.input('x', [1, 8, 16, 16]);
  const a = b.conv(x, { out: 8, kernel: 3, pad: 1, name: 'a' });
  const c = b.conv(x, { out: 8, kernel: 1, name: 'c' });
  const d = b.conv(x, { out: 8, kernel: 3, pad: 1, name: 'd' });
  b.output(b.add(b.add(a, c, 'ac'), d, 'acd'));
  return b.build();
}

function profile(over: Partial<ProfileDocument> = {}): ProfileDocument {
  return {
    format: 'topsched.profile/1',
    device: { name: 'cpu:test:1t', cpuModel: 'test', threads: 2, backend: 'cpu', opThreads: 1, streams: 2 },
    model: 'g',
    batch: 1,
    settings: {},
    ops: { a: 2, c: 1, d: 3, ac: 0.1 },
    stages: [],
    pairs: [],
    ...over,
  };
}

const roof = new RooflineCostModel(devicePreset('cpu-2core'));

describe('ProfiledCostModel', () => {
  it('reads op latencies from the table and falls back (and says so) for the rest', () => {
    const g = graph();
    const m = new ProfiledCostModel([profile()], roof);
    expect(m.opLatency(g, g.nodes.find((n) => n.id === 'a') as never)).toBe(2);
    const acd = g.nodes.find((n) => n.id === 'acd') as never;
    expect(m.opLatency(g, acd)).toBe(roof.opLatency(g, acd));
    expect([...m.fallbacks]).toEqual(['g/acd']);
    expect(m.name).toBe('profiled:cpu:test:1t');
  });

  it('stretches concurrent chains by measured pair slowdowns and adds the calibrated sync', () => {
    const g = graph();
    const stage: Stage = { kind: 'parallel', groups: [['a'], ['d']] };
    const withPair = new ProfiledCostModel([profile({ pairs: [{ a: 'a', b: 'd', aloneMs: [2, 3], corunMs: [3, 3.3], slowdown: [1.5, 1.1] }] })], roof);
    expect(withPair.stageLatency(g, stage)).toBeCloseTo(Math.max(2 * 1.5, 3 * 1.1));
    // Another stage without its own pair uses the geometric mean of the measured slowdowns.
    const other: Stage = { kind: 'parallel', groups: [['a'], ['c']] };
    expect(withPair.stageLatency(g, other)).toBeCloseTo(2 * Math.sqrt(1.5 * 1.1));
    const calibrated = new ProfiledCostModel(
      [
        profile({
          pairs: [{ a: 'a', b: 'd', aloneMs: [2, 3], corunMs: [3, 3.3], slowdown: [1.5, 1.1] }],
          stages: [{ kind: 'parallel', groups: [['a'], ['d']], ms: 3.5 }],
        }),
      ],
      roof,
    );
    expect(calibrated.stageLatency(g, stage)).toBe(3.5); // measured stage returned as is
    expect(calibrated.stageLatency(g, other)).toBeCloseTo(2 * Math.sqrt(1.5 * 1.1) + (3.5 - 3.3)); // sync = measured − predicted
    expect(new ProfiledCostModel([profile()], roof).stageLatency(g, { kind: 'parallel', groups: [['a', 'c']] })).toBe(3);
  });

  it('prices merge stages by the fallback ratio and refuses mixed devices', () => {
    const g = graph();
    const m = new ProfiledCostModel([profile()], roof);
    const merge: Stage = { kind: 'merge', groups: [['a'], ['d']] };
    const ratio = roof.stageLatency(g, merge) / (roof.opLatency(g, g.nodes[0]) + roof.opLatency(g, g.nodes[2]));
    expect(m.stageLatency(g, merge)).toBeCloseTo(5 * ratio);
    const p2 = profile();
    p2.device = { ...p2.device, name: 'other' };
    expect(() => new ProfiledCostModel([profile(), p2], roof)).toThrow(/different devices/);
  });
});
