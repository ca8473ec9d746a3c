/**
 * Native profiler → profile JSON, RunReport → Chrome trace, and the standalone runner binary.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devicePreset, RooflineCostModel } from '../graphs/cost/index.js';
import { ProfiledCostModel } from '../graphs/cost/profiled.js';
import { sequentialSchedule } from '../graphs/schedule.js';
import { runOverhead, twoBranchGraph, twoBranchSchedule } from '../native/bench.js';
import { NativeExecutor, nativeAvailable, writeRunnerBundle } from '../native/index.js';
import { autoPairs, profileModel, writeProfile } from '../native/profile.js';
import { toChromeTrace, writeChromeTrace } from '../native/trace.js';

const available = nativeAvailable();
// node-gyp builds it next to the addon; `make -C native runner` (machines without Node) in build/.
const RUNNER =
  [join(import.meta.dirname, '..', 'native', 'build', 'Release', 'runner'), join(import.meta.dirname, '..', 'native', 'build', 'runner')].find((p) =>
    existsSync(p),
  ) ?? '';

describe.skipIf(!available)('native tools', () => {
  let ex: NativeExecutor;
  let dir: string;
  beforeAll(() => {
    ex = new NativeExecutor({ streams: 2 });
    dir = mkdtempSync(join(tmpdir(), 'topsched-native-'));
  });
  afterAll(() => {
    ex?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('profiles ops, stages and co-run pairs into a profile the cost model reads', async () => {
    const g = twoBranchGraph(16, 2, 8);
    const schedule = twoBranchSchedule(g);
    const model = await ex.loadModel(g);
    expect(autoPairs(g, schedule)).toEqual([['l0', 'r0']]);
    const prof = await profileModel(ex, model, { schedule, warmup: 1, number: 3, repeat: 3, corunMs: 5 });
    expect(Object.keys(prof.ops).sort()).toEqual(g.nodes.map((n) => n.id).sort());
    for (const v of Object.values(prof.ops)) expect(v).toBeGreaterThan(0);
    expect(prof.stages.map((s) => s.groups)).toEqual(schedule.stages.map((s) => s.groups));
    expect(prof.pairs).toHaveLength(1);
    expect(prof.pairs[0].slowdown[0]).toBeGreaterThan(0);
    expect(prof.device.threads).toBeGreaterThan(0);
    const path = join(dir, 'profile.json');
    writeProfile(path, prof);
    const back = JSON.parse(readFileSync(path, 'utf8'));
    const cost = new ProfiledCostModel([back], new RooflineCostModel(devicePreset('cpu-2core')));
    expect(cost.opLatency(g, g.nodes[0])).toBe(prof.ops[g.nodes[0].id]);
    expect(cost.stageLatency(g, schedule.stages[0])).toBe(prof.stages[0].ms);
    expect(cost.fallbacks.size).toBe(0);
  });

  it('measures the per-run overhead of a one-op model end to end, beside the reported latency and onnxruntime', async () => {
    const o = await runOverhead({ runs: 30, warmup: 3 });
    expect(o.runs).toBe(30);
    // The caller waits at least what the executor reports; all three are real, positive durations.
    expect(o.reportedUs).toBeGreaterThan(0);
    expect(o.endToEndUs).toBeGreaterThanOrEqual(o.reportedUs);
    expect(o.ortUs).toBeGreaterThan(0);
  });

  it('turns a run report into a Chrome trace with stream tracks and dependency flows', async () => {
    const g = twoBranchGraph(16, 2, 8);
    const model = await ex.loadModel(g);
    const report = await ex.run([
      { model, schedule: twoBranchSchedule(g) },
      { model, schedule: sequentialSchedule(g) },
    ]);
    const trace = toChromeTrace(report);
    const slices = trace.traceEvents.filter((e) => e.ph === 'X' && e.cat?.startsWith('task '));
    expect(slices).toHaveLength(2 * g.nodes.length);
    const names = trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => e.args?.name);
    expect(names).toEqual(expect.arrayContaining(['stream 0', 'stream 1', 'task 0 (two_branch)', 'task 1 (two_branch)']));
    const starts = trace.traceEvents.filter((e) => e.ph === 's');
    const ends = trace.traceEvents.filter((e) => e.ph === 'f');
    expect(starts.length).toBe(ends.length);
    expect(starts.length).toBeGreaterThanOrEqual(1); // the join waits for the branch on the other stream
    for (const s of starts) expect(ends.some((f) => f.id === s.id && (f.ts ?? 0) >= (s.ts ?? 0))).toBe(true);
    const path = join(dir, 'trace.json');
    writeChromeTrace(path, report);
    expect(JSON.parse(readFileSync(path, 'utf8')).traceEvents.length).toBe(trace.traceEvents.length);
  });

  it.skipIf(!RUNNER)('runs a bundle in the standalone runner and prints timings JSON', () => {
    const g = twoBranchGraph(16, 2, 8);
    const { bundle, weights } = writeRunnerBundle(dir, g, {
      schedules: [
        { name: 'branches', schedule: twoBranchSchedule(g) },
        { name: 'seq', schedule: sequentialSchedule(g) },
      ],
    });
    const out = JSON.parse(execFileSync(RUNNER, [bundle, weights, '--streams', '2', '--runs', '3', '--warmup', '1', '--tasks', '2'], { encoding: 'utf8' }));
    expect(out.model).toBe('two_branch');
    expect(out.results.map((r: { schedule: string }) => r.schedule)).toEqual(['branches', 'seq']);
    for (const r of out.results) {
      expect(r.latencyMs.n).toBe(6);
      expect(r.latencyMs.median).toBeGreaterThan(0);
      expect(Object.keys(r.opMedianMs)).toHaveLength(g.nodes.length);
    }
    expect(() => execFileSync(RUNNER, [bundle, weights, '--schedule', 'nope'], { stdio: 'pipe' })).toThrow(/no schedule named 'nope'/);
    // A mistyped tuning variable is an error naming it, not its default.
    const env = { ...process.env, TOPSCHED_OP_THREADS: 'rule', TOPSCHED_SMALL_OP_FLOPS: '4M' };
    expect(() => execFileSync(RUNNER, [bundle, weights, '--runs', '1', '--op-threads', '2'], { stdio: 'pipe', env })).toThrow(
      /TOPSCHED_SMALL_OP_FLOPS must be a number in 0\.\.1e\+18, got '4M'/,
    );
  });
});
