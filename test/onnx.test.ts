/**
 * ONNX bridge: IR -> ONNX -> onnxruntime, checked against the IR's inferred shapes and against the
 * naive reference evaluator; IR -> ONNX -> IR round trips; hand-built ONNX files exercising the
 * import-only forms (Constant nodes, auto_pad, Dropout, sizes, opset-11 Softmax/Clip, dim_param);
 * malformed and unsupported files; seeded weights and inputs; zoo models in onnxruntime.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import seedrandom from 'seedrandom';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graphs/builder.js';
import { type AttrValue, type Graph, numel } from '../graphs/ir.js';
import { exportOnnx, saveOnnxFile } from '../graphs/onnx/export.js';
import { importOnnx, loadOnnxFile, parseInputShape } from '../graphs/onnx/import.js';
import { evaluate } from '../graphs/reference.js';
import { materializeWeights, randomInputs } from '../graphs/weights.js';
import { buildModel } from '../graphs/zoo/index.js';
import { cli } from './cli-helpers.js';
import { mathOps } from './native-helpers.js';
import { A, af, ai, ais, allFinite, astr, expectGraphError, modelBytes, relErr, runOrt, tensorProto, uniform, vi } from './onnx-helpers.js';

ort.env.logLevel = 'error';

// ---------- small graphs covering every IR op ----------

function convNet(batch = 2): Graph {
  const b = new GraphBuilder('convnet');
  let x = b.input('image', [batch, 3, 17, 17]);
  x = b.relu(b.batchNorm(b.conv(x, { out: 8, kernel: 3, pad: 1, bias: true })));
  x = b.maxPool(x, { kernel: 3, stride: 2, pad: 1 });
  const [p, q] = b.split(x, [3, 5]);
  const pa = b.relu(b.conv(p, { out: 4, kernel: 1 }));
  const qa = b.conv(b.pad(q, [0, 0, 1, 0, 0, 0, 0, 1]), { out: 6, kernel: 3, pad: [1, 2, 2, 1], dilation: 2, group: 1, stride: 1 });
  const qg = b.conv(b.conv(q, { out: 6, kernel: 1 }), { out: 6, kernel: 3, pad: 1, group: 3 });
  x = b.concat([pa, b.identity(qa), qg]);
  x = b.avgPool(x, { kernel: 3, stride: 2, pad: 1, ceil: true, countIncludePad: false });
  x = b.avgPool(x, { kernel: 2, stride: 2, pad: 1, ceil: true, countIncludePad: true });
  x = b.maxPool(x, { kernel: 2, stride: 1, ceil: true });
  const [s1, s2] = b.op('Split', [x], { axis: 1 }, { outputs: 2 }); // equal split, no sizes
  x = b.add(s1, s2);
  b.output(b.softmax(b.linear(b.flatten(b.globalAvgPool(x)), 10)));
  return b.build();
}

function transformer(batch = 1): Graph {
  const b = new GraphBuilder('transformer');
  const [S, D, H] = [8, 16, 2];
  const x0 = b.input('tokens', [batch, S, D]);
  const x = b.layerNorm(x0);
  const heads = (t: ReturnType<typeof b.input>) => b.transpose(b.reshape(t, [0, S, H, D / H]), [0, 2, 1, 3]);
  const q = heads(b.dense(x, D));
  const kT = b.transpose(b.reshape(b.dense(x, D), [batch, S, H, D / H]), [0, 2, 3, 1]);
  const v = heads(b.dense(x, D));
  const att = b.softmax(b.mul(b.matmul(q, kT), b.constant(1 / Math.sqrt(D / H))), -1);
  const ctx = b.reshape(b.transpose(b.matmul(att, v), [0, 2, 1, 3]), [-1, S, D]);
  const y = b.add(x0, b.dense(ctx, D));
  const h = b.dense(b.gelu(b.dense(b.layerNorm(y), 2 * D)), 2 * D);
  const h2 = b.dense(b.op('Gelu', [h], { approximate: 'tanh' })[0], D);
  const z = b.add(y, h2);
  const g = b.linear(b.reshape(z, [batch * S, D]), 4, { bias: false });
  b.output(b.op('Gemm', [g, b.param('w2', [4, 3], 'weight'), b.param('c2', [3], 'bias')], { alpha: 0.5, beta: 2 })[0]);
  return b.build();
}

function gatherNet(batch = 2): Graph {
  const b = new GraphBuilder('gathernet');
  const ids = b.input('ids', [batch, 5], 'int64');
  const pos = b.input('pos', [batch, 5], 'int64');
  const emb = b.embedding(ids, 20, 8);
  const scale = b.expand(b.reduceMean(emb, [2], true), [batch, 5, 8]);
  const pooled = b.reduceSum(b.mul(emb, scale), [1], false);
  const t2 = b.op('Gather', [b.param('table2', [6, 7], 'embedding'), b.reshape(pos, [batch * 5])], { axis: 0 })[0];
  const t3 = b.op('Gather', [b.param('table3', [3, 9], 'embedding'), b.param('idx3', [2], 'const', { data: BigInt64Array.of(2n, 0n) })], { axis: 1 })[0];
  b.output(pooled);
  b.output(b.reduceSum(t2, [0], true));
  b.output(t3);
  return b.build();
}

function miscNet(): Graph {
  const b = new GraphBuilder('misc');
  let x = b.input('x', [1, 4, 8, 8]);
  x = b.convTranspose(x, { out: 6, kernel: 3, stride: 2, pad: 1, outputPadding: 1, bias: true });
  const g = b.convTranspose(x, { out: 4, kernel: 2, stride: 1, group: 2 });
  const near = b.resize(g, [1, 1, 0.5, 0.5]);
  const lin = b.resize(near, [1, 1, 1.5, 1.5], 'linear');
  const third = b.op('Resize', [lin], { scales: [1, 1, 7 / 3, 7 / 3], mode: 'linear', coordinate_transformation_mode: 'align_corners' })[0];
  const asym = b.op('Resize', [lin], { scales: [1, 1, 2, 2], mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' })[0];
  const p = b.pad(asym, [0, 0, 1, 2, 0, 0, 2, 1], 0.5);
  const c = b.clip(p, -0.5, 0.5);
  const hs = b.hardSigmoid(c, 0.3, 0.4);
  const sg = b.sigmoid(b.tanh(hs));
  const d = b.div(sg, b.add(b.sigmoid(c), b.constant(1)));
  const m = b.mul(b.sub(d, b.constant([0.1, 0.2, 0.3, 0.4], [1, 4, 1, 1])), d);
  b.output(m);
  b.output(b.relu6(third));
  return b.build();
}

const SMALL: Record<string, () => Graph> = { convNet, transformer, gatherNet, miscNet, mathOps };

// ---------- helpers ----------

/** Attrs compared by value: booleans as 0/1, floats at float32 precision (ONNX stores float32). */
function normAttrs(attrs: Record<string, AttrValue>): Record<string, AttrValue> {
  const f = (v: AttrValue): AttrValue =>
    typeof v === 'boolean' ? (v ? 1 : 0) : typeof v === 'number' ? Math.fround(v) : Array.isArray(v) ? v.map(Math.fround) : v;
  return Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, f(v)]));
}

