/**
 * Graph optimisation passes (graphs/passes/): each leaves the numerics unchanged — the optimised
 * graph and the original, exported with the same weights, agree in onnxruntime-node — and does
 * what it says to the node count.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graphs/builder.js';
import type { Graph } from '../graphs/ir.js';
import { exportOnnx } from '../graphs/onnx/export.js';
import { eliminateDeadCode, eliminateIdentities, foldConvBatchNorm, fuseEpilogues, fuseGelus, fuseLayerNorms, optimizeGraph } from '../graphs/passes/index.js';
import { materializeWeights, randomInputs } from '../graphs/weights.js';
import { buildModel } from '../graphs/zoo/index.js';
import { cli } from './cli-helpers.js';

/** Outputs of `graph` in onnxruntime-node on seeded inputs (weights materialised with seed 0). */
async function ortOutputs(graph: Graph): Promise<Float32Array[]> {
  const g = materializeWeights(graph, { seed: 0 });
  const session = await ort.InferenceSession.create(exportOnnx(g, { seed: 0 }));
  try {
    const inputs = randomInputs(g, 7);
    const feeds: Record<string, ort.Tensor> = {};
    for (const v of g.inputs) feeds[v.name] = new ort.Tensor(v.dtype, inputs.get(v.name) as Float32Array, v.shape);
    const res = await session.run(feeds);
    return session.outputNames.map((n) => res[n].data as Float32Array);
  } finally {
    await session.release();
  }
}

function expectClose(a: Float32Array[], b: Float32Array[], atol = 1e-4, rtol = 1e-3): void {
  expect(a.length).toBe(b.length);
  a.forEach((x, k) => {
    expect(x.length).toBe(b[k].length);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - b[k][i]) - (atol + rtol * Math.abs(b[k][i])));
    expect(worst, `output ${k}`).toBeLessThanOrEqual(0);
  });
}

