/**
 * Activation layouts (native/src/layout.hpp): where oneDNN's convolutions want channels-last or
 * channel-blocked input, activations between convolutions stay in that layout and only the ends of a
 * chain reorder. Outputs equal onnxruntime's and the all-plain run's (TOPSCHED_LAYOUT=plain), on
 * optimised real models and on a graph with every op class the assignment knows: Free (Conv, pools),
 * Tied (elementwise, Concat, Split) and Plain (Reshape), plus a merge stage whose fused output is split
 * into convolutions' outputs of different layouts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graphs/builder.js';
import { devicePreset, RooflineCostModel } from '../graphs/cost/index.js';
import type { Graph } from '../graphs/ir.js';
import { partition } from '../graphs/partition/index.js';
import { fuseEpilogues } from '../graphs/passes/fuse-epilogue.js';
import { optimizeGraph } from '../graphs/passes/index.js';
import { type Schedule, sequentialSchedule } from '../graphs/schedule.js';
import { buildModel } from '../graphs/zoo/index.js';
import { NativeExecutor, nativeAvailable } from '../native/index.js';
import { ortOutputs, relDiff } from './native-helpers.js';

const available = nativeAvailable();

/** An executor built under TOPSCHED_LAYOUT=value (read when its backend is created). */
function executorWithLayout(value: string | undefined, streams = 2): NativeExecutor {
  const saved = process.env.TOPSCHED_LAYOUT;
  if (value === undefined) delete process.env.TOPSCHED_LAYOUT;
  else process.env.TOPSCHED_LAYOUT = value;
  try {
    return new NativeExecutor({ streams });
  } finally {
    if (saved === undefined) delete process.env.TOPSCHED_LAYOUT;
    else process.env.TOPSCHED_LAYOUT = saved;
  }
}

/** Every layout op class around a chain of convolutions; channel counts multiples of 16. */
function layoutOps(): Graph {
  const b = new GraphBuilder('layout_ops');
  const x = b.input('x', [2, 16, 12, 12]);
  const k1 = b.conv(x, { out: 32, kernel: 3, pad: 1, name: 'k1', bias: true }); // stays in the device layout
  const k3 = b.conv(x, { out: 16, kernel: 1, name: 'k3' }); // read by a Reshape: plain
  const a = b.relu(b.conv(k1, { out: 32, kernel: 3, pad: 1 }));
  const dw = b.conv(a, { out: 32, kernel: 3, pad: 1, group: 32 });
  const sum = b.relu(b.add(dw, a)); // Tied, both operands in the device layout
  const cat = b.concat([sum, b.maxPool(k1, { kernel: 3, stride: 1, pad: 1 })], 1); // Tied: 64 channels
  const [s0, s1] = b.split(cat, [48, 16], 1);
  // Zero padding counted in the mean (Inception's pools): oneDNN's jit pooling, in the device layout.
  const pooled = b.avgPool(b.conv(s0, { out: 16, kernel: 1 }), { kernel: 3, stride: 1, pad: 1, countIncludePad: true, name: 'avg' });
  b.output(b.conv(b.add(pooled, b.maxPool(s1, { kernel: 3, stride: 1, pad: 1 })), { out: 8, kernel: 1 }));
  b.output(b.reshape(k3, [2, 16 * 144]));
  b.output(b.globalAvgPool(k3, 'plain_gap')); // plain in and out: own row means, no reorder
  b.output(b.globalAvgPool(cat));
  // Strided, with ceil_mode's extra windows clipped at the border: own blocked MaxPool.
  b.output(b.globalAvgPool(b.maxPool(cat, { kernel: 3, stride: 2, pad: 1, ceil: true, name: 'strided_max' })));
  return b.build();
}

/** Merge k1 and k3 into one convolution: its output splits into a device-layout and a plain tensor. */
function mergeSchedule(g: Graph): Schedule {
  const seq = sequentialSchedule(g);
  return {
    ...seq,
    stages: [{ kind: 'merge', groups: [['k1'], ['k3']] }, ...seq.stages.filter((s) => !['k1', 'k3'].includes(s.groups[0][0]))],
  };
}