function expectSameGraph(back: Graph, orig: Graph): void {
  expect(back.nodes.map((n) => n.id)).toEqual(orig.nodes.map((n) => n.id));
  back.nodes.forEach((n, i) => {
    const o = orig.nodes[i];
    expect({ op: n.op, inputs: n.inputs, outputs: n.outputs, attrs: normAttrs(n.attrs), shapes: n.outShapes, macs: n.macs, params: n.params }).toEqual({
      op: o.op,
      inputs: o.inputs,
      outputs: o.outputs,
      attrs: normAttrs(o.attrs),
      shapes: o.outShapes,
      macs: o.macs,
      params: o.params,
    });
  });
  expect(back.inputs).toEqual(orig.inputs);
  expect(back.outputs).toEqual(orig.outputs);
  const mat = materializeWeights(orig);
  expect(back.initializers.map(({ data: _d, ...r }) => r)).toEqual(mat.initializers.map(({ data: _d, ...r }) => r));
  back.initializers.forEach((init, i) => {
    expect(init.data).toEqual(mat.initializers[i].data);
  });
}

// ---------- tests ----------

describe('export to onnxruntime', () => {
  for (const [name, build] of Object.entries(SMALL)) {
    it(`${name}: onnxruntime output has the IR shapes and matches the reference evaluator`, async () => {
      const graph = build();
      const inputs = randomInputs(graph, 7);
      const got = await runOrt(exportOnnx(graph, { seed: 3 }), graph, inputs);
      const ref = evaluate(graph, inputs, { seed: 3 });
      for (const o of graph.outputs) {
        const t = got.get(o.name);
        expect(t, o.name).toBeDefined();
        expect([...(t?.dims ?? [])]).toEqual(o.shape);
        expect(allFinite(t?.data ?? [])).toBe(true);
        const r = ref.get(o.name) as Float32Array;
        expect(relErr(r, t?.data as Float32Array), `${name}/${o.name}`).toBeLessThanOrEqual(1e-4);
        // A constant output would make the comparison vacuous.
        expect(new Set(t?.data).size).toBeGreaterThan(1);
      }
    });
  }

  for (const opset of [11, 13, 18]) {
    it(`opset ${opset}: folded attributes go back as the opset's inputs/attrs and round-trip`, async () => {
      for (const graph of [convNet(), gatherNet(), miscNet()]) {
        const bytes = exportOnnx(graph, { opset });
        const inputs = randomInputs(graph, 1);
        const got = await runOrt(bytes, graph, inputs);
        const ref = evaluate(graph, inputs);
        for (const o of graph.outputs) expect(relErr(ref.get(o.name) as Float32Array, got.get(o.name)?.data as Float32Array)).toBeLessThanOrEqual(1e-4);
        expectSameGraph(importOnnx(bytes, `${graph.name}@${opset}`), graph);
      }
    });
  }

  it('refuses ops the opset lacks, naming the node', () => {
    expectGraphError(() => exportOnnx(transformer(), { opset: 18 }), 'Gelu needs opset 20', "node 'gelu_1'");
    expectGraphError(() => exportOnnx(transformer(), { opset: 13 }), 'LayerNormalization needs opset 17');
    expectGraphError(() => exportOnnx(convNet(), { opset: 9 }), 'opset 9 is not supported');
  });
});

