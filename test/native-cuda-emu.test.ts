/**
 * The CUDA backend checked without a GPU: native/cuda/emu/run.sh builds the real k_*.cu kernels
 * (launch syntax rewritten), op classes, backend, executor core and schedule runner against a CPU
 * emulation of the CUDA runtime and thread model (block barriers, shared memory, warp shuffles,
 * stream capture). First every op the CUDA backend implements, in the attribute forms the zoo uses, is compared
 * with the CPU backend's kernels (the spec); then whole graphs run on the emulated device through
 * the executor (2 streams, concurrent tasks, caching and planned memory, merge stages) and the
 * asynchronous schedule runner (with and without CUDA-graph replay) and must match onnxruntime.
 * The first build compiles everything (about 2 min on 2 cores); later runs reuse the objects.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { devicePreset, RooflineCostModel } from '../graphs/cost/index.js';
import type { Graph } from '../graphs/ir.js';
import { greedyPartition } from '../graphs/partition/index.js';
import { fuseEpilogues } from '../graphs/passes/index.js';
import { type Schedule, sequentialSchedule } from '../graphs/schedule.js';
import { type MemoryPlan, modelDocument, writeRunnerBundle } from '../native/doc.js';
import { convOps, epilogueOps, indexOps, naivePlan, ortOutputs, relDiff, siblings, tensorOps, twoBranch } from './native-helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const toolchain = has('g++') && has('python3') && existsSync('/usr/include/oneapi/dnnl/dnnl.hpp');
const build = join(root, 'native', 'build', 'cuda-emu');
const cost = new RooflineCostModel(devicePreset('cpu-2core'));

/** Reads cuda-bench --outputs files: name → values. */
function readOutputs(dir: string, schedule: string): Map<string, Float32Array | BigInt64Array> {
  const table = JSON.parse(readFileSync(join(dir, `${schedule}.json`), 'utf8')) as Record<string, { dtype: string; offset: number; bytes: number }>;
  const bin = readFileSync(join(dir, `${schedule}.bin`));
  const out = new Map<string, Float32Array | BigInt64Array>();
  for (const [name, t] of Object.entries(table)) {
    const bytes = new Uint8Array(bin.buffer.slice(bin.byteOffset + t.offset, bin.byteOffset + t.offset + t.bytes));
    out.set(name, t.dtype === 'int64' ? new BigInt64Array(bytes.buffer) : new Float32Array(bytes.buffer));
  }
  return out;
}

describe.skipIf(!toolchain)('CUDA backend on the CPU emulation', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('match the CPU backend on every op', { timeout: 600_000 }, () => {
    let out = '';
    try {
      out = execFileSync('sh', [join(root, 'native', 'cuda', 'emu', 'run.sh'), join(root, 'native', 'build', 'cuda-emu')], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      throw new Error(`cuda emulation failed:\n${err.stdout ?? ''}\n${(err.stderr ?? '').slice(-4000)}`);
    }
    const summary = /cuda-emu: (\d+) passed, (\d+) failed/.exec(out);
    expect(summary, out).not.toBeNull();
    expect(Number(summary?.[2]), out).toBe(0);
    expect(Number(summary?.[1])).toBeGreaterThanOrEqual(50);
  });

  const cases: { graph: () => Graph; merge?: boolean }[] = [
    { graph: convOps },
    { graph: tensorOps },
    { graph: indexOps },
    { graph: siblings, merge: true },
    { graph: () => twoBranch(12, 2, 8) },
    // Epilogues (no post-ops on this backend): each fused node runs as op + Add + activation kernels.
    { graph: () => ({ ...fuseEpilogues(epilogueOps(), { residualInto: ['Conv', 'Gemm', 'MatMul'] }), name: 'epilogue_fused' }) },
  ];
  for (const c of cases) {
    const g = c.graph();
    it(`runs ${g.name} through the executor and the schedule runner with onnxruntime's outputs`, { timeout: 600_000 }, async () => {
      expect(existsSync(join(build, 'cuda-bench')), 'built by the test above').toBe(true);
      const dir = mkdtempSync(join(tmpdir(), 'cuda-emu-'));
      dirs.push(dir);
      const schedules: { name: string; schedule: Schedule; plan?: MemoryPlan }[] = [
        { name: 'sequential', schedule: sequentialSchedule(g), plan: naivePlan(g) },
        { name: 'greedy', schedule: greedyPartition(g, cost, {}).schedule, plan: naivePlan(g) },
      ];
      if (c.merge) {
        schedules.push({
          name: 'merge',
          schedule: {
            model: g.name,
            batch: 1,
            stages: [
              { kind: 'merge', groups: [['k1'], ['k3'], ['k5']] },
              { kind: 'parallel', groups: [[g.nodes[3].id]] },
            ],
          },
          plan: naivePlan(g),
        });
      }
      const { bundle, weights } = writeRunnerBundle(dir, g, { seed: 3, schedules });
      const ref = await ortOutputs(g, 3, modelDocument(g, { seed: 3 }).inputs);
      const modes: [string, string[]][] = [
        ['executor-caching', ['--executor', 'caching', '--tasks', '2', '--streams', '2']],
        ['executor-planned', ['--executor', 'planned', '--streams', '2']],
        ['runner', ['--streams', '2', '--iterations', '1', '--warmup', '0']],
        ['runner-graph', ['--streams', '2', '--iterations', '2', '--warmup', '0', '--cuda-graph', '--staging', 'pageable']],
      ];
      for (const [mode, args] of modes) {
        const outDir = join(dir, mode);
        execFileSync('mkdir', ['-p', outDir]);
        const res = spawnSync(join(build, 'cuda-bench'), [bundle, weights, ...args, '--outputs', outDir], {
          encoding: 'utf8',
          env: { ...process.env, TOPSCHED_CUDA_LIBS: 'none' },
        });
        expect(res.status, `${mode}: ${res.stderr}`).toBe(0);
        const report = JSON.parse(res.stdout) as { results: { schedule: string; tasksAgree?: boolean; graphNodes?: number }[] };
        for (const r of report.results) {
          if (mode.startsWith('executor-caching')) expect(r.tasksAgree, `${mode} ${r.schedule}`).toBe(true);
          if (mode === 'runner-graph') expect(r.graphNodes, `${mode} ${r.schedule}`).toBeGreaterThan(0);
          const got = readOutputs(outDir, r.schedule);
          for (const v of g.outputs) {
            const d = relDiff(got.get(v.name) as Float32Array, ref.get(v.name) as Float32Array);
            expect(d, `${g.name} ${mode} ${r.schedule} output '${v.name}'`).toBeLessThanOrEqual(1e-3);
          }
        }
      }
    });
  }
});