describe.skipIf(!available)('activation layouts between convolutions', () => {
  let device: NativeExecutor;
  let plain: NativeExecutor;
  beforeAll(() => {
    device = executorWithLayout(undefined);
    plain = executorWithLayout('plain');
  });
  afterAll(() => {
    device?.close();
    plain?.close();
  });

  async function outputsOf(ex: NativeExecutor, g: Graph, schedules: Schedule[]) {
    const model = await ex.loadModel(g, { seed: 5 });
    const runs: Record<string, Float32Array>[] = [];
    for (const schedule of schedules)
      for (const memory of ['caching', 'planned'] as const) {
        const r = await ex.run([{ model, schedule }], { memory, outputs: true });
        expect(r.tasks[0].error).toBeUndefined();
        runs.push(r.tasks[0].outputs as Record<string, Float32Array>);
      }
    return { model, runs };
  }

  async function expectLayoutsKeepOutputs(g: Graph, schedules: Schedule[]) {
    const dev = await outputsOf(device, g, schedules);
    const pl = await outputsOf(plain, g, schedules);
    const ref = await ortOutputs(g, 5, dev.model.inputs);
    expect(plain.deviceLayoutTensors(pl.model)).toBe(0);
    const layout = device.info().activationLayout;
    // Every CPU oneDNN 2.x supports picks nhwc, nChw16c or nChw8c for a 3×3 convolution.
    expect(['nhwc', 'nChw16c', 'nChw8c']).toContain(layout);
    const kept = device.deviceLayoutTensors(dev.model);
    expect(kept, `${g.name}: activations kept in ${layout}`).toBeGreaterThan(0);
    for (let i = 0; i < dev.runs.length; i++)
      for (const v of g.outputs) {
        expect(relDiff(dev.runs[i][v.name], ref.get(v.name) as Float32Array), `${g.name} '${v.name}' run ${i} vs onnxruntime`).toBeLessThanOrEqual(1e-3);
        expect(relDiff(dev.runs[i][v.name], pl.runs[i][v.name]), `${g.name} '${v.name}' run ${i} vs plain layouts`).toBeLessThanOrEqual(1e-4);
      }
    return kept;
  }

  it('keeps convolution chains, pools, elementwise ops, Concat and Split in the device layout, merge stages included', async () => {
    const g = layoutOps();
    const kept = await expectLayoutsKeepOutputs(g, [sequentialSchedule(g), mergeSchedule(g)]);
    // k3 (read by a Reshape) and every graph input and output stay plain; the rest of the 4-D chain does not.
    expect(kept).toBeGreaterThanOrEqual(8);
    // The padded-mean AveragePool reads and writes the device layout: one oneDNN primitive, no reorder.
    const kernels = device.kernels(await device.loadModel(g));
    expect(kernels.find((k) => k.node === 'avg')?.impl).toMatch(/^pool:[^+]+$/);
    // MaxPool between blocked tensors runs the own vectorised kernel.
    expect(kernels.find((k) => k.node === 'strided_max')?.impl).toBe('own:maxpool-blocked');
    expect(kernels.find((k) => k.node === 'plain_gap')?.impl).toBe('own:gap-plain');
  });

  it('a residual fused into a Conv reads its operand in the device layout', async () => {
    const g = layoutOps();
    const fused = { ...fuseEpilogues(g, { residualInto: ['Conv'] }), name: 'layout_ops_fused' };
    const host = fused.nodes.find((n) => n.attrs.fused_sum);
    expect(host?.op).toBe('Conv');
    await expectLayoutsKeepOutputs(fused, [sequentialSchedule(fused)]);
    // Read in place by a binary-add post-op: one oneDNN primitive, not a copy into dst before it.
    const k = device.kernels(await device.loadModel(fused)).find((x) => x.node === host?.id);
    expect(k?.impl).toMatch(/^conv:[^+]+$/);
  });

  for (const name of ['mobilenet_v2', 'inception_v3'])
    it(`${name}, optimised, sequential and IOS-DP (merge stages allowed) on 2 streams`, async () => {
      const g = optimizeGraph(buildModel(name, { batch: 1 })).graph;
      const ios = partition(g, 'ios-dp', new RooflineCostModel(devicePreset('cpu-2core')), { timeBudgetMs: 2000 }).schedule;
      await expectLayoutsKeepOutputs(g, [sequentialSchedule(g), ios]);
    });

  for (const forced of ['nhwc', 'nChw8c', 'nChw16c'])
    it(`TOPSCHED_LAYOUT=${forced}: the same outputs with that layout forced (Concat and Split as chunk copies or on oneDNN)`, async () => {
      const ex = executorWithLayout(forced);
      try {
        expect(ex.info().activationLayout).toBe(forced);
        const g = layoutOps();
        const schedules = [sequentialSchedule(g), mergeSchedule(g)];
        const got = await outputsOf(ex, g, schedules);
        const pl = await outputsOf(plain, g, schedules);
        expect(ex.deviceLayoutTensors(got.model)).toBeGreaterThanOrEqual(8);
        for (let i = 0; i < got.runs.length; i++)
          for (const v of g.outputs) expect(relDiff(got.runs[i][v.name], pl.runs[i][v.name]), `'${v.name}' run ${i}`).toBeLessThanOrEqual(1e-4);
      } finally {
        ex.close();
      }
    });

  it("no convolution or pooling falls back to oneDNN's reference kernels on the zoo's CNNs, imported or optimised", async () => {
    for (const name of ['inception_v3', 'resnet50', 'mobilenet_v2', 'squeezenet1_1', 'nasnet_mobile']) {
      const imported = buildModel(name, { batch: 1 });
      for (const g of [imported, optimizeGraph(imported).graph]) {
        const model = await device.loadModel(g);
        const slow = device.kernels(model).filter((k) => /^(Conv|MaxPool|AveragePool|GlobalAveragePool)$/.test(k.op) && /ref/.test(k.impl));
        expect(slow, `${name} (${g.nodes.length} nodes)`).toEqual([]);
        device.unloadModel(model);
      }
    }
  });

  it('refuses an unknown TOPSCHED_LAYOUT, naming the variable and the value', () => {
    expect(() => executorWithLayout('nchw16')).toThrow(/TOPSCHED_LAYOUT must be 'auto', 'plain', 'nhwc', 'nChw8c' or 'nChw16c', got 'nchw16'/);
  });
});
