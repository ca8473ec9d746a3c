/**
 * Shared by the native executor tests: onnxruntime reference outputs for a graph (same seed, same
 * inputs as the native model), the comparison rule and small graphs covering every IR op.
 */
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../graphs/builder.js';
import type { Graph } from '../graphs/ir.js';
import { exportOnnx } from '../graphs/onnx/export.js';
import type { TensorData } from '../graphs/weights.js';
import { twoBranchGraph } from '../native/bench.js';
import type { MemoryPlan } from '../native/doc.js';

ort.env.logLevel = 'error';

/** onnxruntime outputs by name for the graph exported with `seed` and the given inputs. */
export async function ortOutputs(graph: Graph, seed: number, inputs: TensorData[], threads = 2): Promise<Map<string, Float32Array | BigInt64Array>> {
  const session = await ort.InferenceSession.create(exportOnnx(graph, { seed }), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'basic',
  });
  const feeds: Record<string, ort.Tensor> = {};
  graph.inputs.forEach((v, i) => {
    const data = inputs[i];
    feeds[v.name] = data instanceof BigInt64Array ? new ort.Tensor('int64', data, v.shape) : new ort.Tensor('float32', data, v.shape);
  });
  const res = await session.run(feeds);
  await session.release();
  return new Map(Object.entries(res).map(([k, t]) => [k, t.data as Float32Array | BigInt64Array]));
}

/** The brief's rule: max|a − b| / max(max|b|, 1e-6). */
export function relDiff(a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    const x = Number(a[i]);
    const y = Number(b[i]);
    if (!Number.isFinite(x) || !Number.isFinite(y)) return Number.POSITIVE_INFINITY;
    num = Math.max(num, Math.abs(x - y));
    den = Math.max(den, Math.abs(y));
  }
  return num / Math.max(den, 1e-6);
}

/** Convolutions in every form, normalization, activations and pooling rules. */
export function convOps(): Graph {
  const b = new GraphBuilder('conv_ops');
  const x = b.input('image', [2, 4, 13, 13]);
  const c1 = b.relu(b.batchNorm(b.conv(x, { out: 8, kernel: 3, pad: [0, 1, 1, 0], stride: 2, bias: true })));
  const c2 = b.conv(x, { out: 6, kernel: 3, pad: 2, dilation: 2, group: 2 });
  const dw = b.clip(b.conv(c2, { out: 6, kernel: 3, pad: 1, group: 6 }), -0.5, 0.7);
  const ct = b.convTranspose(c1, { out: 6, kernel: 3, stride: 2, pad: 1, outputPadding: 1, bias: true });
  const ct2 = b.convTranspose(ct, { out: 4, kernel: 2, stride: 1, group: 2 });
  const mp = b.maxPool(dw, { kernel: 3, stride: 2, pad: 1, ceil: true });
  const ap1 = b.avgPool(dw, { kernel: 3, stride: 2, pad: 1, ceil: true, countIncludePad: true });
  const ap2 = b.avgPool(dw, { kernel: 3, stride: 2, pad: 1, ceil: true, countIncludePad: false });
  const ap3 = b.avgPool(dw, { kernel: 2, stride: 2, countIncludePad: true });
  const act = b.concat([b.sigmoid(mp), b.tanh(ap1), b.hardSigmoid(ap2, 0.3, 0.4), b.gelu(mp)], 1);
  b.output(act);
  b.output(ap3);
  b.output(ct2);
  b.output(b.softmax(b.linear(b.flatten(b.globalAvgPool(act)), 5), -1));
  return b.build();
}

/** Broadcasting binaries (either side), transposes, reshapes, matmuls, layer norm, softmax, Gemm forms. */
export function tensorOps(): Graph {
  const b = new GraphBuilder('tensor_ops');
  const x = b.input('x', [2, 3, 4, 5]);
  const y = b.input('y', [3, 1, 5]);
  const s = b.sub(b.constant([0.5, -1, 2], [1, 3, 1, 1]), x); // src0 broadcast, not commutative
  const d = b.div(x, b.add(b.mul(y, y), b.constant(1)));
  const m = b.mul(y, s); // src0 broadcast, commutative
  const t = b.transpose(b.add(d, m), [0, 2, 3, 1]); // [2,4,5,3]
  const mm = b.matmul(b.reshape(t, [2, 4, 15]), b.param('w', [15, 6], 'weight')); // weight on the right
  const bm = b.matmul(b.reshape(x, [2, 3, 4, 5]), b.transpose(b.reshape(y, [1, 3, 1, 5]), [0, 1, 3, 2])); // batch broadcast
  const ln = b.layerNorm(mm);
  const sm = b.softmax(b.reshape(bm, [2, 3, 4]), 1);
  const flat = b.flatten(ln, 1);
  const g1 = b.op('Gemm', [flat, b.param('gw', [7, 24], 'weight'), b.param('gc', [7], 'bias')], { transB: 1, alpha: 0.5, beta: 2 })[0];
  const g2 = b.op('Gemm', [b.transpose(g1, [1, 0]), b.param('gw2', [7, 3], 'weight')], { transA: 1 })[0];
  const g3 = b.op('Gemm', [g2, b.param('gw3', [3, 4], 'weight'), b.param('gc3', [2, 4], 'bias')], { alpha: 1, beta: 1 })[0];
  b.output(sm);
  b.output(g3);
  b.output(b.identity(b.reduceMean(ln, [1], false)));
  return b.build();
}

