import { describe, expect, it } from 'vitest';
import { backendInfo, initBackend } from '../agents/backend.js';
import { benchMaddpg } from '../agents/bench.js';

describe('backend selection and MADDPG bench', () => {
  it('falls through unavailable native backends, logging why', async () => {
    const lines: string[] = [];
    const info = await initBackend('tensorflow', { log: (l) => lines.push(l) });
    // tfjs-node cannot install here; wherever it can, this test still holds.
    expect(['tensorflow', 'wasm', 'cpu']).toContain(info.name);
    if (info.name !== 'tensorflow') expect(info.skipped[0].choice).toBe('tensorflow');
    expect(lines.join('\n')).toMatch(/\[topsched\] tfjs backend: /);
    expect(backendInfo()).toBe(info);
    await expect(initBackend('gpu' as never)).rejects.toThrow(/unknown backend 'gpu'/);
  });

  it('measures training throughput per backend', async () => {
    const rows = await benchMaddpg({ backends: ['cpu', 'wasm'], actSteps: 200, updates: 3, config: { batchSize: 64, hidden: [16, 16] } });
    expect(rows.map((r) => r.backend)).toEqual(['cpu', 'wasm']);
    for (const r of rows) {
      expect(r.envStepsPerSec).toBeGreaterThan(0);
      expect(r.updatesPerSec).toBeGreaterThan(0);
      expect(r.trainStepsPerSec).toBeLessThanOrEqual(r.envStepsPerSec);
      expect(r.batchSize).toBe(64);
    }
  });
});
