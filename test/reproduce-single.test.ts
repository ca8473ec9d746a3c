import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { searchCost } from '../experiments/reproduce/search-cost.js';
import { selfAcceleration } from '../experiments/reproduce/self-acceleration.js';
import { singleModel } from '../experiments/reproduce/single-model.js';

const dir = mkdtempSync(join(tmpdir(), 'repro-single-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Data rows of the markdown table that follows `heading` (first table after it). */
function tableRows(md: string, after: string): string[][] {
  const lines = md.slice(md.indexOf(after)).split('\n');
  const start = lines.findIndex((l) => /^-+(\s+-+)+$/.test(l));
  const out: string[][] = [];
  for (const l of lines.slice(start + 1)) {
    if (!l.trim()) break;
    out.push(l.trim().split(/\s{2,}/));
  }
  return out;
}

describe('reproduce single-model', () => {
  test('squeezenet at tiny scale: five schedules measured, TOP picks one candidate, sweeps and plots written', async () => {
    const lines: string[] = [];
    const md = await singleModel({
      outDir: dir,
      log: (l) => lines.push(l),
      models: ['squeezenet1_1'],
      runs: 2,
      warmup: 1,
      predictBatches: [1, 4],
      nativeSweep: { squeezenet1_1: [1, 2] },
      sweepRuns: 1,
      gpgTrain: { iterations: 3, rollouts: 2, graphsPerIteration: 2 },
      topSteps: 300,
    });
    expect(readFileSync(join(dir, 'single-model.md'), 'utf8')).toBe(md);
    expect(md).toMatch(/^# Single-model latency/);
    expect(md).toContain('Machine: ');
    expect(md).toContain('Command: `npx topsched reproduce single-model`');
    const b1 = tableRows(md, '## Batch 1');
    expect(b1.map((r) => r[2].replace(/ \(.*\)$/, ''))).toEqual(['sequential', 'greedy', 'ios-dp', 'gpg', 'top']);
    const num = (s: string) => Number(s);
    for (const r of b1.slice(0, 4)) {
      expect(num(r[3])).toBeGreaterThan(0); // native
      expect(num(r[5])).toBeGreaterThan(0); // v100 prediction
    }
    // IOS-DP never predicts worse than sequential under the cost model it searched with.
    expect(num(b1[2][4])).toBeLessThanOrEqual(num(b1[0][4]) + 1e-6);
    // TOP's row repeats the row of the candidate it picked.
    const picked = /top \((\w[\w-]*)\)/.exec(b1[4][2])?.[1];
    expect(['sequential', 'greedy', 'ios-dp', 'gpg']).toContain(picked);
    const same = b1.find((r) => r[2] === picked);
    expect(b1[4].slice(3)).toEqual(same?.slice(3));
    // Predicted latency grows with batch.
    const sweep = tableRows(md, 'Roofline V100 prediction (schedules');
    expect(sweep.map((r) => Number(r[1]))).toEqual([1, 4]);
    expect(num(sweep[1][2])).toBeGreaterThan(num(sweep[0][2]));
    expect(tableRows(md, 'Native CPU executor (schedules').length).toBe(2);
    for (const f of ['single-model-batch1', 'single-model-batch1-v100', 'single-model-batch-v100', 'single-model-batch-native'])
      for (const ext of ['svg', 'png']) expect(existsSync(join(dir, `${f}.${ext}`))).toBe(true);
  }, 60_000);

  test('search-cost at tiny scale: GPG and IOS-DP timed on each network, ratios consistent with latencies', async () => {
    const md = await searchCost({
      outDir: dir,
      zoo: ['squeezenet1_1', 'resnet50'],
      randwireSeeds: [],
      gpgTrain: { iterations: 2, rollouts: 2, graphsPerIteration: 2 },
    });
    expect(md).toMatch(/^# Search cost/);
    expect(md).toContain('Command: `npx topsched reproduce search-cost`');
    const rows = tableRows(md, 'Wall time');
    expect(rows.map((r) => r[0].replace(/ \*$/, ''))).toEqual(['squeezenet1_1', 'resnet50']);
    for (const r of rows) {
      const [ios, gpg] = [Number(r[7]), Number(r[8])];
      expect(Number(r[9])).toBeCloseTo(gpg / ios, 2);
      // IOS-DP is never predicted slower than sequential; search times are positive.
      expect(ios).toBeLessThanOrEqual(Number(r[5]) + 1e-6);
      expect(Number(r[2])).toBeGreaterThan(0);
      expect(Number(r[3])).toBeGreaterThan(0);
    }
    for (const f of ['search-cost-time', 'search-cost-quality']) for (const ext of ['svg', 'png']) expect(existsSync(join(dir, `${f}.${ext}`))).toBe(true);
  }, 60_000);

  test('self-acceleration at tiny scale: one row per pool and batch, throughput = images / wave time', async () => {
    const md = await selfAcceleration({ outDir: dir, models: ['squeezenet1_1'], streams: [1, 2], inFlight: [1, 2], batches: [1, 2], minImages: 2 });
    expect(md).toMatch(/^# Self-acceleration/);
    expect(md).toContain('Command: `npx topsched reproduce self-acceleration`');
    const rows = tableRows(md, '### squeezenet1_1');
    expect(rows.map((r) => [Number(r[0]), Number(r[1])])).toEqual([
      [1, 1],
      [1, 2],
      [2, 1],
      [2, 2],
    ]);
    for (const r of rows) {
      const [tp1, tp2, waveMs] = [Number(r[2]), Number(r[3]), Number(r[4])];
      expect(tp1).toBeGreaterThan(0);
      expect(tp2).toBeGreaterThan(0);
      // One task in flight: throughput is batch / wave time (table rounding aside).
      expect(Math.abs(tp1 - (Number(r[1]) * 1000) / waveMs)).toBeLessThanOrEqual(0.5 + 0.01 * tp1);
    }
    expect(md).toMatch(/best \d+ images\/s/);
    for (const f of ['self-acceleration-batch', 'self-acceleration-inflight'])
      for (const ext of ['svg', 'png']) expect(existsSync(join(dir, `${f}.${ext}`))).toBe(true);
  }, 60_000);
});
