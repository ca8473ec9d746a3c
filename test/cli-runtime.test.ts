/**
 * The runtime commands of the CLI, in-process: run (native executor, Chrome trace), profile (a profile
 * ProfiledCostModel reads), simulate (both example workloads), env-check, info, bench's arguments,
 * and the one-line errors for bad input. Native cases are skipped only when the addon is not built.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { AsyncInferenceEnv, loadWorkloadFile, register, registeredEnvs } from '../env/index.js';
import { BENCH_SECTION_NAMES } from '../experiments/commands/bench.js';
import { devicePreset, RooflineCostModel } from '../graphs/cost/index.js';
import { ProfiledCostModel } from '../graphs/cost/profiled.js';
import { NativeExecutor, nativeAvailable } from '../native/index.js';
import { cli } from './cli-helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const WORKLOADS = ['two-models.yaml', 'bursty-four.yaml'].map((f) => join(root, 'experiments', 'workloads', f));
const native = nativeAvailable();
const dir = mkdtempSync(join(tmpdir(), 'topsched-cli-runtime-'));

afterEach(() => vi.restoreAllMocks());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('topsched runtime commands', () => {
  it('documents every command with examples', async () => {
    for (const cmd of ['run', 'profile', 'simulate', 'env-check', 'info', 'bench']) {
      const help = await cli(cmd, '--help');
      expect(help, cmd).toMatch(new RegExp(`Usage: topsched ${cmd}`));
      expect(help, cmd).toMatch(new RegExp(`Examples:\\n  topsched ${cmd}`));
      if (cmd !== 'env-check' && cmd !== 'bench') expect(help, cmd).toMatch(/--json/);
    }
  });

  it.skipIf(!native)('runs concurrent tasks, writes a Chrome trace of the last run and reports arena ≤ naive', async () => {
    const trace = join(dir, 'traces', 'sq.json');
    const r = JSON.parse(
      await cli('run', 'squeezenet1_1', '--tasks', '2', '--streams', '2', '--memory', 'planned', '--repeat', '2', '--trace', trace, '--json'),
    );
    expect(r).toMatchObject({ model: 'squeezenet1_1', backend: 'cpu', tasks: 2, streams: 2, memoryMode: 'planned', repeat: 2, trace });
    expect(r.latencyMs.median).toBeGreaterThan(0);
    expect(r.throughput).toBeGreaterThan(0);
    expect(r.wallMs).toHaveLength(2);
    expect(r.memory.arenaBytes).toBeGreaterThan(0);
    expect(r.memory.arenaBytes).toBeLessThanOrEqual(r.memory.naiveBytes);
    expect(r.memory.loadBytes).toBeGreaterThan(0);
    expect(r.memory.arenaBytes).toBeGreaterThanOrEqual(r.memory.loadBytes);
    const doc = JSON.parse(readFileSync(trace, 'utf8')) as { traceEvents: { ph: string; name: string; cat?: string; tid: number; args?: { name?: string } }[] };
    const slices = doc.traceEvents.filter((e) => e.ph === 'X' && e.cat?.startsWith('task '));
    expect(slices).toHaveLength(2 * r.nodes);
    const tracks = doc.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => e.args?.name);
    expect(tracks).toEqual(expect.arrayContaining(['task 0 (squeezenet1_1)', 'task 1 (squeezenet1_1)']));
    expect(existsSync(`${trace}.tmp-${process.pid}`)).toBe(false);

    // Multi-threaded ops measure their thread count over their first 6 runs: warm-up covers them.
    const threaded = JSON.parse(await cli('run', 'squeezenet1_1', '--op-threads', '2', '--repeat', '1', '--warmup', '1', '--json'));
    expect(threaded.warmup).toBe(7);
    const text = await cli('run', 'squeezenet1_1', '--schedule', 'greedy', '--memory', 'caching', '--repeat', '1', '--warmup', '0');
    expect(text).toMatch(/squeezenet1_1 \(batch 1, 39 ops\) on cpu/);
    expect(text).toMatch(/schedule {3}greedy under roofline:cpu-2core on the optimised graph/);
    const plain = await cli('run', 'squeezenet1_1', '--schedule', 'sequential', '--no-optimize', '--repeat', '1', '--warmup', '0');
    expect(plain).toMatch(/squeezenet1_1 \(batch 1, 65 ops\) on cpu/);
    expect(plain).toMatch(/on the imported graph/);
    expect(text).toMatch(/throughput [\d.]+ tasks\/s/);
    expect(text).toMatch(/arena - {2}LOAD [\d.]+ \w+/);
  });

  it.skipIf(!native)('profiles into a profile JSON that ProfiledCostModel loads', async () => {
    const out = join(dir, 'profiles', 'sq.json');
    const quick = ['--warmup', '1', '--number', '2', '--repeat', '2', '--corun-ms', '5'];
    const s = JSON.parse(await cli('profile', 'squeezenet1_1', '--schedule', 'greedy', '--out', out, ...quick, '--json'));
    expect(s.written).toBe(out);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.format).toBe('topsched.profile/1');
    expect(s.pairsTimed).toBe(doc.pairs.length);
    const { buildModel } = await import('../graphs/zoo/index.js');
    const g = buildModel('squeezenet1_1');
    const cost = new ProfiledCostModel([doc], new RooflineCostModel(devicePreset('cpu-2core')));
    for (const n of g.nodes) expect(cost.opLatency(g, n)).toBe(doc.ops[n.id]);
    expect(cost.fallbacks.size).toBe(0);
    expect(doc.stages.length).toBe(s.schedule.stages);
    expect(s.predictedMs).toBeCloseTo(s.sumStagesMs, 9);
  });

  it('simulates both example workloads with a baseline and prints the metrics', async () => {
    for (const path of WORKLOADS) {
      const w = loadWorkloadFile(path);
      const r = JSON.parse(await cli('simulate', path, '--policy', 'greedy-release', '--seconds', '2', '--seed', '1', '--json'));
      expect(r.metrics.throughput, path).toBeGreaterThan(0);
      expect(r.envSeconds).toBeCloseTo(2, 6);
      expect(r.steps).toBe(200);
      expect(r.metrics.models.map((m: { name: string }) => m.name)).toEqual(w.models.map((m) => m.name));
      for (const k of ['p50Ms', 'p95Ms', 'p99Ms', 'backlog', 'utilisation', 'sloAttainment']) expect(Number.isFinite(r.metrics[k]), k).toBe(true);
      expect(r.metrics.p50Ms).toBeLessThanOrEqual(r.metrics.p99Ms);
    }
    expect(loadWorkloadFile(WORKLOADS[1]).models.every((m) => m.arrival.kind === 'mmpp')).toBe(true);
    expect(loadWorkloadFile(WORKLOADS[0]).models.every((m) => m.arrival.kind === 'poisson')).toBe(true);
    // The seed drives the arrivals: the same seed replays, another one does not.
    const a = JSON.parse(await cli('simulate', WORKLOADS[1], '--policy', 'random', '--seconds', '1', '--seed', '5', '--json'));
    const b = JSON.parse(await cli('simulate', WORKLOADS[1], '--policy', 'random', '--seconds', '1', '--seed', '5', '--json'));
    const c = JSON.parse(await cli('simulate', WORKLOADS[1], '--policy', 'random', '--seconds', '1', '--seed', '6', '--json'));
    expect(b.metrics).toEqual(a.metrics);
    expect(c.metrics.arrived).not.toBe(a.metrics.arrived);
    const text = await cli('simulate', WORKLOADS[0], '--policy', 'one-at-a-time', '--seconds', '1');
    expect(text).toMatch(/two-models \(2 models\) on topsched\/AsyncInference-v0: one-at-a-time policy, seed 0, 1\.00 s of env time \(100 steps of 10 ms\)/);
    expect(text).toMatch(/throughput\s+[\d.]+ req\/s/);
    expect(text).toMatch(/squeezenet1_1 .*\n?resnet50/);
  });

  it('env-check passes on every registered env and fails naming a broken one', async () => {
    const rows = JSON.parse(await cli('env-check', '--json')) as { id: string; pass: boolean; apiSteps: number }[];
    expect(rows.map((r) => r.id)).toEqual(registeredEnvs());
    for (const r of rows) expect(r, r.id).toMatchObject({ pass: true, apiSteps: 25 });
    // An env whose spaces change between calls: the checker must catch it and the command fail.
    class Unstable extends AsyncInferenceEnv {
      override actionSpace(agent: string) {
        const s = super.actionSpace(agent);
        return Object.create(s);
      }
    }
    register('test/Unstable-v0', (o) => new Unstable(o as ConstructorParameters<typeof AsyncInferenceEnv>[0]), { override: true });
    await expect(cli('env-check', '--workload', WORKLOADS[0])).rejects.toThrow(
      /env-check: 1 of \d+ envs failed: test\/Unstable-v0 \(actionSpace\('launcher'\) returns a new object per call\)/,
    );
  });

  it('info lists the backends found', async () => {
    const r = JSON.parse(await cli('info', '--json'));
    const cpu = r.backends.find((b: { name: string }) => b.name === 'cpu');
    expect(cpu).toMatchObject({ kind: 'native executor (oneDNN)', available: native });
    if (native) {
      expect(r.native.path).toMatch(/topsched_native\.node$/);
      expect(r.native.dnnl).toMatch(/^\d+\.\d+/);
      expect(r.native.cpuThreads).toBeGreaterThan(0);
    }
    expect(r.backends.find((b: { name: string }) => b.name === 'cuda').available).toBe(r.cuda.available);
    expect(r.tfjs.available).toBe(true);
    expect(['tensorflow', 'wasm', 'cpu']).toContain(r.tfjs.backend);
    expect(r.onnxruntime.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.node).toBe(process.version);
    expect(r.machine).toMatch(/cores, \d+ GiB, Node v/);
  });

  it('rejects bad input with an error naming the value', async () => {
    await expect(cli('simulate', WORKLOADS[0], '--policy', 'magic')).rejects.toThrow(/--policy expects one of fixed-frequency \| .* got 'magic'/);
    const missing = join(dir, 'no-such-workload.yaml');
    await expect(cli('simulate', missing)).rejects.toThrow(new RegExp(`${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot read workload`));
    await expect(cli('simulate', WORKLOADS[0], '--seconds', '0')).rejects.toThrow(/--seconds expects a number > 0, got '0'/);
    await expect(cli('simulate', WORKLOADS[0], '--env', 'topsched/Nope-v0')).rejects.toThrow(/no env registered as "topsched\/Nope-v0"/);
    await expect(cli('run', 'squeezenet1_1', '--memory', 'bogus')).rejects.toThrow(/--memory expects one of planned \| trace \| caching, got 'bogus'/);
    await expect(cli('run', 'squeezenet1_1', '--backend', 'tpu')).rejects.toThrow(/--backend expects one of cpu \| cuda, got 'tpu'/);
    await expect(cli('bench', 'speed')).rejects.toThrow(/unknown bench section 'speed' \(sections: native, sim, agents, graphs, harness, serve\)/);
    const { BENCH_SECTIONS } = await import('../experiments/bench.js');
    expect([...BENCH_SECTION_NAMES]).toEqual([...BENCH_SECTIONS]);
    if (native) {
      await expect(cli('run', 'alexnet')).rejects.toThrow(/unknown model 'alexnet'/);
      await expect(cli('run', 'squeezenet1_1', '--schedule', 'magic')).rejects.toThrow(
        /--schedule 'magic' is neither a method \(sequential \| greedy \| ios-dp\) nor a readable file/,
      );
      const sched = join(dir, 'sq-b2.json');
      await cli('partition', 'squeezenet1_1', '--batch', '2', '--method', 'greedy', '--out', sched);
      await expect(cli('run', 'squeezenet1_1', '--schedule', sched, '--batch', '4')).rejects.toThrow(/the schedule is for batch 2, --batch is 4/);
      await expect(cli('run', 'squeezenet1_1', '--schedule', sched, '--cost', 'roofline:a100')).rejects.toThrow(
        /--cost 'roofline:a100' applies to a searched schedule/,
      );
      await expect(cli('run', 'resnet50', '--schedule', sched)).rejects.toThrow(/schedule is for model 'squeezenet1_1', graph is 'resnet50'/);
    }
    // Without a CUDA device (or without CUDA built) the backend's own error, on one line, names it.
    let cudaError: string | undefined;
    try {
      new NativeExecutor({ backend: 'cuda' }).close();
    } catch (e) {
      cudaError = (e as Error).message;
    }
    if (cudaError === undefined) {
      const r = JSON.parse(await cli('run', 'squeezenet1_1', '--backend', 'cuda', '--tasks', '2', '--streams', '2', '--repeat', '1', '--json'));
      expect(r.backend).toBe('cuda');
    } else {
      const err = await cli('run', 'squeezenet1_1', '--backend', 'cuda').catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/^--backend cuda: /);
      expect((err as Error).message).not.toMatch(/\n/);
      expect((err as Error).message).toContain(cudaError.split('\n')[0].trim());
    }
  });
});
