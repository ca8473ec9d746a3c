import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graphs/builder.js';
import { inferGraph, withBatch } from '../graphs/infer.js';
import { GraphError, macCount, paramCount } from '../graphs/ir.js';
import { graphFromString, graphToString } from '../graphs/json.js';
import { buildDag, depths, topoOrder } from '../graphs/topo.js';

/** conv → bn → relu, two branches (1x1 and 3x3), concat, pool, fc. */
function tinyNet(batch = 1) {
  const b = new GraphBuilder('tiny');
  const x = b.input('input', [batch, 3, 32, 32]);
  const stem = b.relu(b.batchNorm(b.conv(x, { out: 16, kernel: 3, pad: 1, name: 'stem' }), { name: 'stem.bn' }));
  const left = b.conv(stem, { out: 8, kernel: 1, name: 'left' });
  const right = b.conv(stem, { out: 8, kernel: 3, pad: 1, bias: true, name: 'right' });
  const cat = b.concat([left, right], 1, 'cat');
  const pooled = b.flatten(b.globalAvgPool(b.maxPool(cat, { kernel: 2 })));
  b.output(b.linear(pooled, 10, { name: 'fc' }));
  return b.build();
}

describe('graph IR', () => {
  it('infers shapes, MACs, FLOPs, bytes and params per node', () => {
    const g = tinyNet();
    const byId = new Map(g.nodes.map((n) => [n.id, n]));
    expect(byId.get('stem')?.outShapes).toEqual([[1, 16, 32, 32]]);
    expect(byId.get('stem')?.macs).toBe(16 * 32 * 32 * 3 * 3 * 3);
    expect(byId.get('stem')?.flops).toBe(2 * 16 * 32 * 32 * 27);
    expect(byId.get('stem')?.params).toBe(16 * 3 * 9);
    expect(byId.get('right')?.params).toBe(8 * 16 * 9 + 8);
    // BN counts gamma and beta, not running statistics.
    expect(byId.get('stem.bn')?.params).toBe(32);
    expect(byId.get('cat')?.outShapes).toEqual([[1, 16, 32, 32]]);
    expect(byId.get('fc')?.outShapes).toEqual([[1, 10]]);
    expect(byId.get('fc')?.macs).toBe(160);
    // bytes = input + weights read + output written, float32.
    expect(byId.get('left')?.bytes).toBe(4 * (16 * 32 * 32 + 8 * 16 + 8 * 32 * 32));
    expect(paramCount(g)).toBe(16 * 27 + 32 + 8 * 16 + 8 * 16 * 9 + 8 + 16 * 10 + 10);
    expect(g.outputs).toEqual([{ name: 'fc', shape: [1, 10], dtype: 'float32' }]);
  });

  it('re-infers every shape for another batch', () => {
    const g = tinyNet();
    const g8 = withBatch(g, 8);
    expect(g8.batch).toBe(8);
    expect(g8.outputs[0].shape).toEqual([8, 10]);
    expect(macCount(g8)).toBe(8 * macCount(g));
    expect(paramCount(g8)).toBe(paramCount(g));
    expect(withBatch(g8, 1)).toEqual(g);
    expect(() => withBatch(g, 0)).toThrow(/batch must be a positive integer/);
  });

  it('round-trips through JSON exactly, initializer bits included', () => {
    const b = new GraphBuilder('consts');
    const x = b.input('x', [2, 4]);
    const c = b.constant([0.1, -0, Number.MIN_VALUE, 3.4e38], [4]);
    b.output(b.mul(x, c));
    const g = b.build();
    const back = graphFromString(graphToString(g));
    expect(back).toEqual(g);
    expect(Array.from(back.initializers[0].data as Float32Array)).toEqual(Array.from(g.initializers[0].data as Float32Array));
    const tiny = tinyNet(3);
    expect(graphFromString(graphToString(tiny))).toEqual(tiny);
  });

  it('gives topological order, depth and adjacency', () => {
    const g = tinyNet();
    const dag = buildDag(g);
    const order = topoOrder(dag);
    const at = new Map(order.map((v, i) => [v, i]));
    dag.preds.forEach((ps, v) => {
      for (const p of ps) expect(at.get(p)).toBeLessThan(at.get(v) as number);
    });
    const d = depths(dag);
    expect(d[dag.index.get('stem') as number]).toBe(0);
    expect(d[dag.index.get('cat') as number]).toBe(4);
  });

  it('sorts nodes given out of order and rejects cycles', () => {
    const g = tinyNet();
    const shuffled = { ...g, nodes: [...g.nodes].reverse() };
    const sorted = inferGraph(shuffled);
    // Stable Kahn: among ready nodes the earlier position wins, so 'right' (now first) precedes 'left'.
    expect(sorted.nodes.map((n) => n.id)).toEqual(['stem', 'stem.bn', 'relu_1', 'right', 'left', 'cat', 'maxpool_1', 'globalaveragepool_1', 'flatten_1', 'fc']);
    const cyc = { ...g, nodes: g.nodes.map((n) => (n.id === 'stem' ? { ...n, inputs: ['fc', ...n.inputs.slice(1)] } : n)) };
    expect(() => inferGraph(cyc)).toThrow(/cycle through nodes/);
  });

  it('names the node and the rule on bad input', () => {
    const b = new GraphBuilder('bad');
    const x = b.input('x', [1, 3, 8, 8]);
    const w = b.param('w', [4, 5, 3, 3], 'weight');
    expect(() => b.op('Conv', [x, w], { kernel_shape: [3, 3] }, { name: 'c1' })).toThrow(/node 'c1' \(Conv\): input channels 3 != weight in-channels 5/);
    expect(() => b.reshape(x, [5, -1], 'r1')).toThrow(/node 'r1' \(Reshape\): cannot reshape/);
    expect(() => b.concat([x, b.input('y', [1, 3, 4, 8])], 1, 'c2')).toThrow(GraphError);
    const g = tinyNet();
    const bad = { ...g, nodes: g.nodes.map((n) => (n.id === 'cat' ? { ...n, inputs: ['nope'] } : n)) };
    expect(() => inferGraph(bad)).toThrow(/node 'cat' \(Concat\): reads tensor 'nope'/);
    const unknown = { ...g, nodes: g.nodes.map((n) => (n.id === 'cat' ? { ...n, op: 'NonMaxSuppression' as never } : n)) };
    expect(() => inferGraph(unknown)).toThrow(/node 'cat': unsupported op 'NonMaxSuppression'/);
    expect(() => graphFromString('{"format":"other"}', 'x.json')).toThrow(/x.json: not a topsched graph/);
    expect(() => graphFromString('{', 'y.json')).toThrow(/y.json: invalid JSON/);
  });

  it('follows ONNX/PyTorch window arithmetic (ceil mode, dilation, strides)', () => {
    const b = new GraphBuilder('win');
    const x = b.input('x', [1, 4, 55, 55]);
    expect(b.maxPool(x, { kernel: 3, stride: 2, ceil: true }).shape).toEqual([1, 4, 27, 27]);
    expect(b.maxPool(b.input('y', [1, 4, 112, 112]), { kernel: 3, stride: 2, ceil: true }).shape).toEqual([1, 4, 56, 56]);
    expect(b.conv(x, { out: 8, kernel: 3, dilation: 2, pad: 2 }).shape).toEqual([1, 8, 55, 55]);
    expect(b.conv(x, { out: 8, kernel: 3, stride: 2 }).shape).toEqual([1, 8, 27, 27]);
    expect(b.conv(x, { out: 8, kernel: [1, 7], pad: [0, 3] }).shape).toEqual([1, 8, 55, 55]);
    const dw = b.conv(x, { out: 4, kernel: 3, pad: 1, group: 4 });
    expect(dw.shape).toEqual([1, 4, 55, 55]);
  });
});