describe('round trip IR -> ONNX -> IR', () => {
  for (const [name, build] of Object.entries(SMALL)) {
    it(`${name}: same nodes, attrs, shapes, initializers and roles`, () => {
      const graph = build();
      expectSameGraph(importOnnx(exportOnnx(graph), name), graph);
    });
  }

  it('saveOnnxFile / loadOnnxFile through a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'topsched-onnx-'));
    try {
      const path = join(dir, 'net.onnx');
      saveOnnxFile(convNet(1), path, { seed: 5 });
      const back = loadOnnxFile(path);
      expect(back.batch).toBe(1);
      expect(back.initializers[0].data).toEqual(materializeWeights(convNet(1), { seed: 5 }).initializers[0].data);
      expectGraphError(() => loadOnnxFile(join(dir, 'missing.onnx')), 'missing.onnx', 'cannot read');
      writeFileSync(join(dir, 'a-file'), '');
      expectGraphError(() => saveOnnxFile(convNet(1), join(dir, 'a-file/x.onnx')), 'x.onnx', 'cannot write');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('import of foreign ONNX forms', () => {
  // An opset-11 model written the way exporters write it: Constant nodes for shapes, auto_pad,
  // Dropout with its mask, Clip with only max, Resize by sizes, Softmax on a 2-D input, dim_param batch.
  const handModel = () => {
    const w = tensorProto('w', [4, 3, 3, 3], uniform(108, 'w'));
    const bias = tensorProto('bias', [4], uniform(4, 'b'));
    const fc = tensorProto('fc', [4 * 3 * 3, 5], uniform(180, 'fc'));
    return modelBytes({
      opset: 11,
      inputs: [vi('x', ['N', 3, 10, 10])],
      outputs: [vi('prob', ['N', 5])],
      inits: [w, bias, fc],
      nodes: [
        { name: 'conv', opType: 'Conv', input: ['x', 'w', 'bias'], output: ['c'], attribute: [astr('auto_pad', 'SAME_UPPER'), ais('strides', [2, 2])] },
        { name: 'drop', opType: 'Dropout', input: ['c'], output: ['d', 'mask'], attribute: [af('ratio', 0.3)] },
        { name: 'hi', opType: 'Constant', input: [], output: ['six'], attribute: [{ name: 'value', type: A.TENSOR, t: tensorProto('', [], [0.4]) }] },
        { name: 'clip', opType: 'Clip', input: ['d', '', 'six'], output: ['r'] },
        { name: 'pool', opType: 'MaxPool', input: ['r'], output: ['p'], attribute: [ais('kernel_shape', [2, 2]), astr('auto_pad', 'SAME_LOWER')] },
        {
          name: 'sizes',
          opType: 'Constant',
          input: [],
          output: ['sz'],
          attribute: [{ name: 'value', type: A.TENSOR, t: tensorProto('', [4], [1, 4, 3, 3], true) }],
        },
        { name: 'roi', opType: 'Constant', input: [], output: ['roi'], attribute: [{ name: 'value_floats', type: A.FLOATS, floats: [] }] },
        { name: 'scales', opType: 'Constant', input: [], output: ['sc'], attribute: [{ name: 'value_floats', type: A.FLOATS, floats: [] }] },
        { name: 'up', opType: 'Resize', input: ['p', 'roi', 'sc', 'sz'], output: ['u'], attribute: [astr('mode', 'linear')] },
        { name: 'shape', opType: 'Constant', input: [], output: ['shp'], attribute: [{ name: 'value_ints', type: A.INTS, ints: [0, -1] }] },
        { name: 'flat', opType: 'Reshape', input: ['u', 'shp'], output: ['f'] },
        { name: 'mm', opType: 'MatMul', input: ['f', 'fc'], output: ['logits'] },
        { name: 'sm', opType: 'Softmax', input: ['logits'], output: ['prob'] },
      ],
    });
  };

  it('folds constants, resolves auto_pad and sizes, and computes what onnxruntime computes', async () => {
    const bytes = handModel();
    // Resize by sizes pins the batch (sizes[0] = 1), as in exported files; dim_param batch is tested below.
    const g = importOnnx(bytes, 'hand.onnx');
    expect(g.batch).toBe(1);
    const byId = new Map(g.nodes.map((n) => [n.id, n]));
    expect(byId.get('conv')?.attrs).toEqual({ strides: [2, 2], pads: [0, 0, 1, 1] });
    expect(byId.get('conv')?.outShapes[0]).toEqual([1, 4, 5, 5]);
    expect(byId.get('drop')?.op).toBe('Identity');
    expect(byId.get('clip')?.attrs).toEqual({ max: 0.4 });
    expect(byId.get('pool')?.attrs).toEqual({ kernel_shape: [2, 2], pads: [1, 1, 0, 0] });
    expect(byId.get('up')?.outShapes[0]).toEqual([1, 4, 3, 3]);
    expect(byId.get('flat')?.attrs).toEqual({ shape: [0, -1] });
    expect(g.initializers.map((i) => [i.name, i.role, i.trainable])).toEqual([
      ['w', 'weight', true],
      ['bias', 'bias', true],
      ['fc', 'weight', true],
    ]);
    // The original file in onnxruntime vs our import in the reference evaluator and re-export.
    const inputs = randomInputs(g, 2);
    const orig = await runOrt(bytes, g, inputs);
    const ref = evaluate(g, inputs).get('prob') as Float32Array;
    const again = await runOrt(exportOnnx(g), g, inputs);
    expect(relErr(ref, orig.get('prob')?.data as Float32Array)).toBeLessThanOrEqual(1e-4);
    expect(relErr(again.get('prob')?.data as Float32Array, orig.get('prob')?.data as Float32Array)).toBeLessThanOrEqual(1e-5);
  });

  it('opset differences: Split/Reduce axes as attributes before 13, Softmax before 13, Pad axes at 18', () => {
    const x = vi('x', ['batch_size', 6, 4]);
    const old = importOnnx(
      modelBytes({
        opset: 11,
        inputs: [x],
        outputs: [vi('a', [2, 4, 4]), vi('s', [2, 1, 4]), vi('m', [2, 6, 4])],
        nodes: [
          { name: 'split', opType: 'Split', input: ['x'], output: ['a', 'b'], attribute: [ai('axis', 1), ais('split', [4, 2])] },
          { name: 'sum', opType: 'ReduceSum', input: ['x'], output: ['s'], attribute: [ais('axes', [1])] },
          { name: 'sm', opType: 'Softmax', input: ['x'], output: ['m'], attribute: [ai('axis', 2)] },
        ],
      }),
      'old.onnx',
      { batch: 2 },
    );
    expect(old.inputs[0].shape).toEqual([2, 6, 4]);
    expect(old.outputs.map((o) => o.shape)).toEqual([
      [2, 4, 4],
      [2, 1, 4],
      [2, 6, 4],
    ]);
    expect(old.nodes.map((n) => n.attrs)).toEqual([{ axis: 1, split: [4, 2] }, { axes: [1] }, { axis: 2 }]);
    expectGraphError(
      () =>
        importOnnx(
          modelBytes({ opset: 11, inputs: [x], outputs: [vi('m', [2, 6, 4])], nodes: [{ name: 'sm', opType: 'Softmax', input: ['x'], output: ['m'] }] }),
          'sm11.onnx',
        ),
      'sm11.onnx',
      "node 'sm'",
      'only the last axis',
    );
    const n18 = importOnnx(
      modelBytes({
        opset: 18,
        inputs: [x],
        outputs: [vi('a', [2, 3, 4]), vi('p', [2, 6, 7]), vi('r', [2, 1, 1])],
        inits: [tensorProto('pads', [2], [1, 2], true), tensorProto('axes', [1], [2], true), tensorProto('rax', [2], [1, 2], true)],
        nodes: [
          { name: 'split', opType: 'Split', input: ['x'], output: ['a', 'b'], attribute: [ai('axis', 1), ai('num_outputs', 2)] },
          { name: 'pad', opType: 'Pad', input: ['x', 'pads', '', 'axes'], output: ['p'] },
          { name: 'mean', opType: 'ReduceMean', input: ['x', 'rax'], output: ['r'] },
        ],
      }),
      'new.onnx',
      { batch: 2 },
    );
    expect(n18.nodes.map((n) => n.attrs)).toEqual([{ axis: 1 }, { pads: [0, 0, 1, 0, 0, 2] }, { axes: [1, 2] }]);
    expect(n18.initializers).toEqual([]); // every constant was folded
  });

  it('refuses what the IR cannot hold, naming file, node and op', () => {
    const x = vi('x', [1, 4]);
    const nms = modelBytes({
      opset: 17,
      inputs: [x],
      outputs: [vi('y', [1, 4])],
      nodes: [{ name: 'nms_7', opType: 'NonMaxSuppression', input: ['x'], output: ['y'] }],
    });
    expectGraphError(() => importOnnx(nms, 'nms.onnx'), 'nms.onnx', "unsupported ops: NonMaxSuppression ×1 (first: node 'nms_7')");
    // Every unsupported op in one error, with its count and first node.
    const many = modelBytes({
      opset: 17,
      inputs: [x],
      outputs: [vi('y', [1, 4])],
      nodes: [
        { name: 'p1', opType: 'TopK', input: ['x', 'x'], output: ['a'] },
        { name: 's1', opType: 'NonZero', input: ['a'], output: ['b'] },
        { name: 'p2', opType: 'TopK', input: ['a', 'x'], output: ['c'] },
        { name: 'ms', opType: 'FusedThing', domain: 'com.microsoft', input: ['c'], output: ['y'] },
      ],
    });
    expectGraphError(
      () => importOnnx(many, 'many.onnx'),
      "many.onnx: unsupported ops: TopK ×2 (first: node 'p1'), NonZero ×1 (first: node 's1'), com.microsoft::FusedThing ×1 (first: node 'ms')",
    );
    const ms = modelBytes({
      opset: 17,
      inputs: [x],
      outputs: [vi('y', [1, 4])],
      nodes: [{ name: 'fg', opType: 'FastGelu', domain: 'com.microsoft', input: ['x'], output: ['y'] }],
    });
    expectGraphError(() => importOnnx(ms, 'ms.onnx'), 'ms.onnx', "com.microsoft::FastGelu ×1 (first: node 'fg')");
    const f16 = modelBytes({
      opset: 17,
      inputs: [x],
      outputs: [vi('y', [1, 4])],
      inits: [{ name: 'h', dims: [4], dataType: 10, rawData: new Uint8Array(8) }],
      nodes: [{ name: 'add', opType: 'Add', input: ['x', 'h'], output: ['y'] }],
    });
    expectGraphError(() => importOnnx(f16, 'half.onnx'), 'half.onnx', "tensor 'h'", 'FLOAT16');
    const dyn = modelBytes({
      opset: 17,
      inputs: [vi('x', [1, 'seq'])],
      outputs: [vi('y', [1, 4])],
      nodes: [{ name: 'id', opType: 'Identity', input: ['x'], output: ['y'] }],
    });
    expectGraphError(
      () => importOnnx(dyn, 'dyn.onnx'),
      'dyn.onnx',
      "input 'x' [1, seq] has a dynamic dim 1 ('seq')",
      'give its shape with --input-shape x=1,<seq>',
    );
    const shp = modelBytes({
      opset: 17,
      inputs: [x, vi('s', [2], 7)],
      outputs: [vi('y', [2, 2])],
      nodes: [{ name: 'rs', opType: 'Reshape', input: ['x', 's'], output: ['y'] }],
    });
    expectGraphError(() => importOnnx(shp, 'shape.onnx'), 'shape.onnx', "node 'rs'", 'must be a constant');
    const mask = modelBytes({
      opset: 17,
      inputs: [x],
      outputs: [vi('y', [1, 4]), vi('m', [1, 4], 9)],
      nodes: [{ name: 'drop', opType: 'Dropout', input: ['x'], output: ['y', 'm'] }],
    });
    expectGraphError(() => importOnnx(mask, 'mask.onnx'), 'mask.onnx', "node 'drop'", "optional output 1 ('m')");
  });

  it('malformed bytes are a GraphError naming the file, never a crash', () => {
    const r = seedrandom('garbage');
    for (let k = 0; k < 20; k++) {
      const junk = Uint8Array.from({ length: 64 + k * 37 }, () => Math.floor(r() * 256));
      expectGraphError(() => importOnnx(junk, `junk${k}.onnx`), `junk${k}.onnx`);
    }
    const good = exportOnnx(convNet(1));
    for (const cut of [0.3, 0.5, 0.9, 0.999]) expectGraphError(() => importOnnx(good.slice(0, Math.floor(good.length * cut)), 'cut.onnx'), 'cut.onnx');
    expectGraphError(() => importOnnx(new Uint8Array(0), 'empty.onnx'), 'empty.onnx', 'no graph');
  });
});

describe('seeded weights and inputs', () => {
  it('values depend on seed and name only, and follow their role', () => {
    const g = convNet(1);
    const a = materializeWeights(g, { seed: 1 });
    const reversed = materializeWeights({ ...g, initializers: [...g.initializers].reverse() }, { seed: 1 });
    for (const init of a.initializers) expect(reversed.initializers.find((i) => i.name === init.name)?.data).toEqual(init.data);
    expect(materializeWeights(g, { seed: 2 }).initializers[0].data).not.toEqual(a.initializers[0].data);
    const range = (name: string) => {
      const d = a.initializers.find((i) => i.name === name)?.data as Float32Array;
      return [Math.min(...d), Math.max(...d)];
    };
    const [vlo, vhi] = range('bn_1.running_var');
    expect(vlo).toBeGreaterThanOrEqual(0.5);
    expect(vhi).toBeLessThanOrEqual(1.5);
    const [glo, ghi] = range('bn_1.weight');
    expect(glo).toBeGreaterThanOrEqual(0.8);
    expect(ghi).toBeLessThanOrEqual(1.2);
    // conv_1 [8, 3, 3, 3] feeding BN -> Relu: He bound sqrt(2)·sqrt(3/27).
    const [wlo, whi] = range('conv_1.weight');
    expect(Math.max(-wlo, whi)).toBeLessThanOrEqual(Math.SQRT2 * Math.sqrt(3 / 27));
    expect(Math.max(-wlo, whi)).toBeGreaterThan(0.9 * Math.SQRT2 * Math.sqrt(3 / 27));
  });

  it('fan-in follows the layout: MatMul [k, n] reads k, Gemm transB [out, in] reads in', () => {
    const b = new GraphBuilder('fan');
    const x = b.input('x', [1, 400]);
    const m = b.dense(x, 10, { bias: false }); // weight [400, 10]: fan_in 400
    const l = b.linear(x, 400, { bias: false }); // weight [400, 400]
    const t = b.linear(b.input('y', [1, 4]), 300, { bias: false }); // weight [300, 4]: fan_in 4
    b.output(m);
    b.output(l);
    b.output(t);
    const w = materializeWeights(b.build()).initializers;
    const bound = (k: number) => Math.max(...Array.from(w[k].data as Float32Array, Math.abs));
    expect(bound(0)).toBeLessThanOrEqual(Math.sqrt(3 / 400));
    expect(bound(0)).toBeGreaterThan(0.9 * Math.sqrt(3 / 400));
    expect(bound(2)).toBeGreaterThan(0.9 * Math.sqrt(3 / 4));
  });

  it('const without data and int64 inputs without a Gather are errors naming the tensor', () => {
    const b = new GraphBuilder('bad');
    const x = b.input('x', [1, 2]);
    b.output(b.add(x, b.param('k', [2], 'const')));
    expectGraphError(() => materializeWeights(b.build()), "'k'", 'no data');
    const c = new GraphBuilder('ints');
    c.output(c.identity(c.input('n', [3], 'int64')));
    expectGraphError(() => randomInputs(c.build()), "int64 input 'n'");
  });

  it('int64 inputs are valid indices for the tables they reach', () => {
    const g = gatherNet(4);
    const ins = randomInputs(g, 9);
    const ids = ins.get('ids') as BigInt64Array;
    const pos = ins.get('pos') as BigInt64Array;
    expect(Math.max(...Array.from(ids, Number))).toBeLessThan(20);
    expect(Math.max(...Array.from(pos, Number))).toBeLessThan(6);
    expect(new Set(ids).size).toBeGreaterThan(5);
    expect(randomInputs(g, 9).get('ids')).toEqual(ids);
  });
});

describe('zoo models in onnxruntime (batch 1)', () => {
  const timings: string[] = [];
  afterAll(() => console.log(timings.join('\n')));
  for (const name of ['squeezenet1_1', 'resnet50']) {
    it(`${name}: exports, loads and runs with the IR's output shape`, async () => {
      const graph = buildModel(name, { batch: 1 });
      let t = performance.now();
      const bytes = exportOnnx(graph);
      const tExport = performance.now() - t;
      const inputs = randomInputs(graph, 0);
      t = performance.now();
      const got = await runOrt(bytes, graph, inputs);
      const tOrt = performance.now() - t;
      const out = got.get(graph.outputs[0].name);
      expect([...(out?.dims ?? [])]).toEqual(graph.outputs[0].shape);
      const data = out?.data as Float32Array;
      expect(allFinite(data)).toBe(true);
      // Random weights keep activations O(1): outputs neither vanish nor blow up.
      const rms = Math.sqrt(data.reduce((s, v) => s + v * v, 0) / data.length);
      expect(rms).toBeGreaterThan(1e-3);
      expect(rms).toBeLessThan(1e3);
      t = performance.now();
      const back = importOnnx(bytes, `${name}.onnx`);
      const tImport = performance.now() - t;
      expect(back.nodes.map((n) => [n.id, n.op, n.outShapes])).toEqual(graph.nodes.map((n) => [n.id, n.op, n.outShapes]));
      expect(back.initializers.map((i) => [i.name, i.role, i.trainable])).toEqual(graph.initializers.map((i) => [i.name, i.role, i.trainable]));
      if (name === 'squeezenet1_1') {
        const ref = evaluate(graph, inputs).get(graph.outputs[0].name) as Float32Array;
        expect(relErr(ref, data)).toBeLessThanOrEqual(1e-4);
      }
      timings.push(
        `${name}: ${(bytes.length / 1e6).toFixed(1)} MB, export ${tExport.toFixed(0)} ms, ORT load+run ${tOrt.toFixed(0)} ms, import ${tImport.toFixed(0)} ms, output rms ${rms.toExponential(2)}`,
      );
      expect(numel(graph.outputs[0].shape)).toBe(1000);
    });
  }
});

describe('--input-shape: binding dynamic input dims', () => {
  // Two inputs sharing the symbols N and T (a sequence model's tokens and mask), one fixed dim.
  const shared = () =>
    modelBytes({
      opset: 17,
      inputs: [vi('tokens', ['N', 'T', 8]), vi('mask', ['N', 'T', 8])],
      outputs: [vi('y', ['N', 'T', 8])],
      nodes: [{ name: 'mul', opType: 'Mul', input: ['tokens', 'mask'], output: ['y'] }],
    });

  it('binds symbols shared between inputs; the first input sets the batch', () => {
    const g = importOnnx(shared(), 'seq.onnx', { inputShapes: { tokens: [2, 16, 8] } });
    expect(g.inputs.map((i) => i.shape)).toEqual([
      [2, 16, 8],
      [2, 16, 8],
    ]);
    expect(g.batch).toBe(2);
    expect(g.nodes.at(-1)?.outShapes[0]).toEqual([2, 16, 8]);
    // Without a shape, dim 0 is the batch and the sequence length is an error naming the option.
    expectGraphError(() => importOnnx(shared(), 'seq.onnx'), "input 'tokens' [N, T, 8] has a dynamic dim 1 ('T')", '--input-shape tokens=1,<T>,8');
  });

  it('refuses shapes that contradict the model, each other, --batch, or name no input', () => {
    expectGraphError(
      () => importOnnx(shared(), 'seq.onnx', { inputShapes: { tokens: [2, 16, 9] } }),
      'tokens=2,16,9: dim 2 is fixed to 8 by the model [N, T, 8]',
    );
    expectGraphError(() => importOnnx(shared(), 'seq.onnx', { inputShapes: { tokens: [2, 16] } }), 'tokens=2,16 has rank 2; the input has rank 3');
    expectGraphError(
      () => importOnnx(shared(), 'seq.onnx', { inputShapes: { tokens: [2, 16, 8], mask: [2, 32, 8] } }),
      "symbolic dim 'T' is 16 in --input-shape tokens=2,16,8 but 32 in mask=2,32,8",
    );
    expectGraphError(
      () => importOnnx(shared(), 'seq.onnx', { inputShapes: { image: [1, 3] } }),
      "--input-shape names 'image', which is not a graph input (inputs: tokens [N, T, 8], mask [N, T, 8])",
    );
    expectGraphError(() => importOnnx(shared(), 'seq.onnx', { batch: 4, inputShapes: { tokens: [2, 16, 8] } }), 'gives batch 2 but --batch is 4');
  });

  it('parses name=d0,d1,… and rejects anything else with the argument quoted', () => {
    expect(parseInputShape('input_ids=1,128')).toEqual(['input_ids', [1, 128]]);
    expect(parseInputShape('a=b=1,2')).toEqual(['a=b', [1, 2]]);
    for (const bad of ['x', 'x=', '=1,2', 'x=1,,2', 'x=0,3', 'x=1.5', 'x=-1', 'x=3000000000'])
      expect(() => parseInputShape(bad), bad).toThrow(/--input-shape .*expected name=d0,d1,…/);
  });

  it('the CLI binds them: graph --input-shape, repeated names refused', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'topsched-shapes-'));
    const f = join(tmp, 'seq.onnx');
    writeFileSync(f, shared());
    const out = JSON.parse(await cli('graph', f, '--input-shape', 'tokens=1,4,8', '--json'));
    expect(out.inputs).toEqual([
      { name: 'tokens', shape: [1, 4, 8], dtype: 'float32' },
      { name: 'mask', shape: [1, 4, 8], dtype: 'float32' },
    ]);
    await expect(cli('graph', f, '--input-shape', 'tokens=1,4,8', '--input-shape', 'tokens=1,5,8')).rejects.toThrow(/--input-shape gives 'tokens' twice/);
    await expect(cli('graph', 'resnet50', '--input-shape', 'x=1,3,8,8')).rejects.toThrow(/--input-shape applies to \.onnx files only/);
    rmSync(tmp, { recursive: true, force: true });
  });
});
