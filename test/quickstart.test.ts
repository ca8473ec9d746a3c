/**
 * The quick start end to end at a tiny scale: native profile → calibrated simulator → a few
 * hundred MADDPG steps → every policy on the native executor → table, plot and JSON on disk.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { type PolicyRow, type QuickstartResult, quickstart, verdictOf } from '../experiments/quickstart.js';
import { buildModel } from '../graphs/zoo/index.js';

const dir = mkdtempSync(join(tmpdir(), 'topsched-quickstart-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('quickstart', () => {
  let r: QuickstartResult;
  const lines: string[] = [];

  test('runs the whole pipeline at a tiny scale', async () => {
    r = await quickstart({
      outDir: join(dir, 'run'),
      trainSteps: 200,
      episodeSteps: 50,
      evalSeconds: 1,
      profileRepeats: 1,
      maddpg: { learningStarts: 64, batchSize: 32 },
      log: (l) => lines.push(l),
      progress: false,
    });
    expect(r.runDir).toBe(join(dir, 'run'));
  }, 90_000);

  test('the simulator is calibrated from the native profile', () => {
    const graphs = r.models.map((n) => buildModel(n, { batch: 1 }));
    // Every op of both models was timed on the native executor.
    expect(r.calibration.profiledOps).toEqual(graphs.map((g) => g.nodes.length));
    expect(r.calibration.device).toMatch(/^cpu:/);
    // Both models have parallel stages, so co-run pairs were measured and the contention fitted.
    expect(r.calibration.contention?.source).toMatch(/^fit:\d+ pairs/);
    for (const a of r.calibration.aloneMs) expect(a).toBeGreaterThan(0);
    expect(r.calibration.t0.nativeMs).toBeGreaterThan(0);
    expect(r.calibration.t0.simMs).toBeGreaterThan(0);
    // The workload and the epoch follow from the calibration.
    expect(r.workload.rates.every((x) => x > 0)).toBe(true);
    expect(r.workload.epochMs).toBe(Math.max(1, Math.ceil(4 * Math.max(...r.calibration.aloneMs))));
  });

  test('MADDPG trained in the simulator', () => {
    expect(r.training.steps).toBe(200);
    expect(r.training.stoppedEarly).toBe(false);
    expect(r.training.episodes).toBeGreaterThanOrEqual(4);
    expect(r.training.updates).toBeGreaterThan(0);
    expect(r.training.returns.length).toBeGreaterThanOrEqual(3);
  });

  test('all three policies ran on the native executor, on the same arrivals, with consistent numbers', () => {
    expect(r.native.map((x) => x.policy)).toEqual(['maddpg', expect.stringMatching(/^fixed-frequency/), 'greedy-release']);
    expect(r.sim.map((x) => x.policy)).toEqual(r.native.map((x) => x.policy));
    for (const x of [...r.native, ...r.sim]) {
      expect(x.arrived).toBeGreaterThan(0);
      expect(x.completed).toBeLessThanOrEqual(x.arrived);
      expect(x.backlog).toBeLessThanOrEqual(x.arrived - x.completed);
      expect(x.steps).toBeGreaterThan(0);
      if (x.completed > 0) {
        expect(x.p50Ms).toBeGreaterThan(0);
        expect(x.p50Ms).toBeLessThanOrEqual(x.p95Ms);
        expect(x.p95Ms).toBeLessThanOrEqual(x.p99Ms);
      }
      expect(x.sloAttainment).toBeGreaterThanOrEqual(0);
      expect(x.sloAttainment).toBeLessThanOrEqual(1);
      expect(x.onTimeOfArrived).toBeLessThanOrEqual(x.completed / x.arrived + 1e-9);
    }
    // The simulator's arrivals are the seeded workload: the same count for every policy within an
    // env second (the native clock is measured, so its last step may end a little later).
    const simArrived = r.sim.map((x) => x.arrived);
    expect(new Set(simArrived).size).toBe(1);
    expect(r.verdict).toBe(verdictOf(r.native));
  });

  test('writes the table, plot and results into the run directory and prints each phase', () => {
    for (const f of ['results.json', 'table.md', 'latency.png', 'latency.svg']) {
      expect(existsSync(join(r.runDir, f))).toBe(true);
      expect(statSync(join(r.runDir, f)).size).toBeGreaterThan(100);
    }
    const saved = JSON.parse(readFileSync(join(r.runDir, 'results.json'), 'utf8'));
    expect(saved.native).toEqual(r.native);
    expect(saved.verdict).toBe(r.verdict);
    const meta = JSON.parse(readFileSync(join(r.runDir, 'meta.json'), 'utf8'));
    expect(meta).toMatchObject({ format: 'topsched.run/1', name: 'quickstart', status: 'completed', step: 200 });
    const md = readFileSync(join(r.runDir, 'table.md'), 'utf8');
    for (const x of r.native) expect(md).toContain(`| ${x.policy} | native |`);
    expect(md).toContain(r.verdict);
    expect(r.phases.map((p) => p.name)).toEqual(['profile', 'calibrate', 'train', 'evaluate', 'report']);
    for (const k of [1, 2, 3, 4, 5]) expect(lines.some((l) => l.includes(` ${k}/5 `))).toBe(true);
    expect(lines.some((l) => l.startsWith('Verdict:'))).toBe(true);
  });
});

describe('quickstart verdict', () => {
  const row = (policy: string, onTime: number, p99: number): PolicyRow => ({
    policy,
    executor: 'native',
    throughput: 10,
    p50Ms: 1,
    p95Ms: 2,
    p99Ms: p99,
    sloAttainment: onTime,
    onTimeOfArrived: onTime,
    backlog: 0,
    arrived: 100,
    completed: 100,
    steps: 10,
    overruns: 0,
    wallS: 1,
  });

  test('compares MADDPG with the best baseline by requests served on time', () => {
    expect(verdictOf([row('maddpg', 0.9, 5), row('a', 0.5, 3), row('b', 0.7, 9)])).toMatch(/MADDPG beats the best baseline \(b\).*\+20\.0 points/);
    expect(verdictOf([row('maddpg', 0.6, 5), row('a', 0.8, 3)])).toMatch(/trails the best baseline \(a\)/);
    expect(verdictOf([row('maddpg', 0.805, 5), row('a', 0.8, 3)])).toMatch(/matches/);
    expect(verdictOf([row('maddpg', 0.83, 5), row('a', 0.8, 3)])).toMatch(/is slightly ahead of the best baseline \(a\):/);
    // A higher on-time share bought by leaving work undone is called out.
    const lazy = { ...row('maddpg', 0.9, 5), completed: 70, backlog: 30 };
    expect(verdictOf([lazy, row('a', 0.7, 3)])).toMatch(/beats the best baseline \(a\) — but it completes fewer requests and leaves a larger backlog/);
    expect(() => verdictOf([row('maddpg', 1, 1)])).toThrow(/at least one baseline/);
  });
});
