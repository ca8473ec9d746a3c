/**
 * CUDA backend of the native executor (native/src/cuda, built by native/cuda.gypi): the addon has it
 * exactly when nvcc was found at build time; without a GPU, `backend: 'cuda'` is a plain JS Error
 * naming cudaGetDeviceCount's error while CPU runs on the same addon complete with correct outputs.
 * On a machine with a GPU (device nodes present) the backend must instead come up and reproduce
 * onnxruntime's outputs on graphs covering every IR op, under both memory modes and 1–2 streams.
 * Skipped as a whole only when the addon is not built.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devicePreset, RooflineCostModel } from '../graphs/cost/index.js';
import type { Graph } from '../graphs/ir.js';
import { greedyPartition } from '../graphs/partition/index.js';
import { type Schedule, sequentialSchedule } from '../graphs/schedule.js';
import { loadNative, NativeExecutor, nativeAvailable } from '../native/index.js';
import { convOps, indexOps, naivePlan, ortOutputs, relDiff, siblings, tensorOps, twoBranch } from './native-helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const available = nativeAvailable();
/** What the build saw: find-nvcc.sh is the probe cuda.gypi runs (empty output = no nvcc). */
const nvcc = execFileSync('sh', [join(root, 'native', 'cuda', 'find-nvcc.sh')], { encoding: 'utf8' }).trim();
/** A GPU is visible to this process (the driver's device nodes), independent of the addon. */
const gpu = existsSync('/dev/nvidiactl') && existsSync('/dev/nvidia0');

const cost = new RooflineCostModel(devicePreset('cpu-2core'));

describe.skipIf(!available)('native CUDA backend', () => {
  it('is built into the addon exactly when nvcc was found at build time', () => {
    expect(loadNative().cudaBuilt, `nvcc: '${nvcc}'`).toBe(nvcc !== '');
  });

  describe.skipIf(gpu)('on a machine without a GPU', () => {
    let cpu: NativeExecutor;
    beforeAll(() => {
      cpu = new NativeExecutor({ streams: 2 });
    });
    afterAll(() => cpu?.close());

    it("gives 'cuda' a clear Error while concurrent CPU runs complete correctly", async () => {
      const g = convOps();
      const model = await cpu.loadModel(g, { seed: 7 });
      const ref = await ortOutputs(g, 7, model.inputs);
      const schedule = greedyPartition(g, cost, {}).schedule;
      const runs = [0, 1, 2, 3].map(() =>
        cpu.run(
          [
            { model, schedule },
            { model, schedule: sequentialSchedule(g) },
          ],
          { outputs: true },
        ),
      );
      // Asked while the CPU runs are in flight: each attempt fails alone, as a normal Error.
      const expected = loadNative().cudaBuilt
        ? /^no CUDA device: cudaGetDeviceCount returned cuda\w+ \(.+\)$/
        : /^CUDA backend not built \(nvcc not found at build time\)/;
      for (let i = 0; i < 3; i++) {
        let caught: unknown;
        try {
          new NativeExecutor({ backend: 'cuda', streams: 2 });
        } catch (e) {
          caught = e;
        }
        expect(caught).toBeInstanceOf(Error);
        expect((caught as Error).message).toMatch(expected);
      }
      for (const report of await Promise.all(runs)) {
        expect(report.tasks).toHaveLength(2);
        for (const t of report.tasks)
          for (const v of g.outputs)
            expect(relDiff(t.outputs?.[v.name] as Float32Array, ref.get(v.name) as Float32Array), `${v.name}`).toBeLessThanOrEqual(1e-3);
      }
      // And the CPU backend still comes up afterwards.
      const again = new NativeExecutor({ backend: 'cpu' });
      again.close();
    });
  });

  describe.skipIf(!gpu || !loadNative().cudaBuilt)('on a machine with a GPU', () => {
    let ex: NativeExecutor;
    beforeAll(() => {
      ex = new NativeExecutor({ backend: 'cuda', streams: 2 });
    });
    afterAll(() => ex?.close());

    async function expectMatchesOrt(graph: Graph, schedules: Schedule[]) {
      const model = await ex.loadModel(graph, { seed: 3 });
      const ref = await ortOutputs(graph, 3, model.inputs);
      for (const schedule of schedules) {
        for (const mode of ['caching', 'planned'] as const) {
          const report = await ex.run([{ model, schedule, plan: mode === 'planned' ? naivePlan(graph) : undefined }], { memory: mode, outputs: true });
          for (const v of graph.outputs) {
            const d = relDiff(report.tasks[0].outputs?.[v.name] as Float32Array, ref.get(v.name) as Float32Array);
            expect(d, `${graph.name} output '${v.name}' (${mode}, ${schedule.stages.length} stages)`).toBeLessThanOrEqual(1e-3);
          }
        }
      }
    }

    it('reports the device', () => {
      const info = ex.info() as { backend: string; device: string; cudnn: string; cublas: string };
      expect(info.backend).toBe('cuda');
      expect(info.device.length).toBeGreaterThan(0);
      expect(info.cudnn).toMatch(/cudnn/);
    });

    it('matches onnxruntime on convolutions, normalization, activations and pooling', async () => {
      const g = convOps();
      await expectMatchesOrt(g, [sequentialSchedule(g), greedyPartition(g, cost, {}).schedule]);
    });

    it('matches onnxruntime on binaries, transposes, matmuls, layer norm, softmax and Gemm', async () => {
      const g = tensorOps();
      await expectMatchesOrt(g, [sequentialSchedule(g), greedyPartition(g, cost, {}).schedule]);
    });

    it('matches onnxruntime on gather, expand, reductions, pad, split and resize', async () => {
      const g = indexOps();
      await expectMatchesOrt(g, [sequentialSchedule(g), greedyPartition(g, cost, {}).schedule]);
    });

    it('runs merge stages and concurrent multi-stream runs', async () => {
      const g = siblings();
      const merged: Schedule = {
        model: g.name,
        batch: 1,
        stages: [
          { kind: 'merge', groups: [['k1'], ['k3'], ['k5']] },
          { kind: 'parallel', groups: [[g.nodes[3].id]] },
        ],
      };
      await expectMatchesOrt(g, [merged]);
      const tb = twoBranch(32, 4, 16);
      const model = await ex.loadModel(tb, { seed: 1 });
      const ref = await ortOutputs(tb, 1, model.inputs);
      const reports = await Promise.all([0, 1, 2, 3].map(() => ex.run([{ model, schedule: greedyPartition(tb, cost, {}).schedule }], { outputs: true })));
      for (const r of reports)
        expect(relDiff(r.tasks[0].outputs?.[tb.outputs[0].name] as Float32Array, ref.get(tb.outputs[0].name) as Float32Array)).toBeLessThanOrEqual(1e-3);
    });
  });
});