/** Gather (int64 indices from an input and from a constant), Expand, reductions, Pad, Resize, Split. */
export function indexOps(): Graph {
  const b = new GraphBuilder('index_ops');
  const ids = b.input('ids', [2, 5], 'int64');
  const img = b.input('img', [1, 3, 6, 7]);
  const emb = b.embedding(ids, 11, 4); // [2,5,4]
  const e = b.expand(b.reduceMean(emb, [2], true), [2, 5, 4]);
  const r = b.reduceSum(b.mul(emb, e), [1], false);
  const g = b.op('Gather', [b.param('t3', [3, 9], 'embedding'), b.param('i3', [2], 'const', { data: BigInt64Array.of(2n, -3n) })], { axis: 1 })[0];
  const p = b.pad(img, [0, 0, 1, -1, 0, 0, 2, 1], 0.25);
  const [s1, s2] = b.split(p, [1, 2], 1);
  const near = b.resize(s2, [1, 1, 2, 2]);
  const lin = b.resize(s1, [1, 1, 1.5, 1.5], 'linear');
  const ac = b.op('Resize', [s1], { scales: [1, 1, 7 / 3, 7 / 3], mode: 'linear', coordinate_transformation_mode: 'align_corners' })[0];
  const asym = b.op('Resize', [s2], { scales: [1, 1, 0.5, 0.5], mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' })[0];
  const pt = b.op('Resize', [s2], {
    scales: [1, 1, 3, 2],
    mode: 'nearest',
    coordinate_transformation_mode: 'pytorch_half_pixel',
    nearest_mode: 'round_prefer_ceil',
  })[0];
  b.output(r);
  b.output(g);
  b.output(near);
  b.output(lin);
  b.output(ac);
  b.output(asym);
  b.output(pt);
  return b.build();
}

/** The elementwise, slicing and normalisation ops real exports use (layer norms spelled out, GELU by Erf, ...). */
export function mathOps(): Graph {
  const b = new GraphBuilder('math_ops');
  const x = b.input('x', [2, 4, 6, 5]);
  const one = (op: string, ins: string[], attrs: Record<string, number | number[]> = {}) => b.op(op as never, ins, attrs)[0];
  const pos = b.add(one('Abs', [x]), b.constant(0.5));
  const p = one('Pow', [pos, b.constant(2)]);
  const p2 = one('Pow', [pos, b.param('e', [1, 4, 1, 1], 'gamma')]);
  const lg = one('Log', [one('Sqrt', [p])]);
  const ex = one('Exp', [one('Neg', [one('Reciprocal', [pos])])]);
  const gelu = b.mul(b.mul(x, b.constant(0.5)), b.add(one('Erf', [b.mul(x, b.constant(Math.SQRT1_2))]), b.constant(1)));
  const mx = one('Max', [lg, ex]);
  const mn = one('Min', [gelu, b.param('cap', [5], 'bias')]);
  const act = b.add(b.add(one('LeakyRelu', [mx], { alpha: 0.1 }), one('HardSwish', [mn])), one('PRelu', [x, b.param('slope', [4, 1, 1], 'gamma')]));
  const inorm = one('InstanceNormalization', [b.add(act, p2), b.param('in_g', [4], 'gamma'), b.param('in_b', [4], 'beta')], { epsilon: 1e-3 });
  const sl = one('Slice', [inorm], { starts: [5, 1], ends: [-7, 5], axes: [2, 3], steps: [-2, 2] });
  const rm = one('ReduceMax', [sl], { axes: [1, 3], keepdims: 1 });
  b.output(rm);
  b.output(one('Slice', [inorm], { starts: [1], ends: [3], axes: [1], steps: [1] }));
  b.output(b.op('Pad', [x], { pads: [0, 0, 2, 1, 0, 0, 1, 3], mode: 'reflect' })[0]);
  b.output(b.op('Pad', [x], { pads: [0, 1, 0, 2, 0, 0, 3, 0], mode: 'edge' })[0]);
  return b.build();
}

/**
 * Every epilogue form, unfused: Conv + Relu, Conv + residual Add + Relu, Gemm + residual + Clip,
 * batched MatMul + residual + Gelu, Add + LeakyRelu, and a two-sided broadcast Add + HardSwish
 * (which the CPU backend runs on its own loop, so its epilogue takes the composite path).
 * `fuseEpilogues(epilogueOps(), { residualInto: ['Conv', 'Gemm', 'MatMul'] })` fuses all of them.
 */
export function epilogueOps(): Graph {
  const b = new GraphBuilder('epilogue_ops');
  const x = b.input('x', [1, 4, 9, 9]);
  const one = (op: string, ins: string[], attrs: Record<string, number | string> = {}) => b.op(op as never, ins, attrs)[0];
  const c1 = b.relu(b.conv(x, { out: 8, kernel: 3, pad: 1, bias: true, name: 'c1' }));
  const c2 = b.conv(c1, { out: 8, kernel: 3, pad: 1, name: 'c2' });
  const short = b.conv(x, { out: 8, kernel: 1, name: 'short' });
  const res = b.relu(b.add(c2, short)); // [1,8,9,9]
  const flat = b.flatten(b.globalAvgPool(res), 1); // [1,8]
  const g = one('Gemm', [flat, b.param('gw', [8, 8], 'weight'), b.param('gb', [8], 'bias')]);
  const gc = b.clip(b.add(g, flat), -0.3, 0.4);
  const seq = b.reshape(res, [1, 8, 81]);
  const mm = b.matmul(seq, b.param('mw', [81, 81], 'weight'));
  const mg = b.gelu(b.add(seq, mm));
  const lr = one('LeakyRelu', [b.add(mg, b.constant(0.25))], { alpha: 0.2 });
  const hs = one('HardSwish', [b.add(b.reshape(gc, [1, 8, 1]), b.reduceMean(lr, [1], true))]);
  b.output(hs);
  b.output(lr);
  return b.build();
}

/** Two independent conv branches joined at the end: the multi-stream case (the bench's graph, test sizes). */
export function twoBranch(size = 32, depth = 4, channels = 16): Graph {
  return twoBranchGraph(size, depth, channels);
}

/** Sibling convolutions of one input (1×1, 3×3, 5×5): what a merge stage fuses. */
export function siblings(): Graph {
  const b = new GraphBuilder('siblings');
  const x = b.input('x', [1, 8, 12, 12]);
  const a = b.conv(x, { out: 4, kernel: 1, name: 'k1', bias: true });
  const c = b.conv(x, { out: 6, kernel: 3, pad: 1, name: 'k3' });
  const d = b.conv(x, { out: 5, kernel: 5, pad: 2, name: 'k5', bias: true });
  b.output(b.concat([a, c, d], 1));
  return b.build();
}

/**
 * Concats of every kind for in-place Concat (native/src/inplace.cpp): `both` takes two conv outputs
 * (in place at batch 1), one of which is read again after it; `withInput` takes a graph input and
 * `nested` takes `both` itself (both copy).
 */
export function concats(batch = 1): Graph {
  const b = new GraphBuilder(`concats_b${batch}`);
  const x = b.input('x', [batch, 16, 12, 12]);
  const a = b.relu(b.conv(x, { out: 16, kernel: 3, pad: 1, name: 'left', bias: true }));
  const c = b.conv(x, { out: 16, kernel: 1, name: 'right' });
  const both = b.concat([a, c], 1, 'both');
  const d = b.conv(both, { out: 16, kernel: 1, name: 'mix' });
  const e = b.add(d, a, 'again'); // `a` is read after `both` was consumed
  b.output(b.concat([e, x], 1, 'withInput'));
  b.output(b.concat([both, e], 1, 'nested'));
  return b.build();
}

/** Each activation in its own 64-byte aligned region: a plan with no reuse (always valid). */
export function naivePlan(graph: Graph): MemoryPlan {
  const offsets: Record<string, number> = {};
  let size = 0;
  const place = (name: string, bytes: number) => {
    offsets[name] = size;
    size += Math.ceil(bytes / 64) * 64;
  };
  for (const v of graph.inputs) place(v.name, v.shape.reduce((a, b) => a * b, 1) * (v.dtype === 'int64' ? 8 : 4));
  for (const n of graph.nodes) {
    n.outputs.forEach((t, k) => {
      place(t, n.outShapes[k].reduce((a, b) => a * b, 1) * (n.outDtypes[k] === 'int64' ? 8 : 4));
    });
  }
  return { arenaBytes: size, offsets };
}
