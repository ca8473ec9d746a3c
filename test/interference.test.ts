import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import seedrandom from 'seedrandom';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../agents/backend.js';
import {
  bestPairing,
  comboFolds,
  InterferencePredictor,
  type InterferenceSample,
  LinearInterference,
  type ModelFeatures,
  mape,
  modelFeatures,
  sampleCombo,
  splitByCombination,
} from '../agents/interference.js';
import { interferenceExperiment } from '../experiments/reproduce/interference.js';
import { buildModel } from '../graphs/zoo/index.js';
import { nativeAvailable } from '../native/index.js';

/** Synthetic instances and a known, nonlinear slowdown law: saturating in the co-runners' load share. */
function synthetic(n: number, seed: string): { feats: ModelFeatures[]; samples: InterferenceSample[] } {
  const rng = seedrandom(seed);
  const feats: ModelFeatures[] = Array.from({ length: n }, (_, i) => {
    const soloMs = 1 + 50 * rng();
    const flops = soloMs * 1e8 * (0.5 + rng());
    const bytes = flops / (1 + 30 * rng());
    return { key: `m${i}`, batch: 1 + (i % 4), soloMs, flops, bytes, params: 1e6 * rng(), activationBytes: bytes / 3, ops: 10 + Math.floor(100 * rng()) };
  });
  const law = (s: ModelFeatures, o: ModelFeatures[]) => {
    const load = o.reduce((t, m) => t + m.soloMs, 0);
    return 1 + (0.9 * load) / (load + s.soloMs) + 0.2 * Math.tanh(Math.log(s.flops / s.bytes) - 2);
  };
  const samples: InterferenceSample[] = [];
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      samples.push({ self: feats[i], others: [feats[j]], slowdown: law(feats[i], [feats[j]]) });
      samples.push({ self: feats[j], others: [feats[i]], slowdown: law(feats[j], [feats[i]]) });
    }
  return { feats, samples };
}

describe('interference predictor', () => {
  beforeAll(async () => {
    await initBackend('cpu', { log: () => {} });
  });

  it('splits by combination: no combination is in both train and test', () => {
    const { samples } = synthetic(10, 's');
    const { train, test } = splitByCombination(samples, 0.25, 'x');
    const tr = new Set(train.map(sampleCombo));
    expect(test.length).toBeGreaterThan(0);
    expect(test.every((s) => !tr.has(sampleCombo(s)))).toBe(true);
    expect(train.length + test.length).toBe(samples.length);
    const folds = comboFolds(samples, 3, 'y');
    expect(new Set(folds).size).toBe(3);
  });

  it('fits a known nonlinear law on held-out combinations far better than the mean', async () => {
    const { samples } = synthetic(14, 'law');
    const { train, test } = splitByCombination(samples, 0.25, 'split');
    const p = await InterferencePredictor.fit(train, { epochs: 300, seed: 1 });
    const y = test.map((s) => s.slowdown);
    const held = mape(p.predictMany(test), y);
    const mean = train.reduce((s, x) => s + x.slowdown, 0) / train.length;
    const base = mape(
      test.map(() => mean),
      y,
    );
    expect(held).toBeLessThan(5);
    expect(held).toBeLessThan(base / 2);
    // Saved and reloaded, the predictor gives the same numbers.
    const q = InterferencePredictor.fromJSON(JSON.parse(JSON.stringify(p.toJSON())));
    expect(q.predict(test[0].self, test[0].others)).toBeCloseTo(p.predict(test[0].self, test[0].others), 5);
    expect(() => InterferencePredictor.fromJSON({ ...p.toJSON(), hidden: [8, 16] })).toThrow(/weights\[0\]/);
    p.dispose();
    q.dispose();
    // Ridge regression on a linear target in the features is exact.
    const lin = samples.map((s) => ({ ...s, slowdown: Math.exp(0.1 * Math.log(s.self.soloMs) - 0.05 * Math.log(s.others[0].flops) + 1) }));
    const r = LinearInterference.fit(lin, 1e-8);
    expect(
      mape(
        lin.map((s) => r.predict(s.self, s.others)),
        lin.map((s) => s.slowdown),
      ),
    ).toBeLessThan(0.1);
  });

  it('exhaustive pairing finds the true minimum over all matchings', () => {
    const rng = seedrandom('pairs');
    const items = ['a', 'b', 'c', 'd', 'e', 'f'];
    const w = new Map<string, number>();
    for (const a of items) for (const b of items) if (a < b) w.set(`${a}${b}`, rng());
    const cost = (a: string, b: string) => w.get(a < b ? `${a}${b}` : `${b}${a}`) as number;
    let brute = Number.POSITIVE_INFINITY;
    const perms = (xs: string[]): string[][] =>
      xs.length <= 1 ? [xs] : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
    for (const p of perms(items)) brute = Math.min(brute, cost(p[0], p[1]) + cost(p[2], p[3]) + cost(p[4], p[5]));
    const best = bestPairing(items, cost);
    expect(best.total).toBeCloseTo(brute, 12);
    expect(best.pairs.flat().sort()).toEqual(items);
    expect(() => bestPairing(['a', 'b', 'c'], cost)).toThrow(/even/);
  });

  it('extracts IR features of a zoo model', () => {
    const g = buildModel('squeezenet1_1', { batch: 2 });
    const f = modelFeatures(g, 10);
    expect(f.key).toBe('squeezenet1_1@b2');
    expect(f.flops).toBeGreaterThan(1e8);
    expect(f.params).toBeGreaterThan(1e5);
    expect(f.ops).toBe(g.nodes.length);
    expect(() => modelFeatures(g, 0)).toThrow(/squeezenet1_1@b2/);
  });

  it.skipIf(!nativeAvailable())('runs the experiment at tiny scale on the native executor', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'interference-'));
    const r = await interferenceExperiment({
      out: join(dir, 'interference.md'),
      instances: ['din@1', 'din@4', 'squeezenet1_1@1', 'mobilenet_v2@1'],
      triples: 2,
      minRuns: 1,
      soloRuns: 2,
      folds: 2,
      epochs: 40,
      placementSets: 2,
      placementSize: 4,
    });
    expect(r.combos.filter((c) => c.members.length === 2)).toHaveLength(10);
    expect(r.combos.filter((c) => c.members.length === 3)).toHaveLength(2);
    // Slowdown is the co-run latency over the solo latency timed just before (both positive, finite).
    for (const c of r.combos)
      c.slowdown.forEach((s, i) => {
        expect(c.soloMs[i]).toBeGreaterThan(0);
        expect(s).toBeCloseTo(c.corunMs[i] / c.soloMs[i], 12);
      });
    expect(r.points).toHaveLength(26);
    expect(r.mape.map((m) => m.model)).toEqual(['MLP (tfjs)', 'ridge regression', 'training mean']);
    for (const p of r.placement) {
      expect(p.mlp).toBeGreaterThanOrEqual(p.optimal - 1e-9);
      expect(p.meanRandom).toBeGreaterThanOrEqual(p.optimal - 1e-9);
    }
    const md = readFileSync(join(dir, 'interference.md'), 'utf8');
    expect(md).toMatch(/^# Interference/);
    expect(md).toContain('Command: `npx topsched reproduce interference`');
    expect(existsSync(join(dir, 'interference.png'))).toBe(true);
    expect(existsSync(join(dir, 'interference-model.json'))).toBe(true);
  });
});
