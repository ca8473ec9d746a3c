/**
 * The seed-systems reproductions at tiny scale: parallel modes (simulated GPU modes + native
 * streams), memory planning (four policies, replicas in a budget, one replica check), model
 * sharing (bytes and throughput with and without one weights copy).
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MEMORY_POLICIES, memoryPlanning, replicasInBudget } from '../experiments/reproduce/memory-planning.js';
import { modelSharing, tasksInBudget } from '../experiments/reproduce/model-sharing.js';
import { parallelModes } from '../experiments/reproduce/parallel-modes.js';
import { nativeAvailable } from '../native/index.js';

const native = nativeAvailable();
const MiB = 2 ** 20;

function plotsWritten(dir: string, ...names: string[]): void {
  for (const n of names) {
    for (const ext of ['svg', 'png']) expect(existsSync(join(dir, `${n}.${ext}`)), `${n}.${ext}`).toBe(true);
    expect(readFileSync(join(dir, `${n}.svg`), 'utf8')).toContain('<svg');
  }
}

describe('reproduce parallel-modes', () => {
  it('simulates every mode × host-buffer setting and obeys the closed loop (Little)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topsched-pm-'));
    const out = join(dir, 'parallel-modes.md');
    const { result, md } = await parallelModes({
      out,
      models: ['squeezenet1_1', 'mobilenet_v2'],
      counts: [2],
      batches: [1, 8],
      simMs: 300,
      inFlight: 2,
      nativeModels: ['squeezenet1_1', 'mobilenet_v2'],
      nativeCounts: native ? [2] : [],
      nativeRounds: 1,
    });
    expect(result.sim).toHaveLength(2 * 3 * 2);
    for (const r of result.sim) {
      expect(r.fps).toBeGreaterThan(0);
      // Closed loop: 2 models × 2 outstanding requests, so requests/s ≈ 4 / mean latency.
      const little = (4 * 1000) / r.meanMs;
      expect(r.fps / r.batch / little).toBeGreaterThan(0.8);
      expect(r.fps / r.batch / little).toBeLessThan(1.25);
      expect(r.p95Ms).toBeGreaterThanOrEqual(r.meanMs * 0.5);
    }
    // Batch 8 moves 8× the bytes per request: pinned copies (on copy engines) beat pageable ones in streams mode.
    const get = (b: number, t: string) => result.sim.find((x) => x.batch === b && x.mode === 'streams' && x.transfers === t)?.fps ?? 0;
    expect(get(8, 'pinned')).toBeGreaterThan(get(8, 'pageable'));
    if (native) {
      expect(result.native.map((r) => r.streams)).toEqual([1, 2]);
      for (const r of result.native) expect(r.fps).toBeGreaterThan(0);
    }
    expect(md).toContain('Command: `npx topsched reproduce parallel-modes`');
    expect(md).toContain('Backend: simulator on roofline preset v100');
    plotsWritten(dir, 'parallel-modes-fps', 'parallel-modes-latency', 'parallel-modes-native');
  });
});

describe.skipIf(!native)('reproduce memory-planning', () => {
  it('orders planned ≤ caching ≤ naive, counts replicas from bytes and budget, and checks one count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topsched-mp-'));
    const { result, md } = await memoryPlanning({
      out: join(dir, 'memory-planning.md'),
      models: ['squeezenet1_1'],
      runs: 1,
      budgetsMiB: [64, 256],
      verify: { model: 'squeezenet1_1', budgetMiB: 64 },
    });
    const [m] = result.models;
    expect(m.bytes.planned).toBeLessThanOrEqual(m.bytes.caching);
    expect(m.bytes.caching).toBeLessThanOrEqual(m.bytes.naive);
    expect(m.bytes.trace).toBeGreaterThanOrEqual(m.loadBytes);
    expect(m.bytes.planned).toBeGreaterThanOrEqual(m.loadBytes);
    for (const B of [64, 256])
      for (const p of MEMORY_POLICIES) {
        const n = m.replicas[String(B)][p];
        const per = m.weightBytes + m.bytes[p];
        expect(n * per).toBeLessThanOrEqual(B * MiB);
        expect((n + 1) * per).toBeGreaterThan(B * MiB);
      }
    expect(m.replicas['64'].planned).toBeGreaterThanOrEqual(m.replicas['64'].naive);
    for (const k of ['caching', 'planned', 'trace'] as const) expect(m.latencyMs[k]).toBeGreaterThan(0);
    const c = result.check;
    expect(c?.replicas).toBe(replicasInBudget(64 * MiB, m.weightBytes, m.bytes.planned));
    // The pool holds between one arena (tasks ran one after another) and one per replica (all at once);
    // weights + arenas stay within the budget either way.
    expect(c?.arenaPoolBytes).toBeGreaterThanOrEqual(m.bytes.planned);
    expect(c?.arenaPoolBytes).toBeLessThanOrEqual((c?.replicas ?? 0) * m.bytes.planned);
    expect(c?.deviceBytes).toBeLessThanOrEqual(64 * MiB);
    expect(md).toContain('Command: `npx topsched reproduce memory-planning`');
    plotsWritten(dir, 'memory-planning', 'memory-planning-replicas');
  });
});

describe.skipIf(!native)('reproduce model-sharing', () => {
  it('holds one weights copy with sharing and N without, and fits more tasks in a budget', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topsched-ms-'));
    const { result, md } = await modelSharing({ out: join(dir, 'model-sharing.md'), models: ['squeezenet1_1'], counts: [1, 2], rounds: 1, budgetsMiB: [64] });
    expect(result.rows).toHaveLength(4);
    const shared = result.rows.find((r) => r.tasks === 2 && r.sharing);
    const unshared = result.rows.find((r) => r.tasks === 2 && !r.sharing);
    const one = result.rows.find((r) => r.tasks === 1 && r.sharing);
    if (!shared || !unshared || !one) throw new Error('rows missing');
    expect(shared.deviceBytes).toBeLessThan(unshared.deviceBytes);
    expect(unshared.weightBytes).toBe(2 * shared.weightBytes);
    expect(shared.weightBytes).toBe(one.weightBytes);
    // Two tasks in flight hold two arenas in both settings.
    expect(shared.arenaPoolBytes).toBeGreaterThanOrEqual(2 * (one.arenaPoolBytes - 1));
    for (const r of result.rows) expect(r.throughput).toBeGreaterThan(0);
    const [f] = result.fit;
    const [b] = f.budgets;
    expect(b.shared).toBe(tasksInBudget(64 * MiB, f.weightBytes, f.arenaBytes, true));
    expect(f.weightBytes + b.shared * f.arenaBytes).toBeLessThanOrEqual(64 * MiB);
    expect(b.unshared * (f.weightBytes + f.arenaBytes)).toBeLessThanOrEqual(64 * MiB);
    expect(b.shared).toBeGreaterThan(b.unshared);
    expect(md).toContain('Command: `npx topsched reproduce model-sharing`');
    plotsWritten(dir, 'model-sharing', 'model-sharing-throughput');
  });
});
