import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../agents/backend.js';
import { GpgPolicy } from '../agents/gpg/policy.js';
import { graphFromString } from '../graphs/json.js';
import { loadOnnxFile } from '../graphs/onnx/import.js';
import { optimizeGraph } from '../graphs/passes/index.js';
import { scheduleFromString, validateSchedule } from '../graphs/schedule.js';
import { buildModel } from '../graphs/zoo/index.js';
import { cli } from './cli-helpers.js';

afterEach(() => vi.restoreAllMocks());

describe('topsched CLI', () => {
  it('lists the zoo as JSON with sizes next to the published ones', async () => {
    const rows = JSON.parse(await cli('models', '--json')) as { name: string; params: number; macs: number; published: { params?: number } | null }[];
    const names = rows.map((r) => r.name);
    expect(names).toEqual(
      expect.arrayContaining(['inception_v3', 'resnet50', 'squeezenet1_1', 'mobilenet_v2', 'nasnet_mobile', 'nasnet_large', 'randwire', 'din', 'bert_layer']),
    );
    const r50 = rows.find((r) => r.name === 'resnet50');
    expect(r50?.params).toBe(25_557_032);
    expect(r50?.published?.params).toBe(25_557_032);
  });

  it('summarises a graph at a batch and converts it to ONNX and JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topsched-cli-'));
    const s = JSON.parse(await cli('graph', 'squeezenet1_1', '--batch', '2', '--json'));
    expect(s).toMatchObject({ name: 'squeezenet1_1', batch: 2, params: 1_235_496 });
    expect(s.macs).toBe(2 * buildModel('squeezenet1_1').nodes.reduce((a, n) => a + n.macs, 0));
    const onnx = join(dir, 'sq.onnx');
    await cli('graph', 'squeezenet1_1', '--out', onnx);
    expect(loadOnnxFile(onnx).nodes.length).toBe(buildModel('squeezenet1_1').nodes.length);
    const json = join(dir, 'sq.json');
    await cli('graph', onnx, '--out', json, '--json');
    expect(graphFromString(readFileSync(json, 'utf8')).name).toBe('squeezenet1_1');
    const again = JSON.parse(await cli('graph', json, '--json'));
    expect(again.params).toBe(1_235_496);
  });

  it('partitions with each method and writes a valid schedule', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topsched-cli-'));
    const out = join(dir, 'plan.json');
    const res = JSON.parse(await cli('partition', 'squeezenet1_1', '--method', 'ios-dp', '--cost', 'roofline:v100', '--out', out, '--json'));
    expect(res.stats.states).toBeGreaterThan(0);
    expect(res.stats.transitions).toBeGreaterThan(0);
    expect(res.latencyMs).toBeLessThan(res.sequentialMs);
    // Searched on the optimised graph (Conv + ReLU fused: 39 ops of 65), which the file says.
    expect([res.nodes, res.nodesImported, res.optimized]).toEqual([39, 65, true]);
    const schedule = scheduleFromString(readFileSync(out, 'utf8'), out);
    expect(schedule.optimized).toBe(true);
    expect(() => validateSchedule(optimizeGraph(buildModel('squeezenet1_1')).graph, schedule)).not.toThrow();
    expect(() => validateSchedule(buildModel('squeezenet1_1'), schedule)).toThrow(/missing-node/);
    const hybrid = JSON.parse(await cli('partition', 'squeezenet1_1', '--threads', '2', '--cost', 'roofline:cpu-2core', '--json'));
    expect(hybrid.hybridStages).toBeGreaterThan(0);
    expect(hybrid.schedule.stages.filter((st: { threads?: number[] }) => st.threads).length).toBe(hybrid.hybridStages);
    expect(hybrid.cost).toBe('roofline:cpu-2core, threads searched on 2 cores');
    const plain = JSON.parse(await cli('partition', 'squeezenet1_1', '--no-optimize', '--method', 'greedy', '--json'));
    expect([plain.nodes, plain.optimized]).toEqual([65, false]);
    for (const method of ['sequential', 'greedy']) {
      const r = JSON.parse(await cli('partition', 'squeezenet1_1', '--method', method, '--json'));
      expect(r.method).toBe(method);
      expect(r.latencyMs).toBeGreaterThanOrEqual(res.latencyMs - 1e-9);
    }
    const text = await cli('partition', 'bert_layer', '--method', 'greedy', '--cost', 'synthetic:3');
    expect(text).toMatch(/bert_layer \(batch 1, 29 ops after optimisation, 30 imported\) — greedy under synthetic:3/);
  });

  it('partitions with the learned GPG policy (shipped, or a folder) and prices with a measured profile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topsched-gpg-'));
    // The shipped policy (policies/gpg, written by reproduce gpg) partitions out of the box.
    const shipped = JSON.parse(await cli('partition', 'squeezenet1_1', '--method', 'gpg', '--json'));
    expect(shipped.method).toBe('gpg');
    expect(() => validateSchedule(optimizeGraph(buildModel('squeezenet1_1')).graph, shipped.schedule)).not.toThrow();
    // A policy folder of one's own.
    await initBackend('wasm', { log: () => {} });
    const mine = new GpgPolicy({ seed: 3 });
    mine.save(join(dir, 'policy'));
    mine.dispose();
    const own = JSON.parse(await cli('partition', 'resnet50', '--method', 'gpg', '--policy', join(dir, 'policy'), '--cost', 'roofline:cpu-2core', '--json'));
    expect(own.latencyMs).toBeLessThanOrEqual(own.sequentialMs + 1e-9);
    await expect(cli('partition', 'resnet50', '--method', 'gpg', '--policy', join(dir, 'nothing'))).rejects.toThrow(/--policy .*nothing: no GPG policy there/);
    await expect(cli('partition', 'resnet50', '--policy', join(dir, 'policy'))).rejects.toThrow(/--policy applies to --method gpg, not 'ios-dp'/);
    // profiled:<file>: measured ops priced from the table, the rest by the roofline fallback, and said so.
    const g = buildModel('squeezenet1_1');
    const profile = {
      format: 'topsched.profile/1',
      device: { name: 'test-cpu', cpuModel: 'test', threads: 2, backend: 'cpu', opThreads: 1, streams: 1 },
      model: g.name,
      batch: 1,
      settings: {},
      ops: Object.fromEntries(g.nodes.slice(0, 10).map((n) => [n.id, 0.5])),
      stages: [],
      pairs: [],
    };
    writeFileSync(join(dir, 'p.json'), JSON.stringify(profile));
    const priced = JSON.parse(
      await cli('partition', 'squeezenet1_1', '--no-optimize', '--method', 'greedy', '--cost', `profiled:${join(dir, 'p.json')}`, '--json'),
    );
    expect(priced.cost).toBe('profiled:test-cpu');
    expect(priced.profileCoverage).toEqual({ ops: 65, measured: 10 });
    const text = await cli('partition', 'squeezenet1_1', '--no-optimize', '--method', 'greedy', '--cost', `profiled:${join(dir, 'p.json')}@v100`);
    expect(text).toMatch(/profile covers 10 of 65 ops; the other 55 are priced by the roofline fallback/);
    writeFileSync(join(dir, 'bad.json'), '{"format":"nope"}');
    await expect(cli('partition', 'squeezenet1_1', '--cost', `profiled:${join(dir, 'bad.json')}`)).rejects.toThrow(/bad\.json is not a topsched profile/);
    await expect(cli('partition', 'squeezenet1_1', '--cost', 'profiled:')).rejects.toThrow(/give the profile file/);
  }, 60_000);

  it('rejects bad input with an error naming it', async () => {
    await expect(cli('graph', 'alexnet')).rejects.toThrow(/unknown model 'alexnet'/);
    await expect(cli('partition', 'resnet50', '--method', 'magic')).rejects.toThrow(
      /--method expects one of sequential \| greedy \| ios-dp \| gpg, got 'magic'/,
    );
    await expect(cli('partition', 'resnet50', '--batch', '0')).rejects.toThrow(/--batch expects an integer >= 1/);
    await expect(cli('partition', 'resnet50', '--cost', 'roofline:tpu')).rejects.toThrow(/unknown device preset 'tpu'/);
    const dir = mkdtempSync(join(tmpdir(), 'topsched-cli-'));
    const bad = join(dir, 'bad.onnx');
    writeFileSync(bad, Buffer.from('not a model at all'));
    await expect(cli('graph', bad)).rejects.toThrow(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  });
});