describe('graph optimisation passes', () => {
  it('conv + batchnorm folding: MobileNetV2 and ResNet-50 lose every foldable BatchNormalization, outputs unchanged', async () => {
    for (const name of ['mobilenet_v2', 'resnet50']) {
      const g = materializeWeights(buildModel(name, {}), { seed: 0 });
      const bns = g.nodes.filter((n) => n.op === 'BatchNormalization').length;
      const f = foldConvBatchNorm(g);
      expect(f.nodes.filter((n) => n.op === 'BatchNormalization').length, name).toBe(0);
      expect(f.nodes.length).toBe(g.nodes.length - bns);
      expect(
        f.initializers.some((i) => i.role === 'mean' || i.role === 'var'),
        name,
      ).toBe(false);
      expectClose(await ortOutputs(f), await ortOutputs(g));
    }
  }, 120_000);

  it('a Conv whose output has another reader keeps its BatchNormalization', () => {
    const b = new GraphBuilder('shared');
    const x = b.input('x', [1, 3, 8, 8]);
    const c = b.conv(x, { out: 4, kernel: 3, pad: 1 });
    b.output(b.add(b.batchNorm(c), c));
    const g = b.build();
    expect(foldConvBatchNorm(g)).toBe(g);
  });

  it('identity and dead-code elimination rewire readers and drop what reaches no output', async () => {
    const b = new GraphBuilder('dropouts');
    const x = b.input('x', [1, 3, 8, 8]);
    const c = b.relu(b.identity(b.conv(x, { out: 4, kernel: 3, pad: 1, bias: true })));
    b.conv(c, { out: 2, kernel: 1 }); // a dead branch with its own weights
    b.output(b.identity(b.globalAvgPool(b.identity(c))));
    const g = materializeWeights(b.build(), { seed: 0 });
    const i = eliminateIdentities(g);
    // The last Identity produces the graph output and stays.
    expect(i.nodes.filter((n) => n.op === 'Identity').length).toBe(1);
    const d = eliminateDeadCode(i);
    expect(d.nodes.map((n) => n.op)).toEqual(['Conv', 'Relu', 'GlobalAveragePool', 'Identity']);
    expect(d.initializers.length).toBe(2);
    expectClose(await ortOutputs(d), await ortOutputs(g));
    const all = optimizeGraph(g);
    expect(all.passes.map((p) => [p.pass, p.nodesBefore, p.nodesAfter])).toEqual([
      ['identity elimination', 7, 5],
      ['layernorm and gelu pattern fusion', 5, 5],
      ['conv + batchnorm folding', 5, 5],
      ['epilogue fusion (residual add, activation)', 5, 4],
      ['dead-code elimination', 4, 3],
    ]);
  });

  it('epilogue fusion: ResNet-50, MobileNetV2 and a BERT layer keep their outputs; activations ride on Conv, Add and MatMul', async () => {
    for (const name of ['resnet50', 'mobilenet_v2', 'bert_layer']) {
      const g = materializeWeights(buildModel(name, {}), { seed: 0 });
      const f = fuseEpilogues(foldConvBatchNorm(g));
      const left = f.nodes.filter((n) => ['Relu', 'Clip', 'Gelu'].includes(n.op)).length;
      expect(left, name).toBe(0);
      expectClose(await ortOutputs(f), await ortOutputs(g));
    }
  }, 120_000);

  it('epilogue fusion leaves a tensor with two readers or a graph output alone, and a residual out of a Conv when asked', () => {
    const b = new GraphBuilder('shared');
    const x = b.input('x', [1, 3, 8, 8]);
    const c = b.conv(x, { out: 3, kernel: 3, pad: 1, name: 'c' });
    const r = b.relu(b.add(c, x, 'res'), 'r');
    const d = b.conv(r, { out: 3, kernel: 1, name: 'd' });
    b.output(b.relu(d, 'dr'));
    b.output(d); // d is a graph output: its Relu stays
    const g = b.build();
    const f = fuseEpilogues(g, { residualInto: ['Gemm', 'MatMul'] });
    expect(f.nodes.map((n) => [n.id, n.attrs.fused_sum ?? 0, n.attrs.fused_activation ?? ''])).toEqual([
      ['c', 0, ''],
      ['res', 0, 'Relu'],
      ['d', 0, ''],
      ['dr', 0, ''],
    ]);
    const conv = fuseEpilogues(g);
    expect(conv.nodes.map((n) => [n.id, n.inputs.length, n.attrs.fused_sum ?? 0, n.attrs.fused_activation ?? ''])).toEqual([
      ['c', 3, 1, 'Relu'],
      ['d', 2, 0, ''],
      ['dr', 1, 0, ''],
    ]);
    expect(conv.nodes[0].outputs).toEqual(g.nodes.find((n) => n.id === 'r')?.outputs);
  });

  it('LayerNorm and GELU written out op by op fuse back into one operator each, outputs unchanged', async () => {
    const b = new GraphBuilder('decomposed');
    const x = b.input('x', [2, 5, 8]);
    const one = (op: string, ins: string[], attrs: Record<string, number[] | number> = {}) => b.op(op as never, ins, attrs)[0];
    const ln = (h: string, affine: boolean) => {
      const d = b.sub(h, b.reduceMean(h, [-1], true));
      const v = b.reduceMean(one('Pow', [d, b.constant(2)]), [-1], true);
      const n = b.div(d, one('Sqrt', [b.add(v, b.constant(1e-5))]));
      if (!affine) return n;
      const gamma = b.param(`g${h}`, [8], 'gamma', { data: Float32Array.from({ length: 8 }, (_, i) => 0.5 + i / 8) });
      const beta = b.param(`b${h}`, [8], 'beta', { data: Float32Array.from({ length: 8 }, (_, i) => i / 10 - 0.3) });
      return b.add(b.mul(n, gamma), beta);
    };
    const geluA = (h: string) => b.mul(b.mul(h, b.add(one('Erf', [b.div(h, b.constant(Math.SQRT2))]), b.constant(1))), b.constant(0.5));
    const geluB = (h: string) => b.mul(b.mul(h, b.constant(0.5)), b.add(b.constant(1), one('Erf', [b.mul(h, b.constant(Math.SQRT1_2))])));
    const h1 = geluA(ln(x, true));
    const h2 = geluB(ln(b.add(b.matmul(h1, b.param('w', [8, 8], 'weight')), b.param('wb', [8], 'bias')), false));
    b.output(h2);
    const g = materializeWeights(b.build(), { seed: 0 });
    const f = fuseGelus(fuseLayerNorms(g));
    expect(f.nodes.map((n) => n.op)).toEqual(['LayerNormalization', 'Gelu', 'MatMul', 'Add', 'LayerNormalization', 'Gelu']);
    expect(f.nodes[0].attrs).toEqual({ axis: 2, epsilon: 1e-5 });
    expectClose(await ortOutputs(eliminateDeadCode(f)), await ortOutputs(g));
    // A mean over other axes than the trailing ones is no LayerNorm: left alone.
    const c = new GraphBuilder('not_ln');
    const y = c.input('y', [2, 5, 8]);
    const d = c.sub(y, c.reduceMean(y, [1], true));
    c.output(c.div(d, c.op('Sqrt', [c.add(c.reduceMean(c.mul(d, d), [1], true), c.constant(1e-5))])[0]));
    const other = materializeWeights(c.build(), { seed: 0 });
    expect(fuseLayerNorms(other)).toBe(other);
  });

  it('Inception-v3 goes from 313 operators to 125, about the 119 IOS schedules; graph --optimize reports each pass', async () => {
    const g = buildModel('inception_v3', {});
    expect(g.nodes.length).toBe(313);
    const o = optimizeGraph(g);
    expect(o.passes.map((p) => p.nodesAfter)).toEqual([313, 313, 219, 125, 125]);
    const out = JSON.parse(await cli('graph', 'inception_v3', '--optimize', '--json'));
    expect(out.nodes).toBe(125);
    expect(out.passes[2]).toEqual({ pass: 'conv + batchnorm folding', nodesBefore: 313, nodesAfter: 219 });
    expect(out.passes[3]).toEqual({ pass: 'epilogue fusion (residual add, activation)', nodesBefore: 219, nodesAfter: 125 });
  });
});
