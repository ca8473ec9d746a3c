import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { perLayerBatching } from '../experiments/reproduce/per-layer-batching.js';
import { devicePreset } from '../graphs/cost/roofline.js';
import { nativeAvailable } from '../native/index.js';

describe('per-layer-batching experiment (tiny scale)', () => {
  it('prices oversubscription, splitting and smaller batches consistently and writes its report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oversub-'));
    const r = await perLayerBatching({
      out: join(dir, 'per-layer-batching.md'),
      models: ['squeezenet1_1'],
      batch: 8,
      ratios: [1, 2],
      micro: [2, 4],
      anchor: nativeAvailable() ? { model: 'squeezenet1_1', batch: 2, splits: [1, 2], repeat: 1 } : null,
    });
    expect(r.rows).toHaveLength(6);
    const at = (ratio: number, method: string) => r.rows.find((x) => x.ratio === ratio && x.method === method) as (typeof r.rows)[number];
    const f1 = at(1, 'fixed batch');
    const f2 = at(2, 'fixed batch');
    // At 1× the requested batch exactly fits; splitting only adds launches and loses batch efficiency.
    expect(f1.memoryBytes).toBeCloseTo(f1.budgetBytes, 0);
    expect(at(1, 'per-layer batching').batchMs).toBeGreaterThanOrEqual(f1.batchMs);
    // At 2× the fixed batch pays the page-fault slowdown 1 + κ·f on every op (stage syncs are not slowed).
    const v100 = devicePreset('v100');
    const kappa = v100.memBandwidth / 12e9 - 1;
    const frac = (f2.memoryBytes - f2.budgetBytes) / f2.memoryBytes;
    const bound = 1 + kappa * frac;
    expect(f2.batchMs / f1.batchMs).toBeLessThanOrEqual(bound + 1e-9);
    expect(f2.batchMs / f1.batchMs).toBeGreaterThan(0.9 * bound);
    // Splitting shrinks the live set; the best smaller batch fits and beats the faulting fixed batch.
    const p2 = at(2, 'per-layer batching');
    const s2 = at(2, 'best smaller batch');
    expect(p2.memoryBytes).toBeLessThan(f2.memoryBytes);
    expect(p2.throughput).toBeGreaterThan(f2.throughput);
    expect(s2.choice).toBeLessThan(8);
    expect(s2.memoryBytes).toBeLessThanOrEqual(s2.budgetBytes);
    expect(s2.throughput).toBeGreaterThan(f2.throughput);
    for (const x of r.rows) {
      expect(x.throughput).toBeCloseTo((1000 * 8) / x.batchMs, 6);
      expect(x.meanLatencyMs).toBeLessThanOrEqual(x.batchMs + 1e-9);
    }
    if (r.anchor) {
      expect(r.anchor.map((a) => a.k)).toEqual([1, 2]);
      expect(r.anchor[0].nativeRatio).toBe(1);
      expect(r.anchor[1].nativeMs).toBeGreaterThan(0);
      expect(r.anchor[1].rooflineRatio).toBeGreaterThanOrEqual(1);
    }
    const md = readFileSync(join(dir, 'per-layer-batching.md'), 'utf8');
    expect(md).toMatch(/^# Per-layer batching/);
    expect(md).toContain('Command: `npx topsched reproduce per-layer-batching`');
    expect(md).toContain('Verdict: squeezenet1_1');
    expect(existsSync(join(dir, 'per-layer-batching.png'))).toBe(true);
    expect(existsSync(join(dir, 'per-layer-batching.svg'))).toBe(true);
  });
});
